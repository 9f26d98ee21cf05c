"""work orders: duplicate_of_id (a submitter's link to an earlier order) and merged_into_id (a merge)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_work_order_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_work_order_duplicate_of_id_work_order'), 'work_order',
                                    ['duplicate_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_work_order_merged_into_id_work_order'), 'work_order',
                                    ['merged_into_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_work_order_merged_into_id_work_order'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_work_order_duplicate_of_id_work_order'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_work_order_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_work_order_duplicate_of_id'))
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('duplicate_of_id')
