"""CLI: `flask users create` and the idempotent `flask seed-demo`."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.models import Role, User
from fieldservice.extensions import db
from fieldservice.technicians.models import Technician
from tests.conftest import truncate_all


def table_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
                for t in db.metadata.sorted_tables}


def test_seed_demo_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "record(s) added" in first.output and "dispatcher" in first.output
    after_first = table_counts(app)
    assert after_first["work_orders"] == 5 and after_first["visits"] == 5 and after_first["users"] == 7  # tests/test_demo.py
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nothing added" in second.output
    assert table_counts(app) == after_first


def test_demo_logins_work(app: Flask) -> None:
    from fieldservice.demo import DEMO_LOGINS

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    client = app.test_client()
    for username, password, _ in DEMO_LOGINS:
        response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 201, username


def test_users_create(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--username", "tech.zhao", "--role", "technician",
                                 "--password", "zhao-long-password", "--technician-name", "赵六"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "tech.zhao"))
        assert user is not None and user.role is Role.TECHNICIAN
        assert user.password_hash != "zhao-long-password"
        assert db.session.scalar(sa.select(Technician.name).where(Technician.user_id == user.id)) == "赵六"
    again = runner.invoke(args=["users", "create", "--username", "tech.zhao", "--role", "technician",
                                "--password", "zhao-long-password"])
    assert again.exit_code != 0 and "taken" in again.output
    weak = runner.invoke(args=["users", "create", "--username", "x1", "--role", "office", "--password", "short"])
    assert weak.exit_code != 0 and "at least 10" in weak.output
    truncate_all(app)
