"""The /filter parser: the accepted subset renders to SQL with bound values; the rest is refused."""

from __future__ import annotations

import sqlite3

import pytest

from hugbox.viewer.filter import Clause, FilterSyntaxError, like_to_glob, parse_orderby, parse_where

COLUMNS = {"label": '"c0"', "score": '"c1"', "text": '"c2"', 'odd "name"': '"c3"'}


@pytest.mark.parametrize(
    ("where", "sql", "params"),
    [
        ('"label" = 1', '"c0" = ?', (1,)),
        ("label <> 1", '"c0" != ?', (1,)),
        ("score >= -1.5e2", '"c1" >= ?', (-150.0,)),
        ("score < .5", '"c1" < ?', (0.5,)),
        ("text = 'it''s'", '"c2" = ?', ("it's",)),
        ("text = 'a -- b; /* c */'", '"c2" = ?', ("a -- b; /* c */",)),
        ("label = true", '"c0" = ?', (1,)),
        ("label IS NULL", '"c0" IS NULL', ()),
        ("label is not null", '"c0" IS NOT NULL', ()),
        ("text LIKE 'a%_'", '"c2" GLOB ?', ("a*?",)),
        ("text NOT ILIKE '%A%'", '"c2" NOT LIKE ?', ("%A%",)),
        ("label IN (1, 2, 3)", '"c0" IN (?, ?, ?)', (1, 2, 3)),
        ("score BETWEEN 1 AND 2", '"c1" BETWEEN ? AND ?', (1, 2)),
        (
            'NOT (label = 1 OR "odd ""name""" > 2) AND score < 3',
            'NOT ("c0" = ? OR "c3" > ?) AND "c1" < ?',
            (1, 2, 3),
        ),
    ],
)
def test_accepted(where: str, sql: str, params: tuple[object, ...]) -> None:
    assert parse_where(where, COLUMNS) == Clause(sql, params)


@pytest.mark.parametrize(
    "where",
    [
        "label = 1; DROP TABLE data",
        "label = 1 -- x",
        "label = 1 /* x */",
        "label = (SELECT 1)",
        "label = 1 UNION SELECT 1",
        "label = 1 OR 1 = 1",  # a literal is not a column
        "length(text) > 3",
        "nope = 1",
        '"nope" = 1',
        "label == 1",
        "label = ",
        "label = 'unterminated",
        "label = 1)",
        "(label = 1",
        "label = other",
        "label IS 1",
        "text LIKE 3",
        "label = x'00'",
        "label = 1 label = 2",
        "label = `1`",
        "",
        "(" * 40 + "label = 1" + ")" * 40,
        "label = " + "1" * 5000,
    ],
)
def test_refused(where: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_where(where, COLUMNS)


def test_orderby() -> None:
    assert parse_orderby('"score" DESC, label', COLUMNS) == Clause('"c1" DESC, "c0" ASC')
    for bad in ("score DESC;", "random()", "score, ", "1", "score DESC NULLS", "score ASC DESC"):
        with pytest.raises(FilterSyntaxError):
            parse_orderby(bad, COLUMNS)


def test_like_to_glob_escapes_glob_syntax() -> None:
    assert like_to_glob("a*b?[c]%_") == "a[*]b[?][[]c[]]*?"


def test_rendered_sql_runs_on_sqlite() -> None:
    db = sqlite3.connect(":memory:")
    db.execute('CREATE TABLE data (row_idx INTEGER PRIMARY KEY, "c0", "c1", "c2", "c3")')
    db.executemany(
        "INSERT INTO data VALUES (?, ?, ?, ?, ?)",
        [(0, 1, 0.5, "Apple", 1), (1, 2, 1.5, "apple*", 2)],
    )
    for where, expected in [
        ("text LIKE 'A%'", [0]),
        ("text ILIKE 'a%'", [0, 1]),
        ("text LIKE '%*'", [1]),
        ("label IN (2) OR score < 1", [0, 1]),
    ]:
        clause = parse_where(where, COLUMNS)
        query = f"SELECT row_idx FROM data WHERE {clause.sql} ORDER BY row_idx"  # noqa: S608
        assert [r[0] for r in db.execute(query, clause.params)] == expected, where
