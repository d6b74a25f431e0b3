"""Throttling (docs/security.md) with Flask-Limiter's storage: memory in development and tests, Redis in
production (RATELIMIT_STORAGE_URI), so every worker and node counts together.

- Logins (`POST /api/v1/auth/token`, `/office/login`): failed attempts are counted per account and per client
  address (LOGIN_LIMIT_PER_ACCOUNT, LOGIN_LIMIT_PER_ADDRESS). Past either limit every attempt is refused with
  429 and `Retry-After`, the right password included, until the window has passed.
- The public links (the signing page `/sign/<token>` and the quote links `/api/v1/quote-links/<token>`): every
  request counts per client address (PUBLIC_LINK_LIMIT_PER_ADDRESS).

The client address is `request.remote_addr`; behind a reverse proxy set TRUSTED_PROXY_COUNT so that it is
the client's (werkzeug's ProxyFix reads X-Forwarded-For). If the store is unreachable the request is let
through and the error logged (a Redis outage must not lock everyone out).
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse

from fieldservice.errors import DomainError

log = logging.getLogger(__name__)

T = TypeVar("T")
PUBLIC_LINK_ENDPOINTS = frozenset({"signing_page.page", "signing_page.sign", "signing_page.done",
                                   "signing_page.pdf", "signing_page.photo",
                                   "commerce.QuoteLinkView", "commerce.QuoteLinkConsent"})


class TooManyAttempts(DomainError):
    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


def client_address() -> str:
    return request.remote_addr or "unknown"


def init_throttling(app: Flask) -> None:
    if app.config.get("TRUSTED_PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["TRUSTED_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0)  # type: ignore[method-assign]
    limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=False)
    # Only its storage and strategy are used (the explicit checks below): no route carries a Flask-Limiter limit,
    # so its per-request hooks (limit lookup before, headers after, context release at teardown) would run for
    # nothing on every request. init_app registers them only for a limiter not yet listed here.
    app.extensions.setdefault("limiter", set()).add(limiter)
    limiter.init_app(app)
    app.extensions["fieldservice.limiter"] = limiter
    app.before_request(_throttle_public_links)


def _limiter() -> Limiter:
    return current_app.extensions["fieldservice.limiter"]  # type: ignore[no-any-return]


def _guarded(default: T, call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception:  # the store is down: let the request through, loudly
        log.exception("rate limit store unreachable; request not throttled")
        return default


def _refuse(item: RateLimitItem, key: str, what: str) -> TooManyAttempts:
    reset = _guarded(time.time() + item.get_expiry(),
                     lambda: _limiter().limiter.get_window_stats(item, key).reset_time)
    retry = max(1, math.ceil(reset - time.time()))
    return TooManyAttempts(f"too many {what}; try again in {retry} seconds", retry_after=retry)


def _account_key(username: str) -> str:
    return "login:account:" + hashlib.sha256(username.strip().lower()[:200].encode("utf-8", "replace")).hexdigest()


def _login_limits(username: str) -> list[tuple[RateLimitItem, str]]:
    config = current_app.config
    return [(parse(config["LOGIN_LIMIT_PER_ACCOUNT"]), _account_key(username)),
            (parse(config["LOGIN_LIMIT_PER_ADDRESS"]), "login:address:" + client_address())]


def check_login_allowed(username: str) -> None:
    """429 (TooManyAttempts, with retry_after) when this account or this address has failed too often."""
    for item, key in _login_limits(username):
        if not _guarded(True, lambda i=item, k=key: _limiter().limiter.test(i, k)):
            log.warning("login throttled (%s)", key.split(":")[1])
            raise _refuse(item, key, "failed logins")


def login_failed(username: str) -> None:
    for item, key in _login_limits(username):
        _guarded(True, lambda i=item, k=key: _limiter().limiter.hit(i, k))


def _throttle_public_links() -> None:
    if request.endpoint not in PUBLIC_LINK_ENDPOINTS:
        return
    item, key = parse(current_app.config["PUBLIC_LINK_LIMIT_PER_ADDRESS"]), "link:" + client_address()
    if not _guarded(True, lambda: _limiter().limiter.hit(item, key)):
        raise _refuse(item, key, "requests for customer links")


def reset(app: Flask) -> None:
    """Forget every counter (tests)."""
    app.extensions["fieldservice.limiter"].reset()
