"""A parser and evaluator for the subset of SOQL that extractors use.

Supported::

    SELECT field, Parent.field, ... | COUNT() | FIELDS(ALL|STANDARD|CUSTOM)
    FROM Object
    [WHERE condition]            -- AND / OR / NOT, parentheses; = != <> < <= > >=, IN (...),
                                 -- NOT IN (...), LIKE; literals: 'text', numbers, true, false,
                                 -- null, 2026-11-01T00:00:00Z (any offset, optional .000),
                                 -- 2026-11-01, TODAY, YESTERDAY, LAST_N_DAYS:n, N_DAYS_AGO:n,
                                 -- NEXT_N_DAYS:n, LAST_N_HOURS:n
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Keywords, object and field names are case-insensitive; text comparisons are too, as in
Salesforce. Type rules follow Salesforce's: a datetime field compares only with a datetime
literal (unquoted), a date field with a date literal, a boolean with ``true``/``false``; a
quoted value for a datetime field is an ``INVALID_FIELD`` error with Salesforce's wording.
Errors are :class:`SoqlError` with Salesforce's error codes (``MALFORMED_QUERY``,
``INVALID_FIELD``, ``INVALID_TYPE``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from revops.simulator._lexer import Cursor, QueryError, Token, scan

__all__ = ["Compiled", "Query", "SoqlError", "compile_query", "parse"]


class SoqlError(QueryError):
    """A query Salesforce rejects: ``code`` is its ``errorCode``."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?(?::\d+)?)
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> list[Token]:
    """Tokens of kind word|str|num|op|punct|datetime|date, then ``eof``."""

    def bad_symbol(pos: int) -> SoqlError:
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos : pos + 10]}'")

    out = [Token(m.lastgroup or "", m.group(0), m.start()) for m in scan(_TOKEN, text, bad_symbol)]
    out.append(Token("eof", "", len(text)))
    return out


@dataclass
class Cond:
    """One comparison: ``field op value`` (``values`` for IN / NOT IN)."""

    field: str
    op: str
    value: Any = None
    values: tuple[Any, ...] = ()
    kind: str = "literal"  # literal kind of value: str num bool null datetime date dlit


@dataclass
class BoolExpr:
    op: str  # AND | OR | NOT
    parts: list[Any]


@dataclass
class Order:
    field: str
    descending: bool = False
    nulls_last: bool = False


@dataclass
class Query:
    """A parsed SOQL query (field and object names as written)."""

    fields: list[str]
    object: str
    where: Any = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    count: bool = False
    fields_fn: str | None = None


