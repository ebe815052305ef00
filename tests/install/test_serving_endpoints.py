"""Serving: the endpoints file holds absolute paths (a client in any directory trusts the CA), and a port in use
is named, not a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from q2c_simulators.kernel.serving import Endpoints, PortInUse, SimServers, build_simulators


def test_endpoints_file_holds_the_ca_bundle_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    servers = SimServers(build_simulators(["psa"]), tls_dir="rel/tls")
    try:
        path = servers.endpoints().write("out/endpoints.json")
    finally:
        for sock in servers.sockets.values():
            sock.close()
    spec = json.loads(path.read_text())
    ca = Path(spec["ca_bundle"])
    assert ca.is_absolute() and ca == tmp_path / "rel" / "tls" / ca.name and ca.is_file()
    assert Endpoints({"psa": "https://127.0.0.1:1"}, "x/ca.pem", 0).ca_bundle == str(tmp_path / "x" / "ca.pem")


def test_a_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse) as exc:
            SimServers(build_simulators(["salesforce", "psa"]), port_base=port, http=True)
    assert str(exc.value) == f"port {port} on 127.0.0.1 is already in use"
    assert exc.value.port == port
