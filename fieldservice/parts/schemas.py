"""Parts, stock and defective-return schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import (
    PageArgsSchema,
    StrictSchema,
    aware_datetime,
    currency,
    money_minor,
    text,
)
from fieldservice.parts.models import (
    DefectOutcome,
    DefectStatus,
    LocationKind,
    MovementKind,
    ResponsibleParty,
    StockCountStatus,
)

QUANTITY_MAX = 1_000_000


def quantity(**kwargs):  # type: ignore[no-untyped-def]
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=QUANTITY_MAX), **kwargs)


def serials():  # type: ignore[no-untyped-def]
    return fields.List(text(80, required=True), validate=validate.Length(max=1000), load_default=None,
                       metadata={"description": "One serial per unit, for serial-tracked parts"})


class PartInSchema(StrictSchema):
    part_number = text(60, required=True)
    name = text(200, required=True)
    description = text(5000, allow_none=True)
    is_approved = fields.Boolean(load_default=True, metadata={"description": "Genuine or company-approved (R-REP-6)"})
    unit_cost_minor = money_minor(load_default=0)
    currency = currency(load_default="CNY")
    safety_stock = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=QUANTITY_MAX))
    serial_tracked = fields.Boolean(load_default=False)


class PartUpdateSchema(StrictSchema):
    name = text(200)
    description = text(5000, allow_none=True)
    is_approved = fields.Boolean()
    unit_cost_minor = money_minor()
    currency = currency()
    safety_stock = fields.Integer(strict=True, validate=validate.Range(min=0, max=QUANTITY_MAX))
    is_active = fields.Boolean()


class PartSchema(Schema):
    id = fields.UUID()
    part_number = fields.String()
    name = fields.String()
    description = fields.String()
    is_approved = fields.Boolean()
    unit_cost_minor = fields.Integer()
    currency = fields.String()
    safety_stock = fields.Integer()
    serial_tracked = fields.Boolean()
    is_active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class PartQuerySchema(PageArgsSchema):
    q = text(100)
    approved = fields.Boolean()


class LocationInSchema(StrictSchema):
    code = text(40, required=True)
    name = text(200, required=True)
    kind = fields.Enum(LocationKind, by_value=True, required=True)
    technician_id = fields.UUID(allow_none=True, metadata={"description": "Required for a van"})


class LocationSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    kind = fields.Enum(LocationKind, by_value=True)
    technician_id = fields.UUID()
    is_active = fields.Boolean()
    created_at = fields.AwareDateTime()


class LocationQuerySchema(PageArgsSchema):
    kind = fields.Enum(LocationKind, by_value=True)


class ReceiveSchema(StrictSchema):
    part_id = fields.UUID(required=True)
    location_id = fields.UUID(required=True)
    quantity = quantity(required=True)
    serial_numbers = serials()
    reason = text(500, allow_none=True, metadata={"description": "e.g. supplier delivery note"})


class TransferSchema(StrictSchema):
    part_id = fields.UUID(required=True)
    from_location_id = fields.UUID(required=True)
    to_location_id = fields.UUID(required=True)
    quantity = quantity(required=True)
    serial_numbers = serials()
    reason = text(500, allow_none=True)


class IssueSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id (optional)"})
    part_id = fields.UUID(required=True)
    work_order_id = fields.UUID(required=True)
    visit_id = fields.UUID(allow_none=True)
    location_id = fields.UUID(allow_none=True, metadata={"description": "The van; technicians may omit it"})
    quantity = quantity(required=True)
    serial_numbers = serials()


class ReturnSchema(StrictSchema):
    part_id = fields.UUID(required=True)
    work_order_id = fields.UUID(required=True)
    location_id = fields.UUID(required=True)
    quantity = quantity(required=True)
    serial_numbers = serials()
    reason = text(500, allow_none=True)


class AdjustSchema(StrictSchema):
    part_id = fields.UUID(required=True)
    location_id = fields.UUID(required=True)
    quantity = fields.Integer(strict=True, required=True,
                              validate=[validate.Range(min=-QUANTITY_MAX, max=QUANTITY_MAX),
                                        validate.NoneOf([0], error="must not be 0")])
    serial_numbers = serials()
    reason = text(500, required=True)


class MovementSchema(Schema):
    id = fields.UUID()
    group_id = fields.UUID()
    kind = fields.Enum(MovementKind, by_value=True)
    part_id = fields.UUID()
    location_id = fields.UUID()
    quantity = fields.Integer()
    work_order_id = fields.UUID()
    visit_id = fields.UUID()
    serial_numbers = fields.List(fields.String())
    reason = fields.String()
    stock_count_id = fields.UUID()
    defective_return_id = fields.UUID()
    technician_id = fields.UUID()
    actor_user_id = fields.UUID()
    occurred_at = fields.AwareDateTime()
    device_time = fields.AwareDateTime()
    created_at = fields.AwareDateTime()


class MovementQuerySchema(PageArgsSchema):
    part_id = fields.UUID()
    location_id = fields.UUID()
    work_order_id = fields.UUID()
    kind = fields.Enum(MovementKind, by_value=True)


class BalanceSchema(Schema):
    part_id = fields.UUID()
    location_id = fields.UUID()
    on_hand = fields.Integer()
    below_safety = fields.Boolean()
    updated_at = fields.AwareDateTime()


class BalanceQuerySchema(PageArgsSchema):
    part_id = fields.UUID()
    location_id = fields.UUID()
    below_safety = fields.Boolean()


class CountLineInSchema(StrictSchema):
    part_id = fields.UUID(required=True)
    counted = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=QUANTITY_MAX))


class CountInSchema(StrictSchema):
    location_id = fields.UUID(required=True)
    counted_at = aware_datetime()
    note = text(500, allow_none=True)
    lines = fields.List(fields.Nested(CountLineInSchema), required=True, validate=validate.Length(min=1, max=5000))


class CountLineSchema(Schema):
    part_id = fields.UUID()
    counted = fields.Integer()
    ledger_on_hand = fields.Integer()
    difference = fields.Integer()


class CountSchema(Schema):
    id = fields.UUID()
    location_id = fields.UUID()
    status = fields.Enum(StockCountStatus, by_value=True)
    counted_at = fields.AwareDateTime()
    counted_by_id = fields.UUID()
    note = fields.String()
    posted_at = fields.AwareDateTime()
    posted_by_id = fields.UUID()
    lines = fields.List(fields.Nested(CountLineSchema))


class CountQuerySchema(PageArgsSchema):
    location_id = fields.UUID()


class DefectInSchema(StrictSchema):
    part_id = fields.UUID(required=True)
    work_order_id = fields.UUID(required=True)
    serial_number = text(80, allow_none=True)
    reason = text(1000, required=True)
    quarantine_location_id = fields.UUID(required=True)


class AssessmentSchema(StrictSchema):
    responsible_party = fields.Enum(ResponsibleParty, by_value=True, required=True)
    outcome = fields.Enum(DefectOutcome, by_value=True, required=True)
    notes = text(5000, allow_none=True)
    version = fields.Integer(strict=True)


class DisposalSchema(StrictSchema):
    restock_location_id = fields.UUID(allow_none=True)
    version = fields.Integer(strict=True)


class DefectSchema(Schema):
    id = fields.UUID()
    tag = fields.String()
    part_id = fields.UUID()
    serial_number = fields.String()
    work_order_id = fields.UUID()
    reason = fields.String()
    status = fields.Enum(DefectStatus, by_value=True)
    quarantine_location_id = fields.UUID()
    responsible_party = fields.Enum(ResponsibleParty, by_value=True)
    outcome = fields.Enum(DefectOutcome, by_value=True)
    assessment_notes = fields.String()
    assessed_at = fields.AwareDateTime()
    assessed_by_id = fields.UUID()
    closed_at = fields.AwareDateTime()
    restock_location_id = fields.UUID()
    created_at = fields.AwareDateTime()
    version = fields.Integer()


class DefectQuerySchema(PageArgsSchema):
    status = fields.Enum(DefectStatus, by_value=True)
    work_order_id = fields.UUID()
