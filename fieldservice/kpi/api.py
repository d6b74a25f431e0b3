"""KPI endpoint (R-KPI-1)."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.kpi import service
from fieldservice.kpi.schemas import KpiQuerySchema, KpiReportSchema

blp = Blueprint("kpis", __name__, url_prefix="/api/v1", description="KPIs the office reads (R-KPI-1)")

KPI_READERS = (Role.OFFICE, Role.ADMIN)


@blp.route("/kpis")
class Kpis(MethodView):
    @requires(*KPI_READERS)
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, KpiReportSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """On-time rate, first-time-fix rate, repair success rate, satisfaction, complaint rate, parts availability and inventory
        turnover over whole days `from`..`to`, overall and per technician, with targets (on-time >= 90%,
        satisfaction >= 85%, complaints < 3%) and each figure's definition (docs/kpis.md)."""
        return service.compute_kpis(args["from_"], args["to"], technician_id=args.get("technician_id"),
                                    tz=args["tz"])
