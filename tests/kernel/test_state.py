"""Tenant isolation, atomic multi-record writes, reset, snapshot and restore, the virtual clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from q2c_simulators.kernel import Store

from .conftest import as_tenant


async def test_tenants_never_see_each_others_records(client):
    await client.post("/api/items", json={"sku": "A"}, headers=as_tenant("org-a"))
    await client.post("/api/items", json={"sku": "B"}, headers=as_tenant("org-b"))
    a = (await client.get("/api/items", headers=as_tenant("org-a"))).json()["items"]
    b = (await client.get("/api/items", headers=as_tenant("org-b"))).json()["items"]
    assert [i["sku"] for i in a] == ["A"] and [i["sku"] for i in b] == ["B"]
    tenants = (await client.get("/__admin/tenants")).json()["tenants"]
    assert {t["id"]: t["records"] for t in tenants} == {"org-a": {"items": 1}, "org-b": {"items": 1}}


async def test_tenants_are_created_through_admin_and_reset_alone(client):
    assert (await client.post("/__admin/tenants", json={"id": "fresh"})).status_code == 201
    await client.post("/api/items", json={"sku": "A"}, headers=as_tenant("fresh"))
    await client.post("/api/items", json={"sku": "B"}, headers=as_tenant("other"))
    r = await client.post("/__admin/tenants/fresh/reset")
    assert r.json() == {"id": "fresh", "records": {}}
    assert (await client.get("/__admin/tenants/other")).json()["records"] == {"items": 1}
    assert (await client.delete("/__admin/tenants/fresh")).status_code == 204
    assert (await client.get("/__admin/tenants/fresh")).status_code == 404


def test_atomic_block_rolls_back_every_write_and_sequence():
    store = Store()
    store.add_index("items", "sku")
    store.put("items", "1", {"sku": "A"})
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.put("items", str(store.next_id("items")), {"sku": "B"})
            store.put("items", "1", {"sku": "A2"})
            store.delete("items", "1")
            raise RuntimeError("vendor validation failed half way")
    assert store.records("items") == [{"sku": "A"}]
    assert store.find("items", "sku", "A") == [{"sku": "A"}] and store.find("items", "sku", "A2") == []
    assert store.next_id("items") == 1


async def test_snapshot_to_a_file_and_restore_round_trip(sim, client):
    for sku in ("A", "B"):
        await client.post("/api/items", json={"sku": sku}, headers=as_tenant("org-a"))
    before = (await client.get("/__admin/snapshot")).json()
    saved = (await client.post("/__admin/snapshot", json={"name": "month-end.json"})).json()
    assert saved["tenants"] == 1
    await client.post("/__admin/reset")
    assert (await client.get("/api/items", headers=as_tenant("org-a"))).json()["items"] == []
    r = await client.post("/__admin/restore", json={"name": "month-end.json"})
    assert r.status_code == 200
    after = (await client.get("/__admin/snapshot")).json()
    assert after["tenants"] == before["tenants"]
    # ids keep counting from where the snapshot left them, and indexes are rebuilt
    r = await client.post("/api/items", json={"sku": "C"}, headers=as_tenant("org-a"))
    assert r.json() == {"id": "3"}
    assert sim.tenants.get("org-a").store.find("items", "sku", "B")[0]["id"] == "2"


async def test_inline_restore_and_typed_values_survive(sim, client):
    from decimal import Decimal

    store = sim.tenants.get("t").store
    store.put("money", "1", {"amount": Decimal("10.005"), "day": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    snap = (await client.get("/__admin/snapshot")).json()
    await client.post("/__admin/reset")
    assert (await client.post("/__admin/restore", json={"snapshot": snap})).status_code == 200
    assert sim.tenants.get("t").store.get("money", "1") == {
        "amount": Decimal("10.005"), "day": datetime(2026, 1, 1, tzinfo=timezone.utc)}


async def test_restore_refuses_another_simulators_snapshot_and_changes_nothing(client):
    await client.post("/api/items", json={"sku": "A"}, headers=as_tenant("keep"))
    r = await client.post("/__admin/restore", json={"snapshot": {"simulator": "netsuite", "tenants": {}}})
    assert r.status_code == 409 and "netsuite" in r.json()["detail"]
    assert (await client.get("/__admin/tenants/keep")).json()["records"] == {"items": 1}


async def test_virtual_clock_stamps_records_and_moves_only_forward(client):
    r = await client.post("/__admin/clock", json={"set": "2026-12-31T23:59:00Z", "freeze": True})
    assert r.json()["frozen"] is True
    await client.post("/api/items", json={"sku": "A"}, headers=as_tenant("t"))
    item = (await client.get("/api/items/1", headers=as_tenant("t"))).json()
    assert item["at"] == "2026-12-31T23:59:00+00:00"
    assert (await client.post("/__admin/clock", json={"advance_seconds": 120})).json()["now"].startswith(
        "2027-01-01T00:01:00")
    assert (await client.post("/__admin/clock", json={"advance_seconds": -5})).status_code == 422
    real = (await client.post("/__admin/clock", json={"real": True})).json()
    assert real["frozen"] is False and real["offset_seconds"] == 0
