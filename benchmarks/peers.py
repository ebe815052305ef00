"""Peers: WireMock, Prism and Mockoon serving each case's static stub, installed on demand from npm into .q2c/peers/.

The configuration builders (`wiremock_mapping`, `prism_openapi`, `mockoon_environment`) are pure functions of the
cases; `Peer` subclasses install, start, check and stop the real servers. A peer that cannot install or start is
reported as "not measured: <reason>", never given a figure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from benchmarks.cases import BenchCase

PEERS_DIR = Path(".q2c/peers")
NPM_PACKAGES = {
    "wiremock": "wiremock@3.13.2",
    "prism": "@stoplight/prism-cli@5",
    "mockoon": "@mockoon/cli@9",
}
MOCKOON_MIGRATION = 33  # lastMigration of @mockoon/cli 9.x environments


class PeerUnavailable(RuntimeError):
    """The peer could not be installed or started; the message is the reason shown in the report."""


# ---- pure configuration builders --------------------------------------------------------------------------------
def _split(path: str) -> tuple[str, str]:
    parts = urlsplit(path)
    return parts.path or "/", parts.query


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return body


def _content_type(headers: dict[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), None)


def wiremock_mapping(case: BenchCase) -> dict[str, Any]:
    """A WireMock stub mapping: the case's method and exact URL (path and query) answered by its stub."""
    response: dict[str, Any] = {"status": case.stub.status, "headers": dict(case.stub.headers)}
    if case.stub.body:
        response["body"] = case.stub.body
    return {"name": case.name, "request": {"method": case.method.upper(), "url": case.path}, "response": response}


def example_key(index: int) -> str:
    return f"case{index}"


def prism_openapi(cases: list[BenchCase]) -> dict[str, Any]:
    """An OpenAPI 3.0 document whose operations answer with the stub bodies as named examples (case0, case1 ...).

    Cases sharing a method and path (e.g. different query strings) become several examples of one operation; the
    runner picks the right one with `Prefer: code=..., example=...` (see `prism_extra_headers`)."""
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for index, case in enumerate(cases):
        path, _query = _split(case.path)
        method = case.method.lower()
        op = paths[path].setdefault(method, {"operationId": f"op{index}", "summary": case.name, "responses": {}})
        if case.body is not None and "requestBody" not in op:
            ctype = _content_type(case.headers) or "application/octet-stream"
            op["requestBody"] = {"required": False, "content": {ctype: {"schema": {}}}}
        status = str(case.stub.status)
        response = op["responses"].setdefault(status, {"description": case.name})
        headers = {k: v for k, v in case.stub.headers.items() if k.lower() != "content-type"}
        if headers:
            response.setdefault("headers", {}).update(
                {k: {"schema": {"type": "string"}, "example": v} for k, v in headers.items()})
        if case.stub.body:
            ctype = _content_type(case.stub.headers) or "application/octet-stream"
            content = response.setdefault("content", {}).setdefault(ctype, {"schema": {}, "examples": {}})
            value = _json_or_text(case.stub.body) if "json" in ctype else case.stub.body
            content["examples"][example_key(index)] = {"summary": case.name, "value": value}
    return {"openapi": "3.0.3", "info": {"title": "q2c benchmark stubs", "version": "1"},
            "servers": [{"url": "/"}], "paths": dict(paths)}


def prism_extra_headers(cases: list[BenchCase], index: int) -> dict[str, str]:
    """`Prefer` for a case whose method and path are shared with another case; nothing otherwise."""
    case = cases[index]
    key = (case.method.upper(), _split(case.path)[0])
    if sum(1 for c in cases if (c.method.upper(), _split(c.path)[0]) == key) <= 1:
        return {}
    return {"Prefer": f"code={case.stub.status}, example={example_key(index)}"}


def _mockoon_endpoint(path: str) -> str:
    """Mockoon (Express) endpoint for a literal path: no leading slash, route-syntax characters escaped."""
    out = []
    for ch in path.lstrip("/"):
        out.append("\\" + ch if ch in ":*?+()[]{}!" else ch)
    return "".join(out)


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "q2c-bench:" + seed))


