"""SOQL: a lark (LALR) grammar, the parse tree turned into a small AST, and a compiler from AST to row predicates.

Supported: field lists with parent relationship paths (`Account.Owner.Name`) and child subqueries
(`(SELECT Id FROM Contacts)`), `COUNT()` and `COUNT(field)`, WHERE with = != <> < > <= >= IN, NOT IN, LIKE,
INCLUDES/EXCLUDES, AND, OR, NOT, null, booleans, numbers, strings, date and datetime values and date literals
(TODAY, LAST_N_DAYS:n, THIS_MONTH, ...) evaluated on the simulator's virtual clock; ORDER BY (ASC/DESC,
NULLS FIRST/LAST), LIMIT, OFFSET. Errors carry Salesforce's MALFORMED_QUERY / INVALID_FIELD / INVALID_TYPE messages
with the row and column marker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ids
from .exceptions import InvalidField, MalformedQuery, SalesforceError
from .schema import NUMBER_TYPES, TEXT_TYPES, Field, Schema, SObjectType

GRAMMAR = r"""
start: query
query: SELECT select_list FROM NAME where_clause? order_clause? limit_clause? offset_clause? for_clause?
select_list: select_item ("," select_item)*
?select_item: path                            -> field_item
            | "(" subquery ")"                -> subquery_item
            | COUNT "(" path? ")" NAME?       -> count_item
subquery: SELECT select_list FROM NAME where_clause? order_clause? limit_clause?
path: NAME ("." NAME)*
where_clause: WHERE cond
?cond: and_cond
     | cond OR and_cond                       -> or_
?and_cond: not_cond
     | and_cond AND not_cond                  -> and_
?not_cond: NOT not_cond                       -> not_
     | "(" cond ")"
     | comparison
comparison: path OP value                     -> compare
     | path IN "(" value_list ")"             -> in_
     | path NOT IN "(" value_list ")"         -> not_in
     | path LIKE value                        -> like
     | path INCLUDES "(" value_list ")"       -> includes
     | path EXCLUDES "(" value_list ")"       -> excludes
value_list: value ("," value)*
value: STRING                                 -> string
     | NUMBER                                 -> number
     | DATETIME                               -> datetime
     | DATE                                   -> date
     | NAME                                   -> ident
     | NAME ":" INT                           -> ident_n
order_clause: ORDER BY order_item ("," order_item)*
order_item: path DIRECTION? (NULLS NULLS_WHERE)?
limit_clause: LIMIT INT
offset_clause: OFFSET INT
for_clause: FOR NAME ("," NAME)*

SELECT.2: /select\b/i
FROM.2: /from\b/i
WHERE.2: /where\b/i
AND.2: /and\b/i
OR.2: /or\b/i
NOT.2: /not\b/i
IN.2: /in\b/i
LIKE.2: /like\b/i
INCLUDES.2: /includes\b/i
EXCLUDES.2: /excludes\b/i
ORDER.2: /order\b/i
BY.2: /by\b/i
DIRECTION.2: /(asc|desc)\b/i
NULLS.2: /nulls\b/i
NULLS_WHERE.2: /(first|last)\b/i
LIMIT.2: /limit\b/i
OFFSET.2: /offset\b/i
FOR.2: /for\b/i
COUNT.2: /count\b/i
OP: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER.1: /[+-]?(\d+(\.\d*)?|\.\d+)/
INT: /\d+/
STRING: /'(\\.|[^'\\])*'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=False, maybe_placeholders=False)


# ---- AST --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]
    line: int
    column: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Count:
    path: Path | None
    alias: str | None


@dataclass(frozen=True)
class OrderItem:
    path: Path
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Query:
    select: tuple[Any, ...]  # Path | Query (child subquery) | Count
    sobject: str
    sobject_pos: tuple[int, int]
    where: Any = None
    order: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    text: str = ""


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\", "%": "\\%",
            "_": "\\_"}


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


