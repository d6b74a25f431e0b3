"""The periodic complaint summary (R-CMP-1 "summarized periodically"): known complaints at known times, the
figures computed in SQL (the same on SQLite and PostgreSQL), the default range, refused ranges and roles,
and the same figures on the office complaint board."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.complaints import service
from fieldservice.complaints.models import ComplaintChannel
from fieldservice.db import unit_of_work
from fieldservice.errors import Forbidden, ValidationFailed
from tests.factories import Factory

PROBLEM = "application/problem+json"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def known(app: Flask, make: Factory) -> SimpleNamespace:
    """Complaints received in November 2026 (and one the second before it), taken through their steps at
    the times R-CMP-1 is about. Expected figures for 2026-11-01..2026-11-30 at NOW (11-30 12:00 UTC):
    A closed (answered in 6 h, resolved in 30 h), B resolved (unreachable, answered in 40 h < 48 h, resolved
    in 54 h), C investigating (answered late, 30 h > 24 h), D open and overdue, E open and not yet due,
    H open and overdue (received on the range's first instant), F the second before the range."""
    owner = make.user("office")
    customer = make.customer("上海仁济医院")
    ax = make.product(model_code="AX-100", name="立式加工中心 vertical machining centre")
    bx = make.product(model_code="BX-200", name="数控车床 CNC lathe")

    def log(received_at: datetime, product: Any, channel: ComplaintChannel) -> uuid.UUID:
        with app.app_context(), unit_of_work():
            return service.log_complaint(SYSTEM, {
                "customer_id": customer.id, "channel": channel, "received_at": received_at,
                "description": "设备异响 abnormal noise", "owner_user_id": owner.id,
                "product_id": product.id if product else None}, now=received_at).id

    def step(fn: Any, *args: Any, **kwargs: Any) -> None:
        with app.app_context(), unit_of_work():
            fn(SYSTEM, *args, **kwargs)

    a = log(_at(10, 8), ax, ComplaintChannel.PHONE)
    step(service.record_first_response, a, "已致电 called", now=_at(10, 8) + 6 * H)
    step(service.resolve, a, "更换轴承 bearing replaced", now=_at(10, 8) + 30 * H)
    step(service.record_feedback, a, "客户满意", True, now=_at(10, 8) + 40 * H)

    b = log(_at(12, 9), ax, ComplaintChannel.EMAIL)
    step(service.record_contact_failed, b, "无人接听 no answer", now=_at(12, 9) + 3 * H)
    step(service.record_first_response, b, "已联系 reached", now=_at(12, 9) + 40 * H)
    step(service.resolve, b, "调整参数 settings adjusted", now=_at(12, 9) + 54 * H)

    c = log(_at(15, 10), bx, ComplaintChannel.ONLINE)
    step(service.record_first_response, c, "迟到的回复 late answer", now=_at(15, 10) + 30 * H)

    d = log(NOW - 30 * H, None, ComplaintChannel.PHONE)
    e = log(NOW - 2 * H, bx, ComplaintChannel.PHONE)
    h = log(_at(1, 0), bx, ComplaintChannel.WALK_IN)
    f = log(_at(1, 0) - timedelta(seconds=1), ax, ComplaintChannel.PHONE)
    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e, h=h, f=f, ax=ax, bx=bx)


def _expected_november(known: SimpleNamespace) -> dict[str, Any]:
    return {
        "from": "2026-11-01", "to": "2026-11-30", "as_of": NOW.isoformat(),
        "total": 6, "overdue": 2, "responded": 3, "responded_within_24h": 1, "responded_within_48h": 1,
        "responded_late": 1, "resolved": 2, "closed": 1,
        "avg_hours_to_first_response": round((6 + 40 + 30) / 3, 2), "avg_hours_to_resolution": 42.0,
        "by_status": {"open": 3, "investigating": 1, "resolved": 1, "closed": 1},
        "by_channel": {"phone": 3, "email": 1, "online": 1, "walk_in": 1, "visit": 0, "follow_up": 0},
        "by_product": [
            {"product_id": str(known.bx.id), "model_code": "BX-200", "name": "数控车床 CNC lathe",
             "complaints": 3, "overdue": 1, "resolved": 0},
            {"product_id": str(known.ax.id), "model_code": "AX-100", "name": "立式加工中心 vertical machining centre",
             "complaints": 2, "overdue": 0, "resolved": 2},
            {"product_id": None, "model_code": None, "name": None, "complaints": 1, "overdue": 1, "resolved": 0},
        ],
    }


