"""The demo data (`flask seed-demo`, fieldservice/demo.py) covers every capability and obeys the rules: it is
idempotent, its signed records verify (R-SIG-3), the office finds the demo customer in the archive by its
Chinese name (R-ARC-2), and the demo customer login sees only its own records and quotes (R-ARC-3)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.commerce.models import PriceList, PriceListStatus, Quote, QuoteStatus, WarrantyDecision
from fieldservice.complaints.models import Complaint
from fieldservice.db import utcnow
from fieldservice.demo import DEMO_LOGINS, demo_id
from fieldservice.extensions import db
from fieldservice.followups.models import FollowUpTask
from fieldservice.maintenance.models import MaintenancePlan
from fieldservice.parts.models import LocationKind, Part, StockBalance, StockLocation, StockMovement
from fieldservice.records.models import RecordStatus, ServiceRecord, Signoff
from fieldservice.sla.models import SlaCalendar, SlaPolicy
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from tests.test_cli import table_counts

HUADONG = "华东精密制造有限公司"


def seed(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output


def login(client: FlaskClient, username: str) -> dict[str, str]:
    password = {u: p for u, p, _ in DEMO_LOGINS}[username]
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 201, r.get_data(as_text=True)
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def test_seed_twice_creates_nothing_the_second_time(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    after_first = table_counts(app)
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nothing added" in second.output, second.output
    assert table_counts(app) == after_first
    # what the demo holds
    assert after_first["work_orders"] == 5 and after_first["visits"] == 5
    assert after_first["parts"] == 4 and after_first["stock_locations"] == 3
    assert after_first["maintenance_plans"] == 2 and after_first["signoffs"] == 4
    assert after_first["complaints"] == 1 and after_first["consultations"] == 1
    assert after_first["warranty_terms"] == 2 and after_first["price_lists"] == 1


def test_demo_covers_every_capability_through_the_services(app: Flask) -> None:
    seed(app)
    with app.app_context():
        price_list = db.session.get(PriceList, demo_id("pricelist:2026"))
        assert price_list is not None and price_list.status is PriceListStatus.PUBLISHED and price_list.currency == "CNY"
        assert {i.kind.value for i in price_list.items} == {"part", "labour", "fee"}
        # R-REP-4/R-REP-8: the out-of-warranty job has a paid-repair decision and a presented quote, no consent
        quote = db.session.get(Quote, demo_id("quote:lathe-2021"))
        assert quote is not None and quote.status is QuoteStatus.PRESENTED and quote.content_sha256
        assert quote.total_minor == 2 * 98_000 + 350 * 28_000 // 100 + 30_000
        decision = db.session.scalar(sa.select(WarrantyDecision).where(
            WarrantyDecision.work_order_id == demo_id("wo:lathe-2021")))
        assert decision is not None and decision.chargeable and not decision.in_warranty
        # R-PRT-1: warehouse and two vans; the oil filter is below safety stock at the warehouse
        vans = db.session.scalars(sa.select(StockLocation).where(StockLocation.kind == LocationKind.VAN)).all()
        assert {v.technician_id for v in vans} == {demo_id("tech:wang"), demo_id("tech:li")}
        below = db.session.scalars(sa.select(Part.part_number).join(StockBalance, StockBalance.part_id == Part.id)
                                   .where(StockBalance.below_safety.is_(True))).all()
        assert below == ["LS-FLT-200"]
        issued = db.session.scalar(sa.select(StockMovement).where(StockMovement.id == demo_id("issue:lathe-coolant")))
        assert issued is not None and issued.quantity == -1 and issued.work_order_id == demo_id("wo:lathe-coolant")
        # R-SLA-1: default policy on the Shanghai calendar with a holiday
        policy = db.session.get(SlaPolicy, demo_id("sla:policy"))
        calendar = db.session.get(SlaCalendar, demo_id("sla:calendar"))
        assert policy is not None and policy.is_default and policy.calendar_id == demo_id("sla:calendar")
        assert calendar is not None and calendar.timezone == "Asia/Shanghai" and calendar.holidays
        # R-MNT-1: the monthly chiller plan and the contract plan
        plan = db.session.get(MaintenancePlan, demo_id("plan:chiller-monthly"))
        assert plan is not None and plan.interval == 1 and plan.interval_unit.value == "months"
        assert db.session.get(MaintenancePlan, demo_id("plan:huadong-contract")) is not None
        # R-REP-5/7: the finished repair is signed, and its follow-up call (R-FUP-1) exists
        order = db.session.get(WorkOrder, demo_id("wo:lathe-coolant"))
        assert order is not None and order.status is WorkOrderStatus.SIGNED
        record = db.session.get(ServiceRecord, demo_id("record:lathe-coolant:repair"))
        assert record is not None and record.status is RecordStatus.SIGNED
        signoff = db.session.scalar(sa.select(Signoff).where(Signoff.record_id == record.id))
        assert signoff is not None and signoff.signer_name == "张伟" and signoff.signature_png
        followups = db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.work_order_id == order.id)).all()
        assert [t.due_on for t in followups] == [utcnow().date()]   # signed 3 days ago, FOLLOWUP_REPAIR_DAYS=3
        # R-CMP-1: the complaint is past its 24 h first-response deadline
        complaint = db.session.scalars(sa.select(Complaint)).one()
        assert complaint.first_response_at is None and complaint.response_due_at.date() <= date.today() + timedelta(1)


def test_demo_signed_records_verify(app: Flask) -> None:
    """R-SIG-3: `flask verify-archive` finds the demo's archive chain and signed versions intact."""
    seed(app)
    result = app.test_cli_runner().invoke(args=["verify-archive"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK:") and "4 signed record versions verified" in result.stdout


def test_office_finds_the_demo_customer_by_chinese_name(app: Flask, client: FlaskClient) -> None:
    """R-ARC-2 with the office demo login; the signed repair record's PDF renders."""
    seed(app)
    office = login(client, "office")
    r = client.get("/api/v1/archive/search", headers=office, query_string={"q": "华东精密"})
    assert r.status_code == 200, r.get_data(as_text=True)
    hits = r.get_json()["items"]
    assert hits and {h["customer_name"] for h in hits} == {HUADONG}
    assert "CK6150-24-0007" in {h["serial_number"] for h in hits}
    pdf = client.get(f"/api/v1/records/{demo_id('record:lathe-coolant:repair')}/pdf", headers=office)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_demo_customer_sees_only_its_own_records(app: Flask, client: FlaskClient) -> None:
    """R-ARC-3: the customer login (华东精密) reads its records and its quote, never the mall's."""
    seed(app)
    customer = login(client, "customer")
    own = client.get(f"/api/v1/archive/customers/{demo_id('customer:huadong')}", headers=customer)
    assert own.status_code == 200, own.get_data(as_text=True)
    body: dict[str, Any] = own.get_json()
    assert body["customer"]["name"] == HUADONG and body["records"]["meta"]["total"] >= 1
    listed = client.get("/api/v1/records", headers=customer)
    assert listed.status_code == 200
    assert {r["id"] for r in listed.get_json()["items"]} == {str(demo_id(f"record:lathe-coolant:{kind}"))
                                                    for kind in ("repair", "acceptance", "survey")}
    assert client.get(f"/api/v1/records/{demo_id('record:lathe-coolant:repair')}", headers=customer).status_code == 200
    for url in (f"/api/v1/archive/customers/{demo_id('customer:mall')}",
                f"/api/v1/records/{demo_id('record:chiller-last-month')}",
                f"/api/v1/work-orders/{demo_id('wo:chiller')}"):
        r = client.get(url, headers=customer)
        assert r.status_code == 404 and r.mimetype == "application/problem+json", url
    quotes = client.get("/api/v1/quotes", headers=customer)
    assert quotes.status_code == 200, quotes.get_data(as_text=True)
    assert [q["id"] for q in quotes.get_json()["items"]] == [str(demo_id("quote:lathe-2021"))]


def test_tech_wang_pulls_his_visits_and_van(app: Flask, client: FlaskClient) -> None:
    """The technician demo login: the first sync pull holds his visits (and not Li's) and his van stock."""
    seed(app)
    wang = login(client, "tech.wang")
    r = client.get("/api/v1/sync/pull", headers=wang, query_string={"last_pulled_at": "null", "schema_version": 1})
    assert r.status_code == 200, r.get_data(as_text=True)
    changes = r.get_json()["changes"]
    visit_ids = {v["id"] for v in changes["visits"]["created"] + changes["visits"]["updated"]}
    assert {str(demo_id("visit:lathe")), str(demo_id("visit:lathe-2021"))} <= visit_ids
    assert str(demo_id("visit:chiller")) not in visit_ids
    balances = changes["stock_balances"]["created"] + changes["stock_balances"]["updated"]
    assert {b["location_id"] for b in balances} == {str(demo_id("location:VAN-WANG"))}
    assert {b["part_id"]: b["on_hand"] for b in balances} == {
        str(demo_id("part:CK-BRG-7210")): 2, str(demo_id("part:CK-BELT-HTD")): 2}   # 3 loaded, 1 fitted


def test_office_pages_show_the_demo(app: Flask, client: FlaskClient) -> None:
    """The office demo login (session form) sees the demo on every office page: archive search by Chinese
    name and the signed record, complaints (the overdue one), follow-up calls, KPIs, maintenance plans."""
    from tests.archive.test_pages import login as page_login

    seed(app)
    password = {u: p for u, p, _ in DEMO_LOGINS}["office"]
    assert page_login(client, "office", password).status_code == 302
    pages = {
        "/office/archive?q=华东精密": HUADONG,
        f"/office/records/{demo_id('record:lathe-coolant:repair')}": "冷却泵",
        "/office/complaints": "冷水机组噪音大",
        "/office/follow-ups": HUADONG,                 # who to call, not the work order's UUID
        "/office/kpis": "",
        "/office/maintenance/plans": "冷水机组月度保养",
    }
    for url, text in pages.items():
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        assert text in r.get_data(as_text=True), url


def test_demo_quote_walkthrough_consent_before_parts(app: Flask, client: FlaskClient) -> None:
    """R-REP-4 on the demo's out-of-warranty job: Wang cannot fit the bearings before the customer accepts
    the presented quote (409, nothing written); the customer login accepts it, bound to the quote's hash;
    then the issue from Wang's van goes through."""
    from tests.records.conftest import png_b64

    seed(app)
    wang, customer = login(client, "tech.wang"), login(client, "customer")
    issue = {"part_id": str(demo_id("part:CK-BRG-7210")), "work_order_id": str(demo_id("wo:lathe-2021")),
             "quantity": 2}
    with app.app_context():
        van_before = db.session.scalar(sa.select(StockBalance.on_hand).where(
            StockBalance.part_id == demo_id("part:CK-BRG-7210"), StockBalance.location_id == demo_id("location:VAN-WANG")))
    assert van_before == 2
    refused = client.post("/api/v1/stock-movements/issues", json=issue, headers=wang)
    assert refused.status_code == 409 and refused.get_json()["type"].endswith("/consent_required")
    quote_id = demo_id("quote:lathe-2021")
    canonical = client.get(f"/api/v1/quotes/{quote_id}/canonical", headers=customer)
    assert canonical.status_code == 200 and "主轴轴承" in canonical.get_json()["canonical_json"]
    consent = client.post(f"/api/v1/quotes/{quote_id}/consent", headers=customer, json={
        "decision": "accepted", "content_sha256": canonical.get_json()["content_sha256"], "signer_name": "张伟",
        "signature_png": png_b64()})
    assert consent.status_code == 201, consent.get_data(as_text=True)
    assert consent.get_json()["channel"] == "portal"
    issued = client.post("/api/v1/stock-movements/issues", json=issue, headers=wang)
    assert issued.status_code == 201, issued.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(StockBalance.on_hand).where(
            StockBalance.part_id == demo_id("part:CK-BRG-7210"),
            StockBalance.location_id == demo_id("location:VAN-WANG"))) == 0


def test_demo_shows_the_certification_and_safety_stock_rules(app: Flask, client: FlaskClient) -> None:
    """What docs/demo.md invites people to try: R-TEC-1 (Wang's HVAC certificate has expired, so the
    dispatcher cannot put him on the chiller visit; nothing changes) and R-PRT-1 (the oil filter is below
    safety stock at the warehouse, visible to the parts keeper)."""
    seed(app)
    dispatcher, parts = login(client, "dispatcher"), login(client, "parts")
    visit_url = f"/api/v1/visits/{demo_id('visit:chiller')}"
    r = client.put(f"{visit_url}/assignment", json={"technician_id": str(demo_id("tech:wang"))}, headers=dispatcher)
    assert r.status_code == 422 and r.mimetype == "application/problem+json", r.get_data(as_text=True)
    assert client.get(visit_url, headers=dispatcher).get_json()["technician_id"] == str(demo_id("tech:li"))
    r = client.get("/api/v1/stock-balances", headers=parts, query_string={"below_safety": "true"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [(b["part_id"], b["location_id"], b["on_hand"]) for b in r.get_json()["items"]] == [
        (str(demo_id("part:LS-FLT-200")), str(demo_id("location:WH-SH")), 4)]
