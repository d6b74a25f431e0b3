"""Property test: no body, however odd, makes a record endpoint answer 5xx; refusals are problems."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st

from tests.fuzzing import run_probes
from tests.records.conftest import (
    create_record,
    finish_visit,
    installation_content,
    png_b64,
    repair_content,
    signoff_body,
)

scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | st.uuids().map(str)
           | st.sampled_from(["2026-11-23", "2026-11-23T10:00:00+08:00", "on_site", "serial_number", "accepted",
                              "rejected", "", "\x00", "iVBORw0KGgo=", png_b64()]))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c,
                                                                                          max_size=4), max_leaves=15)
KEYS = ["unpacking", "parties", "packaging", "damaged", "photo_ids", "contract_check", "commissioning", "training",
        "installed_serial_number", "installed_on", "reported_fault", "diagnosis", "parts_replaced", "test_result",
        "outcome", "rejection_reason", "plan_items", "ratings", "measured", "expected_min", "expected_max",
        "content_sha256", "signer_name", "signer_role", "signature_png", "strokes", "device_id", "device_time",
        "latitude", "longitude", "content", "reason", "kind", "visit_id", "id", "resolved", "resolution"]


def mutate(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid bodies with a few keys replaced or added: reaches the service's rules, not just the schema."""
    return st.dictionaries(st.sampled_from(KEYS + list(base)), json_values, max_size=4).map(
        lambda extra: {**base, **extra})


def test_record_endpoints_never_fail_with_5xx(app: Flask, client: FlaskClient,
                                              job_of: Callable[..., SimpleNamespace]) -> None:
    job = job_of("installation")
    draft = create_record(client, job, "installation_sheet", installation_content())
    finish_visit(client, job)
    repair = job_of("repair")
    signed = create_record(client, repair, "repair_record", repair_content())
    finish_visit(client, repair)
    sha = client.get(f"/api/v1/records/{signed['id']}/canonical", headers=repair.auth).get_json()["content_sha256"]
    assert client.post(f"/api/v1/records/{signed['id']}/signoff", headers=repair.auth,
                       json=signoff_body(sha)).status_code == 201
    probes: list[tuple[str, str, dict[str, str], st.SearchStrategy[Any]]] = [
        ("post", "/api/v1/records", job.auth, mutate({"kind": "installation_sheet", "visit_id": str(job.visit.id),
                                                      "content": installation_content()})),
        ("patch", f"/api/v1/records/{draft['id']}", job.auth, mutate({"content": installation_content()})),
        ("patch", f"/api/v1/records/{draft['id']}", job.auth,
         st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3).map(
             lambda extra: {"content": {**installation_content(), **extra}})),
        ("post", f"/api/v1/records/{draft['id']}/signoff", job.auth, mutate(signoff_body("0" * 64))),
        ("post", f"/api/v1/records/{signed['id']}/corrections", repair.auth,
         mutate({"content": repair_content(), "reason": "fix"})),
        ("post", f"/api/v1/records/{signed['id']}/signoff", repair.auth, mutate(signoff_body(sha))),
    ]

    run_probes(client, probes, json_values, examples=300)