def mockoon_environment(cases: list[BenchCase], port: int) -> dict[str, Any]:
    """A Mockoon environment with one route per method and path; cases sharing one get query-parameter rules."""
    groups: dict[tuple[str, str], list[BenchCase]] = defaultdict(list)
    for case in cases:
        groups[(case.method.lower(), _split(case.path)[0])].append(case)
    routes = []
    for (method, path), members in groups.items():
        responses = []
        for i, case in enumerate(members):
            rules = []
            if len(members) > 1:
                rules = [{"target": "query", "modifier": k, "value": v, "invert": False, "operator": "equals"}
                         for k, v in parse_qsl(_split(case.path)[1], keep_blank_values=True)]
            responses.append({
                "uuid": _uuid(f"response:{case.name}:{i}"), "body": case.stub.body, "latency": 0,
                "statusCode": case.stub.status, "label": case.name,
                "headers": [{"key": k, "value": v} for k, v in case.stub.headers.items()],
                "bodyType": "INLINE", "filePath": "", "databucketID": "", "sendFileAsBody": False,
                "rules": rules, "rulesOperator": "AND", "disableTemplating": True, "fallbackTo404": False,
                "default": i == 0, "crudKey": "id", "callbacks": [],
            })
        routes.append({
            "uuid": _uuid(f"route:{method}:{path}"), "type": "http", "documentation": members[0].name,
            "method": method, "endpoint": _mockoon_endpoint(path), "responses": responses,
            "responseMode": None, "streamingMode": None, "streamingInterval": 0,
        })
    return {
        "uuid": _uuid("environment"), "lastMigration": MOCKOON_MIGRATION, "name": "q2c benchmark stubs",
        "endpointPrefix": "", "latency": 0, "port": port, "hostname": "127.0.0.1", "folders": [], "routes": routes,
        "rootChildren": [{"type": "route", "uuid": r["uuid"]} for r in routes],
        "proxyMode": False, "proxyHost": "", "proxyRemovePrefix": False,
        "tlsOptions": {"enabled": False, "type": "CERT", "pfxPath": "", "certPath": "", "keyPath": "", "caPath": "",
                       "passphrase": ""},
        "cors": True, "headers": [], "proxyReqHeaders": [], "proxyResHeaders": [], "data": [], "callbacks": [],
    }


# ---- processes --------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process and all its descendants (from /proc), or None if it is gone."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            if p == pid:
                return None
        todo.extend(children.get(p, []))
    return total


