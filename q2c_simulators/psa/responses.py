"""The Kantata wire format: records as JSON, and the side-loaded envelope.

```json
{"count": 57, "results": [{"key": "workspaces", "id": "123"}], "workspaces": {"123": {...}},
 "meta": {"count": 57, "page_count": 3, "page_number": 1, "page_size": 20}}
```
(vendor-apis.md section 3). Ids are strings. Money goes out as integer cents in `*_in_cents` fields (the models keep
`Decimal` major units); invoice line quantities are decimal strings.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

if TYPE_CHECKING:
    from .models import PsaBackend, ResourceType

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _cents(value: Decimal | None) -> int | None:
    if value is None:
        return None
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


def to_wire(rt: ResourceType, rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rec.items() if k[0] != "_"}
    for store_key, wire_key in rt.money:
        if store_key in out:
            out[wire_key] = _cents(out.pop(store_key))
    if "rates" in out and rt.key == "rate_card_versions":
        out["rates"] = [{"role_id": r["role_id"], "region": r["region"], "rate_in_cents": _cents(r["rate"])}
                        for r in out["rates"]]
    if "line_items" in out:
        out["line_items"] = [{"kind": li["kind"], "subject_id": li["subject_id"], "description": li["description"],
                              "quantity": li["quantity"], "unit_price_in_cents": _cents(li["unit_price"]),
                              "amount_in_cents": _cents(li["amount"])} for li in out["line_items"]]
    return out


def ids_key(include_name: str) -> str:
    """`stories` -> `story_ids`, `participations` -> `participation_ids` (has-many includes list ids)."""
    if include_name.endswith("ies"):
        return include_name[:-3] + "y_ids"
    return include_name[:-1] + "_ids" if include_name.endswith("s") else include_name + "_ids"


def envelope(backend: PsaBackend, rt: ResourceType, rows: list[dict], total: int, page: int, per_page: int, *,
             includes: list[str] = (), optional_fields: list[str] = ()) -> dict[str, Any]:
    from .models import RESOURCES

    primary: dict[str, Any] = {}
    results = []
    key = rt.key
    for rec in rows:
        wire = to_wire(rt, rec)
        for name in optional_fields:
            wire[name] = backend.optional_field(key, rec, name)
        primary[rec["id"]] = wire
        results.append({"key": key, "id": rec["id"]})
    body: dict[str, Any] = {"count": total, "results": results, key: primary}
    store = backend.store
    for name in includes:
        inc = rt.includes[name]
        target_rt = RESOURCES[inc.target]
        side = body.setdefault(inc.target, {})
        for rec in rows:
            wire = primary[rec["id"]]
            if inc.subject:
                related = [r for r in store.find(inc.target, "subject_id", rec["id"])
                           if r["subject_type"] == rt.subject_type]
                wire[ids_key(name)] = [r["id"] for r in related]
            elif inc.many:
                related = store.find(inc.target, inc.fk, rec["id"])
                related.sort(key=lambda r: int(r["id"]))
                wire[ids_key(name)] = [r["id"] for r in related]
            else:
                value = rec.get(inc.fk)
                ids = value if isinstance(value, list) else ([value] if value is not None else [])
                related = [r for r in (store.get(inc.target, i) for i in ids) if r is not None]
            for r in related:
                if r["id"] not in side:
                    side[r["id"]] = to_wire(target_rt, r)
    page_count = (total + per_page - 1) // per_page if per_page else 0
    body["meta"] = {"count": total, "page_count": page_count, "page_number": page, "page_size": per_page}
    return body


def json_response(body: Any, status: int = 200) -> Response:
    return Response(_dumps(body).encode(), status, media_type="application/json")
