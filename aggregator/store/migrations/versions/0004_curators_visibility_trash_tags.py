"""curators, sessions, tokens; visibility, trash, tags; duplicate keys; job sources

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:00:00.000000

New tables: curator, collection_editor (an editor's collections), curator_session, api_token,
signin_throttle, tag, pearl_tag, trash.
New columns, nullable or with a server default: collection.visibility, trash_id, updated_at;
pearl.trash_id, updated_at; article.url_key and canonical_key (duplicate keys, filled here
for existing rows with fetch/urls.dedup_key); job.source and decided_by.
Positions are made dense (0, 1, 2... among siblings), as every write now keeps them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('curator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_signin_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('trash',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('collection_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deleted_by'], ['curator.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('trash', schema=None) as batch_op:
        batch_op.create_index('ix_trash_collection_id', ['collection_id'], unique=False)

    op.create_table('collection_editor',
    sa.Column('collection_id', sa.Integer(), nullable=False),
    sa.Column('curator_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['curator_id'], ['curator.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('collection_id', 'curator_id')
    )
    with op.batch_alter_table('collection_editor', schema=None) as batch_op:
        batch_op.create_index('ix_collection_editor_curator_id', ['curator_id'], unique=False)

    op.create_table('curator_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('curator_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('last_collection_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['curator_id'], ['curator.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_collection_id'], ['collection.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('curator_session', schema=None) as batch_op:
        batch_op.create_index('ix_curator_session_curator_id', ['curator_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('curator_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['curator_id'], ['curator.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index('ix_api_token_curator_id', ['curator_id'], unique=False)

    op.create_table('signin_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )

    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('pearl_tag',
    sa.Column('pearl_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pearl_id'], ['pearl.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pearl_id', 'tag_id')
    )
    with op.batch_alter_table('pearl_tag', schema=None) as batch_op:
        batch_op.create_index('ix_pearl_tag_tag_id', ['tag_id'], unique=False)

    with op.batch_alter_table('collection', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'visibility', sa.String(length=16), nullable=False, server_default='public'
        ))
        batch_op.add_column(sa.Column('trash_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_collection_trash_id', ['trash_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_collection_trash_id', 'trash', ['trash_id'], ['id'], ondelete='RESTRICT'
        )
    with op.batch_alter_table('pearl', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('trash_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_pearl_trash_id', ['trash_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_pearl_trash_id', 'trash', ['trash_id'], ['id'], ondelete='RESTRICT'
        )
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url_key', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('canonical_key', sa.String(length=2048), nullable=True))
        batch_op.create_index('ix_article_url_key', ['url_key'], unique=False)
        batch_op.create_index('ix_article_canonical_key', ['canonical_key'], unique=False)
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'source', sa.String(length=16), nullable=False, server_default='live'
        ))
        batch_op.add_column(sa.Column('decided_by', sa.String(length=300), nullable=True))

    _fill_keys_and_positions()


def _fill_keys_and_positions() -> None:
    # The running code's key function: rows written from now on use the same one.
    from aggregator.errors import InvalidURL
    from aggregator.fetch.urls import dedup_key

    conn = op.get_bind()
    for article_id, url in conn.execute(sa.text("SELECT id, url FROM article")).all():
        try:
            key = dedup_key(url)
        except InvalidURL:  # stored before a stricter policy: its own URL stands for its key
            key = url
        conn.execute(
            sa.text("UPDATE article SET url_key = :key WHERE id = :id"),
            {"key": key[:2048], "id": article_id},
        )
    _dense(conn, "SELECT id, parent_id FROM collection ORDER BY position, title, id", "collection")
    _dense(conn, "SELECT id, collection_id FROM pearl ORDER BY position, id", "pearl")


def _dense(conn: sa.Connection, query: str, table: str) -> None:
    """Renumber positions 0, 1, 2... within each group, keeping their order."""
    seen: dict[object, int] = {}
    for row_id, group in conn.execute(sa.text(query)).all():
        position = seen.get(group, 0)
        seen[group] = position + 1
        conn.execute(
            sa.text(f"UPDATE {table} SET position = :p WHERE id = :id"),  # noqa: S608  fixed names
            {"p": position, "id": row_id},
        )


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('decided_by')
        batch_op.drop_column('source')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index('ix_article_canonical_key')
        batch_op.drop_index('ix_article_url_key')
        batch_op.drop_column('canonical_key')
        batch_op.drop_column('url_key')
    with op.batch_alter_table('pearl', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pearl_trash_id', type_='foreignkey')
        batch_op.drop_index('ix_pearl_trash_id')
        batch_op.drop_column('trash_id')
        batch_op.drop_column('updated_at')
    with op.batch_alter_table('collection', schema=None) as batch_op:
        batch_op.drop_constraint('fk_collection_trash_id', type_='foreignkey')
        batch_op.drop_index('ix_collection_trash_id')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('trash_id')
        batch_op.drop_column('visibility')
    for table in ('pearl_tag', 'tag', 'signin_throttle', 'api_token', 'curator_session',
                  'collection_editor', 'trash', 'curator'):
        op.drop_table(table)
