"""The filter language of ``songscope library query``, compiled to a parameterised SQL condition.

Grammar (case-insensitive keywords)::

    query      := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" or ")" | condition
    condition  := FIELD OP VALUE | FIELD "between" VALUE "and" VALUE
                | FIELD "contains" STRING | FIELD "like" STRING | FIELD "is" ["not"] "null"
    OP         := "=" | "!=" | "<" | "<=" | ">" | ">="
    VALUE      := NUMBER | 'single-quoted' | "double-quoted"

Fields: ``path``, ``sha256``, ``duration`` (s), ``sample_rate``, ``channels``, ``title``, ``artist``,
``album``, ``bpm``, ``key`` ("A minor"), ``key_signature``, ``time_signature`` ("4/4") and ``labels``
(the section labels in order, space-separated: ``labels contains 'bridge'``). Example::

    bpm between 120 and 128 and key = 'A minor' and not labels contains 'solo'

Values never enter the SQL text: they travel as parameters.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConfigError
from .catalog import FACT_COLUMNS

__all__ = ["compile_query"]

_TOKEN = re.compile(r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\"|"
                    r"(?P<op><=|>=|!=|=|<|>|\(|\))|(?P<word>[A-Za-z_][A-Za-z_0-9]*))")
_OPS = ("=", "!=", "<", "<=", ">", ">=")
_KEYWORDS = {"and", "or", "not", "between", "contains", "like", "is", "null"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConfigError(f"query: cannot read {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "number":
            out.append(("value", float(value)))
        elif kind in ("single", "double"):
            out.append(("value", value))
        elif kind == "op":
            out.append(("op", value))
        else:
            out.append(("word", value.lower() if value.lower() in _KEYWORDS else value))
    return out



class _Parser:
    def __init__(self, text: str):
        self.tokens, self.i, self.params = _tokens(text), 0, []

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            raise ConfigError(f"query: expected {value or kind}, found {found}")
        self.i += 1
        return token[1]

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.i += 1
            return True
        return False

    def expression(self) -> str:
        parts = [self.conjunction()]
        while self.accept("word", "or"):
            parts.append(self.conjunction())
        return " OR ".join(parts) if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.negation()]
        while self.accept("word", "and"):
            parts.append(self.negation())
        return " AND ".join(parts) if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def negation(self) -> str:
        if self.accept("word", "not"):
            return f"NOT ({self.negation()})"
        if self.accept("op", "("):
            inner = self.expression()  # groups of several parts come back in parentheses
            self.take("op", ")")
            return inner
        return self.condition()

    def value(self) -> str:
        self.params.append(self.take("value"))
        return "?"

    def condition(self) -> str:
        field = self.take("word")
        if field not in FACT_COLUMNS:
            raise ConfigError(f"query: unknown field {field!r}; fields: {', '.join(FACT_COLUMNS)}")
        if self.accept("word", "between"):
            low = self.value()
            self.take("word", "and")
            return f"{field} BETWEEN {low} AND {self.value()}"
        if self.accept("word", "contains"):
            self.params.append(f"%{self.take('value')}%")
            return f"{field} LIKE ?"
        if self.accept("word", "like"):
            return f"{field} LIKE {self.value()}"
        if self.accept("word", "is"):
            negated = self.accept("word", "not")
            self.take("word", "null")
            return f"{field} IS {'NOT ' if negated else ''}NULL"
        op = self.take("op")
        if op not in _OPS:
            raise ConfigError(f"query: {op!r} is not a comparison")
        return f"{field} {op} {self.value()}"


def compile_query(text: str) -> tuple[str, list[Any]]:
    """A query (module docstring) as ``(SQL condition, parameters)`` over the catalog's facts.

    Raises:
        ConfigError: a syntax error, an unknown field or a missing value, in one line.
    """
    if not text.strip():
        return "", []
    parser = _Parser(text)
    sql = parser.expression()
    if parser.peek() is not None:
        raise ConfigError(f"query: unexpected {parser.peek()[1]!r}")
    return sql, parser.params
