"""What the simulator's two query languages (GAQL in ``gaql``, SOQL in ``soql``) lex alike: the
error type carrying the vendor's error code, the token, and the scan of a text by one verbose
regular expression whose named groups are the token kinds (``ws`` is skipped)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Cursor", "QueryError", "Token", "scan"]


class QueryError(ValueError):
    """A query the vendor rejects; ``code`` is the vendor's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (the pattern's group name), text and position."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        """The text upper-cased (for keyword matching)."""
        return self.text.upper()


def scan(
    pattern: re.Pattern[str], text: str, bad_symbol: Callable[[int], QueryError]
) -> Iterator[re.Match[str]]:
    """The matches of ``pattern`` covering ``text`` in order, whitespace (``ws``) left out;
    ``bad_symbol(pos)`` is raised where nothing matches."""
    pos = 0
    while pos < len(text):
        m = pattern.match(text, pos)
        if m is None:
            raise bad_symbol(pos)
        if m.lastgroup != "ws":
            yield m
        pos = m.end()


class Cursor:
    """A parser's place in its token list; keywords are tokens of ``keyword_kind``."""

    keyword_kind = "keyword"

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def kw(self, *words: str) -> bool:
        """Whether the next token is one of the keywords ``words`` (upper case)."""
        tok = self.peek()
        return tok.kind == self.keyword_kind and tok.upper in words
