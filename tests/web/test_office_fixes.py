"""Issue 14, the defects of the existing office pages: the plan form's pre-fill and certification warning, the
follow-up calls' name and phone, complaint responses (R-CMP-1), the labelled record page with its PDF and signing
link, the maintenance record's title (保养记录), the KPI page agreeing with the API on the day, `/` and ReDoc."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.complaints.models import Complaint, ComplaintStatus
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.records import labels
from tests.factories import Factory
from tests.web.helpers import get_row

Headers = Callable[..., dict[str, str]]
ROOT = Path(__file__).resolve().parents[2]


def test_new_plan_form_prefills_no_python_repr_and_warns_of_an_uncertified_technician_r_tec_1(
        client: FlaskClient, make: Factory, headers: Headers, equipment: SimpleNamespace) -> None:
    """The form used to pre-fill the checklist with `<built-in method items of dict object at 0x…>` (a dict's
    method looked up for a missing key); the unit is found by a search, not typed as a UUID; choosing a
    technician without a valid certification for the unit's product line warns (R-TEC-1)."""
    auth = headers(role="office")
    page = client.get("/office/maintenance/plans/new", headers=auth).get_data(as_text=True)
    assert "built-in method" not in page and "<textarea name=\"items\"" in page
    found = client.get("/office/pick/assets", headers=auth, query_string={"q": "SN-"}).get_data(as_text=True)
    assert f'value="{equipment.asset.id}"' in found
    stranger = make.technician(name="王建国")
    warning = client.get("/office/maintenance/plans/technician-check", headers=auth, query_string={
        "technician_id": str(stranger.id), "asset_id": str(equipment.asset.id)}).get_data(as_text=True)
    assert "R-TEC-1" in warning and equipment.line.name in warning
    certified = make.technician(name="李明", certified_for=[equipment.line.id])
    quiet = client.get("/office/maintenance/plans/technician-check", headers=auth, query_string={
        "technician_id": str(certified.id), "asset_id": str(equipment.asset.id)}).get_data(as_text=True)
    assert "R-TEC-1" not in quiet


def test_follow_up_calls_show_who_to_call(app: Flask, client: FlaskClient, make: Factory, headers: Headers) -> None:
    from fieldservice.workorders.models import WorkOrder
    from tests.followups.test_pages import signed

    customer = make.customer("华东精密制造有限公司", phone="0512-6666 0001")
    order = make.work_order(customer_id=customer.id)
    with app.app_context(), unit_of_work():
        signed(db.session.get(WorkOrder, order.id), datetime.now(UTC) - timedelta(days=3))
    page = client.get("/office/follow-ups", headers=headers(role="office")).get_data(as_text=True)
    assert "华东精密制造有限公司" in page and "0512-6666 0001" in page and order.number in page
    assert str(order.id) not in re.sub(r'href="[^"]*"', "", page)            # no bare work-order UUID shown


def test_complaint_is_answered_and_closed_from_its_page_r_cmp_1(app: Flask, client: FlaskClient, make: Factory,
                                                                headers: Headers) -> None:
    """R-CMP-1: logged on the board; a first response without an owner is refused in place; with an owner it
    is recorded (open -> investigating), then resolved and fed back (closed)."""
    customer = make.customer("星河购物中心")
    auth = headers(role="office")
    owner = make.user("office", display_name="周敏")
    logged = client.post("/office/complaints", headers=auth, data={
        "customer_id": str(customer.id), "channel": "phone", "description": "冷水机组维修后仍不制冷"})
    assert logged.status_code == 303
    url = logged.headers["Location"].split("?")[0]
    complaint_id = url.rsplit("/", 1)[1]
    refused = client.post(f"{url}/response", headers=auth, data={"body": "已致电客户"})
    assert refused.status_code == 409 and "assign one first" in refused.get_data(as_text=True)
    assert client.post(f"{url}/owner", headers=auth, data={"owner_user_id": str(owner.id)}).status_code == 303
    assert client.post(f"{url}/response", headers=auth, data={"body": "已致电客户，明天上门复查"}).status_code == 303
    assert get_row(app, Complaint, complaint_id).status is ComplaintStatus.INVESTIGATING
    assert client.post(f"{url}/resolve", headers=auth, data={"body": "更换膨胀阀"}).status_code == 303
    assert client.post(f"{url}/feedback", headers=auth, data={"body": "客户确认已恢复制冷",
                                                              "customer_satisfied": "yes"}).status_code == 303
    page = client.get(url, headers=auth).get_data(as_text=True)
    assert "已结案（已反馈客户）" in page and "明天上门复查" in page and "周敏" in page
    assert client.post(f"{url}/nonsense", headers=auth, data={"body": "x"}).status_code == 404


