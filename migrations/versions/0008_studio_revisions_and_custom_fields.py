"""low-code studio: configuration revisions, dispatch rule hits, custom field values on orders

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('config_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('restored_from_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['person.id'], name=op.f('fk_config_revision_actor_id_person')),
    sa.ForeignKeyConstraint(['restored_from_id'], ['config_revision.id'], name=op.f('fk_config_revision_restored_from_id_config_revision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config_revision'))
    )
    with op.batch_alter_table('config_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_revision_created_at'), ['created_at'], unique=False)

    op.create_table('dispatch_rule_hit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('rule_name', sa.String(length=60), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_rule_hit')),
    sa.UniqueConstraint('day', 'rule_name', name=op.f('uq_dispatch_rule_hit_day_rule_name'))
    )
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custom_fields', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('dispatch_rule', sa.String(length=60), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_column('dispatch_rule')
        batch_op.drop_column('custom_fields')
    op.drop_table('dispatch_rule_hit')
    with op.batch_alter_table('config_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_revision_created_at'))
    op.drop_table('config_revision')
