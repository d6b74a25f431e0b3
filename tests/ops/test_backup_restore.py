"""The restore procedure of docs/deploy.md, tested (issue 16): pg_dump the database, restore the dump into a
fresh database, and `flask verify-archive` finds the archive log's hash chain and every signed record intact
there, with the same rows as the original. `make restore-check` runs this test alone."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from tests.conftest import fresh_database

REPO = Path(__file__).resolve().parents[2]
COUNTED = ("service_records", "signoffs", "archive_log", "audit_events", "work_orders", "photos", "notifications")


def pg_tool(name: str) -> str:
    """The client tool of the server's major version (Debian keeps them under /usr/lib/postgresql/<v>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian package postgresql-client)")
    return path


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
def test_dump_restore_into_a_fresh_database_and_verify_the_archive(app: Flask, database_url: str,
                                                                   tmp_path: Path) -> None:
    from fieldservice.demo import seed_demo

    with app.app_context(), unit_of_work():
        seed_demo()
    with app.app_context():
        db.session.remove()
    dump = tmp_path / "fieldservice.dump"
    subprocess.run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump),
                    libpq_url(database_url)], check=True, timeout=120)
    restored = fresh_database(database_url, "restore", tmp_path)
    subprocess.run([pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", libpq_url(restored),
                    str(dump)], check=True, timeout=120)

    env = {**os.environ, "FIELDSERVICE_ENV": "production", "SECRET_KEY": "restore-check", "DATABASE_URL": restored,
           "FLASK_APP": "wsgi", "LOG_LEVEL": "WARNING", "MEDIA_ROOT": str(tmp_path / "media")}
    verify = subprocess.run([sys.executable, "-m", "flask", "verify-archive"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("OK:") and " 0 signed" not in verify.stdout, verify.stdout
    current = subprocess.run([sys.executable, "-m", "flask", "db", "current"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert "(head)" in current.stdout, current.stdout + current.stderr
    assert counts(restored) == counts(database_url)
