"""Product line and product endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import ALL_STAFF, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.catalog import service
from fieldservice.catalog.schemas import (
    ProductInSchema,
    ProductLineInSchema,
    ProductLineSchema,
    ProductLineUpdateSchema,
    ProductQuerySchema,
    ProductSchema,
    ProductUpdateSchema,
)
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import PageArgsSchema, page_of
from fieldservice.db import unit_of_work

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="Product lines and product models")

READERS = (*ALL_STAFF, Role.CUSTOMER)
WRITERS = (Role.OFFICE, Role.ADMIN, Role.DISPATCHER)


@blp.route("/product-lines")
class ProductLines(MethodView):
    @requires(*READERS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(ProductLineSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List product lines."""
        return service.list_product_lines(args["page_request"])

    @requires(*WRITERS)
    @blp.arguments(ProductLineInSchema)
    @blp.response(201, ProductLineSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a product line (what technicians are certified for)."""
        with unit_of_work():
            return service.create_product_line(current_actor(), data)


@blp.route("/product-lines/<uuid:line_id>")
class ProductLineItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ProductLineSchema)
    def get(self, line_id: uuid.UUID) -> Any:
        """One product line."""
        return service.get_product_line(line_id)

    @requires(*WRITERS)
    @blp.arguments(ProductLineUpdateSchema)
    @blp.response(200, ProductLineSchema)
    def patch(self, data: dict[str, Any], line_id: uuid.UUID) -> Any:
        """Change a product line."""
        with unit_of_work():
            return service.update_product_line(current_actor(), line_id, data)


@blp.route("/products")
class Products(MethodView):
    @requires(*READERS)
    @blp.arguments(ProductQuerySchema, location="query")
    @blp.response(200, page_of(ProductSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List product models."""
        page = args.pop("page_request")
        return service.list_products(page, **args)

    @requires(*WRITERS)
    @blp.arguments(ProductInSchema)
    @blp.response(201, ProductSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a product model."""
        with unit_of_work():
            return service.create_product(current_actor(), data)


@blp.route("/products/<uuid:product_id>")
class ProductItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ProductSchema)
    def get(self, product_id: uuid.UUID) -> Any:
        """One product model."""
        return service.get_product(product_id)

    @requires(*WRITERS)
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    def patch(self, data: dict[str, Any], product_id: uuid.UUID) -> Any:
        """Change a product model."""
        with unit_of_work():
            return service.update_product(current_actor(), product_id, data)
