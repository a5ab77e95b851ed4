"""What the simulator's two query languages (GAQL in ``gaql``, SOQL in ``soql``) lex alike: the
error type carrying the vendor's error code, the token, and the scan of a text by one verbose
regular expression whose named groups are the token kinds (``ws`` is skipped)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["QueryError", "Token", "scan"]


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
