"""SLA clocks with controlled time (R-SLA-1, R-SLA-2): they count business time across a weekend and a
holiday, stop with the job's events, pause while finished work awaits acceptance, and a breach is
recorded and escalated once."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
import time_machine
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications.models import Channel, Notification
from fieldservice.sla import service as sla
from fieldservice.sla.models import ClockStatus, SlaBreach, SlaClock
from fieldservice.visits import service as visits
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrderStatus
from tests.factories import Factory
from tests.sla.conftest import local

THU_1700 = local(2026, 12, 31, 17, 0)  # one working hour left before New Year's Day (holiday) and the weekend


def at(when: datetime, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with time_machine.travel(when, tick=False):
        return fn(*args, **kwargs)


def clocks(app: Flask, work_order_id: uuid.UUID) -> dict[str, SlaClock]:
    with app.app_context():
        found = {c.target.value: c for c in db.session.scalars(
            sa.select(SlaClock).where(SlaClock.work_order_id == work_order_id))}
        for c in found.values():
            db.session.expunge(c)
        return found


def scan(app: Flask, when: datetime) -> int:
    with time_machine.travel(when, tick=False), app.app_context(), unit_of_work():
        return sla.scan_breaches()


def breaches(app: Flask) -> list[tuple[str, uuid.UUID | None]]:
    with app.app_context():
        return [(b.target.value, b.work_order_id) for b in db.session.scalars(
            sa.select(SlaBreach).order_by(SlaBreach.detected_at, SlaBreach.target))]


def escalations(app: Flask) -> list[Notification]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Notification).where(Notification.kind == "sla.breach")
                                       .order_by(Notification.created_at)))
        for r in rows:
            db.session.expunge(r)
        return rows


def service_call(app: Flask, when: datetime, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with time_machine.travel(when, tick=False), app.app_context(), unit_of_work():
        fn(SYSTEM, *args, **kwargs)


def job(make: Factory, when: datetime):  # type: ignore[no-untyped-def]
    line = make.product_line()
    product = make.product(line.id)
    tech = make.technician(certified_for=[line.id])
    order = at(when, make.work_order, product_id=product.id)
    # planned, nobody assigned yet, its time not confirmed with the customer (that would move the on-site
    # deadline, see test_confirmed_visit_time_is_the_on_site_deadline)
    visit = at(when, make.visit, order.id, start=local(2027, 1, 4, 9, 0), confirmed=False)
    return order, visit, tech


def start_and_finish(app: Flask, make: Factory, visit, arrive: datetime, depart: datetime, *,  # type: ignore[no-untyped-def]
                     arrived_at: datetime | None = None, departed_at: datetime | None = None) -> None:
    """The dispatcher waives the confirmation (no agreed time: the policy's limits apply), the technician
    arrives, writes the repair record and reports the work complete."""
    service_call(app, arrive, visits.waive_confirmation, visit.id, "客户电话未接通，按紧急报修上门 urgent call-out")
    service_call(app, arrive, visits.record_arrival, visit.id, arrived_at=arrived_at)
    at(depart, make.job_record, visit.id)
    service_call(app, depart, visits.record_departure, visit.id, work_complete=True, departed_at=departed_at)


def test_clocks_count_business_time_across_holiday_and_weekend(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, _, _ = job(make, THU_1700)
    c = clocks(app, order.id)
    assert {k: v.status for k, v in c.items()} == {t: ClockStatus.RUNNING for t in ("respond", "on_site", "fix")}
    assert all(v.business_time and v.policy_id == default_policy.id for v in c.values())
    assert c["respond"].due_at == local(2026, 12, 31, 17, 30)
    assert c["on_site"].due_at == local(2027, 1, 4, 10, 0)   # 1 h Thursday + 1 h Monday
    assert c["fix"].due_at == local(2027, 1, 4, 12, 0)       # 1 h Thursday + 3 h Monday


def test_breach_recorded_and_escalated_once(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, visit, tech = job(make, THU_1700)
    assert scan(app, local(2026, 12, 31, 17, 29)) == 0
    assert scan(app, local(2026, 12, 31, 17, 31)) == 1
    assert scan(app, local(2026, 12, 31, 17, 45)) == 0           # the same breach is not recorded twice
    assert scan(app, local(2027, 1, 3, 23, 0)) == 0              # holiday and weekend count nothing
    assert breaches(app) == [("respond", order.id)]
    [note] = escalations(app)
    assert note.recipient == "supervisor@example.cn" and note.channel is Channel.EMAIL
    assert note.dedupe_key.startswith("sla.breach:")
    assert note.payload["target"] == "respond" and note.payload["work_order_number"] == order.number
    assert note.payload["due_at"] == local(2026, 12, 31, 17, 30).astimezone(UTC).isoformat()

    # assigning late stops the respond clock; its breach stays the only one
    service_call(app, local(2027, 1, 4, 9, 15), visits.assign_technician, visit.id, tech.id)
    assert clocks(app, order.id)["respond"].status is ClockStatus.STOPPED
    assert scan(app, local(2027, 1, 4, 9, 20)) == 0
    assert len(escalations(app)) == 1


def test_arrival_stops_on_site_and_work_complete_pauses_fix(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, visit, tech = job(make, THU_1700)
    service_call(app, local(2026, 12, 31, 17, 20), visits.assign_technician, visit.id, tech.id)
    start_and_finish(app, make, visit, local(2027, 1, 4, 9, 50), local(2027, 1, 4, 11, 0))
    c = clocks(app, order.id)
    assert c["respond"].status is ClockStatus.STOPPED and c["respond"].breached_at is None
    assert c["on_site"].status is ClockStatus.STOPPED and c["on_site"].breached_at is None
    assert c["fix"].status is ClockStatus.PAUSED and c["fix"].due_at is None
    assert c["fix"].elapsed_seconds == 3 * 3600                    # Thu 17-18 and Mon 09-11
    assert scan(app, local(2027, 1, 4, 16, 0)) == 0                # paused: past 12:00 but no breach

    # the customer does not accept (R-REP-7): rework resumes the fix clock with one hour left
    service_call(app, local(2027, 1, 4, 14, 0), workorders.change_status, order.id, WorkOrderStatus.REWORK)
    fix = clocks(app, order.id)["fix"]
    assert fix.status is ClockStatus.RUNNING and fix.due_at == local(2027, 1, 4, 15, 0)
    assert scan(app, local(2027, 1, 4, 15, 1)) == 1
    assert breaches(app) == [("fix", order.id)]
    assert [n.payload["target"] for n in escalations(app)] == ["fix"]


def test_confirmed_visit_time_is_the_on_site_deadline(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, visit, tech = job(make, THU_1700)
    service_call(app, local(2026, 12, 31, 17, 10), visits.assign_technician, visit.id, tech.id)
    service_call(app, local(2026, 12, 31, 17, 15), visits.confirm_with_customer, visit.id)
    on_site = clocks(app, order.id)["on_site"]
    assert on_site.agreed_due_at == local(2027, 1, 4, 11, 0) == on_site.due_at   # end of the agreed window
    assert scan(app, local(2027, 1, 4, 10, 30)) == 0                 # past 2 h, but within the agreed time
    service_call(app, local(2027, 1, 4, 10, 45), visits.record_arrival, visit.id)
    assert clocks(app, order.id)["on_site"].breached_at is None


def test_late_stop_before_any_scan_is_still_a_breach(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, visit, tech = job(make, THU_1700)
    service_call(app, local(2027, 1, 4, 9, 5), visits.assign_technician, visit.id, tech.id)
    assert breaches(app) == [("respond", order.id)]
    assert len(escalations(app)) == 1
    assert scan(app, local(2027, 1, 4, 9, 6)) == 0


def test_cancelled_job_stops_every_clock(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, _, _ = job(make, THU_1700)
    service_call(app, local(2026, 12, 31, 17, 5), workorders.change_status, order.id, WorkOrderStatus.CANCELLED,
                 reason="客户取消")
    assert {c.status for c in clocks(app, order.id).values()} == {ClockStatus.CANCELLED}
    assert scan(app, local(2027, 2, 1, 12, 0)) == 0 and escalations(app) == []


def test_without_policy_the_r_sla_1_defaults_run_round_the_clock(app: Flask, make: Factory) -> None:
    start = datetime(2027, 1, 2, 20, 0, tzinfo=UTC)  # a Saturday evening
    order, _, _ = job(make, start)
    c = clocks(app, order.id)
    assert c["respond"].policy_id is None and not c["respond"].business_time
    assert (c["respond"].due_at, c["on_site"].due_at, c["fix"].due_at) == (
        start + timedelta(minutes=30), start + timedelta(hours=2), start + timedelta(hours=4))
    assert scan(app, start + timedelta(minutes=31)) == 1
    [note] = escalations(app)
    assert note.recipient == app.config["SLA_ESCALATE_TO"] and note.channel is Channel.WEBHOOK


def test_maintenance_jobs_have_no_race_clocks(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order = at(THU_1700, make.work_order, kind="maintenance")
    assert clocks(app, order.id) == {}


def test_contract_policy_overrides_the_default(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    from fieldservice.assets import service as assets
    from fieldservice.contracts import service as contracts

    customer = make.customer()
    site = make.site(customer.id)
    product = make.product()
    with app.app_context(), unit_of_work():
        contract = contracts.create_contract(SYSTEM, {
            "number": "HT-2026-001", "customer_id": customer.id, "signed_on": date(2026, 1, 1),
            "lines": [{"product_id": product.id, "unit_price_minor": 100_000, "sale_date": date(2026, 1, 1)}]})
        line_id = contract.lines[0].id
        policy = sla.create_policy(SYSTEM, {"name": "VIP 医院", "contract_id": contract.id, "respond_minutes": 10,
                                            "on_site_minutes": 60, "fix_minutes": 180, "answer_minutes": 60})
        policy_id = policy.id
        asset = assets.create_asset(SYSTEM, {"customer_id": customer.id, "site_id": site.id,
                                             "product_id": product.id, "serial_number": "SN-VIP-1",
                                             "contract_line_id": line_id})
        asset_id = asset.id
    start = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
    order = at(start, make.work_order, customer_id=customer.id, site_id=site.id, product_id=product.id,
               asset_id=asset_id)
    c = clocks(app, order.id)
    assert c["respond"].policy_id == policy_id and c["respond"].target_minutes == 10
    assert c["respond"].due_at == start + timedelta(minutes=10)  # no calendar on this policy: wall clock


def test_service_request_answer_clock(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    from fieldservice.servicerequests import service as requests
    from fieldservice.servicerequests.models import Channel as ReportChannel

    customer, product = make.customer(), make.product()
    friday = local(2027, 1, 8, 20, 0)
    with time_machine.travel(friday, tick=False), app.app_context(), unit_of_work():
        answered = requests.create_request(SYSTEM, {"customer_id": customer.id, "product_id": product.id,
                                                    "channel": ReportChannel.PHONE, "problem": "怎么清洁滤网？"}).id
        waiting = requests.create_request(SYSTEM, {"customer_id": customer.id, "product_id": product.id,
                                                   "channel": ReportChannel.ONLINE, "problem": "设备报警 E12"}).id
    service_call(app, local(2027, 1, 9, 10, 0), requests.answer_request, answered, "每月清洗一次")
    # answer counts wall-clock time: 24 h after Friday 20:00 is Saturday 20:00, weekend or not
    assert scan(app, local(2027, 1, 9, 19, 59)) == 0
    assert scan(app, local(2027, 1, 9, 20, 1)) == 1
    with app.app_context():
        [breach] = db.session.scalars(sa.select(SlaBreach)).all()
        assert breach.service_request_id == waiting and breach.target.value == "answer"


def test_offline_arrival_stops_clocks_at_the_phones_time(app: Flask, make: Factory, default_policy) -> None:  # type: ignore[no-untyped-def]
    order, visit, tech = job(make, THU_1700)
    service_call(app, local(2026, 12, 31, 17, 10), visits.assign_technician, visit.id, tech.id)
    # arrived Monday 09:40 with no signal; the phone pushes it at 11:30, finished at 10:30
    start_and_finish(app, make, visit, local(2027, 1, 4, 11, 30), local(2027, 1, 4, 11, 31),
                     arrived_at=local(2027, 1, 4, 9, 40), departed_at=local(2027, 1, 4, 10, 30))
    c = clocks(app, order.id)
    assert c["on_site"].stopped_at == local(2027, 1, 4, 9, 40) and c["on_site"].breached_at is None
    assert c["fix"].status is ClockStatus.PAUSED and c["fix"].elapsed_seconds == 3600 + 90 * 60
    assert breaches(app) == []
