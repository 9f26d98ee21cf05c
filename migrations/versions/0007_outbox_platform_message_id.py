"""outbox: the platform's message id, the adapter's detail and interrupted sends

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_message_id', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('delivery_detail', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('interrupted_sends', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_column('interrupted_sends')
        batch_op.drop_column('delivery_detail')
        batch_op.drop_column('platform_message_id')
