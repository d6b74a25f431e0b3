"""Issue 13, the push's writes made cheaper without changing what they mean.

- A push's new work logs join every scope holding their visits: on PostgreSQL one statement locks the
  holders' scope states, one inserts the memberships (sync/scope.py _visit_children_added), the same members
  as a rebuild from the definition makes.
- New work logs go in without being looked up first: the insert skips ids the server already has (PostgreSQL:
  `ON CONFLICT (id) DO NOTHING`, answering with the ids it skipped), and only those, and the logs that broke a
  rule, are compared with the stored logs, as before.
- `ix_sync_scope_removed` holds only members that left (`removed_seq IS NOT NULL`): a push's hundreds of new
  members add no entry to it. The pull's "records that left the scope" range (events branch (c)) must still be
  an index range scan on it, also with the generic plan the pull keeps (`plan_cache_mode`)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.audit.models import AuditEvent
from fieldservice.auth.service import SYSTEM
from fieldservice.changes import NEW_ROWS_SAVEPOINT
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from fieldservice.visits.models import WorkLog
from sync.models import ScopeMember, ScopeState, SyncRejection
from sync.pull import GENERIC_PLANS, _events_statement
from tests.factories import Factory
from tests.statements import record_savepoints, statements


def _plan_lines(app: Flask) -> tuple[str, list[str]]:
    """The dialect and the plan of the pull's events statement (every branch), as the pull runs it."""
    statement = _events_statement()
    params = {"tech": uuid.uuid4(), "c": 10, "w": 20, "lim": 500}
    with app.app_context():
        connection = db.session.connection()
        dialect = connection.dialect.name
        compiled = statement.compile(dialect=connection.dialect)
        if dialect != "postgresql":  # SQLite has no generic plans: its plan for these values
            values = compiled.construct_params({**params, "tech": params["tech"].hex})
            lines = [str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(values[name] for name in compiled.positiontup or ()))]
        else:
            # a prepared statement with $n parameters and the pull's generic plan: the plan cannot count on
            # the values of c and w (the partial index must be proven usable from `removed_seq > $2` alone)
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            sql = re.sub(r"%\((\w+)\)s", number, str(compiled))
            connection.exec_driver_sql(f"{GENERIC_PLANS}; SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql(f"PREPARE removed_plan AS {sql}")
            try:
                values = compiled.construct_params(params)  # with the statement's own constants (LIMIT 1)
                args = ", ".join(f"'{values[n]}'" if n == "tech" else str(values[n]) for n in names)
                lines = [row[0] for row in connection.exec_driver_sql(f"EXPLAIN EXECUTE removed_plan({args})")]
            finally:
                connection.exec_driver_sql("DEALLOCATE removed_plan")
        db.session.rollback()
    return dialect, lines


def test_the_pulls_removed_range_still_scans_the_partial_index(app: Flask) -> None:
    dialect, lines = _plan_lines(app)
    plan = "\n".join(lines)
    scans = [i for i, line in enumerate(lines) if "ix_sync_scope_removed" in line]
    assert scans, plan
    if dialect == "postgresql":
        # a range scan with both bounds in the index condition (not a filter over a technician's members)
        condition = lines[scans[0] + 1]
        assert "Index Cond" in condition and "removed_seq > $2" in condition and "removed_seq <= $3" in condition, plan
    else:
        assert any("removed_seq>? AND removed_seq<?" in lines[i] for i in scans), plan


def test_the_partial_index_holds_only_members_that_left(app: Flask) -> None:
    with app.app_context():
        inspector = sa.inspect(db.engine)
        assert "ix_sync_scope_removed" in {ix["name"] for ix in inspector.get_indexes("sync_scope")}
        # written under the lock of the technician's ScopeState row, which has the foreign key
        assert inspector.get_foreign_keys("sync_scope") == []


def test_a_records_holders_are_found_by_the_primary_key(app: Flask) -> None:
    """`sync_scope`'s key is (table_name, record_id, technician_id) and there is no second index by record
    (migration i13e7b2c4f1a0: a push's new members go into one B-tree ordered by their random ids): a record's
    holders (`scope.holders`) are an index search on the key's leading columns."""
    from sync.scope import holders

    with app.app_context():
        inspector = sa.inspect(db.engine)
        assert inspector.get_pk_constraint("sync_scope")["constrained_columns"] == [
            "table_name", "record_id", "technician_id"]
        assert "ix_sync_scope_record" not in {ix["name"] for ix in inspector.get_indexes("sync_scope")}
        with statements(app) as sent:
            holders(db.session, "visits", [uuid.uuid4(), uuid.uuid4()])
        [query] = sent
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            sql = re.sub(r"%\((\w+)\)s", lambda m: "'visits'" if m.group(1).startswith("table_name")
                         else f"ARRAY['{uuid.uuid4()}']", query)  # the ids: one array parameter
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "pk_sync_scope" in plan and "table_name" in plan and "record_id" in plan, plan
        else:
            plan = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {re.sub(r'[?]', 'NULL', query)}"))
            assert "sqlite_autoindex_sync_scope_1 (table_name=? AND record_id=?)" in plan, plan
        db.session.rollback()


# -- a push's new work logs join the scopes holding their visits (two statements on PostgreSQL) ----------------

def _logs(visit_id: Any, count: int, now: datetime) -> list[dict[str, Any]]:
    stamp = int(now.timestamp() * 1000)
    return [{"id": str(uuid.uuid4()), "visit_id": str(visit_id), "started_at": stamp - 600_000, "ended_at": None,
             "description": f"log {i}", "created_at": stamp, "updated_at": stamp, "_status": "created",
             "_changed": ""} for i in range(count)]


def _push(client: FlaskClient, phone: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"changes": {"work_logs": {"created": records, "updated": [], "deleted": []}}})
    response = client.post("/api/v1/sync/push", data=body,
                           headers={**phone.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _members(app: Flask, technician_id: uuid.UUID) -> dict[str, int]:
    with app.app_context():
        return {str(r): refs for r, refs in db.session.execute(sa.select(ScopeMember.record_id, ScopeMember.refs).where(
            ScopeMember.technician_id == technician_id, ScopeMember.table_name == "work_logs",
            ScopeMember.removed_seq.is_(None)))}


def _nothing_to_fix(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["sync", "rebuild-scopes"])
    assert result.exit_code == 0 and "0 records entered, 0 left" in result.output, result.output


def test_logs_on_several_visits_join_every_holder_once(app: Flask, client: FlaskClient, make: Factory, on_site,
                                                        phone_for) -> None:  # type: ignore[no-untyped-def]
    """Logs on two visits in one push, one of them reassigned while the phone was offline (its handover still
    open): those join both technicians' scopes, the others only their own; what a rebuild makes."""
    job, phone = on_site
    now = datetime.now(UTC).replace(microsecond=0)
    later = make.dispatched_job(technician=job.technician, start=now + timedelta(days=1))
    phone.sync()  # the phone holds the later visit...
    newcomer = make.technician(certified_for=[later.line.id])
    phone_for(newcomer).sync()
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, later.visit.id, newcomer.id)  # ...taken from it while offline
    on_moved, on_own = _logs(later.visit.id, 3, now), _logs(job.visit.id, 2, now)
    answer = _push(client, phone, on_moved + on_own)
    assert answer["accepted"] == 5 and answer["rejected"] == 0, answer
    mine, theirs = _members(app, job.technician.id), _members(app, newcomer.id)
    assert {r["id"] for r in on_moved + on_own} <= set(mine)
    assert {r["id"] for r in on_moved} <= set(theirs) and not {r["id"] for r in on_own} & set(theirs)
    assert set(mine.values()) == {1} and set(theirs.values()) == {1}
    _nothing_to_fix(app)


def test_a_technician_without_scope_state_gets_one_and_the_logs_at_the_first_pull(
        app: Flask, client: FlaskClient, make: Factory, on_site, phone_for) -> None:  # type: ignore[no-untyped-def]
    """No state row (never evaluated): the push creates it unbuilt, as lock_states does, adds no member, and the
    technician's first pull builds the scope with the pushed logs."""
    job, phone = on_site
    with app.app_context(), unit_of_work():
        db.session.execute(sa.delete(ScopeMember).where(ScopeMember.technician_id == job.technician.id))
        db.session.execute(sa.delete(ScopeState).where(ScopeState.technician_id == job.technician.id))
    records = _logs(job.visit.id, 4, datetime.now(UTC).replace(microsecond=0))
    assert _push(client, phone, records)["accepted"] == 4
    with app.app_context():
        state = db.session.get(ScopeState, job.technician.id)
        assert state is not None and state.built_at is None
    assert _members(app, job.technician.id) == {}
    fresh = phone_for(job.technician)
    fresh.sync()
    assert {r["id"] for r in records} <= set(fresh.ids("work_logs"))
    _nothing_to_fix(app)


# -- new logs go in without being looked up first; only the ids that did not go in are compared ---------------

def test_new_logs_are_not_looked_up_and_existing_ones_keep_their_outcome(
        app: Flask, client: FlaskClient, make: Factory, on_site, phone_for) -> None:  # type: ignore[no-untyped-def]
    """A push of new logs inserts them without a look-up (PostgreSQL: the insert skips ids the server has and
    names them). Logs the server already has are compared afterwards, never given the outcome of the rules for
    new ones: an unchanged re-push on a visit the technician may no longer log on is accepted without a write,
    an update carrying only an unchanged field is accepted (not refused for missing fields), a changed one and
    someone else's take the per-record path."""
    job, phone = on_site
    now = datetime.now(UTC).replace(microsecond=0)
    later = make.dispatched_job(technician=job.technician, start=now + timedelta(days=1))
    phone.sync()
    newcomer = make.technician(certified_for=[later.line.id])
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, later.visit.id, newcomer.id)
    on_later, on_own = _logs(later.visit.id, 2, now), _logs(job.visit.id, 3, now)
    with statements(app) as sent:
        assert _push(client, phone, on_later + on_own)["accepted"] == 5  # the handover still open: taken
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        assert not [s for s in sent if s.lstrip().startswith("SELECT work_logs.id")], sent  # no look-up
        # every id new: one plain insert under a savepoint, released; no ON CONFLICT (the re-push's way,
        # tests/sync/test_push_repush.py)
        inserts = [s for s in sent if "INSERT INTO \"work_logs\"" in s]
        assert len(inserts) == 1 and "ON CONFLICT" not in inserts[0], inserts
        around = sent[sent.index(inserts[0]) - 1: sent.index(inserts[0]) + 2]
        assert around == [f"SAVEPOINT {NEW_ROWS_SAVEPOINT}", inserts[0], f"RELEASE SAVEPOINT {NEW_ROWS_SAVEPOINT}"]
    second = phone_for(job.technician, created_as_updated=True)  # (`phone` never saw the logs it pushed here)
    second.sync()
    second.sync()  # nothing left to push: the handover completes, the visit leaves the technician's phones
    assert str(later.visit.id) not in second.ids("visits")
    other_id = make.others_work_log(start=now - timedelta(hours=3), at=now).id
    with app.app_context():
        seqs = dict(db.session.execute(sa.select(WorkLog.id, WorkLog.change_seq)).all())
        audits = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    fresh = _logs(job.visit.id, 2, now)
    changed = dict(on_own[1], description="log 1 (edited)")
    only_description = {"id": on_own[2]["id"], "description": on_own[2]["description"], "_status": "updated",
                        "_changed": "description"}
    foreign = dict(on_own[0], id=str(other_id), description="not mine")
    too_late = _logs(later.visit.id, 1, now)  # a new log on the visit taken from them: the rules refuse it
    body = json.dumps({"changes": {"work_logs": {
        "created": [*on_later, on_own[0], changed, foreign, *fresh, *too_late], "updated": [only_description],
        "deleted": []}}})
    with statements(app) as sent:
        response = client.post("/api/v1/sync/push", data=body,
                               headers={**phone.auth, "Idempotency-Key": str(uuid.uuid4())})
    answer = response.get_json()
    # on_later (visit taken, handover complete) and on_own[0] unchanged, on_own[2] unchanged, the edit, 2 new
    assert answer["accepted"] == 7 and answer["rejected"] == 2, answer
    assert sorted(answer["rejected_ids"]["work_logs"]) == sorted([str(other_id), too_late[0]["id"]])
    assert len(record_savepoints(sent)) == 2  # the edit and the foreign log
    with app.app_context():
        now_seqs = dict(db.session.execute(sa.select(WorkLog.id, WorkLog.change_seq)).all())
        assert {k for k in seqs if now_seqs[k] != seqs[k]} == {uuid.UUID(changed["id"])}
        assert {uuid.UUID(r["id"]) for r in fresh} == set(now_seqs) - set(seqs)
        assert db.session.get(WorkLog, other_id).description == "their log"
        rejections = {r.record_id: r.reason_code for r in db.session.scalars(sa.select(SyncRejection))}
        assert rejections == {str(other_id): "not_found", too_late[0]["id"]: "not_found"}
        events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.at)).all()[audits:]
        assert sorted(e.action for e in events) == ["work_log.create_many", "work_log.update"]
        [created] = [e for e in events if e.action == "work_log.create_many"]
        assert sorted(created.details["work_log_ids"]) == sorted(r["id"] for r in fresh)  # only what went in