class _Parser(Cursor):
    keyword_kind = "word"

    def __init__(self, text: str) -> None:
        super().__init__(_tokens(text))
        self.text = text

    def expect_kw(self, word: str) -> None:
        tok = self.next()
        if tok.kind != "word" or tok.text.upper() != word:
            raise self.unexpected(tok)

    def unexpected(self, tok: Token) -> SoqlError:
        shown = tok.text or "<EOF>"
        return SoqlError(
            "MALFORMED_QUERY",
            f"\n{self.text}\n{' ' * tok.pos}^\nERROR at Row:1:Column:{tok.pos + 1}\n"
            f"unexpected token: '{shown}'",
        )

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[str] = []
        count = False
        fields_fn = None
        if self.kw("COUNT") and self.tokens[self.i + 1].text == "(":
            self.next()
            self.next()
            if self.peek().text != ")":
                raise SoqlError("MALFORMED_QUERY", "only COUNT() is supported by the simulator")
            self.next()
            count = True
        elif self.kw("FIELDS") and self.tokens[self.i + 1].text == "(":
            self.next()
            self.next()
            tok = self.next()
            if tok.kind != "word" or tok.text.upper() not in ("ALL", "STANDARD", "CUSTOM"):
                raise self.unexpected(tok)
            fields_fn = tok.text.upper()
            if self.next().text != ")":
                raise self.unexpected(self.tokens[self.i - 1])
        else:
            while True:
                tok = self.next()
                if tok.kind != "word" or tok.text.upper() in ("FROM", "WHERE"):
                    raise self.unexpected(tok)
                fields.append(tok.text)
                if self.peek().text == ",":
                    self.next()
                    continue
                break
        self.expect_kw("FROM")
        obj = self.next()
        if obj.kind != "word":
            raise self.unexpected(obj)
        q = Query(fields, obj.text, count=count, fields_fn=fields_fn)
        if self.kw("WHERE"):
            self.next()
            q.where = self.or_expr()
        if self.kw("ORDER"):
            self.next()
            self.expect_kw("BY")
            while True:
                tok = self.next()
                if tok.kind != "word":
                    raise self.unexpected(tok)
                order = Order(tok.text)
                if self.kw("ASC", "DESC"):
                    order.descending = self.next().text.upper() == "DESC"
                if self.kw("NULLS"):
                    self.next()
                    which = self.next()
                    if which.text.upper() not in ("FIRST", "LAST"):
                        raise self.unexpected(which)
                    order.nulls_last = which.text.upper() == "LAST"
                q.order.append(order)
                if self.peek().text == ",":
                    self.next()
                    continue
                break
        q.limit = self.count_clause("LIMIT")
        q.offset = self.count_clause("OFFSET")
        if q.offset is not None and q.offset > 2000:
            raise SoqlError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"Maximum SOQL offset allowed is 2000, but was {q.offset}",
            )
        if self.peek().kind != "eof":
            raise self.unexpected(self.peek())
        if fields_fn in ("ALL", "CUSTOM") and (q.limit is None or q.limit > 200):
            raise SoqlError(
                "MALFORMED_QUERY",
                f"The SOQL FIELDS function must have a LIMIT of at most 200 (FIELDS({fields_fn}))",
            )
        return q

    def count_clause(self, word: str) -> int | None:
        """``LIMIT n`` / ``OFFSET n`` when the next keyword is ``word`` (n a whole number)."""
        if not self.kw(word):
            return None
        self.next()
        tok = self.next()
        if tok.kind != "num" or "." in tok.text:
            raise self.unexpected(tok)
        return int(tok.text)

    def joined(self, op: str, operand: Callable[[], Any]) -> Any:
        """``operand [op operand]...``: one operand alone, else a :class:`BoolExpr`."""
        parts = [operand()]
        while self.kw(op):
            self.next()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else BoolExpr(op, parts)

    def or_expr(self) -> Any:
        return self.joined("OR", self.and_expr)

    def and_expr(self) -> Any:
        return self.joined("AND", self.not_expr)

    def not_expr(self) -> Any:
        if self.kw("NOT"):
            self.next()
            return BoolExpr("NOT", [self.not_expr()])
        if self.peek().text == "(":
            self.next()
            inner = self.or_expr()
            if self.next().text != ")":
                raise self.unexpected(self.tokens[self.i - 1])
            return inner
        return self.comparison()

    def literal(self) -> tuple[str, Any]:
        tok = self.next()
        if tok.kind == "str":
            body = tok.text[1:-1]
            return "str", re.sub(r"\\(.)", r"\1", body)
        if tok.kind == "num":
            return "num", float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "datetime":
            text = tok.text.replace("Z", "+00:00")
            if re.search(r"[+-]\d{4}$", text):
                text = text[:-2] + ":" + text[-2:]
            dt = datetime.fromisoformat(text)
            return "datetime", int(dt.timestamp() * 1000)
        if tok.kind == "date":
            return "date", date.fromisoformat(tok.text)
        if tok.kind == "word":
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                return "bool", word == "TRUE"
            if word == "NULL":
                return "null", None
            if re.fullmatch(
                r"(TODAY|YESTERDAY|TOMORROW|(LAST|NEXT)_N_(DAYS|HOURS):\d+|N_DAYS_AGO:\d+)", word
            ):
                return "dlit", word
        raise self.unexpected(tok)

    def comparison(self) -> Cond:
        tok = self.next()
        if tok.kind != "word":
            raise self.unexpected(tok)
        name = tok.text
        if self.kw("NOT") and self.tokens[self.i + 1].text.upper() == "IN":
            self.next()
            self.next()
            return Cond(name, "NOT IN", values=self.value_list())
        if self.kw("IN"):
            self.next()
            return Cond(name, "IN", values=self.value_list())
        if self.kw("LIKE"):
            self.next()
            kind, value = self.literal()
            if kind != "str":
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a quoted pattern")
            return Cond(name, "LIKE", value=value, kind=kind)
        op = self.next()
        if op.kind != "op":
            raise self.unexpected(op)
        kind, value = self.literal()
        return Cond(name, "!=" if op.text == "<>" else op.text, value=value, kind=kind)

    def value_list(self) -> tuple[Any, ...]:
        if self.next().text != "(":
            raise self.unexpected(self.tokens[self.i - 1])
        values = []
        while True:
            values.append(self.literal())
            tok = self.next()
            if tok.text == ")":
                return tuple(values)
            if tok.text != ",":
                raise self.unexpected(tok)


def parse(text: str) -> Query:
    """Parse one SOQL query (``SoqlError`` when Salesforce would reject its syntax)."""
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "The query is empty")
    return _Parser(text.strip()).parse()


