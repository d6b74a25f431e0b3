"""R-RET-1 report date origin and evidence on warranty decisions and return cases; R-REP-1/R-CON-1 a
consultation names the service request it answered (one per request)

Existing decisions and cases keep reported_on_source NULL: their date was recorded before it was checked.

Revision ID: b3a1e7d04c21
Revises: c330cff6c2c7
Create Date: 2026-12-06 20:39:15.636943

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3a1e7d04c21'
down_revision = 'c330cff6c2c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('service_request_id', sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_consultations_service_request_id'), ['service_request_id'])
        batch_op.create_foreign_key(batch_op.f('fk_consultations_service_request_id_service_requests'), 'service_requests', ['service_request_id'], ['id'])

    with op.batch_alter_table('return_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_on_source', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('reported_on_evidence', sa.JSON(), nullable=True))

    with op.batch_alter_table('warranty_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_on_source', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('reported_on_evidence', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('warranty_decisions', schema=None) as batch_op:
        batch_op.drop_column('reported_on_evidence')
        batch_op.drop_column('reported_on_source')

    with op.batch_alter_table('return_cases', schema=None) as batch_op:
        batch_op.drop_column('reported_on_evidence')
        batch_op.drop_column('reported_on_source')

    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consultations_service_request_id_service_requests'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_consultations_service_request_id'), type_='unique')
        batch_op.drop_column('service_request_id')
