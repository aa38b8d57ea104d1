"""collections/*.toml: the bundled files load, bad files say what is wrong, sync never loses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.curate import catalog
from aggregator.errors import CatalogError
from tests.conftest import REPO


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_bundled_collection_loads_with_its_captures() -> None:
    files = catalog.load_dir(REPO / "collections")
    assert files, "collections/ has no collection file"
    captures = catalog.captures_of(files)
    parents = {f.parent for f in files}
    for f in files:
        assert f.pearls or f.slug in parents, f"{f.path}: a collection holds pearls or themes"
        assert all(p.note for p in f.pearls), f"{f.path}: every pearl has a note"
        assert f.description, f"{f.path}: every collection has an introduction"
        missing = [p.url for p in f.pearls if p.url not in {k for k in captures}]
        assert not missing, f"{f.path}: pearls without an offline capture: {missing}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('title = "T"', "missing 'slug'"),
        ('slug = "Bad Slug"\ntitle = "T"', "lowercase"),
        ('slug = "s"\ntitle = ""', "title is empty"),
        ('slug = "s"\ntitle = "T"\n[[pearls]]\nurl = "javascript:alert(1)"', "pearl 1"),
        (
            'slug = "s"\ntitle = "T"\n[[pearls]]\nurl = "https://a.example/"\n'
            '[[pearls]]\nurl = "https://A.example/#x"',
            "listed twice",
        ),
        ('slug = "s"\ntitle = 3', "must be a str"),
        ("slug = ", "Invalid"),
    ],
)
def test_bad_files_are_rejected_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "c.toml", text)
    with pytest.raises(CatalogError, match=message) as info:
        catalog.load_file(path)
    assert str(path) in str(info.value)


def test_parents_come_first_and_cycles_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'slug = "child"\ntitle = "Child"\nparent = "root"')
    write(tmp_path, "b.toml", 'slug = "root"\ntitle = "Root"')
    assert [f.slug for f in catalog.load_dir(tmp_path)] == ["root", "child"]
    write(tmp_path, "b.toml", 'slug = "root"\ntitle = "Root"\nparent = "child"')
    with pytest.raises(CatalogError, match="cycle"):
        catalog.load_dir(tmp_path)


def test_sync_places_pearls_in_file_order_and_keeps_cli_additions(
    engine: Engine, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "c.toml",
        'slug = "c"\ntitle = "C"\n'
        '[[pearls]]\nurl = "https://a.example/1"\nnote = "un"\n'
        '[[pearls]]\nurl = "https://a.example/2"\nnote = "deux"',
    )
    files = catalog.load_dir(tmp_path)
    pending = catalog.sync(engine, files)
    assert [url for _, url in pending] == ["https://a.example/1", "https://a.example/2"]
    with Session(engine) as s:
        extra = store.get_or_create_article(s, "https://b.example/added-by-hand")
        store.place_pearl(s, store.get_collection(s, "c"), extra, "ajoutée à la main")
        s.commit()
    catalog.sync(engine, files)  # a second sync is idempotent and deletes nothing
    with Session(engine) as s:
        cards = store.board(s, "c").cards
    assert [c.note for c in cards] == ["un", "deux", "ajoutée à la main"]