# --------------------------------------------------------------------------------------------
# Compilation against a schema
# --------------------------------------------------------------------------------------------

Lookup = Callable[[str], dict[str, Any] | None]


@dataclass
class Compiled:
    """A query checked against the schema: canonical names, a row predicate, a sort key."""

    object: str
    fields: list[str]
    count: bool
    predicate: Callable[[dict[str, Any]], bool]
    order: list[tuple[str, bool, bool]]
    limit: int | None
    offset: int | None
    relations: dict[str, tuple[str, str]]  # "Owner.Name" -> ("OwnerId", "Name")
    bounds: list[tuple[str, str, int]] = field(default_factory=list)
    """Comparisons the predicate implies (top-level ``AND`` parts: a datetime field against a
    datetime literal, ``=`` ``<`` ``<=`` ``>`` ``>=``), for an index to narrow the rows the
    predicate is evaluated on; the predicate stays the whole truth."""
    where_key: str = ""
    """The ``WHERE`` as parsed (one text for equal filters), for caching filtered rows."""


def _no_column(obj: str, name: str) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{obj}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )


def _range(word: str, now_ms: int) -> tuple[int, int]:
    """[start, end) of a relative date literal, in UTC days (the simulated org's zone)."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    name, _, n_text = word.partition(":")
    n = int(n_text) if n_text else 0
    day = timedelta(days=1)
    if name == "TODAY":
        start, end = today, today + day
    elif name == "YESTERDAY":
        start, end = today - day, today
    elif name == "TOMORROW":
        start, end = today + day, today + 2 * day
    elif name == "LAST_N_DAYS":
        start, end = today - n * day, today + day
    elif name == "NEXT_N_DAYS":
        start, end = today + day, today + (n + 1) * day
    elif name == "N_DAYS_AGO":
        start, end = today - n * day, today - (n - 1) * day
    elif name == "LAST_N_HOURS":
        start, end = now - timedelta(hours=n), now
    else:
        start, end = now - timedelta(hours=n), now + timedelta(hours=n)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def compile_query(
    q: Query,
    schemas: dict[str, dict[str, str]],
    references: dict[str, dict[str, str]],
    now_ms: int,
) -> Compiled:
    """Check ``q`` against ``schemas`` (object -> field -> type); ``references`` maps an
    object's relationship names to their reference fields (``Owner`` -> ``OwnerId``)."""
    objects = {name.lower(): name for name in schemas}
    obj = objects.get(q.object.lower())
    if obj is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"\n{q.object}\n^\nERROR at Row:1:Column:1\nsObject type '{q.object}' is not "
            "supported. If you are attempting to use a custom object, be sure to append the "
            "'__c' after the entity name. Please reference your WSDL or the describe call for "
            "the appropriate names.",
        )
    schema = schemas[obj]
    by_lower = {name.lower(): name for name in schema}
    rels = {name.lower(): (name, ref) for name, ref in references.get(obj, {}).items()}
    relations: dict[str, tuple[str, str]] = {}

    def resolve(name: str) -> str:
        if "." in name:
            rel, _, sub = name.partition(".")
            found = rels.get(rel.lower())
            if found is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{rel}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names.",
                )
            canonical = f"{found[0]}.{sub}"
            relations[canonical] = (found[1], sub)
            return canonical
        canonical_name = by_lower.get(name.lower())
        if canonical_name is None:
            raise _no_column(obj, name)
        return canonical_name

    if q.fields_fn is not None:
        if q.fields_fn == "CUSTOM":
            fields = [f for f in schema if f.endswith("__c")]
        else:
            fields = list(schema)
    elif q.count:
        fields = []
    else:
        fields = list(dict.fromkeys(resolve(f) for f in q.fields))

    def ftype(name: str) -> str:
        return schema.get(name, "string")

    def pred_of(node: Any) -> Callable[[dict[str, Any]], bool]:
        if node is None:
            return lambda row: True
        if isinstance(node, BoolExpr):
            parts = [pred_of(p) for p in node.parts]
            if node.op == "AND":
                return lambda row: all(p(row) for p in parts)
            if node.op == "OR":
                return lambda row: any(p(row) for p in parts)
            return lambda row: not parts[0](row)
        cond: Cond = node
        name = resolve(cond.field)
        if "." in name:
            raise SoqlError("MALFORMED_QUERY", "the simulator filters on the object's own fields")
        kind = ftype(name)
        return _comparison(obj, name, kind, cond, now_ms)

    predicate = pred_of(q.where)
    order = []
    for o in q.order:
        name = resolve(o.field)
        order.append((name, o.descending, o.nulls_last))
    parts = q.where.parts if isinstance(q.where, BoolExpr) and q.where.op == "AND" else [q.where]
    bounds = [
        (resolve(p.field), p.op, p.value)
        for p in parts
        if isinstance(p, Cond)
        and p.kind == "datetime"
        and p.op in ("=", "<", "<=", ">", ">=")
        and "." not in p.field
        and ftype(resolve(p.field)) == "datetime"
    ]
    return Compiled(
        obj,
        fields,
        q.count,
        predicate,
        order,
        q.limit,
        q.offset,
        relations,
        bounds,
        repr(q.where),
    )


