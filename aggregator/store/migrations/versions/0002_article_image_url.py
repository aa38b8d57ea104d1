"""article.image_url: the page's lead image

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000

A nullable column: existing rows keep everything and get no image until they are fetched again
(`perles refresh`). The new fetch status "not_article" needs no change: fetch_status is a
String(16).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_url', sa.String(length=2048), nullable=True))


def downgrade() -> None:
    # 0001's code knows no "not_article": such pages go back to plain failures (reason kept).
    op.execute("UPDATE article SET fetch_status = 'failed' WHERE fetch_status = 'not_article'")
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('image_url')
