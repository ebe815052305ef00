"""CLI hygiene: --version, help on every option, numbers validated, one-line errors with exit 2 for usage and
configuration problems (a port in use, a bad --db-url, a missing extra), no traceback for anything else."""

from __future__ import annotations

import argparse
import socket
from importlib.metadata import version
from pathlib import Path

import pytest

from q2c_harness import cli, usage


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:  # argparse exits on its own (--version, --help, bad options)
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def _walk(parser: argparse.ArgumentParser, prog: str = "q2c"):  # noqa: ANN202
    for action in parser._actions:  # noqa: SLF001 - argparse exposes no public walk of its options
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{prog} {name}")
        else:
            yield prog, action


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--version")
    assert rc == 0 and out.strip() == f"q2c-harness {version('q2c-harness')}"


def test_every_option_and_argument_has_help() -> None:
    missing = [f"{prog} {'/'.join(a.option_strings) or a.dest}" for prog, a in _walk(cli.build_parser())
               if not a.help or a.help == argparse.SUPPRESS]
    assert missing == []


@pytest.mark.parametrize("argv", [
    ("load", "month-end", "--users", "-5"),
    ("load", "month-end", "--users", "0"),
    ("load", "month-end", "--duration", "nan"),
    ("load", "month-end", "--spawn-rate", "0"),
    ("sim", "serve", "--port-base", "70000"),
    ("core", "serve", "--concurrency", "two"),
    ("contracts", "fuzz", "--target", "http://x", "--max-examples", "-1"),
])
def test_numeric_options_are_validated_in_one_line(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("q2c ") and "error:" in err and argv[-2] in err


def test_db_url_takes_a_file_path_or_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.db_url("core.sqlite") == f"sqlite:///{tmp_path / 'core.sqlite'}"
    assert cli.db_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"
    assert cli.db_url("postgresql://u@127.0.0.1/q2c") == "postgresql://u@127.0.0.1/q2c"
    with pytest.raises(argparse.ArgumentTypeError, match="SQLite file path or a sqlite:// or postgresql://"):
        cli.db_url("mysql://u@h/db")


def test_a_port_in_use_is_named_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        rc, _, err = _run(capsys, "sim", "serve", "--http", "--port-base", port)
        assert (rc, err) == (2, f"q2c: error: port {port} on 127.0.0.1 is already in use\n")
        rc, _, err = _run(capsys, "core", "serve", "--port", port)
        assert rc == 2 and err == f"q2c: error: port {port} on 127.0.0.1 is already in use (choose another with " \
                                  f"--port)\n"


@pytest.mark.parametrize(("argv", "extra", "module"), [
    (("contracts", "verify", "--provider", "netsuite"), "contracts", "pact"),
    (("load", "month-end", "--smoke"), "load", "psutil"),
])
def test_a_missing_extra_is_named_with_exit_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              argv: tuple[str, ...], extra: str, module: str) -> None:
    real = usage._installed
    monkeypatch.setattr(usage, "_installed", lambda m: m != module and real(m))
    rc, _, err = _run(capsys, *argv)
    assert rc == 2
    assert err.strip().endswith(f"pip install 'q2c-harness[{extra}]'") and f"missing: {module}" in err
    assert len(err.strip().splitlines()) == 1


def test_otel_asked_for_but_missing_is_named(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setenv("Q2C_OTEL", "otlp")
    monkeypatch.setattr(usage, "_installed", lambda m: not m.startswith("opentelemetry"))
    rc, _, err = _run(capsys, "core", "worker")
    assert rc == 2 and "pip install 'q2c-harness[otel]'" in err


def test_an_unexpected_error_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from q2c_harness.harness import cli_scenarios

    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("the disk is full\nsecond line")
    monkeypatch.setattr(cli_scenarios, "dispatch", boom)
    rc, _, err = _run(capsys, "scenario", "list")
    assert rc == 1 and err == "q2c: error: RuntimeError: the disk is full  (Q2C_DEBUG=1 shows the traceback)\n"


def test_a_missing_endpoints_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _, err = _run(capsys, "sim", "faults", "load", "flaky", "--endpoints-file", str(tmp_path / "none.json"))
    assert rc == 2 and "no such file" in err and len(err.strip().splitlines()) == 1


def test_contracts_verify_json_is_only_json_on_stdout(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "q2c_harness.cli", "contracts", "verify", "--provider", "netsuite",
                           "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(done.stdout)  # the verifier's own progress went to stderr
    assert doc["ok"] is True and doc["checked"] > 0 and doc["failed"] == 0 and doc["provider"] == "netsuite"
