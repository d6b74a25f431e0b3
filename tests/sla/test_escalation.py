"""R-SLA-2 escalation to the dispatcher's supervisor, with controlled time: a breach on a job whose
dispatcher has a supervisor goes to that supervisor (e-mail, else `user:<username>`), once; without a
supervisor to the policy's `escalate_to`, then the `SLA_ESCALATE_TO` setting. Supervisors are set by an
admin (API, CLI); unknown users, cycles and non-office roles are refused with 422 and nothing changes."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth import service as auth_service
from fieldservice.auth.models import User
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications.models import Channel
from fieldservice.sla.models import SlaBreach
from fieldservice.visits import service as visits
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrderKind
from tests.factories import Factory
from tests.sla.conftest import local
from tests.sla.test_clocks import escalations, scan

PROBLEM = "application/problem+json"
THU_1700 = local(2026, 12, 31, 17, 0)  # respond due 17:30; on-site due Mon 2027-01-04 10:00 (holiday, weekend)


def set_supervisor(app: Flask, user_id: uuid.UUID, supervisor_id: uuid.UUID | None, **extra: object) -> None:
    with app.app_context(), unit_of_work():
        auth_service.update_user(auth_service.SYSTEM, user_id, {"supervisor_id": supervisor_id, **extra})


def acting(app: Flask, user_id: uuid.UUID, when: datetime, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call a service as this login at a controlled time (one unit of work, like one request)."""
    with time_machine.travel(when, tick=False), app.app_context(), unit_of_work():
        result = fn(auth_service.actor_for(db.session.get(User, user_id)), *args, **kwargs)
        return SimpleNamespace(id=result.id, number=getattr(result, "number", None))


def repair_order(app: Flask, make: Factory, dispatcher_id: uuid.UUID, when: datetime) -> SimpleNamespace:
    line = make.product_line()
    product = make.product(line.id)
    customer = make.customer()
    site = make.site(customer.id)
    order = acting(app, dispatcher_id, when, workorders.create_work_order, {
        "kind": WorkOrderKind.REPAIR, "customer_id": customer.id, "site_id": site.id, "product_id": product.id,
        "summary": "压缩机不启动 compressor will not start"})
    order.line_id = line.id
    return order


def breach_recipients(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(b.target.value, b.escalated_to) for b in db.session.scalars(
            sa.select(SlaBreach).order_by(SlaBreach.detected_at, SlaBreach.target))]


