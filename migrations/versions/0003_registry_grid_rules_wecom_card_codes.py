"""registry, grid rules, wecom card codes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:22:19.597467
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wecom_card_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=128), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('response_code', sa.String(length=512), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wecom_card_code')),
    sa.UniqueConstraint('response_code', name=op.f('uq_wecom_card_code_response_code'))
    )
    with op.batch_alter_table('wecom_card_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wecom_card_code_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_wecom_card_code_task_id'), ['task_id'], unique=False)

    op.create_table('zone_address_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('pattern', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_zone_address_rule_zone_id_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zone_address_rule')),
    sa.UniqueConstraint('zone_id', 'pattern', name=op.f('uq_zone_address_rule_zone_id_pattern'))
    )
    with op.batch_alter_table('zone_address_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zone_address_rule_zone_id'), ['zone_id'], unique=False)

    op.create_table('import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_path', sa.Text(), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('full_export', sa.Boolean(), nullable=False),
    sa.Column('header_row', sa.Integer(), nullable=True),
    sa.Column('header_map', sa.JSON(), nullable=False),
    sa.Column('preview_rows', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('new', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('missing', sa.Integer(), nullable=False),
    sa.Column('status_changes', sa.Integer(), nullable=False),
    sa.Column('estimated_rows', sa.Integer(), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('heartbeat_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_import_job_created_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_job'))
    )
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_job_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_job_status'), ['status'], unique=False)

    op.create_table('staff_assignment_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('pattern', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_staff_assignment_rule_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_staff_assignment_rule_zone_id_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_assignment_rule'))
    )
    with op.batch_alter_table('staff_assignment_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_assignment_rule_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_assignment_rule_zone_id'), ['zone_id'], unique=False)

    op.create_table('import_row_error',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('row_values', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['import_job.id'], name=op.f('fk_import_row_error_job_id_import_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_row_error'))
    )
    with op.batch_alter_table('import_row_error', schema=None) as batch_op:
        batch_op.create_index('ix_import_row_error_job_row', ['job_id', 'row_number'], unique=False)

    op.create_table('enterprise_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=False),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('import_job_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=128), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['person.id'], name=op.f('fk_enterprise_event_actor_id_person')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_enterprise_event_enterprise_id_enterprise'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['import_job_id'], ['import_job.id'], name=op.f('fk_enterprise_event_import_job_id_import_job'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_event'))
    )
    with op.batch_alter_table('enterprise_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_enterprise_event_enterprise_created', ['enterprise_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_event_import_job_id'), ['import_job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_event_kind'), ['kind'], unique=False)

    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.add_column(sa.Column('market_type', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('status_flags', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('registered_capital', sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.add_column(sa.Column('capital_currency', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('employees', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revenue', sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.add_column(sa.Column('assets', sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.add_column(sa.Column('industry_code', sa.String(length=8), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('industry_name', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('stage_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('qualifications', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('import_fingerprint', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('last_import_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('missing_from_full_export', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('missing_since', models.base.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enterprise_stage_id_service_stage'), 'service_stage', ['stage_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_enterprise_last_import_id_import_job'), 'import_job', ['last_import_id'], ['id'], ondelete='SET NULL')

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enterprise_last_import_id_import_job'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_enterprise_stage_id_service_stage'), type_='foreignkey')
        batch_op.drop_column('missing_since')
        batch_op.drop_column('missing_from_full_export')
        batch_op.drop_column('last_import_id')
        batch_op.drop_column('import_fingerprint')
        batch_op.drop_column('qualifications')
        batch_op.drop_column('stage_id')
        batch_op.drop_column('industry_name')
        batch_op.drop_column('industry_code')
        batch_op.drop_column('assets')
        batch_op.drop_column('revenue')
        batch_op.drop_column('employees')
        batch_op.drop_column('capital_currency')
        batch_op.drop_column('registered_capital')
        batch_op.drop_column('status_flags')
        batch_op.drop_column('market_type')

    with op.batch_alter_table('enterprise_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_event_kind'))
        batch_op.drop_index(batch_op.f('ix_enterprise_event_import_job_id'))
        batch_op.drop_index('ix_enterprise_event_enterprise_created')
        batch_op.drop_index(batch_op.f('ix_enterprise_event_created_at'))

    op.drop_table('enterprise_event')
    with op.batch_alter_table('import_row_error', schema=None) as batch_op:
        batch_op.drop_index('ix_import_row_error_job_row')

    op.drop_table('import_row_error')
    with op.batch_alter_table('staff_assignment_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_assignment_rule_zone_id'))
        batch_op.drop_index(batch_op.f('ix_staff_assignment_rule_person_id'))

    op.drop_table('staff_assignment_rule')
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_job_status'))
        batch_op.drop_index(batch_op.f('ix_import_job_kind'))

    op.drop_table('import_job')
    with op.batch_alter_table('zone_address_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zone_address_rule_zone_id'))

    op.drop_table('zone_address_rule')
    with op.batch_alter_table('wecom_card_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wecom_card_code_task_id'))
        batch_op.drop_index(batch_op.f('ix_wecom_card_code_created_at'))

    op.drop_table('wecom_card_code')
    # ### end Alembic commands ###
