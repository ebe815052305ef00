"""`q2c`: the command line of q2c-harness (`q2c --help`, `q2c COMMAND --help` for every option).

    q2c sim serve | tour | faults load|clear | snapshot save|restore     the vendor simulators
    q2c core serve | worker | check-config                               the integration core
    q2c scenario run | list | validate | schema | prove                  the scenario suite, the mutation campaign
    q2c load month-end                                                   month-end load tests (Locust)
    q2c parity record | verify | list                                    simulators against recorded vendors
    q2c contracts generate | verify | upgrade-check | fuzz               consumer contracts

Errors are one line on stderr. Exit status: 0 success, 1 a check failed (a scenario, a contract, a load run),
2 a usage or configuration problem (a bad option, a missing file, a port in use, a missing extra).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from q2c_harness.usage import EXIT_USAGE, UsageError, require_extra


# ---- option types: numbers in range, ports, database URLs -----------------------------------------------------------
def _number(kind: type, low: float, *, strict: bool = False):  # noqa: ANN202 - an argparse type
    def parse(text: str):  # noqa: ANN202
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") \
                from None
        if value != value or value in (float("inf"), float("-inf")) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {'>' if strict else '>='} {low:g})")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


positive_int = _number(int, 1)
non_negative_int = _number(int, 0)
positive_float = _number(float, 0, strict=True)
non_negative_float = _number(float, 0)


def port(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535)")
    return value


DB_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def db_url(text: str) -> str:
    """A SQLite file path (relative to the working directory) or a sqlite:// / postgresql:// URL."""
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    scheme = text.split("://", 1)[0].lower()
    if scheme not in DB_SCHEMES:
        raise argparse.ArgumentTypeError(f"{text!r}: give a SQLite file path or a sqlite:// or postgresql:// URL")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("q2c-harness")
    except PackageNotFoundError:
        return "unknown (not installed)"


# ---- sim -------------------------------------------------------------------------------------------------------
def _sim_serve(args: argparse.Namespace) -> int:
    from q2c_harness.harness.cli_sims import serve

    return serve(only=args.only, seed=args.seed, faults=args.faults, host=args.host, port_base=args.port_base,
                 http=args.http, tls_dir=args.tls_dir, log_level=args.log_level, endpoints_file=args.endpoints_file,
                 restore=args.restore, seed_file=args.seed_data)


def _sim_tour(args: argparse.Namespace) -> int:
    from q2c_harness.harness.tour import run_tour

    return run_tour(seed=args.seed, http=args.http, report=Path(args.report))


def _sim_faults(args: argparse.Namespace) -> int:
    from q2c_harness.harness import cli_sims

    endpoints = cli_sims.read_endpoints(args.endpoints_file)
    if args.faults_command == "load":
        for name, n in cli_sims.load_faults(endpoints, args.profile).items():
            print(f"{name:<11} {n} fault rule(s) from {args.profile}")
    else:
        print(f"fault rules cleared on {', '.join(cli_sims.clear_faults(endpoints))}")
    return 0


def _sim_snapshot(args: argparse.Namespace) -> int:
    from q2c_harness.harness import cli_sims

    endpoints = cli_sims.read_endpoints(args.endpoints_file)
    if args.snapshot_command == "save":
        counts = cli_sims.save_snapshots(endpoints, args.file)
        print(f"saved {Path(args.file).resolve()}: " + ", ".join(f"{k} {n} tenant(s)" for k, n in counts.items()))
    else:
        counts = cli_sims.restore_snapshots(endpoints, args.file)
        print(f"restored from {args.file}: " + ", ".join(f"{k} {n} tenant(s)" for k, n in counts.items()))
    return 0


# ---- scenario --------------------------------------------------------------------------------------------------
def _scenario(args: argparse.Namespace) -> int:
    from q2c_harness.harness import cli_scenarios

    return cli_scenarios.dispatch(args)


def _scenario_prove(args: argparse.Namespace) -> int:
    from q2c_harness.harness.prove import prove_command

    return prove_command(mutant_files=args.mutants, only=args.only, jobs=args.jobs, reports=Path(args.reports),
                         as_json=args.json)


# ---- core ------------------------------------------------------------------------------------------------------
def _require_otel(command: str) -> None:
    if os.environ.get("Q2C_OTEL", "").strip().lower() not in ("", "none", "off", "0"):
        require_extra("otel", f"{command} with Q2C_OTEL={os.environ['Q2C_OTEL']}")


