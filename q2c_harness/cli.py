"""`q2c`: the command line of q2c-harness.

    q2c sim serve [--seed N] [--faults FILE] [--http] [--host H] [--port-base P] [--endpoints-file PATH] [--only NAME]
    q2c sim tour  [--seed N] [--http]      start every simulator, exercise it through its public and admin API
    q2c core serve [--endpoints-file F] [--db-url URL]   ops API + intake pollers + workers
    q2c core worker [--endpoints-file F] [--db-url URL]  an additional worker
    q2c scenario run [NAME ... | --all] [--seed N] [--faults PROFILE] [--in-process | --servers] [--reports DIR]
    q2c scenario list
    q2c parity record --provider P --config FILE | verify --provider P [--base-url URL] | list --provider P
    q2c load month-end [--users N] [--spawn-rate R] [--duration D] [--shape NAME] [--distributed N]
                       [--entries N --engagements M] [--smoke] [--endpoints-file F] [--db-url URL]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _sim_serve(args: argparse.Namespace) -> int:
    from q2c_simulators.kernel.serving import SimServers, build_simulators

    sims = build_simulators(args.only or None, seed=args.seed, faults_file=args.faults)
    servers = SimServers(sims, host=args.host, port_base=args.port_base, http=args.http, tls_dir=args.tls_dir,
                         log_level=args.log_level)
    endpoints = servers.endpoints()
    if args.endpoints_file:
        endpoints.write(args.endpoints_file)
    print(f"q2c simulators (seed {args.seed}{', faults from ' + args.faults if args.faults else ''})")
    for name, url in endpoints.base_urls.items():
        print(f"  {name:<11} {url}    admin: {url}/__admin/docs    openapi: {url}/openapi.json")
    if endpoints.ca_bundle:
        print(f"  CA bundle   {endpoints.ca_bundle}  (REQUESTS_CA_BUNDLE / SSL_CERT_FILE for clients)")
    if args.endpoints_file:
        print(f"  endpoints   {args.endpoints_file}")
    print("Ctrl-C stops them.", flush=True)
    try:
        servers.run()
    except KeyboardInterrupt:
        pass
    return 0


def _sim_tour(args: argparse.Namespace) -> int:
    from q2c_harness.harness.tour import run_tour

    return run_tour(seed=args.seed, http=args.http, report=Path(args.report))


def _scenario_run(args: argparse.Namespace) -> int:
    from q2c_harness.harness.cli_scenarios import run_command

    return run_command(names=args.names, all_=args.all, seed=args.seed, faults=args.faults,
                       mode="servers" if args.servers else "in-process", reports=Path(args.reports))


def _scenario_list(args: argparse.Namespace) -> int:
    from q2c_harness.harness.scenario import available_scenarios, load_scenario

    for name in available_scenarios():
        print(f"{name:<28} {load_scenario(name).title}")
    return 0


def _core_runtime(args: argparse.Namespace, *, executor_id: str | None = None):
    from q2c_harness.flows.runtime import CoreRuntime

    return CoreRuntime.from_config(endpoints_file=args.endpoints_file, db_url=args.db_url, durable=True,
                                   executor_id=executor_id, worker_concurrency=args.concurrency)


def _core_serve(args: argparse.Namespace) -> int:
    import os
    import secrets
    import threading

    import uvicorn

    from q2c_harness.ops.app import create_ops_app
    from q2c_harness.ops.calls import attach_call_log
    from q2c_harness.telemetry import call_log_span

    token = args.ops_token or os.environ.get("Q2C_OPS_TOKEN") or secrets.token_urlsafe(24)
    core = _core_runtime(args)
    if args.provision:
        core.provision()
    call_log = attach_call_log(core.vendors, core.engine, extra=call_log_span)  # the trace view's vendor calls
    ops = create_ops_app(core.engine, token=token, call_log=call_log)
    server = uvicorn.Server(uvicorn.Config(ops, host=args.host, port=args.port, log_level="warning"))
    threading.Thread(target=server.run, name="q2c-ops", daemon=True).start()
    print(f"q2c core: ops API on http://{args.host}:{args.port}  database {core.engine.url}", flush=True)
    if not (args.ops_token or os.environ.get("Q2C_OPS_TOKEN")):
        print(f"q2c core: ops API bearer token (generated; set Q2C_OPS_TOKEN to choose one): {token}", flush=True)
    stop = threading.Event()
    try:
        core.serve_forever(poll_interval=args.poll_interval, stop=stop)
    except KeyboardInterrupt:
        pass
    finally:
        server.should_exit = True
        core.close()
    return 0


def _core_worker(args: argparse.Namespace) -> int:
    import os
    import threading

    core = _core_runtime(args, executor_id=args.executor_id or f"worker-{os.getpid()}")
    print(f"q2c core worker: executing queued workflows from {core.engine.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        core.close()
    return 0


def _load_month_end(args: argparse.Namespace) -> int:
    from q2c_harness.load.runner import LoadOptions, run_month_end

    if args.smoke:
        opts = LoadOptions.smoke_profile()
    else:
        opts = LoadOptions(users=args.users, spawn_rate=args.spawn_rate, duration=args.duration,
                           entries=args.entries, engagements=args.engagements)
    opts.shape = args.shape
    opts.distributed = args.distributed
    opts.endpoints_file = args.endpoints_file
    opts.db_url = args.db_url
    opts.core_workers = args.core_workers
    opts.psa_rate = args.psa_rate
    opts.out = args.out
    if args.name:
        opts.name = args.name
    if args.consultants:
        opts.consultants = args.consultants
    return run_month_end(opts)


def _contracts(args: argparse.Namespace) -> int:
    from q2c_harness.contracts.cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="q2c", description="Quote-to-cash integration core and its harness")
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("sim", help="the vendor simulators").add_subparsers(dest="sim_command", required=True)
    serve = sim.add_parser("serve", help="serve every simulator on its own port (HTTPS with a local CA by default)")
    serve.add_argument("--seed", type=int, default=0, help="seed for every random fault (default 0)")
    serve.add_argument("--faults", metavar="FILE", help="a fault profile (YAML or JSON) applied at start")
    serve.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port-base", type=int, default=8440, help="first port; one port per simulator (0: any free)")
    serve.add_argument("--endpoints-file", metavar="PATH", help="write base URLs and the CA bundle path as JSON")
    serve.add_argument("--tls-dir", default=".q2c/tls", help="where the local CA and certificate are written")
    serve.add_argument("--only", action="append", metavar="NAME", help="serve only this simulator (repeatable)")
    serve.add_argument("--log-level", default="warning")
    serve.set_defaults(func=_sim_serve)

    tour = sim.add_parser("tour", help="start every simulator, exercise it through its public and admin API")
    tour.add_argument("--seed", type=int, default=0)
    tour.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    tour.add_argument("--report", default="reports/sim-tour.json", help="where the JSON summary is written")
    tour.set_defaults(func=_sim_tour)

    scen = commands.add_parser("scenario", help="the scenario suite").add_subparsers(dest="scenario_command",
                                                                                      required=True)
    run = scen.add_parser("run", help="run scenarios end to end and write JUnit XML and an HTML report")
    run.add_argument("names", nargs="*", metavar="NAME", help="scenario names (scenarios/NAME.yaml) or paths")
    run.add_argument("--all", action="store_true", help="every scenario in scenarios/")
    run.add_argument("--seed", type=int, help="override each scenario's seed")
    run.add_argument("--faults", metavar="PROFILE", help="override the fault profile (scenarios/faults/PROFILE.yaml)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--in-process", action="store_true", help="simulators in-process over ASGI (default)")
    where.add_argument("--servers", action="store_true", help="simulators behind real HTTPS servers")
    run.add_argument("--reports", default="reports", help="where reports are written (default reports/)")
    run.set_defaults(func=_scenario_run)
    lst = scen.add_parser("list", help="list the scenarios")
    lst.set_defaults(func=_scenario_list)

    core = commands.add_parser("core", help="the integration core").add_subparsers(dest="core_command", required=True)
    for name, fn, text in (("serve", _core_serve, "ops API + intake pollers + billing scheduler + workers"),
                           ("worker", _core_worker, "an additional worker (several share the work on PostgreSQL)")):
        c = core.add_parser(name, help=text)
        c.add_argument("--endpoints-file", metavar="PATH",
                       help="vendor URLs from `q2c sim serve --endpoints-file` (else Q2C_* environment variables)")
        c.add_argument("--db-url", default=None, help="SQLite file (default) or a PostgreSQL URL (Q2C_DATABASE_URL)")
        c.add_argument("--concurrency", type=int, default=8, help="workflows run at once by this process")
        if name == "serve":
            c.add_argument("--host", default="127.0.0.1")
            c.add_argument("--port", type=int, default=8480)
            c.add_argument("--poll-interval", type=float, default=2.0)
            c.add_argument("--ops-token", default=None,
                           help="the ops API bearer token (default Q2C_OPS_TOKEN; else one is generated and printed)")
            c.add_argument("--provision", action="store_true", help="create NetSuite master data first")
        else:
            c.add_argument("--executor-id", default=None)
        c.set_defaults(func=fn)

    load = commands.add_parser("load", help="month-end load tests (Locust in a subprocess)").add_subparsers(
        dest="load_command", required=True)
    me = load.add_parser("month-end", help="time logged, approved and billed at month-end; payments arriving")
    me.add_argument("--users", type=int, default=20, help="peak Locust users")
    me.add_argument("--spawn-rate", type=float, default=5.0)
    me.add_argument("--duration", type=float, default=120.0, help="seconds of burst (the shape spans them)")
    me.add_argument("--shape", choices=("month-end", "constant"), default="month-end")
    me.add_argument("--distributed", type=int, default=0, metavar="N", help="Locust worker processes")
    me.add_argument("--entries", type=int, default=2000, help="time entries to log")
    me.add_argument("--engagements", type=int, default=20)
    me.add_argument("--consultants", type=int, default=0, help="consultant pool (default: derived)")
    me.add_argument("--smoke", action="store_true", help="the <= 60 s profile the test suite runs")
    me.add_argument("--endpoints-file", default=None, help="target running simulators instead of starting them")
    me.add_argument("--db-url", default=None, help="the core's database (default: SQLite in the run directory)")
    me.add_argument("--core-workers", type=int, default=0, help="`q2c core worker` processes (PostgreSQL)")
    me.add_argument("--psa-rate", type=float, default=200.0, help="PSA token-bucket refill per second (0: keep)")
    me.add_argument("--out", default="reports/load")
    me.add_argument("--name", default=None, help="report name (default month-end / month-end-smoke)")
    me.set_defaults(func=_load_month_end)
    con = commands.add_parser("contracts", help="consumer contracts: generate, verify, upgrade-check, fuzz")
    con_cmd = con.add_subparsers(dest="contracts_command", required=True)
    gen = con_cmd.add_parser("generate", help="regenerate the pact files (q2c_harness/contracts/pacts)")
    gen.add_argument("--out", default=None, help="directory (default q2c_harness/contracts/pacts)")
    gen.set_defaults(func=_contracts)
    ver = con_cmd.add_parser("verify", help="verify the pacts against a provider (simulator or --base-url)")
    ver.add_argument("--provider", required=True, choices=["salesforce", "netsuite", "psa", "events"])
    ver.add_argument("--base-url", help="a running provider, e.g. a vendor sandbox (credentials from env)")
    ver.add_argument("--release", help="NetSuite release of the simulator account (2026.1, 2026.2)")
    ver.set_defaults(func=_contracts)
    upg = con_cmd.add_parser("upgrade-check", help="verify against two releases and diff their OpenAPI")
    upg.add_argument("--provider", required=True, choices=["netsuite"])
    upg.add_argument("--from", dest="from_release", required=True)
    upg.add_argument("--to", dest="to_release", required=True)
    upg.set_defaults(func=_contracts)
    fz = con_cmd.add_parser("fuzz", help="schemathesis against a running server's /openapi.json")
    fz.add_argument("--target", required=True, help="base URL (its /openapi.json is read) or the schema URL")
    fz.add_argument("--max-examples", type=int, default=10)
    fz.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    fz.add_argument("--reports", default="reports/contracts-fuzz", help="JUnit report directory")
    fz.set_defaults(func=_contracts)

    from q2c_harness.parity.cli import add_parser as add_parity  # `q2c parity record|verify|list` (issue 24)
    add_parity(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
