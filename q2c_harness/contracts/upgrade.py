"""Upgrade check: verify the pacts against two releases of a provider and diff the two OpenAPI documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from .verify import VerificationReport, verify_provider


@dataclass
class UpgradeReport:
    provider: str
    from_release: str
    to_release: str
    before: VerificationReport
    after: VerificationReport
    diff: list[str] = field(default_factory=list)

    @property
    def broken(self) -> list[str]:
        was_ok = {i.description for i in self.before.interactions if i.ok}
        return [i.description for i in self.after.failed if i.description in was_ok] + \
            [i.description for i in self.after.failed if i.description not in was_ok]

    @property
    def ok(self) -> bool:
        return self.before.ok and self.after.ok

    def render(self) -> str:
        out = [f"upgrade check {self.provider} {self.from_release} -> {self.to_release}",
               f"  {self.from_release}: {self.before.checked} interactions checked, {len(self.before.failed)} failed",
               f"  {self.to_release}: {self.after.checked} interactions checked, {len(self.after.failed)} failed",
               "OpenAPI changes:"]
        out += [f"  - {d}" for d in self.diff] or ["  (none)"]
        out.append("Consumer interactions that break:" if self.after.failed else "No consumer interaction breaks.")
        for i in self.after.failed:
            out.append(f"  BREAKS: {i.description}")
            out += [f"      - {m}" for m in i.mismatches]
        out.append("RESULT: " + ("OK" if self.ok else "BREAKING"))
        return "\n".join(out)


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return (doc.get("components") or {}).get("schemas") or {}


def _resolve(doc: dict[str, Any], s: Any) -> Any:
    if isinstance(s, dict) and "$ref" in s:
        return _schemas(doc).get(s["$ref"].rsplit("/", 1)[-1], {})
    return s


def _type_of(s: dict[str, Any]) -> str:
    if "$ref" in s:
        return "ref:" + s["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in s or "oneOf" in s:
        return "|".join(sorted(_type_of(x) for x in s.get("anyOf", s.get("oneOf", [])) if isinstance(x, dict)))
    return str(s.get("type", "any")) + (f"({s['format']})" if "format" in s else "")


def diff_openapi(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Removed fields, newly required fields, changed types and enums (component schemas), removed operations
    and changed response (error) codes."""
    out: list[str] = []
    so, sn = _schemas(old), _schemas(new)
    for name in sorted(set(so) - set(sn)):
        out.append(f"schema {name}: removed")
    for name in sorted(set(so) & set(sn)):
        a, b = so[name], sn[name]
        pa, pb = a.get("properties") or {}, b.get("properties") or {}
        for f in sorted(set(pa) - set(pb)):
            out.append(f"schema {name}: field '{f}' removed")
        for f in sorted(set(pb) - set(pa)):
            out.append(f"schema {name}: field '{f}' added")
        newly = sorted(set(b.get("required") or []) - set(a.get("required") or []))
        for f in newly:
            out.append(f"schema {name}: field '{f}' is newly required")
        for f in sorted(set(pa) & set(pb)):
            ta, tb = _type_of(pa[f]), _type_of(pb[f])
            if ta != tb:
                out.append(f"schema {name}: field '{f}' type {ta} -> {tb}")
            ea, eb = pa[f].get("enum"), pb[f].get("enum")
            if ea != eb and (ea or eb):
                out.append(f"schema {name}: field '{f}' enum {ea} -> {eb}")
    po, pn = old.get("paths") or {}, new.get("paths") or {}
    for path in sorted(set(po) - set(pn)):
        out.append(f"path {path}: removed")
    for path in sorted(set(po) & set(pn)):
        for method, op in (po[path] or {}).items():
            if not isinstance(op, dict):
                continue
            nop = (pn[path] or {}).get(method)
            if nop is None:
                out.append(f"{method.upper()} {path}: removed")
                continue
            ra, rb = set((op.get("responses") or {})), set((nop.get("responses") or {}))
            if ra != rb:
                out.append(f"{method.upper()} {path}: response codes {sorted(ra)} -> {sorted(rb)}")
    return out


def fetch_openapi(base_url: str, release: str | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    params = {"release": release} if release else None
    r = httpx.get(base_url.rstrip("/") + "/openapi.json", params=params, headers=headers or {}, timeout=30)
    r.raise_for_status()
    return r.json()


def upgrade_check(provider: str, from_release: str, to_release: str) -> UpgradeReport:
    from q2c_simulators.kernel.serving import build_simulators, running_servers

    before = verify_provider(provider, release=from_release)
    after = verify_provider(provider, release=to_release)
    sims = build_simulators([provider], seed=7)
    with running_servers(sims, http=True) as endpoints:
        base = endpoints.base_urls[provider]
        diff = diff_openapi(fetch_openapi(base, from_release), fetch_openapi(base, to_release))
    return UpgradeReport(provider, from_release, to_release, before, after, diff)
