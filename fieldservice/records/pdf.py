"""PDFs of signed records and of a work order's service report (reportlab), Chinese text included.

Chinese needs an embedded TrueType font: reportlab cannot embed CFF/OpenType-CFF fonts such as Noto CJK, so
the default is Debian's WenQuanYi Zen Hei (`fonts-wqy-zenhei`, a TTC: face 0), configurable with
`PDF_CJK_FONT` (a .ttf, or a .ttc with `PDF_CJK_FONT_INDEX`). Documents are built with reportlab's
`invariant` mode and contain no wall-clock time, so rendering the same record twice gives the same bytes and
the same hash line (docs/signing.md).
"""
from __future__ import annotations

import base64
import io
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from fieldservice.errors import DomainError
from fieldservice.extensions import db
from fieldservice.photos.models import Photo, Variant
from fieldservice.records import labels
from fieldservice.records.canonical import canonical_sha256
from fieldservice.records.models import ServiceRecord, Signoff
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder
from media.errors import MediaError

log = logging.getLogger(__name__)

DEFAULT_CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT_NAME = "FieldServiceCJK"
PHOTO_WIDTH = 70 * mm
PHOTO_HEIGHT = 60 * mm
SIGNATURE_WIDTH = 60 * mm
SIGNATURE_HEIGHT = 25 * mm


class PdfFontMissing(DomainError):
    """The server cannot render Chinese: its CJK font is missing (a set-up fault, not the caller's)."""

    status, code, title = 503, "pdf_font_missing", "PDF font not installed"


_registered: dict[tuple[str, int], str] = {}


def _font() -> str:
    """Register the configured CJK TrueType font once per process; return its reportlab name."""
    path = str(current_app.config.get("PDF_CJK_FONT") or DEFAULT_CJK_FONT)
    index = int(current_app.config.get("PDF_CJK_FONT_INDEX") or 0)
    key = (path, index)
    if key in _registered:
        return _registered[key]
    if not Path(path).is_file():
        raise PdfFontMissing(f"the CJK font {path} is not installed (Debian package fonts-wqy-zenhei, installed by "
                             f"`make run`/`make test`; or set PDF_CJK_FONT)")
    name = f"{FONT_NAME}{len(_registered)}"
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    _registered[key] = name
    return name


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=17, spaceBefore=8, spaceAfter=3),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=colors.grey),
        "hash": ParagraphStyle("hash", parent=base, fontSize=8, leading=11),
    }


def _p(value: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(value)).replace("\n", "<br/>"), style)


def local_time(value: datetime | None, zone: str) -> str:
    """A UTC time shown in the site's zone with its offset (deterministic: no 'now')."""
    if value is None:
        return ""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    local = value.astimezone(tz)
    return f"{local.isoformat(sep=' ', timespec='seconds')} ({zone})"


def _photo_image(photo_id: str, media: Any) -> Image | None:
    """The photo's display copy (upright, metadata stripped) from media storage, scaled to fit."""
    try:
        photo = db.session.get(Photo, uuid.UUID(str(photo_id)))
    except ValueError:
        return None
    if photo is None:
        return None
    key = photo.variant_key(Variant.THUMB_1280) or photo.variant_key(Variant.DISPLAY)
    if key is None or media is None:
        return None
    try:
        stream = media.storage.open(key)
        try:
            data = stream.read()
        finally:
            stream.close()
        return _scaled(data, PHOTO_WIDTH, PHOTO_HEIGHT)
    except (OSError, KeyError, ValueError, MediaError):  # missing blob, unreadable image: the PDF still renders
        log.warning("photo %s: stored copy %s unreadable", photo.id, key)
        return None


def _scaled(data: bytes, max_w: float, max_h: float) -> Image:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as im:
        w, h = im.size
    scale = min(max_w / w, max_h / h, 1.0)      # shrink to fit, never blow a small image up
    image = Image(io.BytesIO(data), width=w * scale, height=h * scale)
    image.hAlign = "LEFT"
    return image


def _content_flowables(record: ServiceRecord, lang: str, styles: dict[str, ParagraphStyle],
                       media: Any) -> list[Any]:
    story: list[Any] = []
    table_rows: list[list[Any]] = []
    table_style: list[tuple[Any, ...]] = []
    photos_missing = labels.text("empty", lang)

    def flush() -> None:
        if table_rows:
            t = Table(list(table_rows), colWidths=[55 * mm, 115 * mm])
            t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey), *table_style]))
            story.append(t)
            table_rows.clear()
            table_style.clear()

    for row in labels.rows(record.content, lang):
        indent = "\u3000" * row["depth"]
        label = _p(indent + row["label"], styles["base"])
        if row["photo_ids"]:
            table_rows.append([label, _p("", styles["base"])])
            flush()
            images = [img for img in (_photo_image(pid, media) for pid in row["photo_ids"]) if img is not None]
            if images:
                grid = [images[i:i + 2] for i in range(0, len(images), 2)]
                if len(grid[-1]) == 1:
                    grid[-1].append("")
                story.append(Table(grid, colWidths=[85 * mm, 85 * mm]))
            else:
                story.append(_p(photos_missing, styles["small"]))
        else:
            table_rows.append([label, _p(row["value"], styles["base"])])
            if not row["value"]:
                table_style.append(("BACKGROUND", (0, len(table_rows) - 1), (-1, len(table_rows) - 1),
                                    colors.whitesmoke))
    flush()
    return story


