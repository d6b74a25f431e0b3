"""lifecycle gate: visit confirmation waiver, unmet conditions of a quarantined push record

Revision ID: 88f4bf235960
Revises: b3a1e7d04c21
Create Date: 2026-12-06 20:39:31.621759

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '88f4bf235960'
down_revision = 'b3a1e7d04c21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmation_waived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmation_waived_by_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('confirmation_waiver_reason', sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_visits_confirmation_waived_by_id_users'), 'users', ['confirmation_waived_by_id'], ['id'])
    with op.batch_alter_table('sync_rejections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unmet_conditions', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('sync_rejections', schema=None) as batch_op:
        batch_op.drop_column('unmet_conditions')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_visits_confirmation_waived_by_id_users'), type_='foreignkey')
        batch_op.drop_column('confirmation_waiver_reason')
        batch_op.drop_column('confirmation_waived_by_id')
        batch_op.drop_column('confirmation_waived_at')