def bodies_match(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    a, b = _json_or_text(expected), _json_or_text(actual)
    return not isinstance(a, str) and a == b


class Peer:
    """One peer server for a list of cases. Subclasses say how to install, configure and launch it."""

    key = ""  # command-line name: wiremock, prism, mockoon
    label = ""  # report column
    package = ""  # npm package spec

    def __init__(self, peers_dir: Path = PEERS_DIR) -> None:
        self.peers_dir = Path(peers_dir)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.cases: list[BenchCase] = []
        self.log_path: Path | None = None

    # -- install
    @property
    def modules(self) -> Path:
        return self.peers_dir / "node_modules"

    @property
    def package_name(self) -> str:
        """The npm name without the version: "@stoplight/prism-cli@5" -> "@stoplight/prism-cli"."""
        if self.package.startswith("@"):
            return "@" + self.package[1:].split("@")[0]
        return self.package.split("@")[0]

    def installed(self) -> bool:
        return (self.modules / self.package_name / "package.json").exists()

    def install(self) -> None:
        if self.installed():
            return
        if not shutil_which("npm"):
            raise PeerUnavailable("npm is not installed")
        self.peers_dir.mkdir(parents=True, exist_ok=True)
        if not (self.peers_dir / "package.json").exists():
            (self.peers_dir / "package.json").write_text('{"name": "q2c-bench-peers", "private": true}\n')
        print(f"installing {self.package} into {self.peers_dir} (npm) ...", flush=True)
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(self.peers_dir),
                               self.package], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not self.installed():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise PeerUnavailable(f"npm install {self.package} failed: {' / '.join(tail)}")

    def version(self) -> str:
        try:
            return json.loads((self.modules / self.package_name / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return "?"

    # -- lifecycle
    def command(self, workdir: Path) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
        return self.base_url + "/"

    def is_ready(self, response: httpx.Response) -> bool:
        return response.status_code < 500

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def extra_headers(self, index: int) -> dict[str, str]:
        return {}

    def start(self, cases: list[BenchCase], workdir: Path, timeout: float = 90) -> None:
        self.cases = cases
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        cmd = self.command(workdir)
        self.log_path = workdir / f"{self.key}.log"
        log = self.log_path.open("wb")
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                         start_new_session=True)
        except OSError as exc:
            raise PeerUnavailable(f"cannot launch {cmd[0]}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PeerUnavailable(f"exited with {self.proc.returncode} at start: {self.log_tail()}")
            try:
                if self.is_ready(httpx.get(self.ready_url(), timeout=2)):
                    self.after_start()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise PeerUnavailable(f"not ready within {timeout:.0f} s: {self.log_tail()}")

    def after_start(self) -> None:
        pass

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines() if self.log_path else []
        except OSError:
            text = []
        return " / ".join(text[-lines:]) or "(no output)"

    def check(self) -> list[str]:
        """One request per case: problems where status or body differ from the stub (empty list: all good)."""
        problems = []
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            for index, case in enumerate(self.cases):
                headers = {**case.headers, **self.extra_headers(index)}
                try:
                    r = client.request(case.method, case.path, headers=headers, content=case.body)
                except httpx.HTTPError as exc:
                    problems.append(f"{case.name}: {exc!r}")
                    continue
                if r.status_code != case.stub.status:
                    problems.append(f"{case.name}: status {r.status_code}, stub says {case.stub.status}")
                elif case.stub.body and not bodies_match(case.stub.body, r.text):
                    problems.append(f"{case.name}: body differs from the stub")
        return problems

    def fresh(self) -> None:
        """Back to the state it was started in, before each measure (the simulator restores its snapshot)."""

    def rss(self) -> int | None:
        return rss_bytes(self.proc.pid) if self.proc else None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the session this peer was started in, nothing else
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


class WireMockPeer(Peer):
    package = NPM_PACKAGES["wiremock"]

    def __init__(self, peers_dir: Path = PEERS_DIR, journal: bool = True) -> None:
        super().__init__(peers_dir)
        self.journal = journal
        self.key = "wiremock" if journal else "wiremock-nojournal"
        self.label = "WireMock (journal on)" if journal else "WireMock (journal off)"

    def install(self) -> None:
        if not shutil_which("java"):
            raise PeerUnavailable("java is not installed")
        super().install()
        if self.jar() is None:
            raise PeerUnavailable("the npm package `wiremock` holds no standalone jar")

    def jar(self) -> Path | None:
        jars = sorted((self.modules / "wiremock" / "build").glob("wiremock-standalone-*.jar"))
        return jars[-1] if jars else None

    def command(self, workdir: Path) -> list[str]:
        root = workdir / self.key
        (root / "mappings").mkdir(parents=True, exist_ok=True)
        (root / "__files").mkdir(exist_ok=True)
        for old in (root / "mappings").glob("*.json"):
            old.unlink()
        for index, case in enumerate(self.cases):
            (root / "mappings" / f"case{index}.json").write_text(json.dumps(wiremock_mapping(case), indent=2))
        cmd = ["java", "-jar", str(self.jar().resolve()), "--port", str(self.port), "--bind-address", "127.0.0.1",
               "--root-dir", str(root.resolve()), "--disable-banner"]
        return cmd + ([] if self.journal else ["--no-request-journal"])

    def ready_url(self) -> str:
        return self.base_url + "/__admin/mappings"

    def fresh(self) -> None:
        """Empty the journal: by default WireMock keeps every request, and its throughput falls as the journal grows
        (here ~17k req/s fresh, ~1k with millions of entries and a 6 GB heap). A fresh journal is its best figure."""
        if self.journal:
            httpx.delete(self.base_url + "/__admin/requests", timeout=30).raise_for_status()

    def is_ready(self, response: httpx.Response) -> bool:
        return response.status_code == 200


class PrismPeer(Peer):
    key = "prism"
    label = "Prism"
    package = NPM_PACKAGES["prism"]

    def command(self, workdir: Path) -> list[str]:
        spec = workdir / "prism-openapi.json"
        spec.write_text(json.dumps(prism_openapi(self.cases), indent=2))
        return [str((self.modules / ".bin" / "prism").resolve()), "mock", str(spec.resolve()), "-h", "127.0.0.1",
                "-p", str(self.port)]

    def ready_url(self) -> str:
        return self.base_url + _split(self.cases[0].path)[0] if self.cases else self.base_url + "/"

    def extra_headers(self, index: int) -> dict[str, str]:
        return prism_extra_headers(self.cases, index)


class MockoonPeer(Peer):
    key = "mockoon"
    label = "Mockoon"
    package = NPM_PACKAGES["mockoon"]

    def command(self, workdir: Path) -> list[str]:
        env = workdir / "mockoon-environment.json"
        env.write_text(json.dumps(mockoon_environment(self.cases, self.port), indent=2))
        return [str((self.modules / ".bin" / "mockoon-cli").resolve()), "start", "--data", str(env.resolve()),
                "--port", str(self.port), "--hostname", "127.0.0.1"]

    def ready_url(self) -> str:
        return self.base_url + _split(self.cases[0].path)[0] if self.cases else self.base_url + "/"


def make_peers(names: list[str], peers_dir: Path = PEERS_DIR) -> list[Peer]:
    """Peers by command-line name; `wiremock` brings both WireMock rows (journal on, then off)."""
    peers: list[Peer] = []
    for name in names:
        if name == "wiremock":
            peers += [WireMockPeer(peers_dir, journal=True), WireMockPeer(peers_dir, journal=False)]
        elif name == "prism":
            peers.append(PrismPeer(peers_dir))
        elif name == "mockoon":
            peers.append(MockoonPeer(peers_dir))
        else:
            raise ValueError(f"unknown peer {name!r} (wiremock, prism, mockoon)")
    return peers
