"""Notification outbox endpoints for the office: what was sent, what failed, re-queue a failed message."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.notifications import service
from fieldservice.notifications.schemas import NotificationQuerySchema, NotificationSchema

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications",
                description="The notification outbox (SLA escalations R-SLA-2, confirmation reminders R-MNT-2)")

OUTBOX_ROLES = (Role.OFFICE, Role.ADMIN)


@blp.route("")
class Notifications(MethodView):
    @requires(*OUTBOX_ROLES)
    @blp.arguments(NotificationQuerySchema, location="query")
    @blp.response(200, page_of(NotificationSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List outbox messages, newest first (filters: status, kind, channel)."""
        page = args.pop("page_request")
        return service.list_notifications(page, **args)


@blp.route("/<uuid:notification_id>")
class NotificationItem(MethodView):
    @requires(*OUTBOX_ROLES)
    @blp.response(200, NotificationSchema)
    def get(self, notification_id: uuid.UUID) -> Any:
        """One outbox message with its delivery state and last error."""
        return service.get_notification(notification_id)


@blp.route("/<uuid:notification_id>/retry")
class NotificationRetry(MethodView):
    @requires(*OUTBOX_ROLES)
    @blp.response(200, NotificationSchema)
    @blp.alt_response(409, description="The message is not failed")
    def post(self, notification_id: uuid.UUID) -> Any:
        """Re-queue a failed message: pending again, due now, with a fresh set of attempts."""
        with unit_of_work():
            return service.retry_notification(current_actor(), notification_id)
