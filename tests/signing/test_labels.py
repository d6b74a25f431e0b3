"""Every field of every record kind has a Chinese and an English label (the signing page and the PDFs show
the customer no raw field names), and the content renders in both languages."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.records import labels
from fieldservice.records.schemas import CONTENT_SCHEMAS
from tests.records.conftest import ACCEPTED, installation_content, maintenance_content, repair_content


def field_names(schema: Schema) -> set[str]:
    names: set[str] = set()
    for name, field in schema.fields.items():
        names.add(name)
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            names |= field_names(inner.schema)
    return names


def test_every_record_field_has_both_labels() -> None:
    missing = {kind.value: sorted(n for n in field_names(schema()) if n not in labels.FIELDS)
               for kind, schema in CONTENT_SCHEMAS.items()}
    assert {k: v for k, v in missing.items() if v} == {}
    assert all(zh and en and zh != en for zh, en in labels.FIELDS.values())
    assert set(labels.KINDS) >= {kind.value for kind in CONTENT_SCHEMAS}


def test_rows_in_both_languages() -> None:
    for content in (installation_content(), repair_content(), maintenance_content(), ACCEPTED):
        zh = labels.rows(content, "zh")
        en = labels.rows(content, "en")
        assert len(zh) == len(en) > 0
        assert all("_" not in row["label"] for row in zh + en)     # no raw field names
    sheet = [(row["label"], row["value"]) for row in labels.rows(installation_content(), "zh")]
    assert ("客户代表", "张代表") in sheet and ("培训内容", "开机、日常清洁") in sheet
    assert ("项目", "型号") in sheet and ("项目", "序列号") in sheet          # enumerated values translated
    repair = {row["label"]: row["value"] for row in labels.rows(repair_content(), "en")}
    assert repair["Estimated cost"] == "350.00" and repair["Repair location"] == "On site"
    assert repair["Cause explained to customer"] == "Yes"