def _signature_flowables(record: ServiceRecord, signoff: Signoff | None, zone: str, lang: str,
                         styles: dict[str, ParagraphStyle]) -> list[Any]:
    t = lambda key: labels.text(key, lang)  # noqa: E731
    if signoff is None:
        return [_p(t("not_signed"), styles["h2"])]
    items: list[Any] = [_p(t("signature"), styles["h2"])]
    if signoff.signature_png:
        items.append(_scaled(base64.b64decode(signoff.signature_png), SIGNATURE_WIDTH, SIGNATURE_HEIGHT))
    items.append(_p(f"{t('signed_by')}: {signoff.signer_name}", styles["base"]))
    items.append(_p(f"{t('signed_at')}: {local_time(signoff.signed_at, zone)}", styles["base"]))
    return [KeepTogether(items)]


def _hash_line(label: str, value: str | None, styles: dict[str, ParagraphStyle]) -> Paragraph:
    return _p(f"{label}: {value or '-'}", styles["hash"])


def _header(order: WorkOrder, lang: str, styles: dict[str, ParagraphStyle]) -> Table:
    t = lambda key: labels.text(key, lang)  # noqa: E731
    product = f"{order.product.name} ({order.product.model_code})"
    serial = order.asset.serial_number if order.asset else labels.text("empty", lang)
    rows = [[t("work_order"), order.number], [t("customer"), order.customer.name], [t("product"), product],
            [t("serial"), serial], [t("site"), f"{order.site.name} · {order.site.address}"]]
    table = Table([[_p(a, styles["base"]), _p(b, styles["base"])] for a, b in rows], colWidths=[35 * mm, 135 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOX", (0, 0), (-1, -1), 0.5, colors.grey)]))
    return table


def _record_story(record: ServiceRecord, lang: str, styles: dict[str, ParagraphStyle], media: Any) -> list[Any]:
    order = db.session.get(WorkOrder, record.work_order_id)
    assert order is not None
    signoff = db.session.scalar(sa.select(Signoff).where(Signoff.record_id == record.id))
    t = lambda key: labels.text(key, lang)  # noqa: E731
    story: list[Any] = [
        _p(f"{labels.kind_label(record.kind.value, lang)} · {t('version')} {record.version_no}", styles["h2"]),
        *_content_flowables(record, lang, styles, media),
        Spacer(1, 4 * mm),
        *_signature_flowables(record, signoff, order.site.timezone, lang, styles),
        Spacer(1, 2 * mm),
        _hash_line(t("document_hash"), record.content_sha256, styles),
        _p(f"record {record.id}", styles["small"]),
    ]
    return story


def _build(story: list[Any], title: str, font: str) -> bytes:
    buf = io.BytesIO()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"{title} · {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=title, author="fieldservice", creator="fieldservice",
                            producer="fieldservice", subject=title, invariant=1)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def render_record(record: ServiceRecord, *, lang: str = labels.DEFAULT_LANGUAGE, media: Any = None) -> bytes:
    """The PDF of one record version: header (work order, customer, product, serial, site), the content with
    its photos, the signature image, signer, signing time (site's zone) and the document hash line."""
    font = _font()
    styles = _styles(font)
    order = db.session.get(WorkOrder, record.work_order_id)
    assert order is not None
    title = f"{labels.kind_label(record.kind.value, lang)} {order.number}"
    story = [_p(title, styles["title"]), _header(order, lang, styles), Spacer(1, 3 * mm),
             *_record_story(record, lang, styles, media)]
    return _build(story, title, font)


def report_records(order: WorkOrder) -> list[ServiceRecord]:
    """The records of all visits of a work order: the newest version of each, in visit then creation order."""
    rows = list(db.session.scalars(
        sa.select(ServiceRecord).join(Visit, Visit.id == ServiceRecord.visit_id)
        .where(ServiceRecord.work_order_id == order.id)
        .order_by(Visit.scheduled_start, ServiceRecord.created_at, ServiceRecord.root_id, ServiceRecord.version_no)))
    latest: dict[uuid.UUID, ServiceRecord] = {}
    for record in rows:
        latest[record.root_id] = record      # ordered by version_no: the last one wins
    return list(latest.values())


def report_hash(order: WorkOrder, records: list[ServiceRecord]) -> str:
    """The service report's hash: SHA-256 of the canonical JSON of its records' ids and signed hashes."""
    return canonical_sha256({"work_order_id": order.id,
                             "records": [{"record_id": r.id, "content_sha256": r.content_sha256} for r in records]})


def render_report(order: WorkOrder, *, lang: str = labels.DEFAULT_LANGUAGE, media: Any = None) -> bytes:
    """The service report (售后服务报告单): the records of all the work order's visits, each with its signature
    and hash line, and the report's own hash line."""
    font = _font()
    styles = _styles(font)
    records = report_records(order)
    t = lambda key: labels.text(key, lang)  # noqa: E731
    title = f"{labels.kind_label('service_report', lang)} {order.number}"
    story: list[Any] = [_p(title, styles["title"]), _header(order, lang, styles), Spacer(1, 2 * mm),
                        _hash_line(t("report_hash"), report_hash(order, records), styles),
                        _p(f"{t('report_records')}: {len(records)}", styles["base"])]
    for record in records:
        story.extend([Spacer(1, 4 * mm), *_record_story(record, lang, styles, media)])
    return _build(story, title, font)
