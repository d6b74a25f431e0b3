"""Product line and product model use cases."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product, ProductLine
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.errors import Conflict
from fieldservice.extensions import db


def list_product_lines(page: PageRequest) -> Page:
    return paginate(sa.select(ProductLine).order_by(ProductLine.code, ProductLine.id), page)


def get_product_line(line_id: uuid.UUID) -> ProductLine:
    return get_or_404(ProductLine, line_id, "product line")


def create_product_line(actor: Actor, data: dict[str, Any]) -> ProductLine:
    if db.session.scalar(sa.select(ProductLine.id).where(ProductLine.code == data["code"])):
        raise Conflict(f"product line code {data['code']!r} exists")
    line = ProductLine(**data)
    db.session.add(line)
    db.session.flush()
    audit_service.record(actor, "product_line.create", line, {"code": line.code})
    return line


def update_product_line(actor: Actor, line_id: uuid.UUID, data: dict[str, Any]) -> ProductLine:
    line = get_product_line(line_id)
    if "code" in data and data["code"] != line.code and db.session.scalar(
            sa.select(ProductLine.id).where(ProductLine.code == data["code"])):
        raise Conflict(f"product line code {data['code']!r} exists")
    diff = audit_service.changes(line, data)
    if diff:
        audit_service.record(actor, "product_line.update", line, diff)
    return line


def list_products(page: PageRequest, *, product_line_id: uuid.UUID | None = None, q: str | None = None) -> Page:
    stmt = sa.select(Product).order_by(Product.model_code, Product.id)
    if product_line_id:
        stmt = stmt.where(Product.product_line_id == product_line_id)
    if q:
        stmt = stmt.where(sa.or_(contains(Product.model_code, q.strip()), contains(Product.name, q.strip())))
    return paginate(stmt, page)


def get_product(product_id: uuid.UUID) -> Product:
    return get_or_404(Product, product_id, "product")


def create_product(actor: Actor, data: dict[str, Any]) -> Product:
    get_ref(ProductLine, data["product_line_id"], "product_line_id", "product line")
    if db.session.scalar(sa.select(Product.id).where(Product.model_code == data["model_code"])):
        raise Conflict(f"product model {data['model_code']!r} exists")
    product = Product(**data)
    db.session.add(product)
    db.session.flush()
    audit_service.record(actor, "product.create", product, {"model_code": product.model_code})
    return product


def update_product(actor: Actor, product_id: uuid.UUID, data: dict[str, Any]) -> Product:
    product = get_product(product_id)
    if "product_line_id" in data:
        get_ref(ProductLine, data["product_line_id"], "product_line_id", "product line")
    if "model_code" in data and data["model_code"] != product.model_code and db.session.scalar(
            sa.select(Product.id).where(Product.model_code == data["model_code"])):
        raise Conflict(f"product model {data['model_code']!r} exists")
    diff = audit_service.changes(product, data)
    if diff:
        audit_service.record(actor, "product.update", product, diff)
    return product
