"""`q2c contracts ...`"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    cmd = args.contracts_command
    if cmd == "generate":
        from .common import PACT_DIR
        from .consumer import build_pacts
        from .messages import build_message_pacts
        out = Path(args.out) if args.out else PACT_DIR
        for p in [*build_pacts(out), *build_message_pacts(out)]:
            print(p)
        return 0
    if cmd == "verify":
        if args.provider == "events":
            from .messages import verify_events_provider
            report = verify_events_provider()
        else:
            from .verify import verify_provider
            report = verify_provider(args.provider, base_url=args.base_url, release=args.release)
        print(report.render())
        return 0 if report.ok else 1
    if cmd == "upgrade-check":
        from .upgrade import upgrade_check
        up = upgrade_check(args.provider, args.from_release, args.to_release)
        print(up.render())
        return 0 if up.ok else 1
    if cmd == "fuzz":
        from .fuzz import run_fuzz
        res = run_fuzz(args.target, max_examples=args.max_examples, headers=args.header, reports=args.reports)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        return res.returncode
    raise SystemExit(f"unknown contracts command {cmd}")
