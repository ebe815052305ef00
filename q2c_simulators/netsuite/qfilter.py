"""The record service's `q` filter language, parsed with lark: `email START_WITH "x" AND (id ANY_OF [1, 2] OR ...)`.

Operators (each also with a `_NOT` form): EMPTY, ANY_OF, BETWEEN, CONTAIN, START_WITH, END_WITH, IS, EQUAL, GREATER,
GREATER_OR_EQUAL, LESS, LESS_OR_EQUAL, AFTER, BEFORE, ON, ON_OR_AFTER, ON_OR_BEFORE. Values are quoted strings,
numbers, bare words (true, 1/31/2026) or bracketed lists. String comparisons ignore case, as NetSuite's do.
Dates accept M/D/YYYY (the account's default date format) and ISO YYYY-MM-DD.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError

from .exceptions import NetSuiteError
from .records import Field, RecordType

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: atom (_AND atom)*
?atom: "(" or_expr ")" | cond
cond: NAME OP operand?
?operand: value | list
list: "[" [value ("," value)*] "]"
?value: STRING -> string | NUMBER -> number | WORD -> word
_OR.3: /OR\b/i
_AND.3: /AND\b/i
OP.2: /[A-Z][A-Z_]*(?=[\s\["(]|$)/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(\\.|[^"\\])*"/
NUMBER.1: /-?\d+(\.\d+)?(?=[\s,\])]|$)/
WORD: /[^\s\[\](),"]+/
%ignore /\s+/
"""

_parser = Lark(_GRAMMAR, parser="lalr", lexer="contextual")

_BASE_OPS = {"EMPTY", "ANY_OF", "BETWEEN", "CONTAIN", "START_WITH", "END_WITH", "IS", "EQUAL", "GREATER",
             "GREATER_OR_EQUAL", "LESS", "LESS_OR_EQUAL", "AFTER", "BEFORE", "ON", "ON_OR_AFTER", "ON_OR_BEFORE"}
_TEXT_OPS = {"IS", "CONTAIN", "START_WITH", "END_WITH", "EMPTY", "ANY_OF"}
_NUM_OPS = {"EQUAL", "GREATER", "GREATER_OR_EQUAL", "LESS", "LESS_OR_EQUAL", "BETWEEN", "EMPTY", "ANY_OF"}
_DATE_OPS = {"AFTER", "BEFORE", "ON", "ON_OR_AFTER", "ON_OR_BEFORE", "BETWEEN", "EMPTY"}
_SELECT_OPS = {"ANY_OF", "EMPTY", "IS", "EQUAL"}
_BOOL_OPS = {"IS", "EMPTY"}

Predicate = Callable[[dict[str, Any]], bool]
META_FIELDS = {"id": Field("integer", "Internal ID"), "externalId": Field("string", "External ID"),
               "createdDate": Field("datetime", "Date Created"), "lastModifiedDate": Field("datetime", "Last Modified")}


def _bad(detail: str) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_PARAMETER", f"Invalid search query: {detail}", query_param="q")


class _Tree(Transformer):
    def string(self, items: list[Token]) -> str:
        return json.loads(items[0])

    def number(self, items: list[Token]) -> str:
        return str(items[0])

    def word(self, items: list[Token]) -> str:
        return str(items[0])

    def list(self, items: list[Any]) -> list[Any]:
        return [i for i in items if i is not None]

    @v_args(inline=True)
    def cond(self, name: Token, op: Token, operand: Any = None) -> tuple:
        return ("cond", str(name), str(op), operand)

    def and_expr(self, items: list[Any]) -> tuple:
        return ("and", items)

    def or_expr(self, items: list[Any]) -> tuple:
        return ("or", items)


@lru_cache(maxsize=256)
def parse(q: str) -> tuple:
    try:
        return _Tree().transform(_parser.parse(q))
    except LarkError as exc:
        raise _bad(f"cannot parse the expression ({type(exc).__name__})") from None


def _date(value: str) -> date:
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise _bad(f"{value!r} is not a date (use M/D/YYYY)") from None


def _number(value: Any) -> Decimal:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"{value!r} is not a number") from None
    if not d.is_finite():
        raise _bad(f"{value!r} is not a number")
    return d


def _kind(f: Field) -> str:
    if f.kind in ("ref", "enum"):
        return "select"
    if f.kind in ("integer", "number"):
        return "number"
    if f.kind in ("date", "datetime"):
        return "date"
    return f.kind  # string, boolean


