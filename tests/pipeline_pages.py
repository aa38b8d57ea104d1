"""A saved blog page with the boilerplate French blogs carry, served by the test servers."""

ARTICLE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Le métier de CM | Le blog de Léa</title>
<meta property="og:site_name" content="Le blog de Léa">
<meta name="description" content="Ce que fait vraiment un community manager, du matin au soir, et pourquoi ce métier ne ressemble à aucun autre.">
<meta property="article:published_time" content="2011-03-03T10:12:00+01:00">
</head><body>
<nav class="menu"><a href="/">Accueil</a> <a href="/contact">Contact</a></nav>
<article><h1>Le métier de CM</h1>
<p class="byline">Publié par <a rel="author" href="/lea">Léa Martin</a></p>
<p>Le community manager anime une communauté autour d'une marque, d'un produit ou d'une passion commune. Il écoute, répond, modère et fait remonter ce qu'il entend.</p>
<p>Sa journée commence souvent par une veille attentive : ce qui s'est dit pendant la nuit, les questions restées sans réponse, les sujets qui montent.</p>
<p>Le reste du temps se partage entre la création de contenus, les échanges avec les équipes internes et l'analyse de ce qui a fonctionné.</p>
<a href="javascript:alert(1)">piège</a> <img src="/pixel.png" onerror="alert(1)">
</article>
<div class="sharedaddy"><h3>Partager :</h3><a href="#">Twitter</a><a href="#">Facebook</a></div>
<p class="postmetadata">Classé dans Job, Web Stuff</p>
<div id="comments"><h3>Une réponse à « Le métier de CM »</h3><p>Super article ! Répondre</p>
<form id="commentform"><h3>Laisser un commentaire</h3><textarea></textarea></form></div>
</body></html>"""

# A real 1 x 1 PNG, for the page's <img src="/pixel.png">.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63d0cf2ffe0f0003f30211227c3edb0000000049454e44ae426082"
)
