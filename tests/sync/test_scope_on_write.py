"""Issue 13: the sync scope is maintained on write, in the same transaction as the change that defines it,
and a pull never recomputes the whole scope: records created under a visit in scope, assignment and
reassignment (the old phone keeps the visit until its handover completes), time moving the window, a rare
change (a work order's customer) marking the scope stale for a rebuild, and `flask sync rebuild-scopes`
finding nothing to fix after all of it."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from sqlalchemy import event

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from fieldservice.workorders.models import WorkOrder
from sync.models import ScopeMember, ScopeState
from tests.factories import Factory
from tests.statements import statements as statements_of
from tests.sync.phone import Phone


def members(app: Flask, technician_id: uuid.UUID, table: str) -> set[str]:
    with app.app_context():
        return {str(r) for r in db.session.scalars(sa.select(ScopeMember.record_id).where(
            ScopeMember.technician_id == technician_id, ScopeMember.table_name == table,
            ScopeMember.removed_seq.is_(None)))}


def snapshot(app: Flask) -> set[tuple[str, str, str, int]]:
    with app.app_context():
        return {(str(m.technician_id), m.table_name, str(m.record_id), m.refs) for m in db.session.scalars(
            sa.select(ScopeMember).where(ScopeMember.removed_seq.is_(None)))}


def in_days(days: int, hour: int = 9) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_membership_follows_each_write_without_a_pull(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    tech = job.technician.id
    phone_for(job.technician).sync()  # the first pull builds the scope
    assert str(job.visit.id) in members(app, tech, "visits")
    # a work log written in the office on the visit joins the scope in the same transaction
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
        entry = visits.add_work_log(SYSTEM, job.visit.id, {"started_at": datetime.now(UTC), "description": "办公室补录"})
        entry_id = entry.id
    assert str(entry_id) in members(app, tech, "work_logs")
    # a new job assigned to the technician enters with what it needs, before any pull
    other = make.dispatched_job(technician=job.technician, start=in_days(2))
    assert str(other.visit.id) in members(app, tech, "visits")
    assert str(other.order.id) in members(app, tech, "work_orders")
    assert str(other.order.customer_id) in members(app, tech, "customers")
    assert str(other.product.id) in members(app, tech, "products")


def test_reassignment_moves_the_visit_and_a_shared_customer_stays(app: Flask, make: Factory,  # type: ignore[no-untyped-def]
                                                                   phone_for) -> None:
    job = make.dispatched_job(start=in_days(1))
    second = make.dispatched_job(technician=job.technician, customer_id=job.order.customer_id, start=in_days(2))
    newcomer = make.technician(certified_for=[job.line.id])
    old_phone, new_phone = phone_for(job.technician), phone_for(newcomer)
    old_phone.sync()
    new_phone.sync()
    tech = job.technician.id
    with app.app_context():
        [refs] = db.session.scalars(sa.select(ScopeMember.refs).where(
            ScopeMember.technician_id == tech, ScopeMember.record_id == job.order.customer_id)).all()
    assert refs == 2  # two visits in scope need the customer
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, job.visit.id, newcomer.id)
    # the new phone's scope has it at once; the old one keeps it until the handover completes (docs/sync.md)
    assert str(job.visit.id) in members(app, newcomer.id, "visits")
    assert str(job.order.id) in members(app, newcomer.id, "work_orders")
    assert str(job.visit.id) in members(app, tech, "visits")
    old_phone.sync()  # the phone sees the change, says it has nothing unpushed...
    old_phone.sync()  # ...and the next pull lets the visit go
    assert str(job.visit.id) not in old_phone.ids("visits")
    assert str(job.order.id) not in old_phone.ids("work_orders")
    assert str(job.order.customer_id) in old_phone.ids("customers")  # still needed by the second visit
    assert str(second.visit.id) in old_phone.ids("visits")
    new_phone.sync()
    assert str(job.visit.id) in new_phone.ids("visits")


def test_an_incremental_pull_never_reads_the_whole_scope(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """After the first pull, a pull reads the visits whose start crossed an edge of the window and the changes
    since the cursor; no statement lists the technician's members, and nothing uses NOT IN."""
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
        visits.add_work_log(SYSTEM, job.visit.id, {"started_at": datetime.now(UTC), "description": "变更"})
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        merged, _ = phone.pull_all()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(merged["work_logs"]["updated"]) == 1 and merged["work_logs"]["created"] == {
        next(iter(merged["work_logs"]["updated"]))}  # new to the phone
    listing = [s for s in statements if s.startswith("SELECT sync_scope.table_name, sync_scope.record_id, "
                                                     "sync_scope.refs")]
    assert not listing, listing  # what rebuild() reads: the whole scope
    assert not [s for s in statements if " NOT IN " in s.upper()]