def compile_filter(q: str, rt: RecordType, aliases: dict[str, str] | None = None) -> Predicate:
    """A predicate over stored records; raises NetSuiteError (400 INVALID_PARAMETER) for a bad query."""
    tree = parse(q)
    return _compile(tree, rt, aliases or {})


def _compile(node: tuple, rt: RecordType, aliases: dict[str, str]) -> Predicate:
    if node[0] in ("and", "or"):
        parts = [_compile(n, rt, aliases) for n in node[1]]
        if node[0] == "and":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    _, name, op, operand = node
    f = rt.fields.get(name) or META_FIELDS.get(name)
    if f is None:
        raise _bad(f"unknown field {name!r} on record type {rt.name}")
    negate = op.endswith("_NOT")
    base = op[:-4] if negate else op
    if base not in _BASE_OPS:
        raise _bad(f"unknown operator {op}")
    kind = "number" if name == "id" else _kind(f)
    allowed = {"string": _TEXT_OPS, "number": _NUM_OPS, "date": _DATE_OPS, "select": _SELECT_OPS,
               "boolean": _BOOL_OPS}[kind]
    if base not in allowed:
        raise _bad(f"operator {op} does not apply to field {name} ({kind})")
    pred = _condition(aliases.get(name, name), kind, base, operand, f)
    if negate:
        return lambda r: not pred(r)
    return pred


def _values(operand: Any, n: int | None, op: str) -> list[str]:
    values = operand if isinstance(operand, list) else ([] if operand is None else [operand])
    if n is not None and len(values) != n:
        raise _bad(f"operator {op} takes {n} value(s)")
    if n is None and not values:
        raise _bad(f"operator {op} needs a value")
    return values


def _condition(name: str, kind: str, op: str, operand: Any, f: Field) -> Predicate:
    if op == "EMPTY":
        if operand is not None:
            raise _bad("EMPTY takes no value")
        return lambda r: r.get(name) in (None, "")
    if kind == "string":
        if op == "ANY_OF":
            wanted = {v.lower() for v in _values(operand, None, op)}
            return lambda r: str(r.get(name) or "").lower() in wanted
        (v,) = _values(operand, 1, op)
        v = v.lower()
        test = {"IS": lambda x: x == v, "CONTAIN": lambda x: v in x, "START_WITH": lambda x: x.startswith(v),
                "END_WITH": lambda x: x.endswith(v)}[op]
        return lambda r: r.get(name) is not None and test(str(r[name]).lower())
    if kind == "boolean":
        (v,) = _values(operand, 1, op)
        if v.lower() not in ("true", "false", "t", "f"):
            raise _bad(f"{v!r} is not a boolean")
        want = v.lower() in ("true", "t")
        return lambda r: bool(r.get(name)) == want
    if kind == "select":
        wanted = set(_values(operand, None if op == "ANY_OF" else 1, op))
        return lambda r: r.get(name) is not None and str(r[name]) in wanted
    if kind == "number":
        if op == "ANY_OF":
            nums = {_number(v) for v in _values(operand, None, op)}
            return lambda r: _num_of(r.get(name)) in nums
        if op == "BETWEEN":
            lo, hi = (_number(v) for v in _values(operand, 2, op))
            return lambda r: (x := _num_of(r.get(name))) is not None and lo <= x <= hi
        (v,) = _values(operand, 1, op)
        n = _number(v)
        cmp = {"EQUAL": lambda x: x == n, "GREATER": lambda x: x > n, "GREATER_OR_EQUAL": lambda x: x >= n,
               "LESS": lambda x: x < n, "LESS_OR_EQUAL": lambda x: x <= n}[op]
        return lambda r: (x := _num_of(r.get(name))) is not None and cmp(x)
    # dates
    if op == "BETWEEN":
        lo, hi = (_date(v) for v in _values(operand, 2, op))
        return lambda r: (x := _date_of(r.get(name))) is not None and lo <= x <= hi
    (v,) = _values(operand, 1, op)
    d = _date(v)
    cmp = {"AFTER": lambda x: x > d, "BEFORE": lambda x: x < d, "ON": lambda x: x == d,
           "ON_OR_AFTER": lambda x: x >= d, "ON_OR_BEFORE": lambda x: x <= d}[op]
    return lambda r: (x := _date_of(r.get(name))) is not None and cmp(x)


def _num_of(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date_of(value: Any) -> date | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
