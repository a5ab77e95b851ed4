"""A small parser for the Google Ads Query Language (GAQL).

Grammar covered (keywords case-insensitive)::

    SELECT field [, field ...] FROM resource
    [WHERE condition [AND condition ...]]
    [ORDER BY field [ASC|DESC] [, ...]]
    [LIMIT n]
    [PARAMETERS name = value [, ...]]

    condition := field (= | != | > | >= | < | <=) value
               | field [NOT] IN (value [, value ...])
               | field BETWEEN value AND value
               | field DURING DATE_RANGE_CONSTANT
               | field [NOT] LIKE 'pattern'
               | field IS [NOT] NULL
               | field CONTAINS (ANY | ALL | NONE) (value [, ...])
               | field [NOT] REGEXP_MATCH 'pattern'
    value     := 'string' | "string" | number | ENUM_CONSTANT

Syntax errors raise :class:`GaqlError` carrying the real ``QueryError`` enum name (for the
``GoogleAdsFailure`` ``errorCode``) and a message in the API's style. Whether fields exist and
fit the resource is checked by ``google_ads``, which knows the catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from revops.simulator._lexer import Cursor, QueryError, Token, scan

__all__ = ["Condition", "GaqlError", "OrderBy", "Query", "parse", "DURING_CONSTANTS"]

DURING_CONSTANTS = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "LAST_7_DAYS",
        "LAST_14_DAYS",
        "LAST_30_DAYS",
        "LAST_BUSINESS_WEEK",
        "THIS_MONTH",
        "LAST_MONTH",
        "THIS_WEEK_SUN_TODAY",
        "THIS_WEEK_MON_TODAY",
        "LAST_WEEK_SUN_SAT",
        "LAST_WEEK_MON_SUN",
    }
)

_KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "LIMIT",
        "PARAMETERS",
        "IN",
        "NOT",
        "BETWEEN",
        "DURING",
        "LIKE",
        "IS",
        "NULL",
        "CONTAINS",
        "ANY",
        "ALL",
        "NONE",
        "REGEXP_MATCH",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<unterminated>['"])
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<punct>[,()])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)


class GaqlError(QueryError):
    """A GAQL query the API would reject; ``code`` is the ``QueryError`` enum name."""


@dataclass(frozen=True)
class Condition:
    """One WHERE condition. ``op`` is upper-case (e.g. ``=``, ``NOT IN``, ``DURING``)."""

    field: str
    op: str
    values: tuple[str | int | float, ...] = ()


@dataclass(frozen=True)
class OrderBy:
    """One ORDER BY term."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed GAQL query."""

    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None
    parameters: dict[str, str] = field(default_factory=dict)


def _bad_symbol(text: str, pos: int) -> GaqlError:
    return GaqlError(
        "BAD_SYMBOL", f"Error in query: unexpected symbol {text[pos]!r} at position {pos}."
    )