@pytest.mark.postgres
def test_the_usual_pull_is_four_round_trips(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: a pull with nothing to prepare sends the token; the readiness check together with the cursor's
    watermark (one simple-protocol query, each statement with its own snapshot); every kind of event; the rows
    of each table with changes. The page is the same as the separate statements gave."""
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
    phone.sync()
    with app.app_context(), unit_of_work():
        entry = visits.add_work_log(SYSTEM, job.visit.id, {"started_at": datetime.now(UTC), "description": "一次"})
        entry_id = str(entry.id)
    with statements_of(app) as sent:
        merged, _ = phone.pull_all()
    assert set(merged["work_logs"]["updated"]) == {entry_id} and merged["work_logs"]["created"] == {entry_id}
    assert len(sent) == 4, sent
    ready = [s for s in sent if "sync_scope_state" in s]
    assert len(ready) == 1 and "sync_change_seq" in ready[0] and "pg_locks" in ready[0], ready
    assert not [s for s in sent if "sync_change_seq" in s and s not in ready]


def test_time_moves_the_window_at_the_next_pull(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """A visit beyond SYNC_DAYS_AHEAD is not on the phone; once its start comes within the window, the next
    pull brings it with its work order (found by the window's edge, not by recomputing the scope)."""
    app.config["SYNC_DAYS_AHEAD"] = 1
    job = make.dispatched_job()
    later = make.dispatched_job(technician=job.technician, start=in_days(2))
    phone = Phone(app.test_client(), make.token(job.technician.user_id, ttl=timedelta(days=7)))
    phone.sync()
    assert str(later.visit.id) not in phone.ids("visits")
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1, hours=12), tick=False):
        phone.sync()
    assert str(later.visit.id) in phone.ids("visits")
    assert str(later.order.id) in phone.ids("work_orders")


def test_a_rare_change_marks_the_scope_stale_and_the_next_pull_rebuilds_it(app: Flask, make: Factory,  # type: ignore[no-untyped-def]
                                                                          phone_for) -> None:
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    moved_to = make.customer("新客户 new customer")
    with app.app_context(), unit_of_work():
        db.session.get(WorkOrder, job.order.id).customer_id = moved_to.id
    with app.app_context():
        state = db.session.get(ScopeState, job.technician.id)
        assert state.built_at is None and "customer" in (state.stale_reason or "")
    phone.sync()
    assert str(moved_to.id) in phone.ids("customers")
    assert str(job.order.customer_id) not in phone.ids("customers")


def test_rebuild_finds_nothing_to_fix_after_writes(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """What the writes maintained equals what a rebuild from the definition makes (`flask sync rebuild-scopes`,
    a real CLI run)."""
    job = make.dispatched_job(start=in_days(1))
    later = make.dispatched_job(technician=job.technician)  # under way now
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, later.visit.id)
    phone = phone_for(job.technician)
    phone.sync()
    with app.app_context(), unit_of_work():
        visits.add_work_log(SYSTEM, later.visit.id, {"started_at": datetime.now(UTC), "description": "一"})
    other = make.technician(certified_for=[job.line.id])
    phone_for(other).sync()
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, job.visit.id, other.id)
    before = snapshot(app)
    result = app.test_cli_runner().invoke(args=["sync", "rebuild-scopes"])
    assert result.exit_code == 0, result.output
    assert "0 records entered, 0 left" in result.output
    assert snapshot(app) == before


def test_a_visit_entering_and_a_log_on_it_in_one_flush_count_once(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """One flush both brings a visit into a scope (its needs counted) and inserts a record under it: the record
    is a member once, with one reference, as a rebuild from the definition would make it."""
    from fieldservice.visits.models import Visit, WorkLog

    job = make.dispatched_job()
    newcomer = make.technician(certified_for=[job.line.id])
    phone_for(newcomer).sync()
    with app.app_context(), unit_of_work():
        visit = db.session.get(Visit, job.visit.id)
        visit.technician_id = newcomer.id
        db.session.add(WorkLog(id=uuid.uuid4(), visit_id=visit.id, technician_id=newcomer.id,
                               started_at=datetime.now(UTC), description="同一次写入 same flush"))
        db.session.flush()
    before = snapshot(app)
    assert any(m[0] == str(newcomer.id) and m[1] == "work_logs" and m[3] == 1 for m in before)
    result = app.test_cli_runner().invoke(args=["sync", "rebuild-scopes", "--technician", str(newcomer.id)])
    assert result.exit_code == 0 and "0 records entered, 0 left" in result.output, result.output
    assert snapshot(app) == before
