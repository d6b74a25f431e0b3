"""PDF endpoints: a signed record version and a work order's service report (reportlab, Chinese text)."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from fieldservice.auth.decorators import current_actor, requires
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import StrictSchema
from fieldservice.db import unit_of_work
from fieldservice.photos.adapters import current_media
from fieldservice.records import documents
from fieldservice.records.api import READERS
from fieldservice.records.labels import DEFAULT_LANGUAGE, LANGUAGES
from media.storage import content_disposition

blp = Blueprint("record_documents", __name__, url_prefix="/api/v1",
                description="PDFs of signed records and of a work order's service report")


class PdfArgsSchema(StrictSchema):
    lang = fields.String(load_default=DEFAULT_LANGUAGE, validate=validate.OneOf(LANGUAGES),
                         metadata={"description": "Language of the labels: zh (default) or en"})


PDF_CONTENT = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def pdf_response(document: documents.PdfDocument) -> Response:
    return Response(document.data, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(document.filename, attachment=True),
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@blp.route("/records/<uuid:record_id>/pdf")
class RecordPdf(MethodView):
    @requires(*READERS)
    @blp.arguments(PdfArgsSchema, location="query")
    @blp.response(200, description="The signed record with photos, signature and hash line",
                  content_type="application/pdf")
    @blp.doc(responses={"200": PDF_CONTENT})
    @blp.alt_response(404, description="No such record, or not one the caller may read (R-ARC-3)")
    @blp.alt_response(409, description="record_not_signed: a draft has no PDF")
    def get(self, args: dict[str, Any], record_id: uuid.UUID) -> Any:
        """Download the PDF of a signed record version (same read rules as the record; the download is
        logged as record.pdf_downloaded)."""
        with unit_of_work():
            document = documents.record_pdf(current_actor(), record_id, lang=args["lang"], media=current_media())
        return pdf_response(document)


@blp.route("/work-orders/<uuid:work_order_id>/report.pdf")
class WorkOrderReportPdf(MethodView):
    @requires(*READERS)
    @blp.arguments(PdfArgsSchema, location="query")
    @blp.response(200, description="The service report (records of all visits)", content_type="application/pdf")
    @blp.doc(responses={"200": PDF_CONTENT})
    @blp.alt_response(404, description="No such work order, or not one the caller may see")
    def get(self, args: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Download the service report of a work order: the newest version of every record of its visits, each
        with its signature and hash line, and the report's own hash (logged as work_order.report_downloaded)."""
        with unit_of_work():
            document = documents.work_order_report_pdf(current_actor(), work_order_id, lang=args["lang"],
                                                       media=current_media())
        return pdf_response(document)