@v_args(inline=True)
class _ToAst(Transformer):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def start(self, q):
        return q

    def path(self, *names: Token) -> Path:
        return Path(tuple(str(n) for n in names), names[0].line, names[0].column)

    def field_item(self, p):
        return p

    def subquery_item(self, q):
        return q

    def count_item(self, _kw, *rest):
        path = next((r for r in rest if isinstance(r, Path)), None)
        alias = next((str(r) for r in rest if isinstance(r, Token)), None)
        return Count(path, alias)

    def select_list(self, *items):
        return tuple(items)

    def _query(self, items, text):
        select, name = items[1], items[3]
        q = {"select": select, "sobject": str(name), "sobject_pos": (name.line, name.column), "text": text}
        for part in items[4:]:
            if isinstance(part, tuple) and part and part[0] in ("where", "order", "limit", "offset"):
                q[part[0]] = part[1]
        return Query(**q)

    def query(self, *items):
        return self._query(items, self.text)

    def subquery(self, *items):
        return self._query(items, "")

    def where_clause(self, _kw, cond):
        return ("where", cond)

    def or_(self, a, _kw, b):
        return ("or", a, b)

    def and_(self, a, _kw, b):
        return ("and", a, b)

    def not_(self, _kw, c):
        return ("not", c)

    def compare(self, p, op, v):
        return ("cmp", str(op), p, v)

    def in_(self, p, _kw, values):
        return ("in", p, values, False)

    def not_in(self, p, _not, _in, values):
        return ("in", p, values, True)

    def like(self, p, _kw, v):
        return ("like", p, v)

    def includes(self, p, _kw, values):
        return ("includes", p, values, False)

    def excludes(self, p, _kw, values):
        return ("includes", p, values, True)

    def value_list(self, *values):
        return tuple(values)

    def string(self, tok):
        return ("str", _unquote(str(tok)))

    def number(self, tok):
        text = str(tok)
        return ("num", float(text) if any(c in text for c in ".eE") else int(text))

    def datetime(self, tok):
        return ("datetime", _norm_datetime(str(tok)), tok.line, tok.column)

    def date(self, tok):
        return ("date", str(tok))

    def ident(self, tok):
        word = str(tok).lower()
        if word == "null":
            return ("null",)
        if word in ("true", "false"):
            return ("bool", word == "true")
        return ("literal", str(tok).upper(), None, tok.line, tok.column)

    def ident_n(self, tok, n):
        return ("literal", str(tok).upper(), int(n), tok.line, tok.column)

    def order_clause(self, _order, _by, *items):
        return ("order", tuple(items))

    def order_item(self, p, *mods):
        desc = False
        nulls_first = None
        for m in mods:
            if m.type == "DIRECTION":
                desc = str(m).lower() == "desc"
            elif m.type == "NULLS_WHERE":
                nulls_first = str(m).lower() == "first"
        if nulls_first is None:
            nulls_first = not desc
        return OrderItem(p, desc, nulls_first)

    def limit_clause(self, _kw, n):
        return ("limit", int(n))

    def offset_clause(self, _kw, n):
        return ("offset", int(n))

    def for_clause(self, *items):
        return ("for", None)


def _marker(text: str, line: int, column: int, message: str) -> str:
    lines = text.split("\n")
    src = lines[line - 1] if 0 < line <= len(lines) else text
    return f"\n{src}\n{' ' * (column - 1)}^\nERROR at Row:{line}:Column:{column}\n{message}"


@lru_cache(maxsize=2048)
def parse(text: str) -> Query:
    """Parse SOQL text into a `Query`; a syntax error raises MALFORMED_QUERY with Salesforce's marker."""
    if not text or not text.strip():
        raise MalformedQuery("unexpected token: <EOF>")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedEOF:
        raise MalformedQuery(_marker(text, 1, len(text.split("\n")[0]) + 1, "unexpected token: <EOF>")) from None
    except UnexpectedToken as exc:
        tok = exc.token
        shown = "<EOF>" if tok.type == "$END" else str(tok)
        line = exc.line if isinstance(exc.line, int) and exc.line > 0 else 1
        column = exc.column if isinstance(exc.column, int) and exc.column > 0 else len(text) + 1
        raise MalformedQuery(_marker(text, line, column, f"unexpected token: '{shown}'")) from None
    except UnexpectedCharacters as exc:
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "<EOF>"
        raise MalformedQuery(_marker(text, exc.line, exc.column, f"unexpected token: '{ch}'")) from None
    except (UnexpectedInput, LarkError):
        raise MalformedQuery(_marker(text, 1, 1, "unexpected token")) from None
    try:
        return _ToAst(text).transform(tree)
    except LarkError as exc:  # a transformer error (e.g. a number too large) is a malformed query too
        raise MalformedQuery(_marker(text, 1, 1, f"unexpected token: {exc.__class__.__name__}")) from None