def _tokenize(text: str) -> list[Token]:
    """Tokens of kind string|number|op|punct|name|keyword, then ``end``."""
    tokens: list[Token] = []
    for m in scan(_TOKEN, text, lambda pos: _bad_symbol(text, pos)):
        kind, value, pos = m.lastgroup or "", m.group(), m.start()
        if kind == "unterminated":
            raise GaqlError(
                "STRING_NOT_TERMINATED",
                f"Error in query: string starting at position {pos} is not terminated.",
            )
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "name" and value.upper() in _KEYWORDS:
            kind = "keyword"
        tokens.append(Token(kind, value, pos))
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser(Cursor):
    def __init__(self, text: str) -> None:
        super().__init__(_tokenize(text))

    def next(self) -> Token:
        if self.peek().kind == "end":
            raise GaqlError("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")
        return super().next()

    def expect_kw(self, word: str, code: str) -> None:
        tok = self.peek()
        if tok.kind == "end":
            raise GaqlError("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")
        if not self.kw(word):
            raise GaqlError(
                code,
                f"Error in query: expected {word} but found {tok.text!r} at position {tok.pos}.",
            )
        self.i += 1

    def field_name(self, what: str = "field") -> str:
        tok = self.next()
        if tok.kind != "name":
            raise GaqlError(
                "BAD_FIELD_NAME",
                f"Error in query: expected a {what} name but found {tok.text!r} at position "
                f"{tok.pos}.",
            )
        return tok.text

    def value(self) -> str | int | float:
        tok = self.next()
        if tok.kind == "string":
            return tok.text
        if tok.kind == "number":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "name":  # enum constant, e.g. ENABLED
            return tok.text
        raise GaqlError(
            "BAD_VALUE",
            f"Error in query: expected a value but found {tok.text!r} at position {tok.pos}.",
        )

    def value_list(self) -> tuple[str | int | float, ...]:
        tok = self.next()
        if tok.text != "(":
            raise GaqlError(
                "EXPECTED_LIST",
                f"Error in query: the operator requires a list of values at position {tok.pos}.",
            )
        if self.peek().text == ")":
            raise GaqlError(
                "PROHIBITED_EMPTY_LIST_IN_CONDITION", "Error in query: empty list in condition."
            )
        values = [self.value()]
        while self.peek().text == ",":
            self.next()
            values.append(self.value())
        tok = self.next()
        if tok.text != ")":
            raise GaqlError("BAD_SYMBOL", f"Error in query: expected ')' at position {tok.pos}.")
        return tuple(values)

    def condition(self) -> Condition:
        name = self.field_name()
        tok = self.peek()
        if tok.kind == "op":
            self.next()
            if self.peek().text == "(":
                raise GaqlError(
                    "EXPECTED_SINGLE_VALUE",
                    f"Error in query: operator {tok.text} expects a single value.",
                )
            return Condition(name, tok.text, (self.value(),))
        if tok.kind != "keyword":
            if tok.kind == "end":
                raise GaqlError(
                    "UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query."
                )
            raise GaqlError(
                "BAD_OPERATOR",
                f"Error in query: invalid operator {tok.text!r} at position {tok.pos}.",
            )
        word = self.next().upper
        if word == "NOT":
            follow = self.next().upper
            if follow == "IN":
                return Condition(name, "NOT IN", self.value_list())
            if follow in ("LIKE", "REGEXP_MATCH"):
                return Condition(name, f"NOT {follow}", (self.value(),))
            raise GaqlError("BAD_OPERATOR", f"Error in query: invalid operator 'NOT {follow}'.")
        if word == "IN":
            return Condition(name, "IN", self.value_list())
        if word == "BETWEEN":
            low = self.value()
            if not self.kw("AND"):
                raise GaqlError(
                    "EXPECTED_AND", "Error in query: expected AND between the values of BETWEEN."
                )
            self.next()
            return Condition(name, "BETWEEN", (low, self.value()))
        if word == "DURING":
            tok = self.next()
            if tok.kind != "name" or tok.upper not in DURING_CONSTANTS:
                raise GaqlError(
                    "INVALID_VALUE_WITH_DURING_OPERATOR",
                    f"Error in query: invalid value {tok.text!r} with DURING operator.",
                )
            return Condition(name, "DURING", (tok.upper,))
        if word in ("LIKE", "REGEXP_MATCH"):
            return Condition(name, word, (self.value(),))
        if word == "IS":
            if self.kw("NOT"):
                self.next()
                self.expect_kw("NULL", "BAD_VALUE")
                return Condition(name, "IS NOT NULL")
            self.expect_kw("NULL", "BAD_VALUE")
            return Condition(name, "IS NULL")
        if word == "CONTAINS":
            kind = self.next().upper
            if kind not in ("ANY", "ALL", "NONE"):
                raise GaqlError(
                    "BAD_OPERATOR", f"Error in query: invalid operator 'CONTAINS {kind}'."
                )
            return Condition(name, f"CONTAINS {kind}", self.value_list())
        raise GaqlError("BAD_OPERATOR", f"Error in query: invalid operator {word!r}.")

    def parse(self) -> Query:
        if self.peek().kind == "end":
            raise GaqlError("EXPECTED_SELECT", "Error in query: query must start with SELECT.")
        self.expect_kw("SELECT", "EXPECTED_SELECT")
        fields = [self.field_name()]
        while self.peek().text == ",":
            self.next()
            fields.append(self.field_name())
        if self.peek().kind == "end":
            raise GaqlError("EXPECTED_FROM", "Error in query: missing FROM clause.")
        self.expect_kw("FROM", "EXPECTED_FROM")
        resource_tok = self.next()
        if resource_tok.kind != "name" or "." in resource_tok.text:
            raise GaqlError(
                "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                f"Error in query: invalid resource {resource_tok.text!r} in FROM clause.",
            )
        conditions: list[Condition] = []
        order: list[OrderBy] = []
        limit: int | None = None
        params: dict[str, str] = {}
        if self.kw("WHERE"):
            self.next()
            conditions.append(self.condition())
            while self.kw("AND"):
                self.next()
                conditions.append(self.condition())
        if self.kw("ORDER"):
            self.next()
            self.expect_kw("BY", "EXPECTED_BY")
            while True:
                name = self.field_name()
                desc = False
                if self.kw("ASC", "DESC"):
                    desc = self.next().upper == "DESC"
                order.append(OrderBy(name, desc))
                if self.peek().text != ",":
                    break
                self.next()
        if self.kw("LIMIT"):
            self.next()
            tok = self.next()
            if tok.kind != "number" or "." in tok.text or int(tok.text) <= 0:
                raise GaqlError(
                    "BAD_LIMIT_VALUE", f"Error in query: invalid LIMIT value {tok.text!r}."
                )
            limit = int(tok.text)
        if self.kw("PARAMETERS"):
            self.next()
            while True:
                pname = self.field_name("parameter")
                eq = self.next()
                if eq.text != "=":
                    raise GaqlError(
                        "BAD_PARAMETER_VALUE", "Error in query: expected '=' after parameter name."
                    )
                params[pname] = str(self.value()).lower()
                if self.peek().text != ",":
                    break
                self.next()
        tok = self.peek()
        if tok.kind != "end":
            raise GaqlError(
                "UNEXPECTED_INPUT",
                f"Error in query: unexpected input {tok.text!r} at position {tok.pos}.",
            )
        return Query(
            tuple(fields), resource_tok.text, tuple(conditions), tuple(order), limit, params
        )


def parse(text: str) -> Query:
    """Parse a GAQL query string (raises :class:`GaqlError` on syntax errors)."""
    if not isinstance(text, str) or not text.strip():
        raise GaqlError("EXPECTED_SELECT", "Error in query: query is empty.")
    return _Parser(text).parse()
