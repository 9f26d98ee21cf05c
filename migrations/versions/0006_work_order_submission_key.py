"""work order submission key (double submits and API retries make one order)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_key', sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint('uq_work_order_submission', ['submitter_id', 'submission_key'])


def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_constraint('uq_work_order_submission', type_='unique')
        batch_op.drop_column('submission_key')
