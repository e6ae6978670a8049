"""The card renderer: markdown features survive, and no XSS vector does."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from hugbox.web.markdown import highlight_file, render_markdown

# Classic vectors (OWASP cheat sheet, html5sec.org) in the places markdown lets them in.
XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://evil/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x]( javascript:alert(1) )",
    "![x](javascript:alert(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p onclick="alert(1)">x</p>',
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<style>@import 'http://evil/x.css';</style>",
    "<link rel=stylesheet href=http://evil/x.css>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<input autofocus onfocus=alert(1)>",
    '<a href="#" onmouseover="alert(1)">x</a>',
    "```html\n<script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=`x` onerror=`alert(1)`>",
    '<a href="  javascript:alert(1)">x</a>',
]
_FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "style", "link", "meta", "base", "form",
                   "svg", "math", "body", "noscript", "button"}  # fmt: skip
_URL_ATTRIBUTES = {"href", "src", "action", "data", "formaction", "xlink:href"}


class _Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _dangers(html: str) -> list[str]:
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag in _FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            scheme = re.sub(r"[\x00-\x20]", "", value or "").lower().partition(":")[0]
            if name.startswith("on") or name == "style":
                problems.append(f"{tag}[{name}]")
            elif name in _URL_ATTRIBUTES and scheme in ("javascript", "vbscript", "data"):
                problems.append(f"{tag}[{name}={value}]")
    return problems


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_xss_corpus_is_neutralised(payload: str) -> None:
    html = render_markdown(f"# Card\n\n{payload}\n\nafter")
    assert _dangers(html) == [], html
    assert "<h1>Card</h1>" in html


def test_markdown_features_survive() -> None:
    html = render_markdown(
        "---\nlicense: mit\n---\n# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```python\nimport os\n```\n\n~~old~~ [link](https://example.org) ![img](/x.png)\n"
        "<details><summary>More</summary>hidden</details>"
    )
    assert "license: mit" not in html  # the YAML header is shown elsewhere
    assert "<h1>Title</h1>" in html and "<td>1</td>" in html
    assert '<span class="kn">import</span>' in html
    assert "<s>old</s>" in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert '<img src="/x.png" alt="img">' in html
    assert "<details><summary>More</summary>" in html


def test_files_are_highlighted_and_escaped() -> None:
    assert '<span class="k">def</span>' in highlight_file("a.py", "def f(): pass\n")
    html = highlight_file("page.html", "<script>alert(1)</script>")
    assert "<script>" not in html and "&lt;" in html
    assert "&lt;b&gt;" in highlight_file("notes.unknownext", "<b>")
