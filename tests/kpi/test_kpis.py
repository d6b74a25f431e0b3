"""KPIs (R-KPI-1) on small hand-made data whose expected values are worked out in the comments."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.complaints import service as complaints
from fieldservice.complaints.models import ComplaintChannel
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.kpi import service as kpi
from fieldservice.lifecycle.guard import historical_import
from fieldservice.parts import service as parts
from fieldservice.parts.models import LocationKind
from fieldservice.records.models import RecordKind, RecordStatus, ServiceRecord
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder, WorkOrderKind
from tests.factories import Factory


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


NOW = at(25, 0)
RANGE = (date(2026, 11, 1), date(2026, 11, 30))


def _visit(app: Flask, visit_id: uuid.UUID, **values: object) -> None:
    """Write a visit's past facts directly (KPI history; the lifecycle guard stands aside for fixtures)."""
    with app.app_context(), unit_of_work(), historical_import(db.session):
        visit = db.session.get(Visit, visit_id)
        for key, value in values.items():
            setattr(visit, key, value)


def _survey(app: Flask, visit: SimpleNamespace, technician_id: uuid.UUID, overall: int, created: datetime,
            previous: uuid.UUID | None = None) -> uuid.UUID:
    with app.app_context(), unit_of_work():
        record_id = uuid.uuid4()
        db.session.add(ServiceRecord(
            id=record_id, root_id=previous or record_id, version_no=2 if previous else 1, previous_version_id=previous,
            kind=RecordKind.SATISFACTION_SURVEY, status=RecordStatus.DRAFT, work_order_id=visit.work_order_id,
            visit_id=visit.id, technician_id=technician_id, created_at=created, updated_at=created,
            content={"ratings": {"response_time": 5, "attitude": 5, "quality": overall, "overall": overall},
                     "comments": "服务很好"}))
        return record_id


@pytest.fixture
def data(app: Flask, make: Factory) -> SimpleNamespace:
    a_job1 = make.dispatched_job(start=at(10, 9))                       # technician A, repair WO1
    make.warranty_repair(a_job1.order.id)                                # its parts are free (no quote needed)
    tech_a = a_job1.technician
    a_job2 = make.dispatched_job(start=at(11, 9), technician=tech_a)   # repair WO2, two visits
    v3 = make.visit(a_job2.order.id, start=at(12, 9), technician_id=tech_a.id)
    make.dispatched_job(start=at(13, 9), technician=tech_a)   # never attended
    a_job5 = make.dispatched_job(start=at(14, 9), technician=tech_a)   # cancelled
    a_job6 = make.dispatched_job(start=at(2, 9, month=12), technician=tech_a)  # out of range
    b_job = make.dispatched_job(start=at(15, 9))
    tech_b = b_job.technician

    # stock: warehouse W, A's van; P1 1000/unit (safety 5), P2 500/unit, P3 free (ends at 0 on hand)
    with app.app_context(), unit_of_work():
        w = parts.create_location(SYSTEM, {"code": "W1", "name": "上海仓", "kind": LocationKind.WAREHOUSE})
        van = parts.create_location(SYSTEM, {"code": "VAN-A", "name": "A 的车", "kind": LocationKind.VAN,
                                             "technician_id": tech_a.id})
        p1 = parts.create_part(SYSTEM, {"part_number": "P1", "name": "泵", "unit_cost_minor": 1000, "safety_stock": 5})
        p2 = parts.create_part(SYSTEM, {"part_number": "P2", "name": "阀", "unit_cost_minor": 500})
        p3 = parts.create_part(SYSTEM, {"part_number": "P3", "name": "垫片", "unit_cost_minor": 0})
        ids = SimpleNamespace(w=w.id, van=van.id, p1=p1.id, p2=p2.id, p3=p3.id)
    steps = [
        (at(20, 8, month=10), lambda: parts.receive_stock(SYSTEM, {"part_id": ids.p1, "location_id": ids.w, "quantity": 10}, now=at(20, 8, month=10))),
        (None, lambda: parts.receive_stock(SYSTEM, {"part_id": ids.p2, "location_id": ids.w, "quantity": 4}, now=at(20, 8, month=10))),
        (None, lambda: parts.receive_stock(SYSTEM, {"part_id": ids.p3, "location_id": ids.w, "quantity": 1}, now=at(20, 8, month=10))),
        (None, lambda: parts.adjust_stock(SYSTEM, {"part_id": ids.p3, "location_id": ids.w, "quantity": -1, "reason": "lost"}, now=at(3, 8))),
        (None, lambda: parts.transfer_stock(SYSTEM, {"part_id": ids.p1, "from_location_id": ids.w, "to_location_id": ids.van, "quantity": 4}, now=at(5, 8))),
        (None, lambda: parts.issue_to_job(SYSTEM, {"part_id": ids.p1, "work_order_id": a_job1.order.id, "location_id": ids.van, "quantity": 2}, now=at(10, 10))),
        (None, lambda: parts.return_from_job(SYSTEM, {"part_id": ids.p1, "work_order_id": a_job1.order.id, "location_id": ids.van, "quantity": 1}, now=at(12, 8))),
    ]
    for _, step in steps:
        with app.app_context(), unit_of_work():
            step()

    with app.app_context(), unit_of_work():
        db.session.get(WorkOrder, b_job.order.id).kind = WorkOrderKind.INSTALLATION
    done = {"status": VisitStatus.COMPLETED}
    _visit(app, a_job1.visit.id, arrived_at=at(10, 10, 30), departed_at=at(10, 12), work_complete=True, **done)
    _visit(app, a_job2.visit.id, arrived_at=at(11, 11, 30), departed_at=at(11, 13), work_complete=False, **done)
    _visit(app, v3.id, arrived_at=at(12, 9, 15), departed_at=at(12, 10), work_complete=True, **done)
    _visit(app, a_job5.visit.id, status=VisitStatus.CANCELLED)
    _visit(app, a_job6.visit.id, arrived_at=at(2, 9, month=12), departed_at=at(2, 10, month=12), work_complete=True,
           **done)
    _visit(app, b_job.visit.id, arrived_at=at(15, 10), departed_at=at(15, 11), work_complete=True, **done)

    # surveys: A 5, A 3 corrected to 4 (only the current version counts), B 2, one outside the range
    _survey(app, a_job1.visit, tech_a.id, 5, at(10, 13))
    first = _survey(app, a_job2.visit, tech_a.id, 3, at(12, 11))
    _survey(app, a_job2.visit, tech_a.id, 4, at(12, 12), previous=first)
    _survey(app, b_job.visit, tech_b.id, 2, at(15, 12))
    _survey(app, a_job6.visit, tech_a.id, 1, at(2, 11, month=12))

    # complaints: one about A's visit, one about no visit, one in October
    for visit_id, customer_id, received in ((a_job1.visit.id, a_job1.order.customer_id, at(11, 9)),
                                            (None, b_job.order.customer_id, at(20, 9)),
                                            (None, b_job.order.customer_id, at(20, 9, month=10))):
        with app.app_context(), unit_of_work():
            complaints.log_complaint(SYSTEM, {"customer_id": customer_id, "visit_id": visit_id,
                                              "channel": ComplaintChannel.PHONE, "description": "投诉"}, now=received)
    return SimpleNamespace(a=tech_a, b=tech_b, **vars(ids))


