"""search: a full-text index of every pearl, kept current by the database itself

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00.000000

One entry per pearl (the note and tags are the pearl's own; the title, excerpt and text its
article's), whatever its collection or trash: visibility is decided when searching, so moving
a collection or changing its visibility never touches the index. Triggers on pearl, article,
pearl_tag and tag keep it current, so every writer (command line, API, web, queue workers,
other processes) is covered without a hook in Python. `perles search rebuild` fills it again
(aggregator/search/rebuild.py).

SQLite: an FTS5 table `search_fts` (rowid = pearl id; title, excerpt, note, tags, body) with
the unicode61 tokenizer, diacritics removed ("metier" finds "métier").

PostgreSQL: a table `search_doc` (pearl id, the text search configuration chosen by the
article's language, a weighted tsvector: title A, excerpt, note and tags B, text D) with a
GIN index. Three configurations, `perles_french`, `perles_english` and `perles_simple` (every
other language), each passing words through the `unaccent` dictionary before stemming. The
`unaccent` extension is created in the `public` schema when it is missing (it is trusted:
a database owner may create it); without it the migration stops with a message that says so.

Beware: on SQLite, a later migration that copies pearl, article, pearl_tag or tag (batch mode
with recreate) drops their triggers with the old table; it must create them again
(tests/test_search.py checks that they exist at head).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# --- SQLite ---------------------------------------------------------------------------------

_TAGS_OF = (
    "(SELECT group_concat(t.name, ' ') FROM pearl_tag pt JOIN tag t ON t.id = pt.tag_id"
    " WHERE pt.pearl_id = p.id)"
)
_ENTRY = (
    "INSERT INTO search_fts (rowid, title, excerpt, note, tags, body)"
    f" SELECT p.id, a.title, a.excerpt, p.note, {_TAGS_OF}, a.text"
    " FROM pearl p JOIN article a ON a.id = p.article_id"
)


def _refresh(where: str) -> str:
    """Statements that index again the pearls `where` selects (a condition on `p`)."""
    return (
        f"DELETE FROM search_fts WHERE rowid IN (SELECT p.id FROM pearl p WHERE {where});"
        f" {_ENTRY} WHERE {where};"
    )


SQLITE_TRIGGERS = {
    "search_pearl_insert": f"AFTER INSERT ON pearl BEGIN {_ENTRY} WHERE p.id = new.id; END",
    "search_pearl_update": (
        "AFTER UPDATE OF note, article_id ON pearl"
        " WHEN old.note IS NOT new.note OR old.article_id IS NOT new.article_id"
        f" BEGIN DELETE FROM search_fts WHERE rowid = old.id; {_ENTRY} WHERE p.id = new.id; END"
    ),
    "search_pearl_delete": "AFTER DELETE ON pearl BEGIN"
    " DELETE FROM search_fts WHERE rowid = old.id; END",
    "search_article_update": (
        "AFTER UPDATE OF title, excerpt, text ON article"
        " WHEN old.title IS NOT new.title OR old.excerpt IS NOT new.excerpt"
        " OR old.text IS NOT new.text"
        f" BEGIN {_refresh('p.article_id = new.id')} END"
    ),
    "search_pearl_tag_insert": f"AFTER INSERT ON pearl_tag BEGIN {_refresh('p.id = new.pearl_id')} END",
    "search_pearl_tag_delete": f"AFTER DELETE ON pearl_tag BEGIN {_refresh('p.id = old.pearl_id')} END",
    "search_tag_update": (
        "AFTER UPDATE OF name ON tag WHEN old.name IS NOT new.name BEGIN"
        f" {_refresh('p.id IN (SELECT pearl_id FROM pearl_tag WHERE tag_id = new.id)')} END"
    ),
}


def _sqlite_upgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5("
        "title, excerpt, note, tags, body, tokenize = 'unicode61 remove_diacritics 2')"
    )
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute(f"{_ENTRY} ORDER BY p.id")


def _sqlite_downgrade() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS search_fts")


# --- PostgreSQL -----------------------------------------------------------------------------

CONFIGURATIONS = {"french": "french_stem", "english": "english_stem", "simple": "simple"}

_FUNCTIONS = [
    # The configuration of an article's language: French, English, or none (no stemming).
    """
    CREATE FUNCTION perles_search_language(language text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE split_part(replace(lower(coalesce(language, '')), '_', '-'), '-', 1)
        WHEN 'fr' THEN 'french' WHEN 'en' THEN 'english' ELSE 'simple' END
    $$
    """,
    # Index the pearls `ids` again (those that still exist).
    """
    CREATE FUNCTION perles_search_refresh(ids integer[]) RETURNS void
    LANGUAGE sql VOLATILE AS $$
      INSERT INTO search_doc (pearl_id, lang, vector)
      SELECT p.id, s.lang,
        setweight(to_tsvector(s.cfg, coalesce(a.title, '')), 'A')
        || setweight(to_tsvector(s.cfg, coalesce(a.excerpt, '')), 'B')
        || setweight(to_tsvector(s.cfg, p.note), 'B')
        || setweight(to_tsvector(s.cfg, coalesce(g.tags, '')), 'B')
        || setweight(to_tsvector(s.cfg, coalesce(a.text, '')), 'D')
      FROM pearl p
      JOIN article a ON a.id = p.article_id
      CROSS JOIN LATERAL (
        SELECT perles_search_language(a.language) AS lang,
               ('perles_' || perles_search_language(a.language))::regconfig AS cfg
      ) s
      CROSS JOIN LATERAL (
        SELECT string_agg(t.name, ' ') AS tags FROM pearl_tag pt JOIN tag t ON t.id = pt.tag_id
        WHERE pt.pearl_id = p.id
      ) g
      WHERE p.id = ANY(ids)
      ON CONFLICT (pearl_id) DO UPDATE SET lang = EXCLUDED.lang, vector = EXCLUDED.vector
    $$
    """,
    """
    CREATE FUNCTION perles_search_new_pearls() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM perles_search_refresh(ARRAY(SELECT id FROM new_rows));
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION perles_search_pearl() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM perles_search_refresh(ARRAY[NEW.id]);
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION perles_search_article() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM perles_search_refresh(ARRAY(SELECT id FROM pearl WHERE article_id = NEW.id));
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION perles_search_tagged() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM perles_search_refresh(ARRAY(SELECT DISTINCT pearl_id FROM changed_rows));
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION perles_search_tag() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM perles_search_refresh(
        ARRAY(SELECT pearl_id FROM pearl_tag WHERE tag_id = NEW.id));
      RETURN NULL;
    END $$
    """,
]
# Inserts and tag changes come in bulk (a load, a pearl's tags set at once): one call a
# statement, with the rows it touched. Edits come one row at a time, and only when a field
# the index holds changed.
PG_TRIGGERS = {
    "search_pearl_insert": "AFTER INSERT ON pearl REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION perles_search_new_pearls()",
    "search_pearl_update": "AFTER UPDATE OF note, article_id ON pearl FOR EACH ROW"
    " WHEN (OLD.note IS DISTINCT FROM NEW.note OR OLD.article_id IS DISTINCT FROM NEW.article_id)"
    " EXECUTE FUNCTION perles_search_pearl()",
    "search_article_update": "AFTER UPDATE OF title, excerpt, text, language ON article"
    " FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title"
    " OR OLD.excerpt IS DISTINCT FROM NEW.excerpt OR OLD.text IS DISTINCT FROM NEW.text"
    " OR OLD.language IS DISTINCT FROM NEW.language)"
    " EXECUTE FUNCTION perles_search_article()",
    "search_pearl_tag_insert": "AFTER INSERT ON pearl_tag REFERENCING NEW TABLE AS changed_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION perles_search_tagged()",
    "search_pearl_tag_delete": "AFTER DELETE ON pearl_tag REFERENCING OLD TABLE AS changed_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION perles_search_tagged()",
    "search_tag_update": "AFTER UPDATE OF name ON tag FOR EACH ROW"
    " WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION perles_search_tag()",
}
PG_TABLES = {
    "search_pearl_insert": "pearl",
    "search_pearl_update": "pearl",
    "search_article_update": "article",
    "search_pearl_tag_insert": "pearl_tag",
    "search_pearl_tag_delete": "pearl_tag",
    "search_tag_update": "tag",
}
PG_FUNCTIONS = [
    "perles_search_tag()",
    "perles_search_tagged()",
    "perles_search_article()",
    "perles_search_pearl()",
    "perles_search_new_pearls()",
    "perles_search_refresh(integer[])",
    "perles_search_language(text)",
]

UNACCENT_MISSING = (
    "search needs PostgreSQL's unaccent extension, which this server could not create ({})."
    " Install the server's contrib package (Debian: postgresql-contrib) and have the"
    " database's owner or a superuser run: CREATE EXTENSION unaccent;"
)


def _unaccent_schema() -> str:
    """The schema of the unaccent extension, created (in public, shared by every schema of
    the database) when it is missing."""
    bind = op.get_bind()
    find = text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'unaccent'"
    )
    schema = bind.execute(find).scalar()
    if schema is not None:
        return str(schema)
    available = bind.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")
    ).scalar()
    if available is None:
        raise RuntimeError(UNACCENT_MISSING.format("it is not installed on the server"))
    public = bind.execute(text("SELECT to_regnamespace('public') IS NOT NULL")).scalar()
    try:
        with bind.begin_nested():
            where = " SCHEMA public" if public else ""
            bind.execute(text(f"CREATE EXTENSION IF NOT EXISTS unaccent{where}"))
    except DBAPIError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise RuntimeError(UNACCENT_MISSING.format(reason)) from None
    return str(bind.execute(find).scalar_one())


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _postgres_upgrade() -> None:
    unaccent = f"{_quoted(_unaccent_schema())}.unaccent"
    for name, stem in CONFIGURATIONS.items():
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION perles_{name} (COPY = pg_catalog.{name})")
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION perles_{name}"
            f" ALTER MAPPING FOR hword, hword_part, word WITH {unaccent}, pg_catalog.{stem}"
        )
    op.execute(
        "CREATE TABLE search_doc ("
        " pearl_id integer PRIMARY KEY REFERENCES pearl (id) ON DELETE CASCADE,"
        " lang varchar(8) NOT NULL,"
        " vector tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_search_doc_vector ON search_doc USING gin (vector)")
    for function in _FUNCTIONS:
        op.execute(function)
    for name, body in PG_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute("SELECT perles_search_refresh(ARRAY(SELECT id FROM pearl))")


def _postgres_downgrade() -> None:
    # The unaccent extension stays: other schemas of the database may use it.
    for name, table in PG_TABLES.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in PG_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP TABLE IF EXISTS search_doc")
    for name in CONFIGURATIONS:
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS perles_{name}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgres_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
    else:
        _postgres_downgrade()
