"""Office pages: session login with a CSRF-protected form, search and archive pages in Chinese, record view
with the signature image; access rules and the read log hold on pages too (via=page)."""
from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient

from tests.archive.conftest import CUSTOMER_NAME
from tests.factories import Factory

Archived = Callable[..., SimpleNamespace]
PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    form = client.get("/office/login")
    assert form.status_code == 200 and "登录" in form.get_data(as_text=True)
    return client.post("/office/login", data={"username": username, "password": password,
                                              "csrf_token": _csrf(form.get_data(as_text=True)), "next": ""})


def test_pages_need_a_login_and_the_form_needs_its_csrf_token(client: FlaskClient, make: Factory) -> None:
    r = client.get("/office/")
    assert r.status_code == 302 and "/office/login" in r.headers["Location"]
    user = make.user("office", username="archivist")
    client.get("/office/login")
    # a form posted without (or with a forged) token is refused, and logs nobody in
    assert client.post("/office/login", data={"username": "archivist", "password": PASSWORD}).status_code == 400
    assert client.post("/office/login", data={"username": "archivist", "password": PASSWORD,
                                              "csrf_token": "forged"}).status_code == 400
    assert client.get("/office/").status_code == 302
    r = login(client, "archivist", "wrong password!")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = login(client, "archivist")
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/office/archive")
    assert page.status_code == 200 and "档案搜索" in page.get_data(as_text=True)
    # the session cookie is not an API credential
    assert client.get("/api/v1/archive/reads").status_code == 401
    # logout needs the token too, then the pages are closed again
    assert client.post("/office/logout", data={}).status_code == 400
    assert client.post("/office/logout", data={"csrf_token": _csrf(page.get_data(as_text=True))}).status_code == 302
    assert client.get("/office/").status_code == 302
    assert user.id


def test_office_searches_and_reads_the_archive_in_chinese(client: FlaskClient, archived: Archived,
                                                          make: Factory, headers: Any) -> None:
    a = archived()
    make.user("office", username="archivist")
    assert login(client, "archivist").status_code == 302
    old_link = client.get("/office/", query_string={"q": "华东精密"})      # an old search link still works
    assert old_link.status_code == 302 and "/office/archive?q=" in old_link.headers["Location"]
    html = client.get("/office/archive", query_string={"q": "华东精密"}).get_data(as_text=True)
    assert CUSTOMER_NAME in html and "SN-ABC-001" in html and "XR-200" in html
    assert f"/office/customers/{a.customer.id}" in html
    html = client.get(f"/office/customers/{a.customer.id}").get_data(as_text=True)
    assert CUSTOMER_NAME in html and "冷水机 Chiller" in html and "HT-SN-ABC-001" in html
    assert "R-OLD-9" in html and f"/office/records/{a.record['id']}" in html
    html = client.get(f"/office/assets/{a.asset.id}").get_data(as_text=True)
    assert "SN-ABC-001" in html and "维修记录" in html
    assert "SN-ABC-001" in client.get("/office/serials/sn-abc-001").get_data(as_text=True)
    r = client.get(f"/office/records/{a.record['id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "不制冷 no cooling" in html and "张客户" in html and CUSTOMER_NAME in html
    sig_url = f"/office/signatures/{a.signoff['id']}.png"
    assert sig_url in html
    png = client.get(sig_url)
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    scripts = re.findall(r'<script[^>]*>', html)       # only the app's own files, nothing inline, no CDN
    assert scripts and all(re.fullmatch(r'<script src="/office/static/[\w./-]+\.js" defer>', s) for s in scripts)
    assert "http://" not in html and "https://" not in html
    reads = client.get("/api/v1/archive/reads", headers=headers(role="admin"),
                       query_string={"via": "page", "page_size": 50}).get_json()["items"]
    assert [r["entity_type"] for r in reversed(reads)] == ["search", "customer", "asset", "serial",
                                                           "service_record", "signoff"]


def test_customer_login_sees_only_their_own_pages(client: FlaskClient, archived: Archived, make: Factory) -> None:
    mine, theirs = archived(), archived(name="另一家公司", phone="1", serial="S-2", model="M-2")
    make.user("customer", username="huadong", customer_id=mine.customer.id)
    assert login(client, "huadong").status_code == 302
    r = client.get("/office/archive")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/office/customers/{mine.customer.id}")
    assert CUSTOMER_NAME in client.get(f"/office/customers/{mine.customer.id}").get_data(as_text=True)
    for url in (f"/office/customers/{theirs.customer.id}", f"/office/records/{theirs.record['id']}",
                f"/office/assets/{theirs.asset.id}", f"/office/signatures/{theirs.signoff['id']}.png"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "另一家公司" not in r.get_data(as_text=True)


def test_technician_page_reads_only_own_records(client: FlaskClient, archived: Archived, make: Factory) -> None:
    from fieldservice.auth.models import User
    mine, theirs = archived(), archived(name="另一家公司", phone="1", serial="S-2", model="M-2")
    tech_user = make.get(User, mine.job.technician.user_id)
    assert login(client, tech_user.username).status_code == 302
    assert client.get(f"/office/records/{mine.record['id']}").status_code == 200
    assert client.get(f"/office/records/{theirs.record['id']}").status_code == 404
    assert client.get("/office/archive").status_code == 403


def test_record_page_shows_the_photos_of_the_record(client: FlaskClient, job_of: Any, make: Factory) -> None:
    import io

    from PIL import Image

    from tests.records.conftest import create_record, repair_content

    job = job_of("repair")
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(buf, format="PNG")
    photo = client.post("/api/v1/photos", headers=job.auth, content_type="multipart/form-data", data={
        "visit_id": str(job.visit.id), "kind": "fault", "file": (io.BytesIO(buf.getvalue()), "f.png", "image/png")})
    assert photo.status_code == 201, photo.get_data(as_text=True)
    photo_id = photo.get_json()["id"]
    record = create_record(client, job, "repair_record", repair_content(photo_ids=[photo_id]))
    make.user("office", username="archivist")
    assert login(client, "archivist").status_code == 302
    html = client.get(f"/office/records/{record['id']}").get_data(as_text=True)
    thumb = f"/office/photos/{photo_id}/thumb-256"
    assert thumb in html and "未签字" in html and "报修故障" in html     # the labelled view, as the signing page
    image = client.get(thumb)
    assert image.status_code == 200 and image.mimetype.startswith("image/")
    assert client.get(f"/office/photos/{photo_id}/original").status_code == 404  # pages never serve originals
    admin = {"Authorization": f"Bearer {make.token(make.user('admin').id)}"}
    reads = client.get("/api/v1/archive/reads", headers=admin, query_string={"entity_type": "photo"}).get_json()
    assert [r["entity_id"] for r in reads["items"]] == [photo_id]