def test_kpis_overall_and_per_technician(app: Flask, data: SimpleNamespace) -> None:
    with app.app_context():
        report = kpi.compute_kpis(*RANGE, tz="UTC", now=NOW)
    overall = report["overall"]
    by_tech = {t["technician_id"]: t["kpis"] for t in report["technicians"]}
    a, b = by_tech[data.a.id], by_tech[data.b.id]

    # on time: A's visits due in range v1 (on time), v2 (late), v3 (on time), v4 (window over, never came);
    # the cancelled and the December visit do not count. B: 1 of 1.
    assert (a["on_time_rate"]["numerator"], a["on_time_rate"]["denominator"]) == (2, 4)
    assert (b["on_time_rate"]["numerator"], b["on_time_rate"]["denominator"]) == (1, 1)
    assert overall["on_time_rate"]["value"] == 0.6 and overall["on_time_rate"]["meets_target"] is False

    # first-time fix: A's completing repair visits v1 (first attended) and v3 (after v2): 1 of 2; B's job is
    # an installation
    assert (a["first_time_fix_rate"]["numerator"], a["first_time_fix_rate"]["denominator"]) == (1, 2)
    assert b["first_time_fix_rate"]["denominator"] == 0 and b["first_time_fix_rate"]["value"] is None
    assert overall["first_time_fix_rate"]["value"] == 0.5

    # satisfaction: A 5 and 4 (the corrected 3 is superseded) = 2 of 2; B 2 = 0 of 1; overall 2/3
    assert a["satisfaction"]["value"] == 1.0 and a["satisfaction"]["average_rating"] == 4.5
    assert b["satisfaction"]["value"] == 0.0 and b["satisfaction"]["meets_target"] is False
    assert overall["satisfaction"]["value"] == round(2 / 3, 4)

    # complaints: A 1 complaint over 3 completed visits; overall 2 (one without a visit) over 4
    assert (a["complaint_rate"]["numerator"], a["complaint_rate"]["denominator"]) == (1, 3)
    assert overall["complaint_rate"]["value"] == 0.5 and overall["complaint_rate"]["meets_target"] is False

    # parts availability (now): W has P1 6 >= 5 yes, P2 4 >= 1 yes, P3 0 no; A's van P1 3 > 0 yes
    assert (overall["parts_availability"]["numerator"], overall["parts_availability"]["denominator"]) == (3, 4)
    assert a["parts_availability"]["value"] == 1.0

    # turnover: issued in range 2 x 1000 - 1 returned x 1000 = 1000; opening (Nov 1) W 10x1000 + 4x500 = 12000,
    # closing W 6000 + 2000, van 3000 = 11000 -> 1000 / 11500; A's van: 1000 / ((0 + 3000) / 2)
    turnover = overall["inventory_turnover"]
    assert (turnover["numerator"], turnover["opening_value"], turnover["closing_value"]) == (1000, 12000, 11000)
    assert turnover["value"] == round(1000 / 11500, 4)
    assert a["inventory_turnover"]["value"] == round(1000 / 1500, 4)


