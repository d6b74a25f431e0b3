"""Archive fixtures: the record fixtures, plus a customer with a signed repair record on a registered unit."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from tests.factories import Factory
from tests.records.conftest import create_record, finish_visit, job_of, repair_content, sign  # noqa: F401

CUSTOMER_NAME = "华东精密机械有限公司"
PHONE = "021-5555 0101"


@pytest.fixture
def archived(client: FlaskClient, make: Factory) -> Callable[..., SimpleNamespace]:
    """A customer (Chinese name) with a unit (serial, model), a sales contract line, and a repair visit whose
    record (parts replaced) the customer signed."""

    def build(name: str = CUSTOMER_NAME, phone: str = PHONE, serial: str = "SN-ABC-001",
              model: str = "XR-200") -> SimpleNamespace:
        customer = make.customer(name, phone=phone)
        site = make.site(customer.id)
        line = make.product_line()
        product = make.product(line.id, model_code=model, name="冷水机 Chiller")
        asset = make.asset(customer.id, site.id, product.id, serial_number=serial)
        tech = make.technician(certified_for=[line.id])
        order = make.work_order(kind="repair", customer_id=customer.id, site_id=site.id, product_id=product.id,
                                asset_id=asset.id)
        visit = make.visit(order.id, technician_id=tech.id)
        auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
        job = SimpleNamespace(order=order, visit=visit, technician=tech, product=product, auth=auth)

        def contract():  # type: ignore[no-untyped-def]
            from fieldservice.contracts import service

            return service.create_contract(SYSTEM, {
                "number": f"HT-{serial}", "customer_id": customer.id, "signed_on": date(2026, 1, 5), "currency": "CNY",
                "lines": [{"product_id": product.id, "serial_number": serial, "unit_price_minor": 8800000,
                           "sale_date": date(2026, 1, 5), "configuration": "标准配置"}]})

        make._run(contract)
        record = create_record(client, job, "repair_record", repair_content())
        finish_visit(client, job)
        response = sign(client, job, record["id"])
        assert response.status_code == 201, response.get_data(as_text=True)
        return SimpleNamespace(customer=customer, site=site, product=product, asset=asset, job=job, record=record,
                               signoff=response.get_json())

    return build
