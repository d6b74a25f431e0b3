"""Issue 14 in headless Chromium over real HTTP, driven as a person does (log in, fill what the page shows, click):
the dispatcher assigns from the board and sees the certification refusal (R-TEC-1), reschedules, watches the board
follow another change without a reload, and resolves a quarantined phone change; the office records a follow-up
outcome and answers a complaint (R-CMP-1); a plan is created through the form as the browser fills it; the
customer accepts a quote on a phone-sized screen (R-REP-4); every page of every role fits a 1366×768 laptop.
One browser for the session (tests/browser/conftest.py); screenshots go to the artefact folder."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.commerce.models import Quote, QuoteStatus
from fieldservice.complaints.models import Complaint, ComplaintStatus
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.followups.models import FollowUpTask
from fieldservice.maintenance.models import MaintenancePlan
from fieldservice.visits.models import Visit
from sync.models import RejectionStatus, SyncRejection
from tests.commerce.conftest import FEE, LABOUR, PART, line
from tests.factories import Factory
from tests.web.helpers import at_site, board_world, get_row, quarantined

PASSWORD = "correct horse battery"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@contextmanager
def person(browser: Any, live_url: str, username: str | None, *, viewport: dict[str, int] = LAPTOP,
           password: str = PASSWORD) -> Iterator[Any]:
    """A fresh browser context (zh), logged in through the login form when a username is given."""
    context = browser.new_context(locale="zh-CN", viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        if username:
            page.goto(live_url + "/office/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#who")
        yield page
    finally:
        context.close()


def fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def test_dispatcher_assigns_from_the_board_sees_r_tec_1_reschedules_and_the_board_follows(
        app: Flask, live_url: str, browser: Any, make: Factory, browser_artifacts: Path) -> None:
    app.config["BOARD_POLL_SECONDS"] = 1
    world = board_world(make)
    zhao = make.technician(name="赵强", certified_for=[world.chillers.id])
    make.user("dispatcher", username="调度刘洋")
    with person(browser, live_url, "调度刘洋") as page:
        page.goto(f"{live_url}/office/board?day={world.day.isoformat()}")
        page.click(f"#queue-card-{world.visit.id}")
        page.wait_for_selector(f"#visit-panel[data-visit-id='{world.visit.id}']")
        page.select_option("#assign-technician", str(world.wang.id))
        page.click("#assign-form button[type=submit]")
        refusal = page.wait_for_selector("#side-panel .refusal[data-code=technician_not_certified]")
        assert "R-TEC-1" in refusal.inner_text() and "上岗证" in refusal.inner_text()
        page.screenshot(path=str(browser_artifacts / "board-refusal-r-tec-1.png"))
        assert get_row(app, Visit, world.visit.id).technician_id is None

        page.select_option("#assign-technician", str(zhao.id))
        page.click("#assign-form button[type=submit]")
        page.wait_for_selector("#side-panel #saved")
        page.wait_for_selector(f"tr[data-technician-id='{zhao.id}'] #card-{world.visit.id}")   # the grid followed
        page.fill("#reschedule-form input[name=start]", "14:00")
        page.fill("#reschedule-form input[name=end]", "16:00")
        page.click("#reschedule-form button[type=submit]")
        page.wait_for_selector("#visit-when:has-text('14:00')")
        assert "重新与客户确认" in page.inner_text("#saved")
        visit = get_row(app, Visit, world.visit.id)
        assert visit.technician_id == zhao.id and visit.scheduled_start == at_site(world.day, 14)

        page.evaluate("window.__stillHere = true")          # someone else plans a visit: no reload, new card
        other = make.visit(world.order.id, start=at_site(world.day, 17), technician_id=zhao.id)
        page.wait_for_selector(f"#card-{other.id}", timeout=10_000)
        assert page.evaluate("window.__stillHere") is True
        fits(page, LAPTOP["width"])
        page.screenshot(path=str(browser_artifacts / "board-after-changes.png"), full_page=True)


def test_dispatcher_resolves_a_quarantined_phone_change(app: Flask, client: FlaskClient, live_url: str,
                                                         browser: Any, make: Factory, browser_artifacts: Path) -> None:
    job = quarantined(app, client, make)
    make.user("dispatcher", username="调度刘洋")
    with person(browser, live_url, "调度刘洋") as page:
        page.click("text=同步隔离")
        card = page.wait_for_selector(f"#rejection-{job.rejection_id}")
        assert "R-SIG-2" in card.inner_text() and "服务记录尚未填写" in card.inner_text()
        page.fill(f"#rejection-{job.rejection_id} input[name=note]", "已电话通知技术员先报离开，再报完工")
        page.click(f"#rejection-{job.rejection_id} button[type=submit]")
        page.wait_for_selector("#saved")
        page.screenshot(path=str(browser_artifacts / "quarantine-resolved.png"), full_page=True)
    row = get_row(app, SyncRejection, job.rejection_id)
    assert row.status is RejectionStatus.RESOLVED and row.resolution_note.startswith("已电话通知")


def test_office_records_a_follow_up_outcome_and_answers_a_complaint(app: Flask, live_url: str, browser: Any,
                                                                    make: Factory, browser_artifacts: Path) -> None:
    from fieldservice.workorders.models import WorkOrder
    from tests.followups.test_pages import signed

    customer = make.customer("华东精密制造有限公司", phone="0512-6666 0001")
    order = make.work_order(customer_id=customer.id)
    with app.app_context(), unit_of_work():
        signed(db.session.get(WorkOrder, order.id), datetime.now(UTC) - timedelta(days=3))
        task_id = db.session.scalars(sa.select(FollowUpTask.id)).one()
    make.user("office", username="客服周敏", display_name="周敏")
    with person(browser, live_url, "客服周敏") as page:
        page.click("text=回访")
        row = f"#call-{task_id}"
        assert "0512-6666 0001" in page.inner_text(row)
        page.check(f"{row} input[name=reached][value=yes]")
        page.select_option(f"{row} select[name=satisfaction]", "5")
        page.fill(f"{row} input[name=remarks]", "修好了，很满意")
        page.click(f"{row} button[type=submit]")
        page.wait_for_selector("#saved")

        page.click("text=投诉")
        page.fill("#log-complaint-form input[name=customer_q]", "华东")
        page.wait_for_selector(f"#complaint-customer option[value='{customer.id}']", state="attached")
        page.select_option("#complaint-customer", str(customer.id))
        page.fill("#log-complaint-form textarea[name=description]", "维修后机床仍有异响")
        page.click("#log-complaint-form button[type=submit]")
        page.wait_for_selector("#complaint-status")
        page.click("#owner-form button[type=submit]")
        page.wait_for_selector("#saved")
        page.fill("#response-form textarea[name=body]", "已致电客户，明天上门复查")
        page.click("#response-form button[type=submit]")
        page.wait_for_selector("#saved")
        assert page.inner_text("#complaint-status") == "调查中"
        page.screenshot(path=str(browser_artifacts / "complaint-answered.png"), full_page=True)
    task = get_row(app, FollowUpTask, task_id)
    assert (task.status.value, task.satisfaction, task.remarks) == ("done", 5, "修好了，很满意")
    with app.app_context():
        complaint = db.session.scalars(sa.select(Complaint)).one()
        assert complaint.status is ComplaintStatus.INVESTIGATING and complaint.first_response_at is not None


def test_a_plan_is_created_through_the_form_as_the_browser_fills_it(app: Flask, live_url: str, browser: Any,
                                                                    make: Factory, equipment: SimpleNamespace,
                                                                    browser_artifacts: Path) -> None:
    """What the browser pre-fills is what gets saved: the checklist used to be pre-filled with a Python repr,
    saved as is, and turned into a work order by the scheduler. The unit is found by its serial number, and an
    uncertified technician is warned of (R-TEC-1) before saving."""
    stranger = make.technician(name="王建国")
    certified = make.technician(name="李明", certified_for=[equipment.line.id])
    make.user("office", username="计划员")
    with person(browser, live_url, "计划员") as page:
        page.goto(live_url + "/office/maintenance/plans/new")
        assert page.input_value("textarea[name=items]") == ""
        page.fill("#asset-q", equipment.asset.serial_number)
        page.wait_for_selector(f"#asset-select option[value='{equipment.asset.id}']", state="attached")
        page.select_option("#asset-select", str(equipment.asset.id))
        page.fill("input[name=name]", "冷水机组季度保养")
        page.fill("textarea[name=items]", "清洗滤网 | 滤网A; 滤网B\n检查制冷剂压力")
        page.select_option("#technician-select", str(stranger.id))
        warning = page.wait_for_selector("#cert-warning .warning")
        assert "R-TEC-1" in warning.inner_text()
        page.screenshot(path=str(browser_artifacts / "plan-form-warning.png"), full_page=True)
        page.select_option("#technician-select", str(certified.id))
        page.wait_for_selector("#cert-warning .warning", state="detached")
        page.click("#save-plan")
        page.wait_for_url("**saved=1")
    with app.app_context():
        plan = db.session.scalars(sa.select(MaintenancePlan)).one()
        assert plan.items == [{"task": "清洗滤网", "checklist": ["滤网A", "滤网B"]},
                              {"task": "检查制冷剂压力", "checklist": []}]
        assert plan.asset_id == equipment.asset.id and plan.technician_id == certified.id


def test_customer_accepts_a_quote_on_a_phone(app: Flask, client: FlaskClient, live_url: str, browser: Any,
                                              job: SimpleNamespace, quote_for: Callable[..., dict[str, Any]],
                                              browser_artifacts: Path) -> None:
    """R-REP-4 on a 390×844 screen: the link opens the quote (zh, its hash shown), the customer writes their
    name and accepts; the consent is bound to that hash."""
    quote = quote_for(job, [line("part", PART, 2), line("labour", LABOUR, 1.5), line("fee", FEE, 1)])
    made = client.post(f"/api/v1/quotes/{quote['id']}/link", headers=job.tech_auth)
    assert made.status_code == 201
    with person(browser, live_url, None, viewport=PHONE) as page:
        page.goto(live_url + made.get_json()["page_url"])
        assert page.inner_text("#content-hash").strip() == quote["content_sha256"]
        assert "¥650.00" in page.inner_text("#quote-total")
        fits(page, PHONE["width"])
        page.screenshot(path=str(browser_artifacts / "quote-phone.png"), full_page=True)
        page.fill("#signer-name", "王经理")
        page.click("#accept")
        page.wait_for_selector("#decided")
        assert "接受" in page.inner_text("#decided")
        fits(page, PHONE["width"])
    assert get_row(app, Quote, uuid.UUID(quote["id"])).status is QuoteStatus.ACCEPTED


ROLE_PAGES = {
    ("dispatcher", "dispatch-demo-pass"): ["/office/", "/office/board", "/office/board?view=day", "/office/requests",
                                           "/office/work-orders", "/office/quarantine", "/office/quotes",
                                           "/office/follow-ups", "/office/complaints", "/office/maintenance/plans",
                                           "/office/maintenance/plans/new", "/office/returns"],
    ("office", "desk-demo-pass"): ["/office/", "/office/quotes", "/office/archive?q=华东精密", "/office/kpis",
                                     "/office/follow-ups", "/office/complaints", "/office/notifications",
                                     "/office/stock"],
    ("parts", "stock-demo-pass"): ["/office/", "/office/stock"],
    ("tech.wang", "wang-demo-pass"): ["/office/"],
    ("customer", "client-demo-pass"): ["/office/"],
}


def test_every_page_of_every_role_fits_a_laptop_screen(app: Flask, live_url: str, browser: Any,
                                                        browser_artifacts: Path) -> None:
    """With the demo data: each role's pages open (200, no horizontal scrolling at 1366×768), and the links of
    the work-order, visit and record pages the board and the archive lead to open too."""
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    for (username, password), paths in ROLE_PAGES.items():
        with person(browser, live_url, username, password=password) as page:
            for path in paths:
                response = page.goto(live_url + path)
                assert response is not None and response.status == 200, (username, path)
                fits(page, LAPTOP["width"])
            for link in ("#board .card", "#search-results a", "#records a", "#my-visits a", "#waiting-quotes a"):
                if page.locator(link).count():
                    target = page.locator(link).first.get_attribute("href")
                    response = page.goto(live_url + target)
                    assert response is not None and response.status == 200, (username, target)
                    fits(page, LAPTOP["width"])
            page.screenshot(path=str(browser_artifacts / f"home-{username}.png"), full_page=True)
