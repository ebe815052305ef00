"""`q2c contracts ...`"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def _stdout_on_stderr(active: bool) -> Iterator[None]:
    """The pact verifier (Rust) prints its progress on file descriptor 1: with --json it goes to stderr instead."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _verification(report: Any) -> dict[str, Any]:
    return {"provider": report.provider, "target": report.target, "ok": report.ok, "checked": report.checked,
            "failed": len(report.failed), "state_errors": list(report.state_errors),
            "interactions": [{"description": i.description, "ok": i.ok, "mismatches": list(i.mismatches)}
                             for i in report.interactions]}


def _generated_dir(out: str | None) -> Path:
    from q2c_harness.usage import UsageError

    from .common import PACT_DIR

    if out:
        return Path(out)
    if {"site-packages", "dist-packages"} & set(PACT_DIR.parts):
        raise UsageError("q2c contracts generate: give --out DIR (the installed package's own pacts are not "
                         "rewritten)")
    return PACT_DIR


def run(args: argparse.Namespace) -> int:
    cmd = args.contracts_command
    if cmd == "generate":
        from .consumer import build_pacts
        from .messages import build_message_pacts
        out = _generated_dir(args.out)
        for p in [*build_pacts(out), *build_message_pacts(out)]:
            print(p)
        return 0
    if cmd == "verify":
        with _stdout_on_stderr(args.json):
            if args.provider == "events":
                from .messages import verify_events_provider
                report = verify_events_provider()
            else:
                from .verify import verify_provider
                report = verify_provider(args.provider, base_url=args.base_url, release=args.release)
        print(json.dumps(_verification(report), indent=2) if args.json else report.render())
        return 0 if report.ok else 1
    if cmd == "upgrade-check":
        from .upgrade import upgrade_check
        with _stdout_on_stderr(args.json):
            up = upgrade_check(args.provider, args.from_release, args.to_release)
        if args.json:
            print(json.dumps({"provider": up.provider, "from": up.from_release, "to": up.to_release, "ok": up.ok,
                              "openapi_changes": up.diff, "breaks": up.broken, "before": _verification(up.before),
                              "after": _verification(up.after)}, indent=2))
        else:
            print(up.render())
        return 0 if up.ok else 1
    if cmd == "fuzz":
        from .fuzz import run_fuzz
        res = run_fuzz(args.target, max_examples=args.max_examples, headers=args.header, reports=args.reports)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        return res.returncode
    raise SystemExit(f"unknown contracts command {cmd}")