def _coerce(obj: str, name: str, kind: str, lit_kind: str, value: Any, now_ms: int) -> Any:
    if lit_kind == "null":
        return None
    if kind == "datetime":
        if lit_kind == "datetime":
            return value
        if lit_kind == "dlit":
            return ("range", _range(value, now_ms))
        quoted = " and should not be enclosed in quotes" if lit_kind == "str" else ""
        raise SoqlError(
            "INVALID_FIELD",
            f"\nvalue of filter criterion for field '{name}' must be of type dateTime{quoted}",
        )
    if kind == "date":
        if lit_kind == "date":
            return value
        if lit_kind == "dlit":
            start, end = _range(value, now_ms)
            first = datetime.fromtimestamp(start / 1000, tz=UTC).date()
            last = datetime.fromtimestamp((end - 1) / 1000, tz=UTC).date()
            return ("range", (first, last + timedelta(days=1)))
        quoted = " and should not be enclosed in quotes" if lit_kind == "str" else ""
        raise SoqlError(
            "INVALID_FIELD",
            f"\nvalue of filter criterion for field '{name}' must be of type date{quoted}",
        )
    if kind == "boolean":
        if lit_kind != "bool":
            raise SoqlError(
                "INVALID_FIELD",
                f"\nvalue of filter criterion for field '{name}' must be of type boolean and "
                "should not be enclosed in quotes",
            )
        return value
    if kind in ("int", "double", "currency", "percent"):
        if lit_kind != "num":
            raise SoqlError(
                "INVALID_FIELD",
                f"\nvalue of filter criterion for field '{name}' must be of type double and "
                "should not be enclosed in quotes",
            )
        return value
    if lit_kind != "str":
        raise SoqlError(
            "INVALID_FIELD",
            f"\nvalue of filter criterion for field '{name}' must be of type string and "
            "should be enclosed in quotes",
        )
    return value


def _norm(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("id", "reference") and isinstance(value, str):
        return value[:15]
    if isinstance(value, str):
        return value.lower()
    return value


def _comparison(
    obj: str, name: str, kind: str, cond: Cond, now_ms: int
) -> Callable[[dict[str, Any]], bool]:
    op = cond.op
    if op in ("IN", "NOT IN"):
        wanted = {_norm(kind, _coerce(obj, name, kind, k, v, now_ms)) for k, v in cond.values}
        negate = op == "NOT IN"

        def member(row: dict[str, Any]) -> bool:
            actual = _norm(kind, row.get(name))
            if actual is None:
                return negate and None not in wanted
            return (actual in wanted) != negate

        return member
    if op == "LIKE":
        pattern = re.compile(
            "^" + re.escape(str(cond.value).lower()).replace("%", ".*").replace("_", ".") + "$",
            re.DOTALL,
        )

        def like(row: dict[str, Any]) -> bool:
            actual = row.get(name)
            return actual is not None and pattern.match(str(actual).lower()) is not None

        return like
    value = _coerce(obj, name, kind, cond.kind, cond.value, now_ms)
    if isinstance(value, tuple) and value and value[0] == "range":
        start, end = value[1]

        def ranged(row: dict[str, Any]) -> bool:
            actual = row.get(name)
            if actual is None:
                return op == "!="
            if op == "=":
                return bool(start <= actual < end)
            if op == "!=":
                return not start <= actual < end
            if op == "<":
                return bool(actual < start)
            if op == "<=":
                return bool(actual < end)
            if op == ">":
                return bool(actual >= end)
            return bool(actual >= start)

        return ranged
    target = _norm(kind, value)

    def compare(row: dict[str, Any]) -> bool:
        actual = _norm(kind, row.get(name))
        if op == "=":
            return actual == target
        if op == "!=":
            return actual != target
        if actual is None or target is None:
            return False
        if op == "<":
            return bool(actual < target)
        if op == "<=":
            return bool(actual <= target)
        if op == ">":
            return bool(actual > target)
        return bool(actual >= target)

    return compare