def _core_runtime(args: argparse.Namespace, *, executor_id: str | None = None):  # noqa: ANN202
    from q2c_harness.flows.runtime import CoreRuntime

    if args.endpoints_file and not Path(args.endpoints_file).is_file():
        raise UsageError(f"--endpoints-file {args.endpoints_file}: no such file (written by `q2c sim serve`)")
    return CoreRuntime.from_config(endpoints_file=args.endpoints_file, db_url=args.db_url, durable=True,
                                   executor_id=executor_id, worker_concurrency=args.concurrency)


def _listen(host: str, port_: int, option: str):  # noqa: ANN202 - a bound socket, or the port named as in use
    import errno
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port_))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port_} on {host} is already in use (choose another with {option})") from None
        raise UsageError(f"cannot listen on {host}:{port_}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def _core_serve(args: argparse.Namespace) -> int:
    import secrets
    import threading

    import uvicorn

    from q2c_harness.ops.app import create_ops_app
    from q2c_harness.ops.calls import attach_call_log
    from q2c_harness.telemetry import call_log_span

    _require_otel("q2c core serve")
    sock = _listen(args.host, args.port, "--port")  # before the core starts: a port in use costs nothing
    token = args.ops_token or os.environ.get("Q2C_OPS_TOKEN") or secrets.token_urlsafe(24)
    core = _core_runtime(args)
    if args.provision:
        core.provision()
    call_log = attach_call_log(core.vendors, core.engine, extra=call_log_span)  # the trace view's vendor calls
    ops = create_ops_app(core.engine, token=token, call_log=call_log,
                         gateway_webhook=core.receive_gateway_webhook_sync if core.vendors.payments else None)
    server = uvicorn.Server(uvicorn.Config(ops, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="q2c-ops", daemon=True).start()
    print(f"q2c core: ops API on http://{args.host}:{sock.getsockname()[1]}  database {core.engine.url}", flush=True)
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


def _core_check_config(args: argparse.Namespace) -> int:
    from q2c_harness.check_config import check_config_command

    return check_config_command(args.file, as_json=args.json)


def _core_worker(args: argparse.Namespace) -> int:
    import threading

    _require_otel("q2c core worker")
    core = _core_runtime(args, executor_id=args.executor_id or f"worker-{os.getpid()}")
    print(f"q2c core worker: executing queued workflows from {core.engine.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        core.close()
    return 0


# ---- load ------------------------------------------------------------------------------------------------------
def _load_month_end(args: argparse.Namespace) -> int:
    require_extra("load", "q2c load")
    from q2c_harness.load.runner import LoadOptions, run_month_end

    if args.endpoints_file and not Path(args.endpoints_file).is_file():
        raise UsageError(f"--endpoints-file {args.endpoints_file}: no such file (written by `q2c sim serve`)")
    if args.smoke:
        opts = LoadOptions.smoke_profile()
    else:
        opts = LoadOptions(users=args.users, spawn_rate=args.spawn_rate, duration=args.duration,
                           entries=args.entries, engagements=args.engagements)
    opts.shape = args.shape
    opts.distributed = args.distributed
    opts.endpoints_file = args.endpoints_file
    opts.db_url = args.db_url
    if args.core_workers and not (args.db_url or "").startswith("postgresql"):
        raise UsageError("--core-workers N shares the core's queue through PostgreSQL: give --db-url postgresql://...")
    opts.core_workers = args.core_workers
    opts.psa_rate = args.psa_rate
    opts.out = args.out
    opts.json = args.json
    if args.name:
        opts.name = args.name
    if args.consultants:
        opts.consultants = args.consultants
    return run_month_end(opts)


# ---- contracts -------------------------------------------------------------------------------------------------
def _contracts(args: argparse.Namespace) -> int:
    require_extra("contracts", f"q2c contracts {args.contracts_command}")
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")  # no usage-tracking notice on stdout (--json stays JSON)
    from q2c_harness.contracts.cli import run

    return run(args)


# ---- the parser ------------------------------------------------------------------------------------------------
def _sim_parsers(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="the vendor simulators").add_subparsers(
        dest="sim_command", required=True, metavar="COMMAND")
    serve = sim.add_parser("serve", help="serve every simulator on its own port (HTTPS with a local CA by default)")
    serve.add_argument("--seed", type=non_negative_int, default=0, help="seed for every random fault (default 0)")
    serve.add_argument("--faults", metavar="PROFILE",
                       help="a fault profile applied at start: a name (scenarios/faults/NAME.yaml) or a file")
    serve.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port-base", type=port, default=8440,
                       help="first port, one port per simulator in order (default 8440; 0: any free port)")
    serve.add_argument("--endpoints-file", metavar="PATH",
                       help="write base URLs and the CA bundle's absolute path as JSON, once the simulators are ready")
    serve.add_argument("--tls-dir", default=".q2c/tls", help="where the local CA and certificate are written")
    serve.add_argument("--only", action="append", metavar="NAME", help="serve only this simulator (repeatable)")
    serve.add_argument("--restore", metavar="FILE", help="restore state from a snapshot file (`q2c sim snapshot save`)")
    serve.add_argument("--seed-data", metavar="FILE",
                       help="load a scenario's master data, or a JSON/YAML fixture of API requests, at start")
    serve.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"),
                       help="uvicorn's log level (default warning)")
    serve.set_defaults(func=_sim_serve)

    tour = sim.add_parser("tour", help="start every simulator, exercise it through its public and admin API")
    tour.add_argument("--seed", type=non_negative_int, default=0, help="seed for every random fault (default 0)")
    tour.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    tour.add_argument("--report", default="reports/sim-tour.json", help="where the JSON summary is written")
    tour.set_defaults(func=_sim_tour)

    endpoints_help = "the endpoints file of the running simulators (`q2c sim serve --endpoints-file`)"
    faults = sim.add_parser("faults", help="fault rules on running simulators").add_subparsers(
        dest="faults_command", required=True, metavar="COMMAND")
    fl = faults.add_parser("load", help="apply a fault profile to every simulator in an endpoints file")
    fl.add_argument("profile", metavar="PROFILE", help="a fault profile name (scenarios/faults/NAME.yaml) or a file")
    fc = faults.add_parser("clear", help="remove every fault rule from every simulator in an endpoints file")
    for p in (fl, fc):
        p.add_argument("--endpoints-file", required=True, metavar="PATH", help=endpoints_help)
        p.set_defaults(func=_sim_faults)

    snap = sim.add_parser("snapshot", help="save or restore the state of running simulators").add_subparsers(
        dest="snapshot_command", required=True, metavar="COMMAND")
    for name, text in (("save", "save every simulator's state to FILE"),
                       ("restore", "restore every simulator named in FILE")):
        p = snap.add_parser(name, help=text)
        p.add_argument("file", metavar="FILE", help="the snapshot file (JSON; any path)")
        p.add_argument("--endpoints-file", required=True, metavar="PATH", help=endpoints_help)
        p.set_defaults(func=_sim_snapshot)


def _scenario_parsers(commands: argparse._SubParsersAction) -> None:
    scen = commands.add_parser("scenario", help="the scenario suite").add_subparsers(
        dest="scenario_command", required=True, metavar="COMMAND")
    dir_help = ("a directory of your scenarios (and faults/), searched before ./scenarios and the built-in ones "
                "(also Q2C_SCENARIOS)")
    run = scen.add_parser("run", help="run scenarios end to end and write JUnit XML, an HTML report and JSON")
    run.add_argument("names", nargs="*", metavar="NAME", help="scenario names (see `q2c scenario list`) or YAML files")
    run.add_argument("--all", action="store_true", help="every scenario listed by `q2c scenario list`")
    run.add_argument("--seed", type=non_negative_int, help="override each scenario's seed")
    run.add_argument("--faults", metavar="PROFILE", help="override the fault profile (a name or a file)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--in-process", action="store_true", help="simulators in-process over ASGI (default)")
    where.add_argument("--servers", action="store_true", help="simulators behind real HTTPS servers")
    run.add_argument("--reports", default="reports",
                     help="where reports are written, relative to the working directory (default reports/)")
    run.add_argument("--scenarios-dir", metavar="DIR", help=dir_help)
    run.add_argument("--json", action="store_true", help="print the results as JSON on stdout (progress on stderr)")
    lst = scen.add_parser("list", help="list the scenarios and fault profiles, with where each comes from")
    lst.add_argument("--scenarios-dir", metavar="DIR", help=dir_help)
    val = scen.add_parser("validate", help="check scenario files without running them")
    val.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files (or names)")
    val.add_argument("--scenarios-dir", metavar="DIR", help=dir_help + "; fault profiles are looked up there")
    sch = scen.add_parser("schema", help="print the JSON Schema of the scenario format (for editors)")
    sch.add_argument("--out", metavar="FILE", help="write it to FILE instead of stdout")
    for p in (run, lst, val, sch):
        p.set_defaults(func=_scenario)
    prv = scen.add_parser("prove", help="the mutation campaign: every mutant must be killed by some scenario")
    prv.add_argument("--mutants", action="append", default=[], metavar="FILE",
                     help="a Python file defining MUTANTS = [Mutant(...)] (repeatable)")
    prv.add_argument("--only", action="append", default=[], metavar="ID", help="run only this mutant (repeatable)")
    prv.add_argument("--jobs", type=positive_int, default=None, help="processes in parallel (default: CPU count)")
    prv.add_argument("--reports", default="reports",
                     help="where prove.json and prove-junit.xml go, relative to the working directory")
    prv.add_argument("--json", action="store_true", help="print the verdicts as JSON on stdout")
    prv.set_defaults(func=_scenario_prove)


def _core_parsers(commands: argparse._SubParsersAction) -> None:
    core = commands.add_parser("core", help="the integration core").add_subparsers(
        dest="core_command", required=True, metavar="COMMAND")
    for name, fn, text in (("serve", _core_serve, "ops API + intake pollers + billing scheduler + workers"),
                           ("worker", _core_worker, "an additional worker (several share the work on PostgreSQL)")):
        c = core.add_parser(name, help=text)
        c.add_argument("--endpoints-file", metavar="PATH",
                       help="vendor URLs from `q2c sim serve --endpoints-file` (else Q2C_* environment variables)")
        c.add_argument("--db-url", type=db_url, default=None, metavar="PATH|URL",
                       help="a SQLite file path or a sqlite:// / postgresql:// URL (default Q2C_DATABASE_URL, "
                            "else q2c.sqlite here)")
        c.add_argument("--concurrency", type=positive_int, default=8,
                       help="workflows run at once by this process (default 8)")
        if name == "serve":
            c.add_argument("--host", default="127.0.0.1", help="the ops API's address (default 127.0.0.1)")
            c.add_argument("--port", type=port, default=8480, help="the ops API's port (default 8480)")
            c.add_argument("--poll-interval", type=positive_float, default=2.0,
                           help="seconds between polls of the vendors' feeds (default 2)")
            c.add_argument("--ops-token", default=None,
                           help="the ops API bearer token (default Q2C_OPS_TOKEN; else one is generated and printed)")
            c.add_argument("--provision", action="store_true", help="create NetSuite master data first")
        else:
            c.add_argument("--executor-id", default=None,
                           help="this worker's name in the durable engine (default worker-PID)")
        c.set_defaults(func=fn)
    chk = core.add_parser("check-config", help="check each org has every object, field, subsidiary, item and rate "
                                               "card the configuration file names (exit 1 when anything is missing)")
    chk.add_argument("file", metavar="FILE", help="the configuration file (docs/operations.md)")
    chk.add_argument("--json", action="store_true", help="print the findings as JSON")
    chk.set_defaults(func=_core_check_config)


def _load_parsers(commands: argparse._SubParsersAction) -> None:
    load = commands.add_parser("load", help="month-end load tests (Locust in a subprocess)").add_subparsers(
        dest="load_command", required=True, metavar="COMMAND")
    me = load.add_parser("month-end", help="time logged, approved and billed at month-end; payments arriving")
    me.add_argument("--users", type=positive_int, default=20, help="peak Locust users (default 20)")
    me.add_argument("--spawn-rate", type=positive_float, default=5.0, help="users started per second (default 5)")
    me.add_argument("--duration", type=positive_float, default=120.0,
                    help="seconds of burst; the shape spans them (default 120)")
    me.add_argument("--shape", choices=("month-end", "constant"), default="month-end",
                    help="the load shape (default month-end)")
    me.add_argument("--distributed", type=non_negative_int, default=0, metavar="N",
                    help="Locust worker processes (default 0: one local process)")
    me.add_argument("--entries", type=positive_int, default=2000, help="time entries to log (default 2000)")
    me.add_argument("--engagements", type=positive_int, default=20, help="engagements sold (default 20)")
    me.add_argument("--consultants", type=non_negative_int, default=0,
                    help="consultant pool (default 0: derived from entries)")
    me.add_argument("--smoke", action="store_true", help="the small (under a minute) profile the test suite runs")
    me.add_argument("--endpoints-file", default=None, metavar="PATH",
                    help="target running simulators instead of starting them")
    me.add_argument("--db-url", type=db_url, default=None, metavar="PATH|URL",
                    help="the core's database: a SQLite file path or a URL (default: SQLite in the run directory)")
    me.add_argument("--core-workers", type=non_negative_int, default=0,
                    help="`q2c core worker` processes sharing the core's queue (needs a PostgreSQL --db-url)")
    me.add_argument("--psa-rate", type=non_negative_float, default=200.0,
                    help="PSA token-bucket refill per second (default 200; 0: keep the simulator's)")
    me.add_argument("--out", default="reports/load",
                    help="report directory, relative to the working directory (default reports/load)")
    me.add_argument("--name", default=None, help="report name (default month-end / month-end-smoke)")
    me.add_argument("--json", action="store_true", help="print the verdict and figures as JSON (progress on stderr)")
    me.set_defaults(func=_load_month_end)


def _contracts_parsers(commands: argparse._SubParsersAction) -> None:
    con = commands.add_parser("contracts", help="consumer contracts: generate, verify, upgrade-check, fuzz")
    con_cmd = con.add_subparsers(dest="contracts_command", required=True, metavar="COMMAND")
    gen = con_cmd.add_parser("generate", help="regenerate the pact files")
    gen.add_argument("--out", default=None,
                     help="directory (default: the package's q2c_harness/contracts/pacts in a source checkout)")
    gen.set_defaults(func=_contracts)
    ver = con_cmd.add_parser("verify", help="verify the pacts against a provider (simulator or --base-url)")
    ver.add_argument("--provider", required=True, choices=["salesforce", "netsuite", "psa", "events"],
                     help="whose pacts to verify")
    ver.add_argument("--base-url", help="a running provider, e.g. a vendor sandbox (credentials from env)")
    ver.add_argument("--release", help="NetSuite release of the simulator account (2026.1, 2026.2)")
    ver.add_argument("--json", action="store_true", help="print the result as JSON")
    ver.set_defaults(func=_contracts)
    upg = con_cmd.add_parser("upgrade-check", help="verify against two releases and diff their OpenAPI")
    upg.add_argument("--provider", required=True, choices=["netsuite"], help="the provider to check")
    upg.add_argument("--from", dest="from_release", required=True, help="the release in production")
    upg.add_argument("--to", dest="to_release", required=True, help="the release coming")
    upg.add_argument("--json", action="store_true", help="print the result as JSON")
    upg.set_defaults(func=_contracts)
    fz = con_cmd.add_parser("fuzz", help="schemathesis against a running server's /openapi.json")
    fz.add_argument("--target", required=True, help="base URL (its /openapi.json is read) or the schema URL")
    fz.add_argument("--max-examples", type=positive_int, default=10, help="examples per operation (default 10)")
    fz.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    fz.add_argument("--reports", default="reports/contracts-fuzz", help="JUnit report directory")
    fz.set_defaults(func=_contracts)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="q2c", description="Quote-to-cash integration core and its harness")
    parser.add_argument("--version", action="version", version=f"q2c-harness {_version()}",
                        help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _sim_parsers(commands)
    _core_parsers(commands)
    _scenario_parsers(commands)
    _load_parsers(commands)
    _contracts_parsers(commands)
    from q2c_harness.parity.cli import add_parser as add_parity  # `q2c parity record|verify|list` (issue 24)
    add_parity(commands)
    return parser


# ---- main ------------------------------------------------------------------------------------------------------
def _usage_problem(exc: BaseException) -> bool:
    """Problems the user fixes (exit 2): ours, a scenario file that does not validate, a port in use."""
    if isinstance(exc, UsageError):
        return True
    scenario = sys.modules.get("q2c_harness.harness.scenario")
    serving = sys.modules.get("q2c_simulators.kernel.serving")
    return bool((scenario and isinstance(exc, scenario.ScenarioError))
                or (serving and isinstance(exc, serving.PortInUse)))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `q2c scenario list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback (Q2C_DEBUG=1 shows it)
        if os.environ.get("Q2C_DEBUG"):
            raise
        usage = _usage_problem(exc)
        message = str(exc) if usage else f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        print(f"q2c: error: {message}" + ("" if usage else "  (Q2C_DEBUG=1 shows the traceback)"), file=sys.stderr)
        return EXIT_USAGE if usage else 1


if __name__ == "__main__":
    sys.exit(main())
