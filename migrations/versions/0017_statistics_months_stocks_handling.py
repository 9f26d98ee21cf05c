"""statistics: handling time in the daily rollup, monthly sums, open orders kept at months' ends

The handling-time buckets (stat_daily_handling) give way to the working time folded when a day is
rolled up (stat_daily.handling_seconds / handling_count). Existing rollup rows lack it, so they are
dropped with the maintenance state: the jobs process rolls every day up again on its next runs
(reports are computed live meanwhile, exact as always).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0017'
down_revision = '0016'
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


def upgrade() -> None:
    op.execute('DELETE FROM stat_daily')
    op.execute('DELETE FROM stat_dirty_day')
    op.execute('DELETE FROM stat_rollup_state')
    op.drop_index('ix_stat_daily_handling_day', table_name='stat_daily_handling')
    op.drop_table('stat_daily_handling')
    with op.batch_alter_table('stat_daily') as batch:
        batch.add_column(sa.Column('handling_seconds', sa.Float(precision=53), nullable=False, server_default='0'))
        batch.add_column(sa.Column('handling_count', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('stat_rollup_state') as batch:
        batch.add_column(sa.Column('calendar', sa.Text(), nullable=True))
    op.create_table(
        'stat_monthly',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('grouping', sa.String(length=8), nullable=False),
        *(sa.Column(name, type_, nullable=True) for name, type_ in _DIMENSIONS),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _FLOWS),
        sa.Column('handling_seconds', sa.Float(precision=53), nullable=False),
        sa.Column('handling_count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_monthly')),
    )
    op.create_index('ix_stat_monthly_month_grouping', 'stat_monthly', ['month', 'grouping'], unique=False)
    op.create_table(
        'stat_dirty_month',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('marked_at', models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('month', name=op.f('pk_stat_dirty_month')),
    )
    op.create_table(
        'stat_stock_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('computed_at', models.base.UTCDateTime(), nullable=False),
        sa.Column('counts_behind', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_stat_stock_day')),
    )
    op.create_table(
        'stat_stock_count',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('grouping', sa.String(length=8), nullable=False),
        *(sa.Column(name, type_, nullable=True) for name, type_ in _DIMENSIONS if name != 'channel'),
        sa.Column('resolved_day_number', sa.Integer(), nullable=True),
        sa.Column('backlog', sa.Integer(), nullable=False),
        sa.Column('overdue_handling', sa.Integer(), nullable=False),
        sa.Column('overdue_sign', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_stock_count')),
    )
    op.create_index('ix_stat_stock_count_day_grouping', 'stat_stock_count', ['day', 'grouping'], unique=False)
    op.create_table(
        'stat_stock_member',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('work_order_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint('day', 'work_order_id', name=op.f('pk_stat_stock_member')),
    )


def downgrade() -> None:
    op.drop_index('ix_stat_stock_count_day_grouping', table_name='stat_stock_count')
    op.drop_table('stat_stock_count')
    op.drop_table('stat_stock_member')
    op.drop_table('stat_stock_day')
    op.drop_table('stat_dirty_month')
    op.drop_index('ix_stat_monthly_month_grouping', table_name='stat_monthly')
    op.drop_table('stat_monthly')
    op.execute('DELETE FROM stat_daily')
    op.execute('DELETE FROM stat_dirty_day')
    op.execute('DELETE FROM stat_rollup_state')
    with op.batch_alter_table('stat_rollup_state') as batch:
        batch.drop_column('calendar')
    with op.batch_alter_table('stat_daily') as batch:
        batch.drop_column('handling_count')
        batch.drop_column('handling_seconds')
    op.create_table(
        'stat_daily_handling',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *(sa.Column(name, type_, nullable=True) for name, type_ in _DIMENSIONS),
        sa.Column('side', sa.String(length=8), nullable=False),
        sa.Column('bucket_day', sa.Integer(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('epoch_sum', sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_daily_handling')),
    )
    op.create_index('ix_stat_daily_handling_day', 'stat_daily_handling', ['day'], unique=False)
