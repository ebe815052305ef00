"""What the command line reports as a usage or configuration problem: one line on stderr and exit status 2.

Raise `UsageError` (or one of its kinds) anywhere below a command; `q2c_harness.cli.main` prints its message and
exits 2 instead of a traceback. `require_extra` names the optional dependency group a command needs.
"""

from __future__ import annotations

import importlib.util

EXIT_USAGE = 2

# optional-dependency groups of the distribution (pyproject.toml) and the modules that show one is installed
EXTRAS: dict[str, tuple[str, ...]] = {
    "contracts": ("pact", "schemathesis"),
    "load": ("locust", "psutil"),
    "otel": ("opentelemetry.sdk",),
}


class UsageError(Exception):
    """A usage or configuration problem the user can fix: the message is the whole story, on one line."""


class MissingExtra(UsageError):
    def __init__(self, extra: str, command: str, missing: list[str]) -> None:
        super().__init__(f"{command} needs the '{extra}' extra (missing: {', '.join(missing)}): "
                         f"pip install 'q2c-harness[{extra}]'")
        self.extra = extra


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module without a spec
        return False


def require_extra(extra: str, command: str) -> None:
    """Raise MissingExtra unless every module of the extra can be imported."""
    missing = [m for m in EXTRAS[extra] if not _installed(m)]
    if missing:
        raise MissingExtra(extra, command, missing)