def test_summary_of_known_complaints_over_the_api(client: FlaskClient, headers, known: SimpleNamespace) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        office = headers(role="office")
        explicit = client.get("/api/v1/complaints/summary?from=2026-11-01&to=2026-11-30", headers=office)
        assert explicit.status_code == 200, explicit.get_json()
        assert explicit.get_json() == _expected_november(known)
        # default: the last 30 days up to today (UTC) -- here exactly November
        default = client.get("/api/v1/complaints/summary", headers=office)
        assert default.get_json() == _expected_november(known)
        # only `to`: the 30 days ending there
        assert client.get("/api/v1/complaints/summary?to=2026-11-30",
                          headers=office).get_json()["total"] == 6
        # the day before the range holds only F (received at 23:59:59); A to H are not counted there
        october = client.get("/api/v1/complaints/summary?from=2026-10-31&to=2026-10-31", headers=office).get_json()
        assert (october["total"], october["overdue"], october["by_status"]["open"]) == (1, 1, 1)
        assert [p["model_code"] for p in october["by_product"]] == ["AX-100"]
        assert october["avg_hours_to_first_response"] is None and october["avg_hours_to_resolution"] is None
        # dispatchers and admins read it too
        for role in ("dispatcher", "admin"):
            assert client.get("/api/v1/complaints/summary", headers=headers(role=role)).status_code == 200


def test_overdue_is_counted_at_the_time_asked(app: Flask, known: SimpleNamespace) -> None:
    with app.app_context():
        # before D's deadline (11-30 06:00) only H is overdue; two days later E is overdue as well
        early = service.summarize_complaints(SYSTEM, start=date(2026, 11, 1), end=date(2026, 11, 30),
                                             now=NOW - 7 * H)
        assert early["overdue"] == 1
        later = service.summarize_complaints(SYSTEM, start=date(2026, 11, 1), end=date(2026, 11, 30),
                                             now=NOW + 48 * H)
        assert later["overdue"] == 3 and later["total"] == 6


def test_empty_range_gives_zeros(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        body = client.get("/api/v1/complaints/summary?from=2026-01-01&to=2026-01-31",
                          headers=headers(role="office")).get_json()
    assert body["total"] == 0 and body["by_product"] == [] and body["avg_hours_to_resolution"] is None
    assert set(body["by_status"].values()) == {0}


@pytest.mark.parametrize(("query", "status"), [
    ("from=2026-11-30&to=2026-11-01", 422),              # from after to
    ("from=2025-11-29&to=2026-11-30", 422),              # 367 days
    ("from=2026-13-01", 422),                            # not a date
    ("from=2026-11-01T00:00:00Z", 422),                  # days, not times
    ("to=", 422),
    ("tz=UTC", 422),                                     # unknown parameter
])
def test_bad_ranges_are_problems(client: FlaskClient, headers, query: str, status: int) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/complaints/summary?{query}", headers=headers(role="office"))
    assert response.status_code == status and response.mimetype == PROBLEM
    assert response.get_json()["status"] == status


def test_the_longest_range_is_366_days(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    ok = client.get("/api/v1/complaints/summary?from=2025-11-30&to=2026-11-30", headers=headers(role="office"))
    assert ok.status_code == 200 and ok.get_json()["from"] == "2025-11-30"


def test_only_complaint_handlers_read_the_summary(client: FlaskClient, app: Flask, make: Factory,  # type: ignore[no-untyped-def]
                                                  headers) -> None:
    customer = make.customer()
    login = make.user("customer", customer_id=customer.id)
    as_customer = client.get("/api/v1/complaints/summary",
                             headers={"Authorization": f"Bearer {make.token(login.id)}"})
    assert as_customer.status_code == 403 and as_customer.mimetype == PROBLEM
    for role in ("technician", "parts_keeper"):
        assert client.get("/api/v1/complaints/summary", headers=headers(role=role)).status_code == 403
    assert client.get("/api/v1/complaints/summary").status_code == 401
    # the service refuses too, whoever calls it
    from fieldservice.auth.models import Role
    from fieldservice.auth.service import Actor

    with app.app_context(), pytest.raises(Forbidden):
        service.summarize_complaints(Actor(user_id=None, role=Role.TECHNICIAN, display_name="t"), now=NOW)
    with app.app_context(), pytest.raises(ValidationFailed):
        service.summarize_complaints(SYSTEM, start=date(2026, 2, 1), end=date(2026, 1, 1), now=NOW)


def test_office_board_shows_the_summary(client: FlaskClient, headers, known: SimpleNamespace) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        office = headers(role="office")
        page = client.get("/office/complaints?from=2026-11-01&to=2026-11-30", headers=office)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "汇总 11月1日 – 11月30日" in html
        assert "<th>收到</th><td>6</td>" in html
        assert '<th>逾期未首次响应</th><td class="miss">2</td>' in html
        assert "<th>24 小时内首次响应</th><td>1</td>" in html
        assert "<th>平均首次响应时间</th><td>25.3 小时</td>" in html
        assert "<th>平均解决时间</th><td>42 小时</td>" in html
        assert "<td>BX-200</td><td>数控车床 CNC lathe</td><td>3</td><td>1</td><td>0</td>" in html
        assert "未指定产品" in html
        # default range on the page too; a bad date is refused, not a 500
        assert "汇总 11月1日 – 11月30日" in client.get("/office/complaints", headers=office).get_data(as_text=True)
        assert client.get("/office/complaints?from=bad", headers=office).status_code == 422
        assert client.get("/office/complaints?from=2026-12-01&to=2026-11-01", headers=office).status_code == 422
