"""A board embedded in other sites' pages (/c/{slug}/embed, issue 11 item 6): the one page any
site may frame, compact, its links opening on Perles in a new tab; the board page gives the code."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from aggregator import store
from aggregator.store.models import Article
from web.app import create_app


def test_the_embed_lists_the_board_and_may_be_framed_by_any_site(
    client: TestClient, articles: dict[str, Article]
) -> None:
    r = client.get("/c/metier/embed")
    assert r.status_code == 200
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors *" in policy and "script-src 'none'" in policy
    assert "x-frame-options" not in r.headers
    page = r.text
    assert 'href="/c/outils" target="_blank" rel="noopener">Outils</a>' in page
    assert f'href="/a/{articles["ok"].id}" target="_blank" rel="noopener"' in page
    # every link leaves the frame for a new tab on Perles
    anchors = re.findall(r"<a [^>]*>", page)
    assert anchors and all('target="_blank"' in a and 'rel="noopener"' in a for a in anchors)
    # every other page still refuses to be framed
    for path in ("/", "/c/metier", f"/a/{articles['ok'].id}", "/c/metier/embed/x"):
        other = client.get(path)
        assert other.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in other.headers["content-security-policy"], path


def test_a_private_board_has_no_embed_and_an_unlisted_one_links_its_readers(
    client: TestClient, session: Session, articles: dict[str, Article]
) -> None:
    outils = store.get_collection(session, "outils")
    outils.visibility = "private"
    session.add(outils)
    session.commit()
    assert client.get("/c/outils/embed").status_code == 404
    outils.visibility = "unlisted"
    session.add(outils)
    session.commit()
    page = client.get("/c/outils/embed").text
    assert re.search(r'href="/a/\d+\?c=outils" target="_blank"', page)
    assert "Intégrer ce tableau" not in client.get("/c/outils").text  # offered on public ones


def test_the_board_gives_its_embed_code_with_the_public_address(
    client: TestClient, articles: dict[str, Article], settings: object
) -> None:
    def code(c: TestClient) -> str:
        page = c.get("/c/metier").text
        return html.unescape(page.split("<pre><code>")[1].split("</code>")[0])

    assert '<iframe src="/c/metier/embed" title="Le métier de CM — Perles"' in code(client)
    public = settings.model_copy(update={"public_url": "https://perles.example.org/"})  # type: ignore[attr-defined]
    with TestClient(create_app(public), headers={"Host": "evil.example"}) as c:
        assert '<iframe src="https://perles.example.org/c/metier/embed"' in code(c)


def test_a_title_cannot_break_out_of_the_embed_code(client: TestClient, session: Session) -> None:
    store.upsert_collection(session, "guillemets", 'Le "vrai" <b>métier</b> & co')
    session.commit()
    page = client.get("/c/guillemets").text
    shown = html.unescape(page.split("<pre><code>")[1].split("</code>")[0])
    assert 'title="Le &quot;vrai&quot; &lt;b&gt;métier&lt;/b&gt; &amp; co — Perles"' in shown
    assert "<b>" not in page.split('<details class="share">')[1]
