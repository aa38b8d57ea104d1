"""durable job queue, per-host politeness, raw responses, validators and link health

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:00:00.000000

New tables: job (the ingest queue, one active job per article and kind), host (the next moment
a request may go to each host), raw_response (gzipped WARC records of fetched pages).
New article columns, all nullable or with a server default, so existing rows need no rewrite:
etag and last_modified (conditional GET), source_status, source_checked_at, source_failures
and source_error (link health).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_ACTIVE = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('conditional', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leased_by', sa.String(length=200), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_article_id', ['article_id'], unique=False)
        batch_op.create_index('ix_job_state_run_after', ['state', 'run_after'], unique=False)
        batch_op.create_index(
            'uq_job_active', ['article_id', 'kind'], unique=True,
            sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
        )

    op.create_table('host',
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('next_fetch_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )

    op.create_table('raw_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warc', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('raw_response', schema=None) as batch_op:
        batch_op.create_index('ix_raw_response_article_id', ['article_id'], unique=False)

    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('etag', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('last_modified', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column(
            'source_status', sa.String(length=16), nullable=False, server_default='unchecked'
        ))
        batch_op.add_column(sa.Column('source_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column(
            'source_failures', sa.Integer(), nullable=False, server_default='0'
        ))
        batch_op.add_column(sa.Column('source_error', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('article', schema=None) as batch_op:
        for name in ('source_error', 'source_failures', 'source_checked_at', 'source_status',
                     'last_modified', 'etag'):
            batch_op.drop_column(name)
    op.drop_table('raw_response')
    op.drop_table('host')
    op.drop_table('job')
