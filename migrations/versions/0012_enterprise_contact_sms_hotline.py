"""enterprise contact on orders (WeCom external userid), hotline source and ticket id, SMS opt-outs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:10:00.000000
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_external_userid', sa.String(length=64), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('external_ticket_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_work_order_external_ticket', ['source', 'external_ticket_id'])
    op.create_table(
        'sms_opt_out',
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['person.id'], name=op.f('fk_sms_opt_out_recorded_by_id_person')),
        sa.PrimaryKeyConstraint('phone', name=op.f('pk_sms_opt_out')),
    )


def downgrade() -> None:
    op.drop_table('sms_opt_out')
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_constraint('uq_work_order_external_ticket', type_='unique')
        batch_op.drop_column('external_ticket_id')
        batch_op.drop_column('source')
        batch_op.drop_column('contact_external_userid')
