"""Issue 13: a push's scope rows cost less to write. `ix_sync_scope_removed` holds only members that left
(`removed_seq IS NOT NULL`), and `sync_scope.technician_id` no longer has a foreign key to `technicians`.

A push of 500 new work logs inserts 500 scope rows, each a member that has not left (`removed_seq` NULL):
the full index took an entry for each, and the foreign key ran one referential check per row (500 lookups of
the same technician).

- The index serves one query: the pull's "records that left the scope" range (`sync/pull.py`, events branch
  (c): `technician_id = :tech AND removed_seq > :c AND removed_seq <= :w ORDER BY removed_seq`), and the
  look-up of removed candidates (`removed_seq IS NOT NULL`); both imply `removed_seq IS NOT NULL`, so the
  partial index still serves them, on PostgreSQL (also with the pull's generic plan) and on SQLite
  (tests/sync/test_push_writes.py checks the plan). No query asks it for `removed_seq IS NULL`: present members
  are found by the primary key, `ix_sync_scope_record` or `ix_sync_scope_added`.
- The foreign key is bookkeeping the database already guarantees otherwise: every scope row is written by
  whoever holds the technician's `sync_scope_state` row locked (FOR UPDATE, sync/scope.py), and that row has a
  foreign key to `technicians`; technicians are never deleted (the application deactivates them,
  `is_active`; no code path deletes one). So no scope row can name a technician that does not exist.

Revision ID: i13d5c0be11e0
Revises: i13c0ea7ed5e9
Create Date: 2026-12-07 05:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'i13d5c0be11e0'
down_revision = 'i13c0ea7ed5e9'
branch_labels = None
depends_on = None

LEFT = sa.text("removed_seq IS NOT NULL")


def upgrade():
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_scope_removed')
        batch_op.drop_constraint(op.f('fk_sync_scope_technician_id_technicians'), type_='foreignkey')
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.create_index('ix_sync_scope_removed', ['technician_id', 'removed_seq'], unique=False,
                              postgresql_where=LEFT, sqlite_where=LEFT)


def downgrade():
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_scope_removed')
        batch_op.create_foreign_key(op.f('fk_sync_scope_technician_id_technicians'), 'technicians',
                                    ['technician_id'], ['id'])
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.create_index('ix_sync_scope_removed', ['technician_id', 'removed_seq'], unique=False)
