"""R-INS-4 over the catalog API: a product carries its commissioning parameters (expected ranges) and its
installation checklist, set on create and update, validated (unique names and steps, min <= max, bounded
lengths), shown in the product schema and pulled by the phone; a bad procedure is 422 and writes nothing."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import Factory
from tests.sync.phone import Phone

PARAMETERS = [{"name": "出水温度", "unit": "°C", "min": 5, "max": 9.5}, {"name": "运行电流", "unit": "A", "min": 0, "max": 410}]
CHECKLIST = ["核对基础水平度", "连接冷冻水管并试压", "检查电源相序"]


def problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()  # type: ignore[no-any-return]


def test_r_ins_4_product_procedure_is_set_shown_and_updated(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="admin")
    line = client.post("/api/v1/product-lines", headers=auth, json={"code": "CH", "name": "冷水机组"}).get_json()
    r = client.post("/api/v1/products", headers=auth, json={
        "product_line_id": line["id"], "model_code": "LS-300", "name": "螺杆式冷水机组",
        "commissioning_parameters": PARAMETERS, "installation_checklist": CHECKLIST})
    assert r.status_code == 201, r.get_data(as_text=True)
    product = r.get_json()
    assert product["commissioning_parameters"] == PARAMETERS and product["installation_checklist"] == CHECKLIST
    assert client.get(f"/api/v1/products/{product['id']}", headers=auth).get_json()["installation_checklist"] == CHECKLIST
    r = client.patch(f"/api/v1/products/{product['id']}", headers=auth, json={"installation_checklist": CHECKLIST[:1]})
    assert r.status_code == 200 and r.get_json()["installation_checklist"] == CHECKLIST[:1]
    assert r.get_json()["commissioning_parameters"] == PARAMETERS
    plain = client.post("/api/v1/products", headers=auth, json={
        "product_line_id": line["id"], "model_code": "LS-100", "name": "无参数机型"}).get_json()
    assert plain["commissioning_parameters"] == [] and plain["installation_checklist"] == []


@pytest.mark.parametrize(("procedure", "field"), [
    ({"commissioning_parameters": [PARAMETERS[0], {**PARAMETERS[1], "name": " 出水温度 "}]}, "commissioning_parameters"),
    ({"commissioning_parameters": [{**PARAMETERS[0], "min": 10, "max": 9}]}, "commissioning_parameters"),
    ({"commissioning_parameters": [{"name": "出水温度", "min": 5}]}, "commissioning_parameters"),
    ({"commissioning_parameters": [{**PARAMETERS[0], "name": "  "}]}, "commissioning_parameters"),
    ({"commissioning_parameters": [{**PARAMETERS[0], "max": float("1e13")}]}, "commissioning_parameters"),
    ({"commissioning_parameters": [{**PARAMETERS[0], "name": f"p{i}"} for i in range(101)]}, "commissioning_parameters"),
    ({"installation_checklist": ["检查电源相序", "检查电源相序"]}, "installation_checklist"),
    ({"installation_checklist": ["x" * 501]}, "installation_checklist"),
    ({"installation_checklist": ["\u3000"]}, "installation_checklist"),
])
def test_r_ins_4_a_bad_procedure_is_refused_and_nothing_written(client: FlaskClient, make: Factory, headers,  # type: ignore[no-untyped-def]
                                                                count_rows: Callable[[], dict[str, int]],
                                                                procedure: dict[str, Any], field: str) -> None:
    auth = headers(role="admin")
    product = make.product()
    before = count_rows()
    body = problem(client.post("/api/v1/products", headers=auth, data=json.dumps({
        "product_line_id": str(product.product_line_id), "model_code": "LS-900", "name": "x", **procedure}),
        content_type="application/json"))
    assert field in body["errors"]["json"], body
    problem(client.patch(f"/api/v1/products/{product.id}", headers=auth, json=procedure))
    assert count_rows() == before


def test_r_ins_4_the_phone_pulls_the_product_procedure(client: FlaskClient, make: Factory) -> None:
    """The technician's phone gets what the sheet is checked against (as JSON text columns)."""
    line = make.product_line()
    product = make.product(line.id, commissioning_parameters=PARAMETERS, installation_checklist=CHECKLIST)
    tech = make.technician(certified_for=[line.id])
    order = make.work_order(kind="installation", product_id=product.id)
    make.visit(order.id, technician_id=tech.id)
    phone = Phone(client, make.token(tech.user_id))
    phone.sync()
    pulled = phone.get("products", product.id)
    assert pulled is not None
    assert json.loads(pulled["commissioning_parameters_json"]) == PARAMETERS
    assert json.loads(pulled["installation_checklist_json"]) == CHECKLIST