def test_the_push_body_is_parsed_once(app: Flask, client: FlaskClient, on_site) -> None:  # type: ignore[no-untyped-def]
    """The push makes retries safe with its Idempotency-Key (handles_own_retries): the blueprint's retry-safe
    create does not parse the body a second time looking for a top-level `id` (a push is up to
    SYNC_MAX_PUSH_BYTES; that parse cost as much as the push's own). Counted at Flask's JSON provider, which
    `request.get_json` uses, with the JSON Content-Type phones send."""
    job, phone = on_site
    parsed: list[int] = []
    provider_loads = app.json.loads

    def counting_loads(s: Any, **kwargs: Any) -> Any:
        parsed.append(len(s))
        return provider_loads(s, **kwargs)

    app.json.loads = counting_loads  # type: ignore[method-assign]
    try:
        records = _logs(job.visit.id, 3, datetime.now(UTC).replace(microsecond=0))
        body = json.dumps({"changes": {"work_logs": {"created": records, "updated": [], "deleted": []}}})
        response = client.post("/api/v1/sync/push", data=body, headers={
            **phone.auth, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["accepted"] == 3
        assert len(body) not in parsed, parsed
        # the same provider still parses other JSON bodies (the count sees them)
        response = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x" * 12})
        assert response.status_code in (400, 401, 422) and parsed, (response.status_code, parsed)
    finally:
        del app.json.loads
