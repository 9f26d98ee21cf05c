"""chat groups: a conversation a robot bound by itself waits for an administrator's confirmation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_pending', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('chat_group', schema=None) as batch_op:
        batch_op.drop_column('conversation_pending')
