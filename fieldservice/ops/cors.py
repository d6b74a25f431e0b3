"""CORS for browser clients on other origins, by an allow-list (`CORS_ALLOWED_ORIGINS`, comma-separated exact
origins; empty: no cross-origin access, the default). Only the JSON API and the probes are offered; the office
and signing pages are same-origin only. Bearer tokens, not cookies: credentials are never allowed."""
from __future__ import annotations

from flask import Flask, Response, current_app, request

PREFIXES = ("/api/", "/healthz", "/readyz")
ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = ("Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID, "
                 "Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, Upload-Checksum, "
                 "Upload-Defer-Length, X-HTTP-Method-Override")
EXPOSE_HEADERS = ("ETag, Location, X-Request-ID, Retry-After, Idempotent-Replayed, Tus-Resumable, Tus-Version, "
                  "Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Upload-Offset, Upload-Length, "
                  "Upload-Expires, Upload-Metadata, Photo-Id, Photo-Url, Photo-Status")
MAX_AGE = "600"


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    if not origin or not request.path.startswith(PREFIXES):
        return None
    return origin if origin in current_app.config.get("CORS_ALLOWED_ORIGINS", ()) else None


def preflight() -> Response | None:
    """Answer a CORS preflight (OPTIONS with Access-Control-Request-Method) before any view or token check."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    origin = _allowed_origin()
    response = Response(status=204)
    if origin:
        response.headers.update({"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ALLOW_METHODS,
                                 "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": MAX_AGE})
    response.vary.add("Origin")
    return response


def add_cors_headers(response: Response) -> Response:
    origin = _allowed_origin()
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if request.headers.get("Origin"):
        response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    app.before_request(preflight)
    app.after_request(add_cors_headers)
