"""Canonical JSON (docs/signoffs.md): the test vector the mobile team checks their code against."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from fieldservice.records.canonical import canonical_bytes, canonical_sha256, utc_z

DOCS = Path(__file__).resolve().parents[2] / "docs" / "signoffs.md"

VECTOR = {
    "schema": "fieldservice.record/1",
    "record_id": "6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f",
    "kind": "repair_record",
    "version_no": 1,
    "previous_version_id": None,
    "work_order_id": "0b7e8a9c-1d2f-4a3b-8c4d-5e6f7a8b9c0d",
    "visit_id": "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
    "content": {
        "reported_fault": "不制冷 no cooling",
        "diagnosis": {"cause": "继电器烧坏 relay burnt", "difficulty": "medium", "estimated_cost_minor": 35000,
                      "estimated_hours": 1.5, "repair_location": "on_site"},
        "cause_explained": True,
        "work_done": "replaced the relay",
        "parts_replaced": [{"part": "relay", "quantity": 1, "serial_in": "R-NEW-1", "serial_out": None}],
        "test_result": {"passed": True, "details": "4 °C after 20 min"},
        "photo_sha256": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    },
}
VECTOR_JSON = (
    '{"content":{"cause_explained":true,"diagnosis":{"cause":"继电器烧坏 relay burnt","difficulty":"medium",'
    '"estimated_cost_minor":35000,"estimated_hours":1.5,"repair_location":"on_site"},"parts_replaced":[{"part":'
    '"relay","quantity":1,"serial_in":"R-NEW-1","serial_out":null}],"photo_sha256":["9f86d081884c7d659a2feaa0c'
    '55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],"reported_fault":"不制冷 no cooling","test_result":{"details":'
    '"4 °C after 20 min","passed":true},"work_done":"replaced the relay"},"kind":"repair_record",'
    '"previous_version_id":null,"record_id":"6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f","schema":"fieldservice.record/1",'
    '"version_no":1,"visit_id":"c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f","work_order_id":"0b7e8a9c-1d2f-4a3b-8c4d-'
    '5e6f7a8b9c0d"}'
)
VECTOR_SHA256 = "1a70055d5ef4e0127c52dfe373913a360f66a43898e6a26af8eb97f6c086b187"


def test_canonical_json_test_vector() -> None:
    data = canonical_bytes(VECTOR)
    assert data == VECTOR_JSON.encode("utf-8")
    assert canonical_sha256(VECTOR) == VECTOR_SHA256


def test_the_documented_vector_is_the_tested_one() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert VECTOR_JSON in text
    assert VECTOR_SHA256 in text


def test_normalisation_rules() -> None:
    eight = timezone(timedelta(hours=8))
    assert canonical_bytes({"b": 1, "a": [2.0, 0.25]}) == b'{"a":[2,0.25],"b":1}'
    assert canonical_bytes({"t": datetime(2026, 11, 23, 18, 30, tzinfo=eight)}) == b'{"t":"2026-11-23T10:30:00Z"}'
    assert utc_z(datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)) == "2026-01-02T03:04:05.000600Z"
    assert canonical_bytes({"id": uuid.UUID(int=1)}) == b'{"id":"00000000-0000-0000-0000-000000000001"}'
    assert canonical_bytes({"名": "张"}) == '{"名":"张"}'.encode()
