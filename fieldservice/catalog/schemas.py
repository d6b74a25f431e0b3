"""Product line and product schemas."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text


class ProductLineInSchema(StrictSchema):
    id = fields.UUID()
    code = text(40, required=True)
    name = text(200, required=True)
    description = text(4000, allow_none=True)


class ProductLineUpdateSchema(StrictSchema):
    code = text(40)
    name = text(200)
    description = text(4000, allow_none=True)


class ProductLineSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    description = fields.String()


MAX_PARAMETERS = 100
MAX_STEPS = 100
BOUND = validate.Range(min=-1e12, max=1e12)


class CommissioningParameterSchema(StrictSchema):
    """R-INS-4: a parameter measured at commissioning and its expected range."""

    name = text(200, required=True)
    unit = text(20, allow_none=True)
    min = fields.Float(required=True, allow_nan=False, validate=BOUND)
    max = fields.Float(required=True, allow_nan=False, validate=BOUND)

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("min") is not None and data.get("max") is not None and data["min"] > data["max"]:
            raise ma.ValidationError("min is above max", "min")


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        key = value.strip().casefold()
        if key in seen:
            raise ma.ValidationError(f"{what} {value.strip()!r} is listed twice")
        seen.add(key)


class ProcedureFields(StrictSchema):
    """R-INS-4: the product's installation procedure, against which installation sheets are checked."""

    commissioning_parameters = fields.List(
        fields.Nested(CommissioningParameterSchema), validate=validate.Length(max=MAX_PARAMETERS),
        metadata={"description": "Parameters measured at commissioning, each with its expected range"})
    installation_checklist = fields.List(
        text(500, required=True), validate=validate.Length(max=MAX_STEPS),
        metadata={"description": "The steps of the installation procedure, in order"})

    @ma.validates("commissioning_parameters")
    def _parameter_names(self, value: list[dict[str, Any]], **kwargs: Any) -> None:
        _unique([p["name"] for p in value if isinstance(p, dict) and isinstance(p.get("name"), str)], "parameter")

    @ma.validates("installation_checklist")
    def _steps(self, value: list[str], **kwargs: Any) -> None:
        _unique([step for step in value if isinstance(step, str)], "step")


class ProductInSchema(ProcedureFields):
    id = fields.UUID()
    product_line_id = fields.UUID(required=True)
    model_code = text(80, required=True)
    name = text(200, required=True)
    description = text(4000, allow_none=True)
    warranty_months = fields.Integer(strict=True, validate=validate.Range(min=0, max=240))


class ProductUpdateSchema(ProcedureFields):
    product_line_id = fields.UUID()
    model_code = text(80)
    name = text(200)
    description = text(4000, allow_none=True)
    warranty_months = fields.Integer(strict=True, validate=validate.Range(min=0, max=240))
    is_active = fields.Boolean()


class ProductSchema(Schema):
    id = fields.UUID()
    product_line_id = fields.UUID()
    model_code = fields.String()
    name = fields.String()
    description = fields.String()
    warranty_months = fields.Integer()
    is_active = fields.Boolean()
    commissioning_parameters = fields.List(fields.Dict(), metadata={
        "description": "R-INS-4: [{name, unit, min, max}] measured at commissioning"})
    installation_checklist = fields.List(fields.String(), metadata={"description": "R-INS-4: the steps, in order"})


class ProductQuerySchema(PageArgsSchema):
    product_line_id = fields.UUID()
    q = text(100, metadata={"description": "Matches model code or name"})