def test_breach_goes_to_the_dispatchers_supervisor_once(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    boss = make.user("office", username="wang.manager", display_name="王经理")
    set_supervisor(app, boss.id, None, email="wang@example.cn")
    dispatcher = make.user("dispatcher", username="li.dispatch", display_name="李调度")
    set_supervisor(app, dispatcher.id, boss.id)
    order = repair_order(app, make, dispatcher.id, THU_1700)

    assert scan(app, local(2026, 12, 31, 17, 31)) == 1
    assert scan(app, local(2026, 12, 31, 17, 45)) == 0           # one breach, one message (dedupe per breach)
    [note] = escalations(app)
    assert note.recipient == "wang@example.cn" and note.channel is Channel.EMAIL
    assert note.dedupe_key.startswith("sla.breach:")
    assert note.payload["work_order_number"] == order.number and note.payload["escalated_via"] == "supervisor"
    assert note.payload["dispatcher"] == "李调度" and note.payload["supervisor"] == "王经理"
    assert note.payload["dispatcher_user"]["username"] == "li.dispatch"
    assert note.payload["supervisor_user"]["id"] == str(boss.id)
    assert breach_recipients(app) == [("respond", "wang@example.cn")]


def test_supervisor_without_email_is_named_by_username(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    boss = make.user("dispatcher", username="zhao.lead")
    dispatcher = make.user("dispatcher")
    set_supervisor(app, dispatcher.id, boss.id)
    repair_order(app, make, dispatcher.id, THU_1700)
    assert scan(app, local(2026, 12, 31, 17, 31)) == 1
    [note] = escalations(app)
    assert note.recipient == "user:zhao.lead" and note.channel is Channel.WEBHOOK


def test_no_supervisor_falls_back_to_the_policy_then_the_setting(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    dispatcher = make.user("dispatcher", display_name="孙调度")
    repair_order(app, make, dispatcher.id, THU_1700)
    assert scan(app, local(2026, 12, 31, 17, 31)) == 1
    [note] = escalations(app)
    assert note.recipient == "supervisor@example.cn"             # the policy's escalate_to (tests/sla/conftest.py)
    assert note.payload["escalated_via"] == "policy" and note.payload["dispatcher"] == "孙调度"
    assert note.payload["supervisor"] is None


def test_without_policy_or_supervisor_the_setting_hears_it(app: Flask, make: Factory) -> None:
    dispatcher = make.user("dispatcher")
    start = local(2027, 1, 2, 20, 0)                              # no policy: wall-clock defaults
    repair_order(app, make, dispatcher.id, start)
    assert scan(app, local(2027, 1, 2, 20, 31)) == 1
    [note] = escalations(app)
    assert note.recipient == app.config["SLA_ESCALATE_TO"] and note.payload["escalated_via"] == "setting"


def test_a_disabled_supervisor_is_skipped(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    boss = make.user("office")
    dispatcher = make.user("dispatcher")
    set_supervisor(app, dispatcher.id, boss.id)
    set_supervisor(app, boss.id, None, is_active=False)          # left the company
    repair_order(app, make, dispatcher.id, THU_1700)
    assert scan(app, local(2026, 12, 31, 17, 31)) == 1
    assert [n.recipient for n in escalations(app)] == ["supervisor@example.cn"]


def test_the_dispatcher_who_last_assigned_the_visit_answers(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    """The creator's supervisor hears of breaches until a dispatcher assigns a technician; from then on the
    assigning dispatcher's supervisor does (the audit trail's visit.assign / visit.reassign)."""
    boss_a, boss_b = make.user("office", username="boss.a"), make.user("admin", username="boss.b")
    creator, assigner = make.user("dispatcher"), make.user("dispatcher")
    set_supervisor(app, creator.id, boss_a.id)
    set_supervisor(app, assigner.id, boss_b.id)
    order = repair_order(app, make, creator.id, THU_1700)
    tech = make.technician(certified_for=[order.line_id])
    visit = make.visit(order.id, start=local(2027, 1, 4, 9, 0), confirmed=False)  # planned, nobody assigned

    assert scan(app, local(2026, 12, 31, 17, 31)) == 1          # respond: nobody assigned yet -> creator's boss
    acting(app, assigner.id, local(2026, 12, 31, 17, 40), visits.assign_technician, visit.id, tech.id)
    assert scan(app, local(2027, 1, 4, 10, 1)) == 1             # on_site (2 business hours) -> assigner's boss
    assert breach_recipients(app) == [("respond", "user:boss.a"), ("on_site", "user:boss.b")]
    assert [n.payload["dispatcher_user"]["id"] for n in escalations(app)] == [str(creator.id), str(assigner.id)]


# ---- setting the supervisor: API and CLI --------------------------------------------------------

def test_admin_sets_and_clears_a_supervisor(client: FlaskClient, headers, make: Factory) -> None:  # type: ignore[no-untyped-def]
    admin = headers(role="admin")
    boss = make.user("office")
    created = client.post("/api/v1/users", headers=admin, json={
        "username": "zhou.dispatch", "password": "correct horse battery", "role": "dispatcher",
        "display_name": "周调度", "supervisor_id": str(boss.id)})
    assert created.status_code == 201, created.get_json()
    user = created.get_json()
    assert user["supervisor_id"] == str(boss.id)
    other = make.user("dispatcher")
    moved = client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"supervisor_id": str(other.id)})
    assert moved.status_code == 200 and moved.get_json()["supervisor_id"] == str(other.id)
    cleared = client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"supervisor_id": None})
    assert cleared.status_code == 200 and cleared.get_json()["supervisor_id"] is None
    assert client.get(f"/api/v1/users/{user['id']}", headers=admin).get_json()["supervisor_id"] is None


def test_cycles_unknown_users_and_wrong_roles_are_refused(app: Flask, client: FlaskClient, headers,  # type: ignore[no-untyped-def]
                                                          make: Factory, count_rows) -> None:
    admin = headers(role="admin")
    a, b, c = make.user("dispatcher"), make.user("office"), make.user("admin")
    set_supervisor(app, a.id, b.id)
    set_supervisor(app, b.id, c.id)                                # a -> b -> c
    tech, customer_login = make.user("technician"), make.user("customer", customer_id=make.customer().id)
    keeper = make.user("parts_keeper")
    before = count_rows()
    cases = [
        (c.id, a.id, "cycle"),                                    # c -> a closes a -> b -> c -> a
        (b.id, a.id, "cycle"),
        (a.id, a.id, "cycle"),                                    # oneself
        (a.id, uuid.uuid4(), "unknown user"),
        (a.id, tech.id, "not technician"),
        (a.id, customer_login.id, "not customer"),
        (a.id, keeper.id, "not parts_keeper"),
    ]
    for user_id, supervisor_id, reason in cases:
        response = client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"supervisor_id": str(supervisor_id)})
        assert response.status_code == 422 and response.mimetype == PROBLEM, (reason, response.get_json())
        assert "supervisor_id" in response.get_json()["errors"], reason
    refused = client.post("/api/v1/users", headers=admin, json={
        "username": "new.one", "password": "correct horse battery", "role": "dispatcher",
        "supervisor_id": str(tech.id)})
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert client.patch(f"/api/v1/users/{a.id}", headers=admin, json={"supervisor_id": "boss"}).status_code == 422
    assert count_rows() == before                                 # nothing written (no user, no audit event)
    with app.app_context():
        chain = {u.id: u.supervisor_id for u in db.session.scalars(sa.select(User).where(User.id.in_([a.id, b.id, c.id])))}
    assert chain == {a.id: b.id, b.id: c.id, c.id: None}


