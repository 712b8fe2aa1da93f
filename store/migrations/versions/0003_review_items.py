"""the review queue: near-misses of signals and analysts' verdicts on them

An article that meets a signal's `subject` but evidences none of its states is
kept here with the words that matched, for `allywatch review`; a verdict
(`review label`) and its export as a test (`review export`) are recorded on it.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import allywatch.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('signal', sa.String(length=100), nullable=False),
    sa.Column('entity', sa.String(length=100), nullable=False),
    sa.Column('words', sa.JSON(), nullable=False),
    sa.Column('published_at', allywatch.store.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', allywatch.store.types.UTCDateTime(), nullable=False),
    sa.Column('verdict', sa.String(length=100), nullable=True),
    sa.Column('labelled_at', allywatch.store.types.UTCDateTime(), nullable=True),
    sa.Column('exported_at', allywatch.store.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('article_id', 'signal')
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index(
            'ix_review_items_signal_published', ['signal', 'published_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index('ix_review_items_signal_published')
    op.drop_table('review_items')
