"""Issue 13, sync at fleet scale: change numbers from a PostgreSQL sequence (no global lock for writers; the
watermark from writers' floors, fieldservice/changes.py); the sync scope maintained on write (reference
counts per member, per-technician window and rebuild state, sync/scope.py)

Revision ID: i13f1ee7a5ca1
Revises: a16c0ffee016
Create Date: 2026-12-07 00:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'i13f1ee7a5ca1'
down_revision = 'a16c0ffee016'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # numbering continues after the last number the counter row handed out
        op.execute("CREATE SEQUENCE IF NOT EXISTS sync_change_seq AS bigint")
        op.execute("SELECT setval('sync_change_seq', (SELECT last_seq FROM sync_state WHERE id = 1) + 1, false)")
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refs', sa.Integer(), server_default='0', nullable=False))
    op.create_table('sync_scope_state',
    sa.Column('technician_id', sa.Uuid(), nullable=False),
    sa.Column('horizon_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('horizon_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stale_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['technician_id'], ['technicians.id'], name=op.f('fk_sync_scope_state_technician_id_technicians')),
    sa.PrimaryKeyConstraint('technician_id', name=op.f('pk_sync_scope_state'))
    )
    # existing members have no reference counts: every technician's scope is rebuilt at their next pull
    # (sync/scope.py rebuild; `flask sync rebuild-scopes` does it ahead of time)


def downgrade():
    op.drop_table('sync_scope_state')
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.drop_column('refs')
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE sync_state SET last_seq = GREATEST(last_seq, (SELECT last_value FROM sync_change_seq)) "
                   "WHERE id = 1")
        op.execute("DROP SEQUENCE sync_change_seq")
