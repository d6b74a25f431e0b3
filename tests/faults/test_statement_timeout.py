"""A statement slower than DB_STATEMENT_TIMEOUT_MS (issue 13 point 1): PostgreSQL cancels it and the app answers
a 503 problem with Retry-After, instead of the worker being killed at GUNICORN_TIMEOUT. The slow statement is
real: another transaction holds a lock the endpoint's query must wait for (what a long migration or a stuck
transaction does in production). PostgreSQL only: SQLite has no statement timeout."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from fieldservice.config import ConfigError, engine_options, statement_timeout_ms
from fieldservice.extensions import db
from tests.factories import Factory
from tests.faults.conftest import gunicorn, wait_until, worker_pids


@pytest.mark.postgres
@pytest.mark.slow
def test_a_statement_over_the_timeout_is_a_503_and_the_worker_lives(app: Flask, make: Factory, database_url: str,
                                                                     tmp_path: Path) -> None:
    make.dispatched_job()
    auth = {"Authorization": f"Bearer {make.token(make.user(role='dispatcher').id)}"}
    with app.app_context():
        engine = db.engine
        db.session.remove()
    with gunicorn(database_url, tmp_path / "media", workers=1, DB_STATEMENT_TIMEOUT_MS="1500") as (base, master):
        [worker] = wait_until(lambda: worker_pids(master), 10, "the worker")
        assert requests.get(f"{base}/api/v1/work-orders", headers=auth, timeout=30).status_code == 200
        with engine.connect() as blocker:
            blocker.execute(sa.text("LOCK TABLE work_orders IN ACCESS EXCLUSIVE MODE"))  # until rollback
            started = time.monotonic()
            response = requests.get(f"{base}/api/v1/work-orders", headers=auth, timeout=30)
            waited = time.monotonic() - started
            blocker.rollback()
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.headers["Retry-After"].isdigit()
        assert response.json()["type"] == "/problems/statement_timeout"
        assert 1.4 < waited < 20  # cancelled by PostgreSQL after 1.5 s, long before the worker timeout (60 s)
        # the same worker answers the next request normally
        assert requests.get(f"{base}/api/v1/work-orders", headers=auth, timeout=30).status_code == 200
        assert worker_pids(master) == [worker]


def test_statement_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """DB_STATEMENT_TIMEOUT_MS is validated like the other settings: a whole number, below GUNICORN_TIMEOUT."""
    monkeypatch.delenv("GUNICORN_TIMEOUT", raising=False)
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS", raising=False)
    assert statement_timeout_ms() == 30_000
    for bad in ("abc", "-1", "120000"):  # not a number, negative, not below the 120 s worker timeout
        monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", bad)
        with pytest.raises(ConfigError, match="DB_STATEMENT_TIMEOUT_MS"):
            statement_timeout_ms()
    monkeypatch.setenv("GUNICORN_TIMEOUT", "20")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "25000")
    with pytest.raises(ConfigError, match="GUNICORN_TIMEOUT"):
        statement_timeout_ms()
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS")
    assert statement_timeout_ms() == 10_000  # a short worker timeout: half of it by default
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "0")
    assert statement_timeout_ms() == 0
    pg = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x/y", "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}}
    assert engine_options({**pg, "DB_STATEMENT_TIMEOUT_MS": 5000})["connect_args"] == {
        "options": "-c statement_timeout=5000"}
    assert "connect_args" not in engine_options({**pg, "DB_STATEMENT_TIMEOUT_MS": 0})
    assert "connect_args" not in engine_options({"SQLALCHEMY_DATABASE_URI": "sqlite://", "DB_STATEMENT_TIMEOUT_MS": 5})


@pytest.mark.postgres
def test_the_app_connections_carry_the_timeout(app: Flask) -> None:
    with app.app_context():
        setting = db.session.scalar(sa.text("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"))
        assert int(setting) == app.config["DB_STATEMENT_TIMEOUT_MS"] > 0