# ---- values ------------------------------------------------------------------------------------------------------
def _norm_datetime(text: str) -> str:
    """Any ISO-8601 datetime -> Salesforce's stored form `2024-01-31T09:00:00.000+0000` (UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return format_datetime(value)


def format_datetime(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _month_start(d: date, delta: int = 0) -> date:
    m = d.month - 1 + delta
    return date(d.year + m // 12, m % 12 + 1, 1)


def _quarter_start(d: date, delta: int = 0) -> date:
    return _month_start(date(d.year, (d.month - 1) // 3 * 3 + 1, 1), 3 * delta)


def date_literal_range(name: str, n: int | None, today: date) -> tuple[date, date] | None:
    """[start, end) in days of a SOQL date literal on `today`; None when the name is not a date literal."""
    day = timedelta(days=1)
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday (en_US)
    fixed: dict[str, tuple[date, date]] = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "THIS_WEEK": (week_start, week_start + 7 * day),
        "LAST_WEEK": (week_start - 7 * day, week_start),
        "NEXT_WEEK": (week_start + 7 * day, week_start + 14 * day),
        "THIS_MONTH": (_month_start(today), _month_start(today, 1)),
        "LAST_MONTH": (_month_start(today, -1), _month_start(today)),
        "NEXT_MONTH": (_month_start(today, 1), _month_start(today, 2)),
        "THIS_QUARTER": (_quarter_start(today), _quarter_start(today, 1)),
        "LAST_QUARTER": (_quarter_start(today, -1), _quarter_start(today)),
        "NEXT_QUARTER": (_quarter_start(today, 1), _quarter_start(today, 2)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "NEXT_90_DAYS": (today + day, today + 91 * day),
    }
    if n is None:
        return fixed.get(name)
    if n < 0 or n > 100_000:
        return None
    parametric: dict[str, Callable[[], tuple[date, date]]] = {
        "LAST_N_DAYS": lambda: (today - n * day, today + day),
        "NEXT_N_DAYS": lambda: (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": lambda: (today - n * day, today - (n - 1) * day),
        "LAST_N_WEEKS": lambda: (week_start - 7 * n * day, week_start),
        "NEXT_N_WEEKS": lambda: (week_start + 7 * day, week_start + 7 * (n + 1) * day),
        "LAST_N_MONTHS": lambda: (_month_start(today, -n), _month_start(today)),
        "NEXT_N_MONTHS": lambda: (_month_start(today, 1), _month_start(today, n + 1)),
        "N_MONTHS_AGO": lambda: (_month_start(today, -n), _month_start(today, -n + 1)),
        "LAST_N_QUARTERS": lambda: (_quarter_start(today, -n), _quarter_start(today)),
        "NEXT_N_QUARTERS": lambda: (_quarter_start(today, 1), _quarter_start(today, n + 1)),
        "LAST_N_YEARS": lambda: (date(today.year - n, 1, 1), date(today.year, 1, 1)),
        "NEXT_N_YEARS": lambda: (date(today.year + 1, 1, 1), date(today.year + n + 1, 1, 1)),
        "N_YEARS_AGO": lambda: (date(today.year - n, 1, 1), date(today.year - n + 1, 1, 1)),
    }
    maker = parametric.get(name)
    if maker is None:
        return None
    try:
        return maker()
    except (ValueError, OverflowError):
        return None


# ---- compilation -------------------------------------------------------------------------------------------------
Getter = Callable[[dict], Any]
Predicate = Callable[[dict], bool]


class Resolver:
    """What the compiler needs from a backend: the org's schema, a record by id, and the virtual 'now'."""

    def __init__(self, schema: Schema, fetch: Callable[[str, str], dict | None], now: datetime) -> None:
        self.schema = schema
        self.fetch = fetch
        self.now = now


