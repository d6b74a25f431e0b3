"""KPI query and response schemas."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import marshmallow as ma
from flask import current_app
from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import StrictSchema


class KpiQuerySchema(StrictSchema):
    from_ = fields.Date(data_key="from", metadata={"description": "First day (YYYY-MM-DD); default: 29 days before `to`"})
    to = fields.Date(metadata={"description": "Last day, inclusive; default: today in `tz`"})
    technician_id = fields.UUID(metadata={"description": "Only this technician in `technicians`"})
    tz = fields.String(load_default=lambda: current_app.config.get("COMPANY_TIMEZONE", "Asia/Shanghai"),
                       validate=validate.Length(max=64),
                       metadata={"description": "Time zone of the days (IANA name); default: the company's "
                                                "(COMPANY_TIMEZONE, Asia/Shanghai), as the office page"})

    @ma.post_load
    def _default_range(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Without dates: the last 30 days up to today in the time zone asked for (as the office page)."""
        if "to" not in data:
            data["to"] = datetime.now(ZoneInfo(data["tz"])).date()
        if "from_" not in data:
            data["from_"] = data["to"] - timedelta(days=29)
        return data

    @ma.validates("tz")
    def _tz(self, value: str, **kwargs: Any) -> None:
        if value not in available_timezones():
            raise ma.ValidationError("unknown time zone")


class FigureSchema(Schema):
    value = fields.Float(allow_none=True, metadata={"description": "numerator / denominator (null when 0/0)"})
    numerator = fields.Float()
    denominator = fields.Float()
    target = fields.Dict(allow_none=True)
    meets_target = fields.Boolean(allow_none=True)
    average_rating = fields.Float(allow_none=True)
    opening_value = fields.Integer()
    closing_value = fields.Integer()


class KpiSetSchema(Schema):
    on_time_rate = fields.Nested(FigureSchema)
    first_time_fix_rate = fields.Nested(FigureSchema)
    repair_success_rate = fields.Nested(FigureSchema)
    satisfaction = fields.Nested(FigureSchema)
    complaint_rate = fields.Nested(FigureSchema)
    parts_availability = fields.Nested(FigureSchema)
    inventory_turnover = fields.Nested(FigureSchema)


class TechnicianKpiSchema(Schema):
    technician_id = fields.UUID()
    name = fields.String()
    kpis = fields.Nested(KpiSetSchema)


class KpiReportSchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    timezone = fields.String()
    technician_id = fields.UUID(allow_none=True)
    overall = fields.Nested(KpiSetSchema)
    technicians = fields.List(fields.Nested(TechnicianKpiSchema))
    targets = fields.Dict()
    definitions = fields.Dict()
