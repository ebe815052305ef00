"""Where scenarios and fault profiles come from: the user's directories first, then the built-in ones.

The user's directories, in this order (each only when given or present):

1. ``--scenarios-dir DIR`` (the CLI) or ``--q2c-scenarios-dir DIR`` (the pytest plugin);
2. ``Q2C_SCENARIOS``: one or more directories, separated by ``os.pathsep``;
3. ``./scenarios`` in the working directory.

Each directory holds scenarios (``NAME.yaml`` or ``NAME.yml``) and, in ``faults/``, fault profiles. The built-in
ones ship inside the package (``q2c_harness/scenarios``, read through ``importlib.resources``). A name found in
several places is taken from the first; the listing shows every entry's source and what it overrides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from q2c_harness.usage import UsageError

BUILT_IN = "built-in"
ENV_VAR = "Q2C_SCENARIOS"
SUFFIXES = (".yaml", ".yml")


def builtin_root() -> Traversable:
    return files("q2c_harness").joinpath("scenarios")


@dataclass(frozen=True)
class Source:
    label: str  # "built-in", or the directory as the user named it
    root: Traversable


@dataclass(frozen=True)
class Entry:
    """One scenario or fault profile file, where it was found, and the entries of the same name it hides."""

    name: str
    source: str
    path: Traversable
    overrides: tuple[str, ...] = ()

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Catalog:
    sources: tuple[Source, ...] = field(default_factory=lambda: (Source(BUILT_IN, builtin_root()),))

    def _entries(self, sub: str | None) -> list[Entry]:
        found: dict[str, Entry] = {}
        for source in self.sources:
            root = source.root.joinpath(sub) if sub else source.root
            if not root.is_dir():
                continue
            for item in sorted(root.iterdir(), key=lambda t: t.name):
                stem, dot, ext = item.name.rpartition(".")
                if not item.is_file() or not dot or f".{ext}" not in SUFFIXES:
                    continue
                if stem in found:
                    first = found[stem]
                    found[stem] = Entry(stem, first.source, first.path, (*first.overrides, source.label))
                else:
                    found[stem] = Entry(stem, source.label, item)
        return list(found.values())  # user sources first, then the built-in ones

    def scenarios(self) -> list[Entry]:
        return self._entries(None)

    def fault_profiles(self) -> list[Entry]:
        return self._entries("faults")

    def scenario(self, name: str) -> Entry | None:
        return next((e for e in self.scenarios() if e.name == name), None)

    def fault_profile(self, name: str) -> Entry | None:
        return next((e for e in self.fault_profiles() if e.name == name), None)


def user_directories(scenarios_dir: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                     cwd: Path | None = None) -> list[tuple[str, Path]]:
    """(label, directory) for each user directory, in lookup order; a directory named but missing is refused."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    out: list[tuple[str, Path]] = []
    if scenarios_dir:
        path = (cwd / Path(scenarios_dir).expanduser()).resolve()
        if not path.is_dir():
            raise UsageError(f"scenarios directory {scenarios_dir}: no such directory")
        out.append((str(scenarios_dir), path))
    for part in filter(None, env.get(ENV_VAR, "").split(os.pathsep)):
        path = (cwd / Path(part).expanduser()).resolve()
        if not path.is_dir():
            raise UsageError(f"{ENV_VAR}={env[ENV_VAR]}: {part} is not a directory")
        out.append((f"{ENV_VAR}:{part}", path))
    local = cwd / "scenarios"
    if local.is_dir():
        out.append(("./scenarios", local.resolve()))
    unique: dict[Path, str] = {}
    for label, path in out:
        unique.setdefault(path, label)  # the same directory named twice is searched once, first place
    return [(label, path) for path, label in unique.items()]


def discover(scenarios_dir: str | Path | None = None, *, env: Mapping[str, str] | None = None,
             cwd: Path | None = None, builtin: bool = True) -> Catalog:
    sources = [Source(label, path) for label, path in user_directories(scenarios_dir, env=env, cwd=cwd)]
    if builtin:
        sources.append(Source(BUILT_IN, builtin_root()))
    return Catalog(tuple(sources))


# ---- reading YAML -------------------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """YAML 1.1 with one change: a date that does not exist (2026-11-31) stays a string, so the scenario's validation
    names the field it is in instead of PyYAML raising from deep inside its constructor."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class YamlProblem(ValueError):
    """Text that is not YAML; the message gives the line and column."""


def read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(f"{source}:{where} not valid YAML: {problem}") from None
