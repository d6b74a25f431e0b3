"""Issue 13: synced rows remember the change number they were inserted with (created_seq), so a pull's walk of
rows changed since its cursor skips the ones created after it without looking at the scope.

NULL means unknown (rows inserted before this revision): such rows are never skipped, as before. Adding a
nullable column without a default rewrites nothing on PostgreSQL.

Revision ID: i13c0ea7ed5e9
Revises: i13f1ee7a5ca1
Create Date: 2026-12-07 03:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'i13c0ea7ed5e9'
down_revision = 'i13f1ee7a5ca1'
branch_labels = None
depends_on = None

TABLES = ("assets", "contacts", "customers", "parts", "photos", "product_lines", "products", "quote_consents",
          "quote_lines", "quotes", "service_records", "signoffs", "sites", "stock_balances", "stock_locations",
          "stock_movements", "sync_rejections", "visit_charges", "visits", "work_logs", "work_orders")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('created_seq', sa.BigInteger(), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('created_seq')
