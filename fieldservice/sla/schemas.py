"""SLA calendar, policy, clock and breach schemas."""
from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, TimeRangeArgs, aware_datetime, text
from fieldservice.sla.models import ClockStatus, SlaTarget

MINUTES = validate.Range(min=1, max=60 * 24 * 365)
DAY = validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31))


def _days() -> fields.List:
    return fields.List(fields.Date(validate=DAY), validate=validate.Length(max=1000))


class SlaCalendarInSchema(StrictSchema):
    name = text(120, required=True)
    timezone = text(64, load_default="Asia/Shanghai", metadata={"description": "IANA zone, e.g. Asia/Shanghai"})
    workdays = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=7)),
                           validate=validate.Length(max=7),
                           metadata={"description": "ISO weekdays worked, 1 = Monday (default 1-5)"})
    day_start = fields.Time(metadata={"description": "Local opening time (default 09:00)"})
    day_end = fields.Time(metadata={"description": "Local closing time (default 18:00)"})
    holidays = _days()
    extra_workdays = _days()


class SlaCalendarUpdateSchema(StrictSchema):
    name = text(120)
    timezone = text(64)
    workdays = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=7)),
                           validate=validate.Length(max=7))
    day_start = fields.Time()
    day_end = fields.Time()
    holidays = _days()
    extra_workdays = _days()


class SlaCalendarSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    timezone = fields.String()
    workdays = fields.List(fields.Integer())
    day_start = fields.Time()
    day_end = fields.Time()
    holidays = fields.List(fields.String())
    extra_workdays = fields.List(fields.String())


class SlaPolicyInSchema(StrictSchema):
    name = text(120, required=True)
    is_default = fields.Boolean(load_default=False)
    contract_id = fields.UUID(allow_none=True, metadata={"description": "A contract's own limits (R-SLA-1)"})
    calendar_id = fields.UUID(allow_none=True, metadata={"description": "Business hours; none = round the clock"})
    respond_minutes = fields.Integer(strict=True, validate=MINUTES, load_default=30)
    on_site_minutes = fields.Integer(strict=True, validate=MINUTES, load_default=120)
    fix_minutes = fields.Integer(strict=True, validate=MINUTES, load_default=240)
    answer_minutes = fields.Integer(strict=True, validate=MINUTES, load_default=24 * 60)
    escalate_to = text(320, allow_none=True, metadata={
        "description": "Who hears of breaches: an e-mail address (sent by SMTP) or a name for the webhook"})


class SlaPolicyUpdateSchema(StrictSchema):
    name = text(120)
    is_default = fields.Boolean()
    contract_id = fields.UUID(allow_none=True)
    calendar_id = fields.UUID(allow_none=True)
    respond_minutes = fields.Integer(strict=True, validate=MINUTES)
    on_site_minutes = fields.Integer(strict=True, validate=MINUTES)
    fix_minutes = fields.Integer(strict=True, validate=MINUTES)
    answer_minutes = fields.Integer(strict=True, validate=MINUTES)
    escalate_to = text(320, allow_none=True)
    version = fields.Integer(strict=True, metadata={"description": "The version you edited (409 if stale)"})


class SlaPolicySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    is_default = fields.Boolean()
    contract_id = fields.UUID(allow_none=True)
    calendar_id = fields.UUID(allow_none=True)
    respond_minutes = fields.Integer()
    on_site_minutes = fields.Integer()
    fix_minutes = fields.Integer()
    answer_minutes = fields.Integer()
    escalate_to = fields.String(allow_none=True)
    version = fields.Integer()


class SlaClockSchema(Schema):
    id = fields.UUID()
    target = fields.Enum(SlaTarget, by_value=True)
    status = fields.Enum(ClockStatus, by_value=True)
    outcome = fields.String(metadata={"description": "pending, met, breached or cancelled"})
    target_minutes = fields.Integer()
    business_time = fields.Boolean()
    elapsed_seconds = fields.Integer(metadata={"description": "Counted time so far (business time if business_time)"})
    started_at = fields.AwareDateTime()
    due_at = fields.AwareDateTime(allow_none=True)
    agreed_due_at = fields.AwareDateTime(allow_none=True)
    stopped_at = fields.AwareDateTime(allow_none=True)
    breached_at = fields.AwareDateTime(allow_none=True)
    policy_id = fields.UUID(allow_none=True)


class SlaBreachSchema(Schema):
    id = fields.UUID()
    clock_id = fields.UUID()
    target = fields.Enum(SlaTarget, by_value=True)
    work_order_id = fields.UUID(allow_none=True)
    service_request_id = fields.UUID(allow_none=True)
    due_at = fields.AwareDateTime()
    detected_at = fields.AwareDateTime()
    escalated_to = fields.String(allow_none=True)


class WorkOrderSlaSchema(Schema):
    work_order_id = fields.UUID()
    clocks = fields.List(fields.Nested(SlaClockSchema))
    breaches = fields.List(fields.Nested(SlaBreachSchema))


class SlaBreachQuerySchema(TimeRangeArgs, PageArgsSchema):
    RANGE = ("detected_from", "detected_to")

    target = fields.Enum(SlaTarget, by_value=True)
    work_order_id = fields.UUID()
    detected_from = aware_datetime()
    detected_to = aware_datetime()
