"""statistics: daily rollup tables; indexes for the order list, period filters and text search

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_DIMENSIONS = (
    ('zone_id', sa.Integer()), ('department_id', sa.Integer()), ('level', sa.Integer()),
    ('green_channel', sa.Boolean()), ('domain_id', sa.Integer()), ('channel', sa.String(length=16)),
)
_FLOWS = (
    'received', 'refused', 'resolved', 'resolved_judged', 'resolved_on_time', 'resolved_late', 'visited',
    'dispatched', 'signed_on_time', 'signed_late', 'returned', 'supervised', 'visits', 'visits_resolved',
    'visits_satisfied',
)


def _dimensions():
    return [sa.Column(name, type_, nullable=True) for name, type_ in _DIMENSIONS]


# PostgreSQL only: trigram indexes serve the order list's and the pickers' substring search
# (ILIKE '%…%'); SQLite keeps scanning, as before. Named *_trgm (migrations/env.py leaves them out
# of the model comparison).
TRIGRAM_INDEXES = (
    ('ix_work_order_number_trgm', 'work_order', 'number'),
    ('ix_work_order_title_trgm', 'work_order', 'title'),
    ('ix_enterprise_name_trgm', 'enterprise', 'name'),
    ('ix_enterprise_uscc_trgm', 'enterprise', 'uscc'),
    ('ix_enterprise_reg_no_trgm', 'enterprise', 'reg_no'),
)


def upgrade() -> None:
    op.create_index('ix_work_order_created_at_id', 'work_order', ['created_at', 'id'], unique=False)
    op.create_index('ix_work_order_resolved_at', 'work_order', ['resolved_at'], unique=False)
    op.create_index('ix_work_order_updated_at', 'work_order', ['updated_at'], unique=False)
    op.create_index(op.f('ix_return_visit_created_at'), 'return_visit', ['created_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for name, table, column in TRIGRAM_INDEXES:
            op.execute(f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)')
    op.create_table(
        'stat_daily',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *_dimensions(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _FLOWS),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_daily')),
    )
    op.create_index('ix_stat_daily_day_zone', 'stat_daily', ['day', 'zone_id'], unique=False)
    op.create_index('ix_stat_daily_day_department', 'stat_daily', ['day', 'department_id'], unique=False)
    op.create_table(
        'stat_daily_handling',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *_dimensions(),
        sa.Column('side', sa.String(length=8), nullable=False),
        sa.Column('bucket_day', sa.Integer(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('epoch_sum', sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_daily_handling')),
    )
    op.create_index('ix_stat_daily_handling_day', 'stat_daily_handling', ['day'], unique=False)
    op.create_table(
        'stat_dirty_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('marked_at', models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_stat_dirty_day')),
    )
    op.create_table(
        'stat_rollup_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rolled_through', sa.Date(), nullable=True),
        sa.Column('last_event_id', sa.Integer(), nullable=False),
        sa.Column('last_visit_id', sa.Integer(), nullable=False),
        sa.Column('last_order_update', models.base.UTCDateTime(), nullable=True),
        sa.Column('last_run_at', models.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_rollup_state')),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, _table, _column in TRIGRAM_INDEXES:
            op.execute(f'DROP INDEX IF EXISTS {name}')
    op.drop_index(op.f('ix_return_visit_created_at'), table_name='return_visit')
    op.drop_index('ix_work_order_updated_at', table_name='work_order')
    op.drop_index('ix_work_order_resolved_at', table_name='work_order')
    op.drop_index('ix_work_order_created_at_id', table_name='work_order')
    op.drop_table('stat_rollup_state')
    op.drop_table('stat_dirty_day')
    op.drop_index('ix_stat_daily_handling_day', table_name='stat_daily_handling')
    op.drop_table('stat_daily_handling')
    op.drop_index('ix_stat_daily_day_department', table_name='stat_daily')
    op.drop_index('ix_stat_daily_day_zone', table_name='stat_daily')
    op.drop_table('stat_daily')
