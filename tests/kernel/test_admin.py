"""Bad admin input gets a 4xx naming the field and changes nothing; the admin API passes Schemathesis."""

from __future__ import annotations

import pytest
import schemathesis
import yaml

from .toy import ToySimulator


async def fault_count(client) -> int:
    return len((await client.get("/__admin/faults")).json()["faults"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "meteor"}, "kind"),
        ({"kind": "latency", "ms": -5}, "ms"),
        ({"kind": "error", "status": 200}, "status"),
        ({"kind": "error", "status": 500, "probability": 1.5}, "probability"),
        ({"kind": "latency", "path_regex": "("}, "path_regex"),
        ({"kind": "error", "status": 503, "window_seconds": -600}, "window_seconds"),
    ],
)
async def test_bad_fault_rule_is_rejected_naming_the_field(client, body, field):
    await client.post("/__admin/faults", json={"kind": "latency", "ms": 1})
    r = await client.post("/__admin/faults", json=body)
    assert r.status_code == 422
    assert any(field in [str(p) for p in err["loc"]] or field in err["msg"] for err in r.json()["detail"]), r.text
    assert await fault_count(client) == 1


async def test_malformed_profile_file_is_a_400_naming_the_line_and_keeps_the_old_rules(client):
    await client.post("/__admin/faults", json={"kind": "latency", "ms": 1})
    r = await client.post("/__admin/faults/profile", content=b"faults:\n  - kind: error\n    status: [503\n",
                          headers={"content-type": "application/yaml"})
    assert r.status_code == 400 and "line" in r.json()["detail"]
    r = await client.post("/__admin/faults/profile", content=b"faults:\n  - kind: latency\n    ms: -1\n",
                          headers={"content-type": "application/yaml"})
    assert r.status_code == 400 and "faults.0.latency.ms" in r.json()["detail"]
    assert await fault_count(client) == 1


async def test_a_profile_file_replaces_the_rules_and_sets_the_seed(client):
    profile = b"seed: 99\nfaults:\n  - {id: slow, kind: latency, ms: 5}\n  - {kind: error, status: 503, first_n: 2}\n"
    r = await client.post("/__admin/faults/profile", content=profile, headers={"content-type": "application/yaml"})
    assert r.status_code == 200
    assert r.json()["seed"] == 99 and [f["kind"] for f in r.json()["faults"]] == ["latency", "error"]


async def test_a_quota_must_name_the_parameters_of_its_kind(client):
    r = await client.put("/__admin/quotas", json={"name": "a", "kind": "fixed_window", "limit": 1})
    assert r.status_code == 422 and "window_seconds" in r.text
    r = await client.put("/__admin/quotas", json={"name": "a", "kind": "token_bucket", "limit": 0, "rate_per_second": 1})
    assert r.status_code == 422 and "limit" in r.text
    assert [q["name"] for q in (await client.get("/__admin/quotas")).json()["quotas"]] == ["daily"]


@schemathesis.serializer("application/yaml")
def _yaml(ctx, value):  # a fault profile file is YAML: serialize generated profiles the way users write them
    return yaml.safe_dump(value).encode() if not isinstance(value, bytes) else value


schema = schemathesis.openapi.from_asgi("/__admin/openapi.json", ToySimulator().asgi)
schema.config.generation.update(max_examples=15, deterministic=True, database="none")


@schema.parametrize()
def test_admin_api_conforms_to_its_openapi(case):
    case.call_and_validate()
