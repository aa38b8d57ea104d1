"""images from our own store: image, image_source, site_icon

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 20:00:00.000000

Lead images, the images of the copies and the sites' icons are fetched at ingest, resized and
served from our origin (aggregator/images/, web/images.py). New tables only: image (the copies,
named by the SHA-256 of their bytes), image_source (which copy an image of another site became,
per use), site_icon (one icon per host) and article_image (an article's lead image: the card's
thumbnail and the reader's copy). Existing articles get their images at their next
fetch (`perles refresh`); until then their cards show the placeholder.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('image',
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hash')
    )
    op.create_table('image_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('variant', sa.String(length=16), nullable=False),
    sa.Column('image_hash', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['image_hash'], ['image.hash'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url', 'variant')
    )
    with op.batch_alter_table('image_source', schema=None) as batch_op:
        batch_op.create_index('ix_image_source_image_hash', ['image_hash'], unique=False)
    op.create_table('site_icon',
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('image_hash', sa.String(length=64), nullable=True),
    sa.Column('source_url', sa.String(length=2048), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['image_hash'], ['image.hash'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('host')
    )
    with op.batch_alter_table('site_icon', schema=None) as batch_op:
        batch_op.create_index('ix_site_icon_image_hash', ['image_hash'], unique=False)
    op.create_table('article_image',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('thumb_hash', sa.String(length=64), nullable=False),
    sa.Column('wide_hash', sa.String(length=64), nullable=False),
    sa.Column('source_url', sa.String(length=2048), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thumb_hash'], ['image.hash'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['wide_hash'], ['image.hash'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id')
    )
    with op.batch_alter_table('article_image', schema=None) as batch_op:
        batch_op.create_index('ix_article_image_thumb_hash', ['thumb_hash'], unique=False)
        batch_op.create_index('ix_article_image_wide_hash', ['wide_hash'], unique=False)


def downgrade() -> None:
    op.drop_table('article_image')
    op.drop_table('site_icon')
    op.drop_table('image_source')
    op.drop_table('image')