def test_only_admins_set_supervisors(app: Flask, client: FlaskClient, headers, make: Factory,  # type: ignore[no-untyped-def]
                                     count_rows) -> None:
    a, boss = make.user("dispatcher"), make.user("office")
    callers = {role: headers(role=role) for role in ("office", "dispatcher", "technician", "parts_keeper")}
    callers["anonymous"] = {}
    before = count_rows()
    for role, hdrs in callers.items():
        response = client.patch(f"/api/v1/users/{a.id}", headers=hdrs, json={"supervisor_id": str(boss.id)})
        assert response.status_code == (401 if role == "anonymous" else 403), role
        assert response.mimetype == PROBLEM
    assert count_rows() == before
    with app.app_context():
        assert db.session.get(User, a.id).supervisor_id is None


def test_cli_create_with_supervisor(app: Flask, make: Factory) -> None:
    boss = make.user("office", username="qian.manager")
    make.user("technician", username="sun.tech")
    runner = app.test_cli_runner()
    password = ["--password", "correct horse battery"]
    ok = runner.invoke(args=["users", "create", "--username", "wu.dispatch", "--role", "dispatcher", *password,
                             "--supervisor", "Qian.Manager"])
    assert ok.exit_code == 0, ok.output
    unknown = runner.invoke(args=["users", "create", "--username", "x.user", "--role", "dispatcher", *password,
                                  "--supervisor", "nobody.here"])
    assert unknown.exit_code != 0 and "no user 'nobody.here'" in unknown.output
    wrong_role = runner.invoke(args=["users", "create", "--username", "y.user", "--role", "dispatcher", *password,
                                     "--supervisor", "sun.tech"])
    assert wrong_role.exit_code != 0 and "supervisor" in wrong_role.output
    with app.app_context():
        users = {u.username: u.supervisor_id for u in db.session.scalars(sa.select(User))}
    assert users["wu.dispatch"] == boss.id and "x.user" not in users and "y.user" not in users


@pytest.mark.postgres
def test_two_admins_closing_a_loop_at_once_cannot_both_pass(app: Flask, make: Factory, headers,  # type: ignore[no-untyped-def]
                                                            live_url: str) -> None:
    """a -> b and b -> a sent at the same moment (real HTTP, PostgreSQL): one wins, the other is refused."""
    a, b = make.user("dispatcher"), make.user("office")
    admin = headers(role="admin")
    barrier = threading.Barrier(2)
    results: list[requests.Response] = []

    def worker(user_id: uuid.UUID, supervisor_id: uuid.UUID) -> None:
        barrier.wait()
        results.append(requests.patch(f"{live_url}/api/v1/users/{user_id}", headers=admin, timeout=30,
                                      json={"supervisor_id": str(supervisor_id)}))

    threads = [threading.Thread(target=worker, args=pair) for pair in ((a.id, b.id), (b.id, a.id))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 422], [r.text for r in results]
    with app.app_context():
        chain = {u.id: u.supervisor_id for u in db.session.scalars(sa.select(User).where(User.id.in_([a.id, b.id])))}
    assert list(chain.values()).count(None) == 1
