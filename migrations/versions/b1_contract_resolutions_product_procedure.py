"""R-INS-3 contract mismatch resolutions (who resolved what, why); R-INS-4 products carry commissioning
parameters and an installation checklist

Revision ID: b1a1c3d4e5f6
Revises: 88f4bf235960
Create Date: 2026-12-06 20:42:01.224338

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b1a1c3d4e5f6'
down_revision = '88f4bf235960'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contract_mismatch_resolutions',
    sa.Column('work_order_id', sa.Uuid(), nullable=False),
    sa.Column('item', sa.String(length=20), nullable=False),
    sa.Column('expected', sa.String(length=500), nullable=False),
    sa.Column('found', sa.String(length=500), nullable=False),
    sa.Column('resolution', sa.String(length=2000), nullable=False),
    sa.Column('resolved_by_id', sa.Uuid(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_contract_mismatch_resolutions_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_contract_mismatch_resolutions_work_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_mismatch_resolutions'))
    )
    with op.batch_alter_table('contract_mismatch_resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_mismatch_resolutions_work_order_id'), ['work_order_id'], unique=False)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commissioning_parameters', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('installation_checklist', sa.JSON(), server_default='[]', nullable=False))



def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('installation_checklist')
        batch_op.drop_column('commissioning_parameters')

    with op.batch_alter_table('contract_mismatch_resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contract_mismatch_resolutions_work_order_id'))

    op.drop_table('contract_mismatch_resolutions')