@dataclass
class FieldPlan:
    path: Path
    steps: tuple[tuple[str, str, str], ...]  # (reference field, relationship name, target object)
    field: Field
    getter: Getter


@dataclass
class Plan:
    sobject: SObjectType
    query: Query
    fields: list[Any] = field(default_factory=list)  # FieldPlan | (child relationship name, Plan) | Count
    predicate: Predicate | None = None
    order: list[tuple[Getter, bool, bool, Field]] = field(default_factory=list)
    index_hint: tuple[str, Any] | None = None  # (field, value) an equality on an indexed field
    count_only: bool = False
    aggregate: bool = False
    child_field: str | None = None  # for subqueries: the reference field on the child pointing at the parent


def _no_column(q: Query, p: Path, obj: SObjectType) -> InvalidField:
    return InvalidField(_marker(
        q.text or p.text, p.line if q.text else 1, p.column if q.text else 1,
        f"No such column '{p.parts[-1]}' on entity '{obj.name}'. If you are attempting to use a custom field, be sure "
        "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
        "appropriate names."))


def resolve_path(q: Query, obj: SObjectType, p: Path, r: Resolver) -> FieldPlan:
    parts = list(p.parts)
    if len(parts) > 1 and parts[0].lower() == obj.name.lower() and parts[0].lower() not in obj.relationships:
        parts = parts[1:]
    current = obj
    steps = []
    for rel in parts[:-1]:
        ref = current.relationships.get(rel.lower())
        if ref is None:
            raise InvalidField(_marker(
                q.text or p.text, p.line if q.text else 1, p.column if q.text else 1,
                f"Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom "
                "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
                "WSDL or the describe call for the appropriate names."))
        target = r.schema.get(ref.reference_to[0])
        if target is None:
            raise _no_column(q, p, current)
        steps.append((ref.name, ref.relationship_name or rel, target.name))
        current = target
    f = current.field(parts[-1])
    if f is None:
        raise _no_column(q, p, current)
    name = f.name
    if not steps:
        getter: Getter = lambda rec: rec.get(name)  # noqa: E731
    else:
        fetch = r.fetch
        chain = tuple((ref, target) for ref, _, target in steps)

        def getter(rec: dict) -> Any:
            for ref, target in chain:
                rid = rec.get(ref)
                if rid is None:
                    return None
                rec = fetch(target, rid)
                if rec is None:
                    return None
            return rec.get(name)

    return FieldPlan(p, tuple(steps), f, getter)


def _type_error(q: Query, fp: FieldPlan, expected: str, quoted: bool) -> InvalidField:
    tail = " and should not be enclosed in quotes" if not quoted else " and should be enclosed in quotes"
    return InvalidField(_marker(q.text or fp.path.text, fp.path.line if q.text else 1, fp.path.column if q.text else 1,
                                f"value of filter criterion for field '{fp.field.name}' must be of type {expected}{tail}"))


def _coerce(q: Query, fp: FieldPlan, value: tuple, r: Resolver) -> Any:
    """A literal converted to the field's stored representation; date literals become (start, end) ranges."""
    kind = value[0]
    t = fp.field.type
    if kind == "null":
        return None
    if t in TEXT_TYPES:
        if kind != "str":
            raise _type_error(q, fp, "string", True)
        return value[1]
    if t in ("id", "reference"):
        if kind != "str":
            raise _type_error(q, fp, "id", True)
        return ids.normalize(value[1]) or value[1]
    if t in NUMBER_TYPES:
        if kind != "num":
            raise _type_error(q, fp, "double" if t != "int" else "int", False)
        return value[1]
    if t == "boolean":
        if kind != "bool":
            raise _type_error(q, fp, "boolean", False)
        return value[1]
    if t in ("date", "datetime"):
        if kind == "literal":
            rng = date_literal_range(value[1], value[2], r.now.date())
            if rng is None:
                raise MalformedQuery(_marker(q.text, value[3], value[4], f"unexpected token: '{value[1]}'"))
            if t == "date":
                return ("range", rng[0].isoformat(), rng[1].isoformat())
            return ("range", rng[0].isoformat() + "T00:00:00.000+0000", rng[1].isoformat() + "T00:00:00.000+0000")
        if kind == "date":
            if t == "datetime":
                raise _type_error(q, fp, "dateTime", False)
            return value[1]
        if kind == "datetime":
            if t == "date":
                return value[1][:10]
            return value[1]
        raise _type_error(q, fp, "date" if t == "date" else "dateTime", False)
    raise _type_error(q, fp, t, True)


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _fold(t: str) -> Callable[[Any], Any]:
    return (lambda v: v.lower() if isinstance(v, str) else v) if t in TEXT_TYPES else (lambda v: v)


