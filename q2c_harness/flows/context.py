"""What every flow holds (engine, vendors, flow store, reference data) and the helpers they share:
external writes through the effect ledger, NetSuite lookups by external id, ownership of parked exceptions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from q2c_harness.connectors.errors import RecordNotFoundError
from q2c_harness.connectors.http import dumps_json, loads_json
from q2c_harness.engine import Engine, key_for
from q2c_harness.errors import BusinessError

from .provision import currency_eid
from .reference import ReferenceData
from .store import FlowStore
from .vendors import Vendors


def plain(value: Any) -> Any:
    """JSON-safe copy (Decimals as exact strings inside JSON numbers -> Decimal -> str for the ledger)."""
    return loads_json(dumps_json(value)) if value is not None else None


@dataclass
class FlowContext:
    engine: Engine
    vendors: Vendors
    store: FlowStore
    ref: ReferenceData
    _ns_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    psa_cache: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    # ---- effects -------------------------------------------------------------------------------------------------
    def write(self, flow: str, business_key: str, step: str, *, system: str, operation: str, request: Any,
              call: Callable[[str], Any], lookup: Callable[[str], Any] | None = None) -> Any:
        """One external write, at most once per (flow, business key, step): ledger + audit; returns its result."""
        key = key_for(flow, business_key, step)
        eff = self.engine.effect(key, system=system, operation=operation, request=plain(request),
                                 call=lambda k: plain(call(k)),
                                 lookup=(lambda k: plain(lookup(k))) if lookup else None)
        return eff.result

    # ---- NetSuite -----------------------------------------------------------------------------------------------
    def ns_id(self, record_type: str, eid: str, *, required: bool = True, what: str | None = None) -> str | None:
        """Internal id of a NetSuite record by external id (cached); BusinessError when missing and required."""
        ck = (record_type, eid.upper())
        with self._lock:
            if ck in self._ns_ids:
                return self._ns_ids[ck]
        try:
            rec = self.vendors.run(self.vendors.ns.get_by_external_id(record_type, eid))
        except RecordNotFoundError:
            if not required:
                return None
            raise BusinessError(f"netsuite: no {what or record_type} with external id {eid}", system="netsuite",
                                code="MISSING_MASTER_DATA", details={"record_type": record_type,
                                                                    "external_id": eid}) from None
        rid = str(rec["id"])
        with self._lock:
            self._ns_ids[ck] = rid
        return rid

    def currency_id(self, code: str) -> str:
        """NetSuite's internal id of a currency (by the external id provisioning gave it)."""
        if code == "USD":
            rid = self.ns_id("currency", currency_eid(code), required=False)
            if rid is None:  # the account's base currency (internal id 1); remember it: one lookup per process
                with self._lock:
                    self._ns_ids[("currency", currency_eid(code).upper())] = "1"
            return rid or "1"
        return str(self.ns_id("currency", currency_eid(code), what=f"currency {code}"))

    def ns_lookup(self, record_type: str, eid: str) -> dict[str, Any] | None:
        try:
            return self.vendors.run(self.vendors.ns.get_by_external_id(record_type, eid))
        except RecordNotFoundError:
            return None

    def ns_put(self, record_type: str, eid: str, body: dict[str, Any],
               sublists: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
        """Converge a NetSuite record to ``body`` + exactly ``sublists``: upsert by external id (header), then
        PATCH with ``?replace=`` for the sublists. Both are idempotent, so a retry, a replay or a recovery after a
        crash leaves one record with the intended lines (a plain upsert with lines would append them again)."""
        ns = self.vendors.ns

        async def go() -> dict[str, Any]:
            rid = await ns.upsert(record_type, eid, body)
            if rid is None:
                rid = str((await ns.get_by_external_id(record_type, eid))["id"])
            if sublists:
                await ns.update(record_type, rid, {k: {"items": v} for k, v in sublists.items()},
                                params={"replace": ",".join(sublists)})
            return {"id": str(rid), "externalId": eid}

        out = self.vendors.run(go())
        with self._lock:
            self._ns_ids[(record_type, eid.upper())] = out["id"]
        return out

    def owner(self, area: str) -> str:
        return self.ref.owners.get(area, "integration-team")


def owned(area: str, ctx: FlowContext, fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """Tag an error escaping a workflow with the team that owns it (the exception queue shows it)."""
    def run(message: dict[str, Any]) -> Any:
        try:
            return fn(message)
        except Exception as exc:
            if getattr(exc, "owner", None) is None:
                try:
                    exc.owner = ctx.owner(area)  # type: ignore[attr-defined]
                except AttributeError:  # pragma: no cover - exceptions with __slots__
                    pass
            raise
    run.__name__ = getattr(fn, "__name__", "flow")
    run.__qualname__ = getattr(fn, "__qualname__", run.__name__)
    return run


def load(model: Any, data: Any) -> Any:
    """A canonical model from its stored JSON form (the models are strict: JSON mode accepts Decimal strings)."""
    import json

    return model.model_validate_json(json.dumps(data, default=str))
