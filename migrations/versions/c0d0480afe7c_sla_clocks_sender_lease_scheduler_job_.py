"""sla clocks, sender lease, scheduler job store

Revision ID: c0d0480afe7c
Revises: 15a5a9759dbb
Create Date: 2026-11-23 20:13:35.513330

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0d0480afe7c'
down_revision = '15a5a9759dbb'
branch_labels = None
depends_on = None


def upgrade():
    # APScheduler's SQLAlchemyJobStore table (fieldservice/jobstore.py): created here, so the scheduler finds it
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'], unique=False)

    op.create_table('sla_calendars',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('workdays', sa.JSON(), nullable=False),
    sa.Column('day_start', sa.Time(), nullable=False),
    sa.Column('day_end', sa.Time(), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('extra_workdays', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_calendars')),
    sa.UniqueConstraint('name', name=op.f('uq_sla_calendars_name'))
    )
    op.create_table('sla_policies',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('contract_id', sa.Uuid(), nullable=True),
    sa.Column('calendar_id', sa.Uuid(), nullable=True),
    sa.Column('respond_minutes', sa.Integer(), nullable=False),
    sa.Column('on_site_minutes', sa.Integer(), nullable=False),
    sa.Column('fix_minutes', sa.Integer(), nullable=False),
    sa.Column('answer_minutes', sa.Integer(), nullable=False),
    sa.Column('escalate_to', sa.String(length=320), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['sla_calendars.id'], name=op.f('fk_sla_policies_calendar_id_sla_calendars')),
    sa.ForeignKeyConstraint(['contract_id'], ['sales_contracts.id'], name=op.f('fk_sla_policies_contract_id_sales_contracts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('contract_id', name=op.f('uq_sla_policies_contract_id')),
    sa.UniqueConstraint('name', name=op.f('uq_sla_policies_name'))
    )
    op.create_table('sla_clocks',
    sa.Column('target', sa.Enum('respond', 'on_site', 'fix', 'answer', name='slatarget', native_enum=False, length=32), nullable=False),
    sa.Column('work_order_id', sa.Uuid(), nullable=True),
    sa.Column('service_request_id', sa.Uuid(), nullable=True),
    sa.Column('policy_id', sa.Uuid(), nullable=True),
    sa.Column('calendar_id', sa.Uuid(), nullable=True),
    sa.Column('business_time', sa.Boolean(), nullable=False),
    sa.Column('target_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('running', 'paused', 'stopped', 'cancelled', name='clockstatus', native_enum=False, length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('running_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('elapsed_seconds', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('agreed_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['sla_calendars.id'], name=op.f('fk_sla_clocks_calendar_id_sla_calendars')),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_sla_clocks_policy_id_sla_policies')),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_requests.id'], name=op.f('fk_sla_clocks_service_request_id_service_requests')),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_sla_clocks_work_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clocks')),
    sa.UniqueConstraint('service_request_id', 'target', name=op.f('uq_sla_clocks_service_request_id_target')),
    sa.UniqueConstraint('work_order_id', 'target', name=op.f('uq_sla_clocks_work_order_id_target'))
    )
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.create_index('ix_sla_clocks_due', ['status', 'due_at'], unique=False)

    op.create_table('sla_breaches',
    sa.Column('clock_id', sa.Uuid(), nullable=False),
    sa.Column('target', sa.Enum('respond', 'on_site', 'fix', 'answer', name='slatarget', native_enum=False, length=32), nullable=False),
    sa.Column('work_order_id', sa.Uuid(), nullable=True),
    sa.Column('service_request_id', sa.Uuid(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalated_to', sa.String(length=320), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['clock_id'], ['sla_clocks.id'], name=op.f('fk_sla_breaches_clock_id_sla_clocks')),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_requests.id'], name=op.f('fk_sla_breaches_service_request_id_service_requests')),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_sla_breaches_work_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_breaches')),
    sa.UniqueConstraint('clock_id', name=op.f('uq_sla_breaches_clock_id'))
    )
    with op.batch_alter_table('sla_breaches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_breaches_service_request_id'), ['service_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sla_breaches_work_order_id'), ['work_order_id'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('lease_expires_at')

    with op.batch_alter_table('sla_breaches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_breaches_work_order_id'))
        batch_op.drop_index(batch_op.f('ix_sla_breaches_service_request_id'))

    op.drop_table('sla_breaches')
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_clocks_due')

    op.drop_table('sla_clocks')
    op.drop_table('sla_policies')
    op.drop_table('sla_calendars')
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apscheduler_jobs_next_run_time'))

    op.drop_table('apscheduler_jobs')
    # ### end Alembic commands ###
