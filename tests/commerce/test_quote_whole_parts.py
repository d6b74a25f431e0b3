"""R-REP-6: parts are quoted in whole units (labour may be 1.5 hours): a quote line of 0.5 of a part is a 422
on create and on edit, and nothing is written."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tests.commerce.conftest import FEE, LABOUR, PART, line


@pytest.mark.parametrize("quantity", [0.5, "1.25", 2.01])
def test_a_quote_refuses_a_fraction_of_a_part(api: Callable[..., Any], job: SimpleNamespace,
                                              quote_for: Callable[..., dict[str, Any]], count_rows,  # type: ignore[no-untyped-def]
                                              quantity: Any) -> None:
    before = count_rows()
    status, body = api("post", "/api/v1/quotes", job.tech_auth,
                       json={"work_order_id": str(job.order.id), "lines": [line("part", PART, quantity)]})
    assert status == 422 and body["errors"]["json"]["lines"]["0"]["quantity"] == ["a whole number of parts"]
    assert count_rows() == before
    quote = quote_for(job, [line("part", PART, 2), line("labour", LABOUR, "1.5"), line("fee", FEE)], present=False)
    before = count_rows()
    status, body = api("put", f"/api/v1/quotes/{quote['id']}", job.tech_auth,
                       json={"lines": [line("labour", LABOUR, 1.5), line("part", PART, quantity)]})
    assert status == 422 and "1" in body["errors"]["json"]["lines"]
    assert count_rows() == before
