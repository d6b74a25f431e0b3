"""Office page: the KPI board (R-KPI-1): each figure against its target with the misses marked, as charts
(server-drawn SVG, no script) and tables, the weekly trend, and per technician. The days are whole days in the
company's time zone (COMPANY_TIMEZONE), the same default as GET /api/v1/kpis, so the page and the API agree
on "today" at any hour."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from fieldservice.auth.models import Role
from fieldservice.errors import DomainError
from fieldservice.kpi import service
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.i18n import company_today, company_zone
from fieldservice.web.params import query_day

bp = Blueprint("office_kpis", __name__, url_prefix="/office")

LABELS = {
    "on_time_rate": _l("On-time rate"),
    "first_time_fix_rate": _l("First-time fix rate"),
    "repair_success_rate": _l("Repair success rate"),
    "satisfaction": _l("Customer satisfaction"),
    "complaint_rate": _l("Complaint rate"),
    "parts_availability": _l("Parts availability"),
    "inventory_turnover": _l("Inventory turnover"),
}
# how each figure is counted (fieldservice/kpi/service.py DEFINITIONS, in the page's language)
DEFINITIONS = {
    "on_time_rate": _l("Visits scheduled in the range (not cancelled) whose technician arrived by the end of the "
                       "agreed window, over those visits that were attended or whose window has ended."),
    "first_time_fix_rate": _l("Repair visits completed in the range that were the job's first attended visit, over "
                              "all repair visits completed in the range."),
    "repair_success_rate": _l("Repair jobs signed by the customer in the range that were never sent back to rework "
                              "and had no new repair on the same unit within 30 days, over all repair jobs signed "
                              "in the range."),
    "satisfaction": _l("Satisfaction surveys of the range rated 4 or 5 overall, over all surveys of the range."),
    "complaint_rate": _l("Complaints received in the range, over visits completed in the range."),
    "parts_availability": _l("Now: warehouse stock lines at or above their safety stock, over all warehouse stock "
                             "lines (per technician: lines in their van with stock)."),
    "inventory_turnover": _l("Value of parts issued to jobs in the range (net of returns), over the average stock "
                             "value in the range."),
}
RATIOS = [name for name in LABELS if name != "inventory_turnover"]
TREND_WEEKS = 8


@bp.get("/kpis")
@office_page(Role.OFFICE, Role.ADMIN)
def kpi_board() -> Any:
    """The KPI board for a date range (default: the last 30 days up to today in the company's zone)."""
    tz = str(company_zone())
    end = query_day("to", company_today())
    start = query_day("from", end - timedelta(days=29))
    try:
        report = service.compute_kpis(start, end, tz=tz)
        trend = service.weekly_trend(end, weeks=TREND_WEEKS, tz=tz)
    except DomainError as err:
        return forms.error_page(err)
    return render_template("office/kpi_board.html", report=report, trend=trend, labels=LABELS, ratios=RATIOS,
                           definitions=DEFINITIONS)
