"""Actor: who is calling a service (a value object with no dependencies but the roles), so that any module,
the audit trail included, can take one without importing the auth service."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from fieldservice.auth.models import Role
from fieldservice.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """Who is calling: passed to every service so rules and scoping are checked on the server."""

    user_id: uuid.UUID | None
    role: Role
    display_name: str
    technician_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None

    @property
    def is_technician(self) -> bool:
        return self.role is Role.TECHNICIAN

    @property
    def is_customer(self) -> bool:
        return self.role is Role.CUSTOMER

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role.value} may not do this; allowed: {', '.join(r.value for r in roles)}")
