"""Differences between an expected answer (a snapshot) and an actual one, both normalised: status, the kept
headers, the body's shape (keys), JSON types and placeholder kinds, and the values of the keys that carry meaning
(error codes, success flags: the provider's `exact` keys). Other scalar values are compared by type only, because
two accounts hold different data. A string made of placeholders and text (a URL template) is compared whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .normalise import PLACEHOLDER


@dataclass(frozen=True)
class Difference:
    path: str        # "status", "headers.location", "body.records[0].Id"
    kind: str        # status | header-missing | header-value | header-unexpected | missing-key | unexpected-key
                     # | type | value | array-empty | body-kind
    expected: Any
    actual: Any

    def render(self) -> str:
        return f"{self.kind} at {self.path}: expected {_short(self.expected)}, got {_short(self.actual)}"


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def kind_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        if PLACEHOLDER.match(v):
            return v.strip("<>")
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _template(v: Any) -> bool:
    return isinstance(v, str) and "<" in v and ">" in v and not PLACEHOLDER.match(v)


def compare_response(expected: dict[str, Any], actual: dict[str, Any], *, exact_keys: frozenset[str],
                     partial: bool) -> list[Difference]:
    """`expected` and `actual` are normalised responses `{status, headers, body}`. `partial`: the expected answer
    is an excerpt (a documented example): keys and headers it does not show are not differences."""
    diffs: list[Difference] = []
    if expected.get("status") != actual.get("status"):
        diffs.append(Difference("status", "status", expected.get("status"), actual.get("status")))
    eh, ah = expected.get("headers") or {}, actual.get("headers") or {}
    for name, value in eh.items():
        if name not in ah:
            diffs.append(Difference(f"headers.{name}", "header-missing", value, None))
        elif ah[name] != value:
            diffs.append(Difference(f"headers.{name}", "header-value", value, ah[name]))
    if not partial:
        diffs.extend(Difference(f"headers.{n}", "header-unexpected", None, v) for n, v in ah.items() if n not in eh)
    if "body" in expected:
        diffs.extend(compare_body(expected["body"], actual.get("body"), "body", exact_keys, partial))
    return diffs


def compare_body(exp: Any, act: Any, path: str, exact_keys: frozenset[str], partial: bool,
                 key: str | None = None) -> list[Difference]:
    ek, ak = kind_of(exp), kind_of(act)
    if exp is None or (act is None and not isinstance(exp, (dict, list))):
        return []  # null is what a nullable field holds in one account and not in another
    if ek != ak:
        if ek in ("integer", "number") and ak in ("integer", "number") and not (ek == "integer" and ak == "number"):
            return []  # a JSON number written 100.0 in the documentation reads back as 100
        return [Difference(path, "type" if isinstance(exp, (dict, list, str, int, float, bool)) else "body-kind",
                           ek, ak)]
    if isinstance(exp, dict):
        out: list[Difference] = []
        for k, v in exp.items():
            if k not in act:
                out.append(Difference(f"{path}.{k}", "missing-key", kind_of(v), None))
            else:
                out.extend(compare_body(v, act[k], f"{path}.{k}", exact_keys, partial, k))
        if not partial:
            out.extend(Difference(f"{path}.{k}", "unexpected-key", None, kind_of(v)) for k, v in act.items()
                       if k not in exp)
        return out
    if isinstance(exp, list):
        if bool(exp) != bool(act):
            return [Difference(path, "array-empty", len(exp), len(act))]
        out = []
        for i, (e, a) in enumerate(zip(exp, act)):
            out.extend(compare_body(e, a, f"{path}[{i}]", exact_keys, partial, key))
        return out
    if (key in exact_keys or _template(exp)) and exp != act:
        return [Difference(path, "value", exp, act)]
    return []
