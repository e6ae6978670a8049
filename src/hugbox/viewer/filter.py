"""`where` and `orderby` of /filter, parsed into a small SQL subset and rendered with bound
parameters. Nothing the client sends reaches SQL as text: column names map to our own column
identifiers, values become `?` parameters, and anything outside the grammar is refused.

    where   := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | atom
    atom    := "(" where ")" | column predicate
    predicate := op value | IS [NOT] NULL | [NOT] LIKE|ILIKE string
               | [NOT] IN "(" value ("," value)* ")" | [NOT] BETWEEN value AND value
    orderby := column [ASC|DESC] ("," column [ASC|DESC])*
    column  := "double quoted" | bare_name ;  value := number | 'string' | true | false
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 4000
MAX_DEPTH = 32
_FORBIDDEN = (";", "--", "/*", "*/")
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")+")
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<op><=|>=|<>|!=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "LIKE",
    "ILIKE",
    "IN",
    "BETWEEN",
    "ASC",
    "DESC",
}


class FilterSyntaxError(ValueError):
    """The expression is not in the accepted subset (the message says where)."""


@dataclass(frozen=True)
class Clause:
    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Token:
    kind: str  # string | quoted | number | op | punct | word | keyword | end
    text: str


def _tokenize(text: str) -> list[_Token]:
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"The expression is longer than {MAX_LENGTH} characters")
    for bad in _FORBIDDEN:
        if bad in _outside_strings(text):
            raise FilterSyntaxError(f"{bad!r} is not allowed")
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise FilterSyntaxError(f"Unexpected character at position {position}")
        kind, value = match.lastgroup, match.group(match.lastgroup)
        if kind == "word" and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append(_Token(kind, value))
        position = match.end()
    tokens.append(_Token("end", ""))
    return tokens


def _outside_strings(text: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", text)


class _Parser:
    def __init__(self, text: str, columns: Mapping[str, str]):
        self.tokens = _tokenize(text)
        self.index = 0
        self.columns = columns
        self.params: list[Any] = []

    def peek(self, *texts: str) -> bool:
        token = self.tokens[self.index]
        return token.kind in ("keyword", "op", "punct") and token.text in texts

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        if not self.peek(text):
            raise FilterSyntaxError(f"Expected {text} at {self._where()}")
        self.index += 1

    def _where(self) -> str:
        token = self.tokens[self.index]
        return "the end" if token.kind == "end" else repr(token.text)

    def done(self) -> None:
        if self.tokens[self.index].kind != "end":
            raise FilterSyntaxError(f"Unexpected {self._where()}")

    def column(self) -> str:
        token = self.take()
        if token.kind == "quoted":
            name = token.text[1:-1].replace('""', '"')
        elif token.kind == "word":
            name = token.text
        else:
            raise FilterSyntaxError(f"Expected a column name, got {token.text or 'the end'!r}")
        if name not in self.columns:
            raise FilterSyntaxError(f"Unknown or unfilterable column {name!r}")
        return self.columns[name]

    def value(self) -> str:
        token = self.take()
        if token.kind == "number":
            number = float(token.text)
            self.params.append(
                int(number)
                if number.is_integer() and "." not in token.text and "e" not in token.text.lower()
                else number
            )
        elif token.kind == "string":
            self.params.append(token.text[1:-1].replace("''", "'"))
        elif token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
            self.params.append(1 if token.text == "TRUE" else 0)
        else:
            raise FilterSyntaxError(f"Expected a value, got {token.text or 'the end'!r}")
        return "?"

    def string(self) -> str:
        token = self.take()
        if token.kind != "string":
            raise FilterSyntaxError("LIKE needs a 'quoted' pattern")
        return token.text[1:-1].replace("''", "'")

    def expression(self, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise FilterSyntaxError("The expression is nested too deeply")
        parts = [self.conjunction(depth)]
        while self.peek("OR"):
            self.take()
            parts.append(self.conjunction(depth))
        return " OR ".join(parts)

    def conjunction(self, depth: int) -> str:
        parts = [self.negation(depth)]
        while self.peek("AND"):
            self.take()
            parts.append(self.negation(depth))
        return " AND ".join(parts)

    def negation(self, depth: int) -> str:
        if self.peek("NOT"):
            self.take()
            return f"NOT {self.negation(depth + 1)}"
        if self.peek("("):
            self.take()
            inner = self.expression(depth + 1)
            self.expect(")")
            return f"({inner})"
        return self.predicate()

    def predicate(self) -> str:
        column = self.column()
        token = self.take()
        if token.kind == "op":
            operator = "!=" if token.text == "<>" else token.text
            return f"{column} {operator} {self.value()}"
        negated = token.kind == "keyword" and token.text == "NOT"
        if negated:
            token = self.take()
        prefix = "NOT " if negated else ""
        if token.text == "IS" and not negated:
            is_not = self.peek("NOT")
            if is_not:
                self.take()
            self.expect("NULL")
            return f"{column} IS {'NOT ' if is_not else ''}NULL"
        if token.text in ("LIKE", "ILIKE"):
            return self._like(column, token.text, prefix)
        if token.text == "IN":
            return f"{column} {prefix}IN ({self._values()})"
        if token.text == "BETWEEN":
            low = self.value()
            self.expect("AND")
            return f"{column} {prefix}BETWEEN {low} AND {self.value()}"
        raise FilterSyntaxError(f"Expected an operator after the column, got {token.text!r}")

    def _like(self, column: str, keyword: str, prefix: str) -> str:
        pattern = self.string()
        if keyword == "ILIKE":  # SQLite's LIKE ignores (ASCII) case
            self.params.append(pattern)
            return f"{column} {prefix}LIKE ?"
        self.params.append(like_to_glob(pattern))  # LIKE is case-sensitive, as in DuckDB
        return f"{column} {prefix}GLOB ?"

    def _values(self) -> str:
        self.expect("(")
        marks = [self.value()]
        while self.peek(","):
            self.take()
            marks.append(self.value())
        self.expect(")")
        return ", ".join(marks)


def like_to_glob(pattern: str) -> str:
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[]":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def parse_where(text: str, columns: Mapping[str, str]) -> Clause:
    """`columns` maps the dataset's column names to the SQL identifiers to use."""
    parser = _Parser(text, columns)
    sql = parser.expression()
    parser.done()
    return Clause(sql, tuple(parser.params))


def parse_orderby(text: str, columns: Mapping[str, str]) -> Clause:
    parser = _Parser(text, columns)
    items = []
    while True:
        column = parser.column()
        direction = "ASC"
        if parser.peek("ASC", "DESC"):
            direction = parser.take().text
        items.append(f"{column} {direction}")
        if not parser.peek(","):
            break
        parser.take()
    parser.done()
    return Clause(", ".join(items))
