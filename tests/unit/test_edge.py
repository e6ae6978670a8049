"""The edge's rules on their own: URLs, headers and JSON bodies (tests/functional has them live)."""

import pytest

from hugbox.edge import MAX_JSON_DEPTH, check_headers, check_url, parse_json
from hugbox.errors import BadRequest, HeaderFieldsTooLarge, UriTooLong
from hugbox.names import check_revision


@pytest.mark.parametrize(
    "path",
    [
        *(b"/api/models/a/b/revision/main%00x", b"/a/%7f", b"/a/%c2%85", b"/a/%ff"),
        *(b"/a/\x01b", b"/a/\x7f", b"/a/\xc2\x85", b"/" + b"n" * 256),  # as sent, unescaped
    ],
)
def test_bad_paths_are_refused(path: bytes) -> None:
    with pytest.raises(BadRequest):
        check_url(path, b"")


def test_names_are_bounded_one_by_one_even_when_encoded_together() -> None:
    check_url(b"/api/models/a/b/tree/main/" + b"%2F".join([b"n" * 255] * 8), b"")
    with pytest.raises(BadRequest):
        check_url(b"/api/models/a/b/tree/main/" + b"n" * 255 + b"%2F" + b"n" * 256, b"")


def test_query_values_may_span_lines_but_hold_no_other_control_character() -> None:
    check_url(b"/datasets-server/filter", b"where=%22a%22%3D1%0Aand+%22b%22%3D2")
    for query in (b"search=a%00", b"search=%1b", b"a%01=1", b"search=%ff"):
        with pytest.raises(BadRequest):
            check_url(b"/api/models", query)


def test_long_urls_are_414_and_heavy_headers_431() -> None:
    with pytest.raises(UriTooLong):
        check_url(b"/api/models", b"search=" + b"a" * 9000)
    with pytest.raises(HeaderFieldsTooLarge):
        check_headers([(b"x-filler", b"v" * 40_000)])


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'"\\ud800"', b'"\xff"', b"NaN", b"[" * 2000 + b"]" * 2000],
    ids=["empty", "truncated", "lone surrogate", "invalid utf-8", "nan", "past orjson's depth"],
)
def test_bad_json_is_refused(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_json(body)


def test_json_strings_hold_no_nul_character() -> None:
    for body in (b'{"name": "a\\u0000b"}', b'[["\\u0000"]]', b'{"\\u0000": 1}'):
        with pytest.raises(BadRequest, match="NUL"):
            parse_json(body)
    assert parse_json(b'{"name": "\\\\u0000"}') == {"name": "\\u0000"}  # an escaped backslash


def test_json_depth_is_bounded() -> None:
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(BadRequest, match="levels deep"):
        parse_json(b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1))
    wide = b"[" + b",".join([b"[1]"] * 10_000) + b"]"  # many brackets, shallow
    assert len(parse_json(wide)) == 10_000


@pytest.mark.parametrize("revision", ["", "main\x00x", "ma\x1bin", "r" * 256])
def test_revisions_git_cannot_be_asked_about_are_refused(revision: str) -> None:
    with pytest.raises(BadRequest):
        check_revision(revision)
