"""List filters match the user's text literally: `%` and `_` are not wildcards (common/search.contains)."""
from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from tests.factories import Factory

FILTERS = (("/api/v1/customers", "q"), ("/api/v1/sites", "q"), ("/api/v1/products", "q"), ("/api/v1/teams", "q"),
           ("/api/v1/assets", "serial_number"), ("/api/v1/technicians", "q"), ("/api/v1/parts", "q"),
           ("/api/v1/contracts", "number"), ("/api/v1/work-orders", "q"))


@pytest.fixture
def one_of_each(make: Factory) -> None:
    from fieldservice.contracts import service as contracts
    from fieldservice.parts import service as parts
    from fieldservice.teams import service as teams

    customer = make.customer("华东 100% 客户")
    site = make.site(customer.id)
    product = make.product(name="冷水机 50%")
    make.asset(customer.id, site.id, product.id, serial_number="SN_1")
    make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id)
    make.technician(name="李_师傅")
    make._run(lambda: teams.create_team(SYSTEM, {"name": "一组 team"}))
    make._run(lambda: parts.create_part(SYSTEM, {"part_number": "P_1", "name": "滤芯 filter"}))
    make._run(lambda: contracts.create_contract(SYSTEM, {
        "number": "HT_1", "customer_id": customer.id, "signed_on": date(2026, 1, 5), "currency": "CNY",
        "lines": [{"product_id": product.id, "serial_number": "SN-X", "unit_price_minor": 100,
                   "sale_date": date(2026, 1, 5)}]}))


@pytest.mark.parametrize(("path", "param"), FILTERS)
def test_percent_and_underscore_are_literal_in_list_filters(client: FlaskClient, headers, one_of_each,  # type: ignore[no-untyped-def]
                                                            path: str, param: str) -> None:
    auth = headers(role="admin")
    everything = client.get(path, headers=auth).get_json()["meta"]["total"]
    assert everything >= 1, path
    for text in ("%", "_", "%%", "\\"):
        response = client.get(path, query_string={param: text}, headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        items = response.get_json()["items"]
        if text in ("%", "_"):  # rows whose text has the character itself may match; nothing else may
            blob = str(items)
            assert all(text in str(item) for item in items), (path, text, blob[:300])
        else:
            assert items == [], (path, text)
