"""The tables a phone syncs, their columns and JSON types, and how rows become WatermelonDB raw records.

WatermelonDB sanitises pulled values by column type: a value of the wrong JSON type silently becomes
null (or '', 0, false), so every column here has exactly one JSON type:
- ids and references: UUID strings; enums: their string value;
- times: integer milliseconds since the epoch, UTC (what WatermelonDB's `@date` expects);
- calendar dates: 'YYYY-MM-DD' strings; money: integer minor units.
`GET /api/v1/sync/schema` serves this description so the app's `appSchema` can be checked against it.
"""
from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from fieldservice.assets.models import Asset
from fieldservice.catalog.models import Product, ProductLine
from fieldservice.commerce.models import Quote, QuoteConsent, QuoteLine, VisitCharge
from fieldservice.customers.models import Contact, Customer, Site
from fieldservice.parts.models import Part, StockBalance, StockLocation, StockMovement
from fieldservice.photos.models import Photo
from fieldservice.records.models import ServiceRecord, Signoff
from fieldservice.visits.models import Visit, WorkLog
from fieldservice.workorders.models import WorkOrder

SCHEMA_VERSION = 1

Kind = Literal["string", "number", "boolean"]
Owner = Literal["server", "technician", "dispatcher"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    owner: Owner = "server"
    attr: str | None = None          # model attribute, when it differs from the column name
    value: Callable[[Any, Any], Any] | None = None  # computed: value(row, ctx)
    is_date: bool = False            # a calendar date sent as 'YYYY-MM-DD'
    is_time: bool = False            # a datetime sent as epoch milliseconds
    plain: bool = False              # a string, not a reference, although its name ends in _id (device_id)
    max_length: int = 10_000         # longest string accepted on push (content JSON and signatures are longer)
    # the computed value as SQL, sql(table, technician_param), for pages built as JSON by PostgreSQL
    # (sync/rowsql.py); a computed column without it keeps its table on the Python path
    sql: Callable[[Any, Any], Any] | None = None


@dataclass(frozen=True)
class SyncTable:
    name: str
    model: type
    columns: tuple[Column, ...]
    pushable: bool = False
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_map", {c.name: c for c in self.columns})


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_millis(value: datetime | None) -> int | None:
    """Whole milliseconds since the epoch, rounded down, in exact integer arithmetic (a float product could
    land one millisecond low); the same as PostgreSQL's `floor(extract(epoch ...) * 1000)` (sync/rowsql.py)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MS


def from_millis(value: int | float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def encode(value: Any, column: Column) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_millis(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if column.kind == "number" and isinstance(value, bool):
        return int(value)
    return value


def s(name: str, owner: Owner = "server", **kw: Any) -> Column:
    return Column(name, "string", owner, **kw)


def n(name: str, owner: Owner = "server", **kw: Any) -> Column:
    return Column(name, "number", owner, **kw)


def b(name: str, owner: Owner = "server", **kw: Any) -> Column:
    return Column(name, "boolean", owner, **kw)


def t(name: str, owner: Owner = "server", **kw: Any) -> Column:
    return Column(name, "number", owner, is_time=True, **kw)


def d(name: str, owner: Owner = "server", **kw: Any) -> Column:
    return Column(name, "string", owner, is_date=True, **kw)


STAMPS = (t("created_at"), t("updated_at"))
SYNC_STATUS = (s("sync_status"), s("rejection_reason"))


def _read_only(row: Any, ctx: Any) -> bool:
    return bool(row.technician_id != ctx.technician_id)


def _read_only_sql(table: Any, technician: Any) -> Any:
    return table.c.technician_id.is_distinct_from(technician)


def _serials_json(row: Any, ctx: Any) -> str | None:
    """Serial numbers travel as a JSON array in a string column (WatermelonDB has no array type)."""
    return json.dumps(row.serial_numbers, ensure_ascii=False) if row.serial_numbers else None


def _photo_url(variant: str) -> Callable[[Any, Any], str | None]:
    """Photos travel as metadata; the bytes are fetched by URL (with the same bearer token)."""

    def url(row: Any, ctx: Any) -> str | None:
        if variant != "original" and row.status.value != "ready":
            return None
        return f"/api/v1/photos/{row.id}/content?variant={variant}"

    return url


def _photo_url_sql(variant: str) -> Callable[[Any, Any], Any]:
    import sqlalchemy as sa

    def url(table: Any, technician: Any) -> Any:
        value = sa.literal("/api/v1/photos/") + sa.cast(table.c.id, sa.Text) + f"/content?variant={variant}"
        if variant == "original":
            return value
        return sa.case((table.c.status == "ready", value), else_=sa.null())

    return url


def _quote_canonical(row: Any, ctx: Any) -> str | None:
    """The exact text the customer's consent binds to (its SHA-256 is `content_sha256`), once presented."""
    if row.content_sha256 is None:
        return None
    from fieldservice.commerce.quotes import canonical_document
    from fieldservice.records.canonical import canonical_bytes

    return canonical_bytes(canonical_document(row)).decode("utf-8")


def _json_text(attr: str) -> Callable[[Any, Any], str | None]:
    """A JSON column travels as JSON text (WatermelonDB columns are string, number or boolean)."""

    def text(row: Any, ctx: Any) -> str | None:
        value = getattr(row, attr)
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    return text


def _signed_at(row: Any, ctx: Any) -> datetime:
    return row.signed_at  # type: ignore[no-any-return]


TABLES: dict[str, SyncTable] = {table.name: table for table in (
    SyncTable("product_lines", ProductLine, (s("code"), s("name"), *STAMPS)),
    SyncTable("products", Product, (s("product_line_id"), s("model_code"), s("name"), n("warranty_months"),
                                    # R-INS-4: what the installation sheet is checked against, as JSON text
                                    s("commissioning_parameters_json", value=_json_text("commissioning_parameters")),
                                    s("installation_checklist_json", value=_json_text("installation_checklist")),
                                    *STAMPS)),
    SyncTable("customers", Customer, (s("name"), s("phone"), s("email"), s("preferred_language"), s("notes"),
                                      *STAMPS)),
    SyncTable("contacts", Contact, (s("customer_id"), s("name"), s("title"), s("phone"), s("email"),
                                    b("is_primary"), *STAMPS)),
    SyncTable("sites", Site, (s("customer_id"), s("name"), s("address"), s("city"), s("region"),
                              s("postal_code"), s("country"), s("timezone"), n("latitude"), n("longitude"),
                              s("access_notes"), *STAMPS)),
    SyncTable("assets", Asset, (s("customer_id"), s("site_id"), s("product_id"), s("serial_number"), s("status"),
                                d("install_date"), d("warranty_start"), d("warranty_end"), s("notes"), *STAMPS)),
    SyncTable("work_orders", WorkOrder, (
        s("number"), s("kind"), s("status", "technician"), s("priority", "dispatcher"),
        s("customer_id", "dispatcher"), s("site_id", "dispatcher"), s("asset_id", "dispatcher"),
        s("product_id", "dispatcher"), s("summary", "dispatcher"), s("description", "dispatcher"),
        t("status_changed_at"), *SYNC_STATUS, *STAMPS), pushable=True),
    SyncTable("visits", Visit, (
        s("work_order_id", "dispatcher"), s("technician_id", "dispatcher"), s("status", "technician"),
        t("scheduled_start", "dispatcher"), t("scheduled_end", "dispatcher"),
        b("customer_confirmed", "technician"), t("customer_confirmed_at", "technician"),
        s("confirmation_note", "technician"), t("confirmation_waived_at", "dispatcher"),
        s("confirmation_waiver_reason", "dispatcher"), t("arrived_at", "technician"), t("departed_at", "technician"),
        b("work_complete", "technician"), s("notes", "technician"), s("cancel_reason", "dispatcher"),
        b("is_read_only", value=_read_only, sql=_read_only_sql), *SYNC_STATUS, *STAMPS), pushable=True),
    SyncTable("photos", Photo, (
        s("work_order_id"), s("visit_id"), s("record_id"), s("kind"), s("sha256"), s("content_type"),
        n("width"), n("height"), t("captured_at"), n("latitude"), n("longitude"), s("status"),
        s("processing_error"), s("technician_id"), s("original_url", value=_photo_url("original"), sql=_photo_url_sql("original")),
        s("display_url", value=_photo_url("display"), sql=_photo_url_sql("display")), s("thumbnail_url", value=_photo_url("thumb-256"), sql=_photo_url_sql("thumb-256")),
        *STAMPS)),
    # issue 6: record drafts are written on the phone (content as JSON text, guarded by lock_version); a
    # sign-off is captured offline and pushed with the hash the customer saw (docs/sync.md, docs/signoffs.md)
    SyncTable("service_records", ServiceRecord, (
        s("root_id"), n("version_no"), s("previous_version_id"), s("kind", "technician"), s("status"),
        s("work_order_id"), s("visit_id", "technician"), s("technician_id"),
        s("content_json", "technician", value=_json_text("content"), max_length=500_000),
        s("content_sha256"), t("signed_at"), n("lock_version", "technician"), *SYNC_STATUS, *STAMPS), pushable=True),
    SyncTable("signoffs", Signoff, (
        s("record_id", "technician"), s("content_sha256", "technician"), s("signer_name", "technician"),
        s("signer_role", "technician"), s("signature_png", "technician", max_length=700_000),
        s("strokes_json", "technician", value=_json_text("strokes"), max_length=2_000_000),
        s("content_json", "technician", value=lambda row, ctx: None, max_length=500_000),
        s("device_id", "technician", plain=True), t("device_time", "technician"), n("latitude", "technician"),
        n("longitude", "technician"), t("signed_at"), *SYNC_STATUS,
        t("created_at", value=_signed_at), t("updated_at", value=_signed_at)), pushable=True),
    SyncTable("work_logs", WorkLog, (
        s("visit_id", "technician"), s("technician_id"), t("started_at", "technician"),
        t("ended_at", "technician"), s("description", "technician"), *SYNC_STATUS, *STAMPS), pushable=True),
    # commerce (docs/commerce.md): quotes pull to the phone, the customer's consent and charges are pushed
    SyncTable("quotes", Quote, (
        s("number"), s("work_order_id"), s("supplements_quote_id"), s("replaces_quote_id"), s("status"),
        s("currency"), s("notes"), n("list_total_minor"), n("total_minor"), b("requires_approval"),
        t("presented_at"), s("content_sha256"), t("decided_at"),
        s("canonical_json", value=_quote_canonical), b("agreement_required"), *STAMPS)),
    SyncTable("quote_lines", QuoteLine, (
        s("quote_id"), n("position"), s("kind"), s("code"), s("description"), n("quantity_centi"),
        n("list_unit_price_minor"), n("unit_price_minor"), n("line_total_minor"), *STAMPS)),
    SyncTable("quote_consents", QuoteConsent, (
        s("quote_id", "technician"), s("decision", "technician"), s("content_sha256", "technician"),
        s("signer_name", "technician"), s("visit_id", "technician"), s("signature_png", "technician"),
        s("device", "technician", attr="device_id"), t("device_time", "technician"), s("channel"),
        t("decided_at"), s("agreement_sha256", "technician"),
        # R-REP-4: a consent a dispatcher recorded (channel staff) shows its evidence, never a signature
        s("evidence_kind"), s("evidence_reference"), t("evidence_at"), *SYNC_STATUS, *STAMPS), pushable=True),
    SyncTable("visit_charges", VisitCharge, (
        s("visit_id", "technician"), s("kind", "technician"), s("code", "technician"),
        s("description", "technician"), n("quantity_centi", "technician"),
        s("serial_numbers", "technician", value=_serials_json), s("work_order_id"), s("technician_id"),
        s("quote_line_id"), b("warranty"), n("unit_price_minor"), s("currency"),
        # R-REP-6: a part charge's issue ledger line (a stock_movements record pushed with it, or filled by the
        # server when recording the charge issued the parts from the van)
        s("stock_movement_id", "technician"), *SYNC_STATUS, *STAMPS),
        pushable=True),
    # van stock (docs/parts.md): the technician's van, what is in it, and the parts issued from it to their jobs
    SyncTable("parts", Part, (s("part_number"), s("name"), b("is_approved"), n("unit_cost_minor"), s("currency"),
                              b("serial_tracked"), b("is_active"), *STAMPS)),
    SyncTable("stock_locations", StockLocation, (s("code"), s("name"), s("kind"), s("technician_id"), *STAMPS)),
    SyncTable("stock_balances", StockBalance, (s("part_id"), s("location_id"), n("on_hand"), *STAMPS)),
    SyncTable("stock_movements", StockMovement, (
        s("kind"), s("part_id", "technician"), s("location_id"), n("quantity", "technician"),
        s("work_order_id", "technician"), s("visit_id", "technician"),
        s("serial_numbers", "technician", value=_serials_json), t("occurred_at", "technician"),
        *SYNC_STATUS, *STAMPS), pushable=True),
)}
"""Pull order is by change number; this order is only the order of tables in the JSON."""


def raw_record(table: SyncTable, row: Any, ctx: Any, sync_status: tuple[str, str | None] | None = None) -> dict[str, Any]:
    """A row as a WatermelonDB raw record: `id` plus every column, each of its column's JSON type."""
    record: dict[str, Any] = {"id": str(row.id)}
    for column in table.columns:
        if column.name in ("sync_status", "rejection_reason"):
            continue
        value = column.value(row, ctx) if column.value else getattr(row, column.attr or column.name)
        record[column.name] = encode(value, column)
    if any(c.name == "sync_status" for c in table.columns):
        status, reason = sync_status or ("synced", None)
        record["sync_status"], record["rejection_reason"] = status, reason
    return record


def describe() -> dict[str, Any]:
    """The sync schema as data (served at GET /api/v1/sync/schema, used by docs and the Node test app)."""
    return {"version": SCHEMA_VERSION, "tables": [
        {"name": table.name, "pushable": table.pushable, "columns": [
            {"name": c.name, "type": c.kind, "owner": c.owner,
             **({"format": "date"} if c.is_date else {}), **({"format": "epoch-ms"} if c.is_time else {})}
            for c in table.columns]}
        for table in TABLES.values()]}
