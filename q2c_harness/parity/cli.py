"""`q2c parity record|verify|list`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalogue import PROVIDERS


def add_parser(commands: argparse._SubParsersAction) -> None:
    par = commands.add_parser("parity", help="snapshots of real vendor answers replayed against the simulators")
    sub = par.add_subparsers(dest="parity_command", required=True, metavar="{record,verify,list}",
                             help="record a sandbox, verify snapshots, or list the probes")
    provider = f"the vendor API whose probes run: {', '.join(PROVIDERS)}"
    rec = sub.add_parser("record", help="run the probe catalogue against a sandbox and store normalised snapshots")
    rec.add_argument("--provider", required=True, choices=PROVIDERS, help=provider)
    rec.add_argument("--config", required=True, metavar="FILE", help="base URL and credentials (docs/parity.md)")
    rec.add_argument("--out", default=None, help="directory (default contracts/parity/PROVIDER)")
    rec.add_argument("--only", action="append", metavar="PROBE", help="record only this probe (repeatable)")
    ver = sub.add_parser("verify", help="replay snapshots against a simulator (default) or --base-url")
    ver.add_argument("--provider", required=True, choices=PROVIDERS, help=provider)
    ver.add_argument("--base-url", help="any running provider (credentials from --config, else Q2C_* env)")
    ver.add_argument("--config", metavar="FILE", help="credentials for --base-url")
    ver.add_argument("--snapshots", metavar="DIR", help="recorded snapshots (default: the documented corpus)")
    ver.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    ver.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    lst = sub.add_parser("list", help="the probe catalogue of a provider")
    lst.add_argument("--provider", required=True, choices=PROVIDERS, help=provider)
    par.set_defaults(func=run)


def _headers_for(provider: str, config: str | None) -> dict[str, str]:
    from q2c_harness.connectors.configured import bearer_headers

    from .config import default_credentials, load_config
    if config:
        return bearer_headers(load_config(config).vendor(provider))
    return default_credentials(provider).headers()


def run(args: argparse.Namespace) -> int:
    from .catalogue import CatalogueError, load_catalogue
    from .config import ConfigError
    try:
        catalogue = load_catalogue(args.provider)
        if args.parity_command == "list":
            for p in catalogue.probes.values():
                flags = "" if p.record and not p.needs_simulator else "  (simulator only)"
                print(f"{p.id:<48} {p.origin:<9} {p.title}{flags}")
            return 0
        if args.parity_command == "record":
            return _record(args, catalogue)
        return _verify(args, catalogue)
    except (ConfigError, CatalogueError, ValueError) as exc:
        print(f"q2c parity: {exc}", file=sys.stderr)
        return 2


def _record(args: argparse.Namespace, catalogue) -> int:
    from .config import load_config
    from .report import render_record
    from .runner import record
    from .targets import url_target

    vendor = load_config(args.config).vendor(args.provider)
    target = url_target(args.provider, vendor.base_url, _headers_for(args.provider, args.config))
    out = Path(args.out) if args.out else Path("contracts") / "parity" / args.provider
    report = record(catalogue, target, out, only=args.only)
    print(render_record(report))
    return 0 if report.ok else 1


def _verify(args: argparse.Namespace, catalogue) -> int:
    import contextlib

    from .report import dumps, render_table, to_junit
    from .runner import verify_snapshots
    from .snapshots import corpus_dir, load_snapshots
    from .targets import simulator_target, url_target

    directory = Path(args.snapshots) if args.snapshots else corpus_dir(args.provider)
    snaps = load_snapshots(directory)
    label = str(directory) if args.snapshots else f"documented corpus ({len(snaps)} examples)"
    if args.base_url:
        ctx = contextlib.nullcontext(url_target(args.provider, args.base_url,
                                                _headers_for(args.provider, args.config)))
    else:
        ctx = simulator_target(args.provider)
    with ctx as target:
        report = verify_snapshots(catalogue, target, snaps, label)
    print(dumps(report) if args.json else render_table(report))
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        Path(args.junit).write_bytes(to_junit(report))
    return 0 if report.ok else 1