def _compare(op: str, getter: Getter, literal: Any, t: str) -> Predicate:
    fold = _fold(t)
    if isinstance(literal, tuple) and literal and literal[0] == "range":
        start, end = literal[1], literal[2]
        ops = {
            "=": lambda v: v is not None and start <= v < end,
            "!=": lambda v: v is None or not (start <= v < end),
            "<": lambda v: v is not None and v < start,
            "<=": lambda v: v is not None and v < end,
            ">": lambda v: v is not None and v >= end,
            ">=": lambda v: v is not None and v >= start,
        }
        test = ops["!=" if op == "<>" else op]
        return lambda rec: test(getter(rec))
    if literal is None:
        if op in ("=",):
            return lambda rec: getter(rec) is None
        if op in ("!=", "<>"):
            return lambda rec: getter(rec) is not None
        return lambda rec: False
    lit = fold(literal)
    if op == "=":
        return lambda rec: fold(getter(rec)) == lit
    if op in ("!=", "<>"):
        return lambda rec: fold(getter(rec)) != lit
    import operator

    fn = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def test(rec: dict) -> bool:
        v = getter(rec)
        if v is None:
            return False
        try:
            return fn(fold(v), lit)
        except TypeError:
            return False

    return test


def compile_condition(q: Query, obj: SObjectType, cond: Any, r: Resolver) -> Predicate:
    kind = cond[0]
    if kind == "and":
        a, b = compile_condition(q, obj, cond[1], r), compile_condition(q, obj, cond[2], r)
        return lambda rec: a(rec) and b(rec)
    if kind == "or":
        a, b = compile_condition(q, obj, cond[1], r), compile_condition(q, obj, cond[2], r)
        return lambda rec: a(rec) or b(rec)
    if kind == "not":
        a = compile_condition(q, obj, cond[1], r)
        return lambda rec: not a(rec)
    if kind == "cmp":
        _, op, path, value = cond
        fp = resolve_path(q, obj, path, r)
        return _compare(op, fp.getter, _coerce(q, fp, value, r), fp.field.type)
    if kind == "in":
        _, path, values, negate = cond
        fp = resolve_path(q, obj, path, r)
        fold = _fold(fp.field.type)
        literals = [_coerce(q, fp, v, r) for v in values]
        plain = {fold(v) for v in literals if not isinstance(v, tuple)}
        ranges = [_compare("=", fp.getter, v, fp.field.type) for v in literals if isinstance(v, tuple)]
        getter = fp.getter

        def member(rec: dict) -> bool:
            v = fold(getter(rec))
            return v in plain or any(t(rec) for t in ranges)

        if negate:
            return lambda rec: getter(rec) is not None and not member(rec)
        return member
    if kind == "like":
        _, path, value = cond
        fp = resolve_path(q, obj, path, r)
        if value[0] != "str":
            raise _type_error(q, fp, "string", True)
        rx = _like_regex(value[1])
        getter = fp.getter
        return lambda rec: isinstance(getter(rec), str) and rx.match(getter(rec)) is not None
    if kind == "includes":
        _, path, values, negate = cond
        fp = resolve_path(q, obj, path, r)
        wanted = [{s.strip().lower() for s in str(v[1]).split(";")} for v in values if v[0] == "str"]
        getter = fp.getter

        def has(rec: dict) -> bool:
            v = getter(rec)
            chosen = {s.strip().lower() for s in v.split(";")} if isinstance(v, str) else set()
            return any(w <= chosen for w in wanted)

        return (lambda rec: not has(rec)) if negate else has
    raise MalformedQuery("unexpected condition")


