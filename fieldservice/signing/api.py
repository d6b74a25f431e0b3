"""Signing-link endpoint: office staff or the record's technician create a customer's signing link."""
from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.db import unit_of_work
from fieldservice.signing import service
from fieldservice.signing.schemas import SigningLinkCreateSchema, SigningLinkSchema

blp = Blueprint("signing_links", __name__, url_prefix="/api/v1",
                description="Single-use, expiring links for a customer to sign a record in a browser")


def link_url(token: str) -> str:
    """The public URL of the signing page (PUBLIC_BASE_URL when set, else the host the request came to)."""
    path = url_for("signing_page.page", token=token)
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return base + path


@blp.route("/records/<uuid:record_id>/signing-links")
class SigningLinks(MethodView):
    @requires(*BACK_OFFICE, Role.TECHNICIAN)
    @blp.arguments(SigningLinkCreateSchema)
    @blp.response(201, SigningLinkSchema)
    @blp.alt_response(404, description="No such record, or not the technician's own")
    @blp.alt_response(409, description="already_signed: the version is signed (correct it, then link the correction)")
    def post(self, data: dict[str, Any], record_id: uuid.UUID) -> Any:
        """Create a single-use, expiring signing link for this record version (office staff or the record's
        technician). The answer holds the URL once; only the token's SHA-256 is stored."""
        with unit_of_work():
            token, link = service.create_link(current_actor(), record_id, data)
            body = {"id": link.id, "record_id": link.record_id, "language": link.language,
                    "created_at": link.created_at, "expires_at": link.expires_at, "used_at": None,
                    "url": link_url(token)}
        return body


@blp.route("/signing-links/<uuid:link_id>")
class SigningLinkItem(MethodView):
    @requires(*BACK_OFFICE, Role.TECHNICIAN)
    @blp.response(204)
    @blp.alt_response(404, description="No such link, or not for the technician's own record")
    @blp.alt_response(409, description="The link was already used")
    def delete(self, link_id: uuid.UUID) -> None:
        """Revoke an unused signing link at once (it then answers 410 like an expired one). Office staff or
        the record's technician; revoking twice is harmless."""
        with unit_of_work():
            service.revoke_link(current_actor(), link_id)
