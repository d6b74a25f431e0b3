"""security hardening (issue 15): audit_events and archive_reads hash-chained (chain_seq, prev_hash, hash,
mac), archive_log.mac (HMAC with ARCHIVE_HMAC_KEY), server-side office sessions

Rows already there are linked in (at, id) order, keyed when the app's ARCHIVE_HMAC_KEY is known.

Revision ID: i15a7c3e9d2b1
Revises: b2a7c4e91d3f
Create Date: 2026-12-06 22:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i15a7c3e9d2b1'
down_revision = 'b2a7c4e91d3f'
branch_labels = None
depends_on = None

CHAINED = ('audit_events', 'archive_reads')


def upgrade():
    for table in CHAINED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('chain_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
            batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
            batch_op.create_unique_constraint(batch_op.f(f'uq_{table}_chain_seq'), ['chain_seq'])
    with op.batch_alter_table('archive_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))

    op.create_table('office_sessions',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_reason', sa.String(length=40), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_office_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_office_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_office_sessions_token_hash'))
    )
    with op.batch_alter_table('office_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_office_sessions_user_id'), ['user_id'], unique=False)

    _link_existing_rows()


def _link_existing_rows():
    """Chain the rows written before this revision, as the app would have at their commits."""
    from fieldservice.extensions import db
    from fieldservice.integrity.links import COMMIT_CHAINS, hmac_key, link_hash, row_mac
    from fieldservice.records.canonical import GENESIS_HASH

    bind = op.get_bind()
    key = hmac_key()
    for name, chain in COMMIT_CHAINS.items():
        table = db.metadata.tables[name]  # the model's column types (UUIDs, UTC times, JSON) as the app reads them
        rows = bind.execute(sa.select(*[table.c[c] for c in chain.columns])
                            .order_by(table.c.at, table.c.id)).all()
        prev, updates = GENESIS_HASH, []
        for seq, row in enumerate(rows, start=1):
            digest = link_hash(prev, chain.document(row, seq))
            updates.append({'_id': row.id, 'chain_seq': seq, 'prev_hash': prev, 'hash': digest,
                            'mac': row_mac(key, name, seq, digest) if key else None})
            prev = digest
        if updates:
            bind.execute(sa.update(table).where(table.c.id == sa.bindparam('_id')).values(
                chain_seq=sa.bindparam('chain_seq'), prev_hash=sa.bindparam('prev_hash'), hash=sa.bindparam('hash'),
                mac=sa.bindparam('mac')), updates)
    if key:
        log = db.metadata.tables['archive_log']
        updates = [{'_seq': r.seq, 'mac': row_mac(key, 'archive_log', r.seq, r.hash)}
                   for r in bind.execute(sa.select(log.c.seq, log.c.hash))]
        if updates:
            bind.execute(sa.update(log).where(log.c.seq == sa.bindparam('_seq')).values(mac=sa.bindparam('mac')),
                         updates)


def downgrade():
    with op.batch_alter_table('office_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_office_sessions_user_id'))
    op.drop_table('office_sessions')
    with op.batch_alter_table('archive_log', schema=None) as batch_op:
        batch_op.drop_column('mac')
    for table in CHAINED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'uq_{table}_chain_seq'), type_='unique')
            batch_op.drop_column('mac')
            batch_op.drop_column('hash')
            batch_op.drop_column('prev_hash')
            batch_op.drop_column('chain_seq')
