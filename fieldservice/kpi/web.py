"""Office page: the KPI board (R-KPI-1), actuals against targets."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, render_template

from fieldservice.auth.models import Role
from fieldservice.kpi import service
from fieldservice.web.auth import office_page
from fieldservice.web.params import query_day

bp = Blueprint("office_kpis", __name__, url_prefix="/office")

LABELS = {
    "on_time_rate": "准时率 On-time rate",
    "first_time_fix_rate": "一次修复率 First-time fix",
    "repair_success_rate": "维修成功率 Repair success",
    "satisfaction": "客户满意度 Satisfaction",
    "complaint_rate": "投诉率 Complaint rate",
    "parts_availability": "备件可用率 Parts availability",
    "inventory_turnover": "库存周转 Inventory turnover",
}


@bp.get("/kpis")
@office_page(Role.OFFICE, Role.ADMIN)
def kpi_board() -> Any:
    """The KPI board for a date range (default: the last 30 days), overall and per technician."""
    today = date.today()
    end = query_day("to", today)
    start = query_day("from", end - timedelta(days=29))
    report = service.compute_kpis(start, end)
    return render_template("office/kpi_board.html", report=report, labels=LABELS)
