"""User markdown (model and dataset cards) to safe HTML: markdown-it, Pygments, then nh3.

Sanitising comes last, on the final HTML, so nothing the parser or highlighter emits can
smuggle in a script, an event attribute or a `javascript:` link.
"""

from __future__ import annotations

import functools
import re

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer_for_filename
from pygments.util import ClassNotFound

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?^---[ \t]*\r?$\n?", re.S | re.M)
_FORMATTER = HtmlFormatter(nowrap=True)

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "ul", "input",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "span": {"class"},
    "pre": {"class"},
    "div": {"class"},
    "td": {"align"},
    "th": {"align"},
    "input": {"type", "checked", "disabled"},
    "ol": {"start"},
}


def _highlight_fence(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip() or "text")
    except ClassNotFound:
        return ""  # markdown-it escapes it as plain text
    return str(highlight(code, lexer, _FORMATTER))


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "highlight": _highlight_fence})
    return md.enable(["table", "strikethrough"])


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def strip_front_matter(text: str) -> str:
    return _FRONT_MATTER.sub("", text, count=1)


def render_markdown(text: str) -> str:
    """Sanitised HTML of a card's body (its YAML header is shown elsewhere)."""
    return sanitize(_parser().render(strip_front_matter(text)))


def highlight_file(path: str, text: str) -> str:
    """A text file as highlighted HTML lines (Pygments escapes everything it emits)."""
    try:
        lexer = guess_lexer_for_filename(path, text[:4096])
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return str(highlight(text, lexer, _FORMATTER))