def test_record_page_is_the_labelled_view_with_pdf_and_signing_link(client: FlaskClient, make: Factory,
                                                                    headers: Headers,
                                                                    archived: Callable[..., SimpleNamespace]) -> None:
    a = archived()
    auth = headers(role="office")
    page = client.get(f"/office/records/{a.record['id']}", headers=auth).get_data(as_text=True)
    assert "报修故障" in page and "<pre>{" not in page and 'id="pdf-link"' in page      # signed: the PDF
    pdf = client.get(f"/office/records/{a.record['id']}/pdf", headers=auth)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    english = client.get(f"/office/records/{a.record['id']}?lang=en", headers=auth).get_data(as_text=True)
    assert "Reported fault" in english and "报修故障" not in english
    signed_link = client.post(f"/office/records/{a.record['id']}/signing-link", headers=auth)
    assert signed_link.status_code == 409 and 'data-code="already_signed"' in signed_link.get_data(as_text=True)


def test_signing_link_button_shows_the_link_once(client: FlaskClient, headers: Headers,
                                                 chinese_job: Callable[..., SimpleNamespace]) -> None:
    from tests.signing.conftest import repair_record

    job = chinese_job()
    record = repair_record(client, job)
    made = client.post(f"/office/records/{record['id']}/signing-link", headers=headers(role="office"),
                       data={"language": "en"})
    html = made.get_data(as_text=True)
    assert made.status_code == 200 and re.search(r'id="signing-link-url" value="http[^"]*/sign/', html)


def test_maintenance_record_is_titled_bao_yang_ji_lu_r_mnt_3() -> None:
    """R-MNT-3: the signing page and the PDF call it 保养记录 (they said 保护养护记录)."""
    assert labels.kind_label("maintenance_record", "zh") == "保养记录"
    assert "保护养护" not in "".join(zh for zh, _ in labels.KINDS.values())


def test_kpi_page_and_api_agree_on_the_day_at_0230_in_shanghai(client: FlaskClient, headers: Headers) -> None:
    """R-KPI-1: at 02:30 Shanghai time (18:30 UTC the day before) the page used the server's UTC date while the
    API used the company's zone; both now end on the Shanghai day."""
    auth = headers(role="office")
    with time_machine.travel(datetime(2026, 11, 20, 18, 30, tzinfo=UTC), tick=False):
        page = client.get("/office/kpis", headers=auth).get_data(as_text=True)
        api = client.get("/api/v1/kpis", headers=auth).get_json()
    assert api["to"] == "2026-11-21" and api["timezone"] == "Asia/Shanghai"
    assert 'name="to" value="2026-11-21"' in page
    assert 'id="kpi-bars"' in page and "<script" not in page.split("</head>")[1]


def test_root_leads_to_the_office_and_the_readme_lists_no_missing_redoc(client: FlaskClient) -> None:
    root = client.get("/")
    assert root.status_code == 302 and root.headers["Location"].endswith("/office/")
    assert client.get("/office/").headers["Location"].startswith("/office/login")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "/api/redoc" not in readme or client.get("/api/redoc").status_code == 200


