"""PDF use cases: a signed record version's PDF and a work order's service report, with the same read rules
as reading the records (R-ARC-3), every download logged in the audit trail."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.db import utcnow
from fieldservice.errors import Conflict
from fieldservice.photos.adapters import Media
from fieldservice.records import pdf
from fieldservice.records import service as records_service
from fieldservice.records.models import ServiceRecord
from fieldservice.workorders import service as workorders_service


class RecordNotSigned(Conflict):
    code, title = "record_not_signed", "The record version is not signed"


@dataclass(frozen=True)
class PdfDocument:
    data: bytes
    filename: str


def record_filename(record: ServiceRecord, number: str) -> str:
    return f"{number}-{record.kind.value}-v{record.version_no}.pdf"


def require_signed(record: ServiceRecord) -> None:
    """Only a signed version has a PDF: it carries the signature and the hash it is bound to."""
    if not record.is_signed:
        raise RecordNotSigned(f"record version {record.id} is not signed yet; its PDF exists once the customer "
                              f"has signed it", record_id=str(record.id))


def render_signed_record(record: ServiceRecord, *, lang: str, media: Media | None) -> PdfDocument:
    """The PDF bytes of a signed version (no access check: callers have made it)."""
    require_signed(record)
    data = pdf.render_record(record, lang=lang, media=media)
    return PdfDocument(data, record_filename(record, _order_number(record)))


def _order_number(record: ServiceRecord) -> str:
    from fieldservice.extensions import db
    from fieldservice.workorders.models import WorkOrder

    order = db.session.get(WorkOrder, record.work_order_id)
    return order.number if order is not None else str(record.work_order_id)


def record_pdf(actor: Actor, record_id: uuid.UUID, *, lang: str, media: Media | None,
               now: datetime | None = None) -> PdfDocument:
    """R-ARC-3: whoever may read the record (a customer only their own; others 404) gets its PDF; the
    download is logged (archive read log and `record.pdf_downloaded`). A draft has no PDF yet: 409 record_not_signed."""
    record = records_service.get_record(actor, record_id, log_via="api")
    document = render_signed_record(record, lang=lang, media=media)
    audit_service.record(actor, "record.pdf_downloaded", record, {"version_no": record.version_no,
                                                                  "content_sha256": record.content_sha256},
                         at=now or utcnow())
    return document


def work_order_report_pdf(actor: Actor, work_order_id: uuid.UUID, *, lang: str, media: Media | None,
                          now: datetime | None = None) -> PdfDocument:
    """The service report of a work order (the records of all its visits), for whoever may see the work
    order; logged as `work_order.report_downloaded`."""
    from fieldservice.archive import service as archive_service

    order = workorders_service.get_work_order(actor, work_order_id)
    archive_service.log_read(actor, "work_order_report", order.id, via="api")
    records = pdf.report_records(order)
    data = pdf.render_report(order, lang=lang, media=media)
    audit_service.record(actor, "work_order.report_downloaded", order,
                         {"report_sha256": pdf.report_hash(order, records), "records": len(records)},
                         at=now or utcnow())
    return PdfDocument(data, f"{order.number}-service-report.pdf")
