"""Issue 16: the stored answers of creates that named their own id (retry-safe creates) and the scheduler's
heartbeat per job (/readyz, /metrics)

Revision ID: a16c0ffee016
Revises: i15a7c3e9d2b1
Create Date: 2026-12-06 21:58:13.356456

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a16c0ffee016'
down_revision = 'i15a7c3e9d2b1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('create_replays',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('endpoint', sa.String(length=120), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('location', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_create_replays')),
    sa.UniqueConstraint('endpoint', 'client_id', name=op.f('uq_create_replays_endpoint_client_id'))
    )
    op.create_table('scheduler_heartbeats',
    sa.Column('job_id', sa.String(length=80), nullable=False),
    sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_scheduler_heartbeats'))
    )


def downgrade():
    op.drop_table('scheduler_heartbeats')
    op.drop_table('create_replays')
