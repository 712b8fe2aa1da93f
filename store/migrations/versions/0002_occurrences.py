"""the occurrence a signal's state and each transition belong to

A state tied to a recurring event (absent from one CSTO summit) names its
occurrence: `status` and `history` read it from these columns instead of
replaying the observations. NULL for states tied to no event.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('signal_states', 'transitions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('occurrence', sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ('transitions', 'signal_states'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('occurrence')
