"""Every office page outside the archive goes through `office_page`: the office session login (the form at
/office/login) opens it in a browser, a bearer token in a script, nobody → the login form, a wrong role → 403."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.archive.test_pages import PASSWORD, login
from tests.factories import Factory

PAGES = ("/office/kpis", "/office/complaints", "/office/maintenance/plans", "/office/follow-ups")


@pytest.mark.parametrize("path", PAGES)
def test_session_login_opens_the_page_and_logout_closes_it(client: FlaskClient, make: Factory, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 302 and first.headers["Location"].startswith("/office/login?next=")
    make.user("office", username="王会计", password=PASSWORD)
    assert login(client, "王会计").status_code == 302
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "charset=utf-8" in page.content_type
    assert "王会计" in html                      # the shared header names the logged-in user
    assert "退出" in html and "Log out" not in html            # one language at a time: zh by default


def test_a_technician_session_is_refused_on_back_office_pages(client: FlaskClient, make: Factory) -> None:
    make.user("technician", username="tech-li", password=PASSWORD)
    assert login(client, "tech-li").status_code == 302
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "tech-li" in response.get_data(as_text=True) or "technician" in response.get_data(as_text=True)


def test_a_bad_bearer_token_is_the_apis_401_not_a_page(client: FlaskClient) -> None:
    response = client.get("/office/kpis", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
