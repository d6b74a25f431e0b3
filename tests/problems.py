"""Assertions on problem+json refusals, shared by the API tests."""
from __future__ import annotations

from typing import Any


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is a problem+json refusal with `status` whose type is `code`, or a lifecycle gate
    refusal (`conditions_not_met`) that lists `code` among its unmet conditions."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    if body["type"] == "/problems/conditions_not_met" and code != "conditions_not_met":
        assert code in unmet_codes(body), body
    else:
        assert body["type"] == f"/problems/{code}", body
    return body  # type: ignore[no-any-return]


def unmet_codes(body: dict[str, Any]) -> list[str]:
    """The condition codes of a lifecycle gate refusal, in order."""
    return [c["code"] for c in body.get("unmet_conditions", [])]


def gate_refusal(response: Any, *codes: str) -> dict[str, Any]:
    """A 409 `conditions_not_met` listing exactly `codes` (each with its rule id and message)."""
    body = problem(response, 409, "conditions_not_met")
    assert sorted(unmet_codes(body)) == sorted(codes), body
    for condition in body["unmet_conditions"]:
        assert condition["rule"].startswith("R-") and condition["message"], condition
    return body
