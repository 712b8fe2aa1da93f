"""near-threshold reports in the review queue

A report of a state short of its outlets ("unconfirmed: 1 of 2 outlets") is kept
for review as a near-miss is, so that an analyst can label it: `kind` says which
of the two an item is, `state` the state a near-threshold report is short for.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=20), nullable=False, server_default='near-miss')
        )
        batch_op.add_column(sa.Column('state', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_column('state')
        batch_op.drop_column('kind')
