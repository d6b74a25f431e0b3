"""The scheduler's job store table (APScheduler's SQLAlchemyJobStore layout), created by a migration so that
`flask db upgrade` builds everything and autogenerate sees no stranger in the database."""
from __future__ import annotations

import sqlalchemy as sa

from fieldservice.extensions import db

JOBSTORE_TABLE = "apscheduler_jobs"

# Same columns as apscheduler.jobstores.sqlalchemy.SQLAlchemyJobStore (3.x): the store finds the table
# already there and uses it.
apscheduler_jobs = sa.Table(
    JOBSTORE_TABLE,
    db.metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)
