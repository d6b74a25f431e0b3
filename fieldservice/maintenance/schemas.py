"""Maintenance plan and occurrence schemas."""
from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text
from fieldservice.maintenance.models import IntervalUnit, OccurrenceStatus, PlanStatus

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _day(**kwargs: Any) -> fields.Date:
    return fields.Date(validate=validate.Range(min=EARLIEST, max=LATEST), **kwargs)


def _local_time(**kwargs: Any) -> fields.Time:
    """A local time of day (HH:MM) at the asset's site; no offset (the site's time zone applies)."""
    def naive(value: Any) -> None:
        if value.tzinfo is not None:
            raise ma.ValidationError("give a local time without an offset; the site's time zone applies")
    return fields.Time(validate=naive, **kwargs)


class PlanItemSchema(StrictSchema):
    task = text(500, required=True, metadata={"description": "What to do"})
    checklist = fields.List(text(500, required=True), validate=validate.Length(max=100), load_default=list)


class PlanInSchema(StrictSchema):
    id = fields.UUID()
    asset_id = fields.UUID(metadata={"description": "The one asset of the plan (or give contract_id)"})
    contract_id = fields.UUID(metadata={"description": "A plan for the assets of this sales contract"})
    asset_ids = fields.List(fields.UUID(), validate=validate.Length(max=1000), metadata={
        "description": "Contract plan: the chosen assets (each on the contract). Empty or absent: every asset "
                       "on the contract, including ones installed later"})
    name = text(200, required=True)
    items = fields.List(fields.Nested(PlanItemSchema), required=True, validate=validate.Length(min=1, max=100))
    interval = fields.Integer(strict=True, validate=validate.Range(min=1, max=1000), metadata={
        "description": "Every `interval` `interval_unit`s from start_on (give these, or rrule)"})
    interval_unit = fields.Enum(IntervalUnit, by_value=True)
    rrule = text(500, metadata={"description": "RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYMONTH=3,9;BYMONTHDAY=15 "
                                               "(DTSTART is start_on; specific months: BYMONTH)"})
    start_on = _day(required=True)
    end_on = _day(allow_none=True)
    window_start = _local_time(metadata={"description": "Preferred visit start, site local time (default 09:00)"})
    window_end = _local_time(metadata={"description": "Preferred visit end, site local time (default 12:00)"})
    technician_id = fields.UUID(allow_none=True)
    team_id = fields.UUID(allow_none=True, metadata={
        "description": "Instead of technician_id: a certified, free member of the team gets each visit"})


class PlanUpdateSchema(StrictSchema):
    name = text(200)
    items = fields.List(fields.Nested(PlanItemSchema), validate=validate.Length(min=1, max=100))
    interval = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=1000))
    interval_unit = fields.Enum(IntervalUnit, by_value=True, allow_none=True)
    rrule = text(500, allow_none=True)
    start_on = _day()
    end_on = _day(allow_none=True)
    window_start = _local_time()
    window_end = _local_time()
    technician_id = fields.UUID(allow_none=True)
    team_id = fields.UUID(allow_none=True)
    asset_ids = fields.List(fields.UUID(), validate=validate.Length(max=1000), metadata={
        "description": "Contract plan: replace the chosen assets ([] = every asset on the contract); open "
                       "occurrences of assets left out are cancelled"})
    version = fields.Integer(strict=True, metadata={"description": "The version you edited (409 if stale)"})


class PlanCancelSchema(StrictSchema):
    reason = text(500, required=True)
    version = fields.Integer(strict=True)


class PlanSchema(Schema):
    id = fields.UUID()
    asset_id = fields.UUID()
    contract_id = fields.UUID()
    asset_ids = fields.List(fields.UUID(), metadata={"description": "Contract plan: chosen assets (empty: all)"})
    name = fields.String()
    items = fields.List(fields.Dict())
    interval = fields.Integer()
    interval_unit = fields.Enum(IntervalUnit, by_value=True)
    rrule = fields.String()
    start_on = fields.Date()
    end_on = fields.Date()
    window_start = fields.Time(format="%H:%M")
    window_end = fields.Time(format="%H:%M")
    timezone = fields.String(metadata={"description": "The site's time zone, in which the window applies "
                                                      "(null for a contract plan: each asset's site zone)"})
    technician_id = fields.UUID()
    team_id = fields.UUID()
    status = fields.Enum(PlanStatus, by_value=True)
    cancel_reason = fields.String()
    covered_through = fields.Date(metadata={"description": "Occurrences exist for due dates up to this day"})
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class PlanQuerySchema(PageArgsSchema):
    asset_id = fields.UUID()
    contract_id = fields.UUID()
    status = fields.Enum(PlanStatus, by_value=True)


class OccurrenceSchema(Schema):
    id = fields.UUID()
    plan_id = fields.UUID()
    asset_id = fields.UUID()
    due_on = fields.Date()
    status = fields.Enum(OccurrenceStatus, by_value=True)
    work_order_id = fields.UUID()
    visit_id = fields.UUID()
    note = fields.String(metadata={"description": "Why the visit is unassigned or missing"})
    reason = fields.String(metadata={"description": "Why it was skipped or cancelled"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class OccurrenceSkipSchema(StrictSchema):
    reason = text(500, required=True, metadata={"description": "Why this due date is skipped (kept and shown)"})


class OccurrenceQuerySchema(PageArgsSchema):
    plan_id = fields.UUID()
    asset_id = fields.UUID()
    status = fields.List(fields.Enum(OccurrenceStatus, by_value=True), metadata={"description": "Repeat to match several"})
    due_from = _day()
    due_to = _day(metadata={"description": "Inclusive"})


class GenerateInSchema(StrictSchema):
    horizon_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=366), metadata={
        "description": "Days ahead to generate (default MAINTENANCE_HORIZON_DAYS, 30)"})


class GenerateResultSchema(Schema):
    plans = fields.Integer()
    created = fields.Integer()
    scheduled = fields.Integer()
    assigned = fields.Integer()
    unassigned = fields.Integer()
    pending = fields.Integer()
    missed = fields.Integer()
    done = fields.Integer()
    skipped = fields.Integer()