def _index_hint(cond: Any, obj: SObjectType, q: Query, r: Resolver, indexed: set[str]) -> tuple[str, Any] | None:
    """An `Field = value` conjunct on Id or an indexed field, so execution can start from an index lookup."""
    if cond is None:
        return None
    if cond[0] == "and":
        return _index_hint(cond[1], obj, q, r, indexed) or _index_hint(cond[2], obj, q, r, indexed)
    if cond[0] == "cmp" and cond[1] == "=" and len(cond[2].parts) == 1:
        f = obj.field(cond[2].parts[0])
        if f is not None and (f.name == "Id" or f.name in indexed) and cond[3][0] == "str":
            value = cond[3][1]
            if f.type in ("id", "reference"):
                value = ids.normalize(value) or value
            elif f.type in TEXT_TYPES:
                return None  # text equality is case-insensitive; indexes are exact
            return (f.name, value)
    return None


def compile_query(q: Query, r: Resolver, indexed: Callable[[str], set[str]], parent: SObjectType | None = None) -> Plan:
    if parent is None:
        obj = r.schema.get(q.sobject)
        if obj is None:
            line, col = q.sobject_pos
            raise SalesforceError(_marker(
                q.text, line, col,
                f"sObject type '{q.sobject}' is not supported. If you are attempting to use a custom object, be sure "
                "to append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
                "appropriate names."), "INVALID_TYPE")
        child_field = None
    else:
        rel = parent.children.get(q.sobject.lower())
        if rel is None:
            raise InvalidField(
                f"Didn't understand relationship '{q.sobject}' in FROM part of query call. If you are attempting to "
                "use a custom relationship, be sure to append the '__r' after the custom relationship name. Please "
                "reference your WSDL or the describe call for the appropriate names.")
        obj = r.schema.get(rel[0])
        child_field = rel[1]
    plan = Plan(obj, q, child_field=child_field)
    for item in q.select:
        if isinstance(item, Path):
            plan.fields.append(resolve_path(q, obj, item, r))
        elif isinstance(item, Query):
            if parent is not None:
                raise MalformedQuery("Nesting of semi join sub-selects is not supported")
            sub = compile_query(item, r, indexed, parent=obj)
            plan.fields.append((obj.child_names[item.sobject.lower()], sub))
        else:
            if item.path is None:
                plan.count_only = True
            else:
                resolve_path(q, obj, item.path, r)
                plan.aggregate = True
            plan.fields.append(item)
    if plan.count_only and len(q.select) > 1:
        raise MalformedQuery(_marker(q.text, 1, 1, "COUNT() can only be used alone in the select list"))
    if plan.aggregate and any(isinstance(i, (Path, Query)) for i in q.select):
        raise MalformedQuery(_marker(
            q.text, 1, 1, "Field must be grouped or aggregated: GROUP BY is not supported by this simulator"))
    if q.where is not None:
        plan.predicate = compile_condition(q, obj, q.where, r)
        plan.index_hint = _index_hint(q.where, obj, q, r, indexed(obj.name))
    for item in q.order:
        fp = resolve_path(q, obj, item.path, r)
        plan.order.append((fp.getter, item.descending, item.nulls_first, fp.field))
    if q.offset is not None and q.offset > 2000:
        raise SalesforceError("Maximum SOQL offset allowed is 2000", "NUMBER_OUTSIDE_VALID_RANGE")
    return plan


def sort_rows(rows: list[dict], order: list[tuple[Getter, bool, bool, Field]]) -> list[dict]:
    for getter, desc, nulls_first, f in reversed(order):
        fold = _fold(f.type)
        present = [r for r in rows if getter(r) is not None]
        missing = [r for r in rows if getter(r) is None]
        present.sort(key=lambda r: fold(getter(r)), reverse=desc)
        rows = missing + present if nulls_first else present + missing
    return rows
