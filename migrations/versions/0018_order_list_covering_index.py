"""order list and statistics: the newest-first and the per-state indexes carry the columns the list
filters on and the current stocks count (PostgreSQL); a state + deadline index for the home counts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:30:00.000000
"""
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_INCLUDED = ['state', 'green_channel', 'zone_id', 'assigned_department_id']
_STATE_INCLUDED = ['zone_id', 'assigned_department_id', 'level', 'green_channel', 'domain_id', 'created_at',
                   'due_at', 'sign_due_at', 'resolved_at', 'dispatched_at']


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_work_order_created_at_id', table_name='work_order')
        op.create_index('ix_work_order_created_at_id', 'work_order', ['created_at', 'id'], unique=False,
                        postgresql_include=_INCLUDED)
        op.drop_index('ix_work_order_state', table_name='work_order')
        op.create_index('ix_work_order_state', 'work_order', ['state'], unique=False,
                        postgresql_include=_STATE_INCLUDED)
    op.create_index('ix_work_order_state_due_at', 'work_order', ['state', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_work_order_state_due_at', table_name='work_order')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_work_order_created_at_id', table_name='work_order')
        op.create_index('ix_work_order_created_at_id', 'work_order', ['created_at', 'id'], unique=False)
        op.drop_index('ix_work_order_state', table_name='work_order')
        op.create_index('ix_work_order_state', 'work_order', ['state'], unique=False)
