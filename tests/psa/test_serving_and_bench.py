"""Real HTTPS server: the benchmark cases seed and replay, and an actor works over TLS."""

from __future__ import annotations

import httpx

from benchmarks.psa_cases import prepare
from q2c_simulators.kernel.serving import running_servers
from q2c_simulators.psa import PsaSimulator
from q2c_simulators.psa.actors import Actor


async def test_bench_cases_replay_against_a_real_server(tmp_path):
    sim = PsaSimulator(seed=3)
    with running_servers({"psa": sim}, tls_dir=tmp_path) as endpoints:
        base, ca = endpoints.base_urls["psa"], endpoints.ca_bundle
        cases = prepare(base, ca)
        assert [c.method for c in cases] == ["GET", "POST"]
        async with httpx.AsyncClient(base_url=base, verify=ca) as client:
            for case in cases:
                r = await client.request(case.method, case.path, headers=case.headers, content=case.body)
                assert r.status_code == case.stub.status, r.text
            read = (await client.get(cases[0].path, headers=cases[0].headers)).json()
            assert len(read["results"]) == 50 and read["count"] == 202  # 200 seeded, one by prepare, one replayed
            token = cases[0].headers["Authorization"].split()[1]
            async with Actor.connect(base, token, verify=ca) as clerk:
                ws_id = next(iter(read["time_entries"].values()))["workspace_id"]
                user_id = next(iter(read["time_entries"].values()))["user_id"]
                entry = await clerk.log_time(ws_id, "2024-03-05", 30, user_id=user_id)
                assert entry["rate_in_cents"] == 15_000
