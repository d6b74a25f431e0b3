"""The restore procedure of docs/deploy.md, tested (issue 16): pg_dump the database, restore the dump into a
fresh database on another server (a throwaway cluster, as a restore onto new hardware would be), and
`flask verify-archive` finds the archive log's hash chain and every signed record intact there, with the same
rows as the original. `make restore-check` runs this test alone."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from tests.faults.conftest import (
    Cluster,
    cluster,  # noqa: F401 - the fixture
    pg_bin,
)
from tests.processes import production_env

REPO = Path(__file__).resolve().parents[2]
COUNTED = ("service_records", "signoffs", "archive_log", "audit_events", "work_orders", "photos", "notifications")


def libpq_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        result = {t: conn.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) or 0 for t in COUNTED if t in names}
    engine.dispose()
    return result


@pytest.mark.postgres
def test_dump_restore_into_a_fresh_database_and_verify_the_archive(app: Flask, database_url: str, tmp_path: Path,
                                                                   cluster: Cluster) -> None:  # noqa: F811
    from fieldservice.demo import seed_demo

    with app.app_context(), unit_of_work():
        seed_demo()
    with app.app_context():
        db.session.remove()
    dump = tmp_path / "fieldservice.dump"
    subprocess.run([pg_bin("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump),
                    libpq_url(database_url)], check=True, timeout=120)
    subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "restored"],
                   check=True, timeout=60)
    restored = cluster.url("restored")
    subprocess.run([pg_bin("pg_restore"), "--no-owner", "--single-transaction", "--dbname", restored, str(dump)],
                   check=True, timeout=120)

    # the restored server holds the same archive key and anchors as the one the dump came from
    env = production_env(secret="restore-check", database_url=restored, media=tmp_path / "media",
                         anchors=app.config["ARCHIVE_ANCHOR_DIR"], ARCHIVE_HMAC_KEY=app.config["ARCHIVE_HMAC_KEY"],
                         LOG_LEVEL="WARNING")
    verify = subprocess.run([sys.executable, "-m", "flask", "verify-archive"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("OK:") and " 0 signed" not in verify.stdout, verify.stdout
    current = subprocess.run([sys.executable, "-m", "flask", "db", "current"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert "(head)" in current.stdout, current.stdout + current.stderr
    assert counts(restored) == counts(database_url)
