"""Service request fixtures: the commerce tests' `api` helper (problem+json asserted on every 4xx)."""
from tests.commerce.conftest import api  # noqa: F401