def test_technician_filter_and_empty_range(app: Flask, data: SimpleNamespace) -> None:
    with app.app_context():
        only_b = kpi.compute_kpis(*RANGE, technician_id=data.b.id, tz="UTC", now=NOW)
        empty = kpi.compute_kpis(date(2025, 1, 1), date(2025, 1, 31), tz="UTC", now=NOW)
    assert [t["technician_id"] for t in only_b["technicians"]] == [data.b.id]
    assert only_b["overall"]["on_time_rate"]["value"] == 0.6  # overall stays company-wide
    assert empty["overall"]["on_time_rate"]["value"] is None
    # in a range before any work only the stock figures exist (A's van holds stock; turnover 0 issued)
    [a_only] = empty["technicians"]
    assert a_only["technician_id"] == data.a.id and a_only["kpis"]["satisfaction"]["value"] is None
    assert a_only["kpis"]["inventory_turnover"]["numerator"] == 0


def test_kpi_endpoint(client: FlaskClient, data: SimpleNamespace, headers) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    response = client.get("/api/v1/kpis?from=2026-11-01&to=2026-11-30&tz=UTC", headers=office)
    assert response.status_code == 200
    body = response.get_json()
    assert body["from"] == "2026-11-01" and body["overall"]["satisfaction"]["target"] == {"op": ">=", "value": 0.85}
    assert set(body["definitions"]) >= {"on_time_rate", "first_time_fix_rate", "satisfaction", "complaint_rate",
                                        "parts_availability", "inventory_turnover"}
    assert len(body["technicians"]) == 2
    # without dates: the last 30 days up to today in the asked zone, like the office page
    default = client.get("/api/v1/kpis?tz=Asia/Shanghai", headers=office).get_json()
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert (default["from"], default["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert client.get("/api/v1/kpis?to=2026-11-30", headers=office).get_json()["from"] == "2026-11-01"
    for bad in ("from=2026-11-30&to=2026-11-01", "from=nope&to=2026-11-01", "from=2999-01-01",
                "from=2026-11-01&to=2026-11-30&tz=Mars/Base", "from=2026-11-01&to=2026-11-30&x=1"):
        refused = client.get(f"/api/v1/kpis?{bad}", headers=office)
        assert refused.status_code == 422, bad
        assert refused.mimetype == "application/problem+json"
    for role in ("technician", "dispatcher", "parts_keeper"):
        assert client.get("/api/v1/kpis?from=2026-11-01&to=2026-11-30", headers=headers(role=role)).status_code == 403


def test_office_kpi_page_renders_chinese(client: FlaskClient, data: SimpleNamespace, headers) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/office/kpis?from=2026-11-01&to=2026-11-30", headers=headers(role="office"))
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "准时率" in html and "客户满意度" in html and "On-time rate" not in html
    assert "&gt;= 90.0%" in html and "60.0%" in html and "charset=utf-8" in page.content_type
    assert 'class="miss"' in html  # on-time 60% is below target
    assert client.get("/office/kpis", headers=headers(role="technician")).status_code == 403
    anonymous = client.get("/office/kpis")           # a page without a caller goes to the login form
    assert anonymous.status_code == 302 and "/office/login" in anonymous.headers["Location"]
    assert client.get("/office/kpis?from=bad", headers=headers(role="office")).status_code == 422


def test_first_time_fix_fact_follows_late_and_corrected_arrivals(app: Flask, make: Factory) -> None:
    """visits.first_time_fix is kept up to date whatever order the facts arrive in (an earlier visit's
    arrival pushed from a phone after the completing visit, a corrected arrival time)."""
    job = make.dispatched_job(start=at(10, 9))
    second = make.visit(job.order.id, start=at(12, 9), technician_id=job.technician.id)

    def flags() -> tuple[bool | None, bool | None]:
        with app.app_context():
            return (db.session.get(Visit, job.visit.id).first_time_fix, db.session.get(Visit, second.id).first_time_fix)

    _visit(app, second.id, arrived_at=at(12, 9), departed_at=at(12, 11), work_complete=True,
           status=VisitStatus.COMPLETED)
    assert flags() == (None, True)            # so far the only attended visit: fixed first time
    _visit(app, job.visit.id, arrived_at=at(10, 9), departed_at=at(10, 10), status=VisitStatus.COMPLETED)
    assert flags() == (None, False)           # an earlier attended visit arrived late: not first time
    _visit(app, job.visit.id, arrived_at=at(13, 9), departed_at=at(13, 10))
    assert flags() == (None, True)            # corrected: that visit came after the fix
    with app.app_context():
        r = kpi.day_range(*RANGE, "UTC", now=NOW)
        rows = db.session.execute(kpi.first_time_fix_query(r)).mappings().all()
        assert [(row["technician_id"], row["numerator"], row["denominator"]) for row in rows] == [
            (job.technician.id, 1, 1)]
