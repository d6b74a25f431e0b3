"""Issue 13: a push's scope rows cost one index less to write. `sync_scope`'s primary key is ordered
(table_name, record_id, technician_id) and `ix_sync_scope_record` (table_name, record_id) is gone: the key
itself now finds a record's holders.

A push of 500 new work logs inserts 500 scope rows with random record ids. Each went into two B-trees ordered
by record id (the old key, under its technician, and `ix_sync_scope_record`), each entry on a random page.
Measured on this machine with 300,000 rows in the table: 500 rows took 8.9 ms with both, 6.0 ms with the key
alone (median of 55 inserts, alternating).

What each lookup uses (sync/scope.py, sync/pull.py), every one an equality on the key's leading columns or on
another index:
- a record's holders (`table_name = :t AND record_id IN (...)`), the push's join of new children to their
  visit's holders and the removal of a deleted record's memberships: the key's prefix (table_name,
  record_id), as `ix_sync_scope_record` was;
- a technician's member of a table (`technician_id, table_name, record_id` all equal; the pull joins rows to
  their memberships this way): the whole key, in another column order;
- a technician's members and their changes: `ix_sync_scope_added` (technician_id, added_seq) and
  `ix_sync_scope_removed`, unchanged.

Revision ID: i13e7b2c4f1a0
Revises: i13d5c0be11e0
Create Date: 2026-12-07 14:05:00

"""
from alembic import op


revision = 'i13e7b2c4f1a0'
down_revision = 'i13d5c0be11e0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_scope_record')
        batch_op.drop_constraint('pk_sync_scope', type_='primary')
        batch_op.create_primary_key('pk_sync_scope', ['table_name', 'record_id', 'technician_id'])


def downgrade():
    with op.batch_alter_table('sync_scope', schema=None) as batch_op:
        batch_op.drop_constraint('pk_sync_scope', type_='primary')
        batch_op.create_primary_key('pk_sync_scope', ['technician_id', 'table_name', 'record_id'])
        batch_op.create_index('ix_sync_scope_record', ['table_name', 'record_id'], unique=False)
