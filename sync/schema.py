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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from fieldservice.assets.models import Asset
from fieldservice.catalog.models import Product, ProductLine
from fieldservice.customers.models import Contact, Customer, Site
from fieldservice.photos.models import Photo
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


@dataclass(frozen=True)
class SyncTable:
    name: str
    model: type
    columns: tuple[Column, ...]
    pushable: bool = False
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_map", {c.name: c for c in self.columns})


def to_millis(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


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


def _photo_url(variant: str) -> Callable[[Any, Any], str | None]:
    """Photos travel as metadata; the bytes are fetched by URL (with the same bearer token)."""

    def url(row: Any, ctx: Any) -> str | None:
        if variant != "original" and row.status.value != "ready":
            return None
        return f"/api/v1/photos/{row.id}/content?variant={variant}"

    return url


TABLES: dict[str, SyncTable] = {table.name: table for table in (
    SyncTable("product_lines", ProductLine, (s("code"), s("name"), *STAMPS)),
    SyncTable("products", Product, (s("product_line_id"), s("model_code"), s("name"), n("warranty_months"),
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
        s("confirmation_note", "technician"), t("arrived_at", "technician"), t("departed_at", "technician"),
        b("work_complete", "technician"), s("notes", "technician"), s("cancel_reason", "dispatcher"),
        b("is_read_only", value=_read_only), *SYNC_STATUS, *STAMPS), pushable=True),
    SyncTable("photos", Photo, (
        s("work_order_id"), s("visit_id"), s("record_id"), s("kind"), s("sha256"), s("content_type"),
        n("width"), n("height"), t("captured_at"), n("latitude"), n("longitude"), s("status"),
        s("processing_error"), s("technician_id"), s("original_url", value=_photo_url("original")),
        s("display_url", value=_photo_url("display")), s("thumbnail_url", value=_photo_url("thumb-256")),
        *STAMPS)),
    SyncTable("work_logs", WorkLog, (
        s("visit_id", "technician"), s("technician_id"), t("started_at", "technician"),
        t("ended_at", "technician"), s("description", "technician"), *SYNC_STATUS, *STAMPS), pushable=True),
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
