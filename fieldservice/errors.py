"""Domain errors and the one mapping of every error to an RFC 9457 problem response."""
from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, json
from flask_smorest import Api
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from media.errors import MediaError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """Base of every error a service raises. Views never catch these; one handler maps them."""

    status: int = 400
    code: str = "domain_error"
    title: str = "Request refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class ReferenceNotFound(DomainError):
    """An id in the request body names nothing the caller may use."""

    status, code, title = 422, "unknown_reference", "Unknown reference"


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_failed", "Validation failed"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "Illegal state change"

    @classmethod
    def unless(cls, status: Any, allowed: tuple[Any, ...], what: str) -> None:
        """Raise (409 naming the current status and the statuses it may come from) unless `status` is in
        `allowed`; `what` completes the sentence "cannot …", e.g. "present quote Q-1: it is accepted"."""
        if status not in allowed:
            raise cls(f"cannot {what}", current_status=status.value, allowed_from=[s.value for s in allowed])


class StaleVersion(Conflict):
    code, title = "stale_version", "The record was changed by someone else"


class TechnicianUnavailable(Conflict):
    code, title = "technician_unavailable", "Technician cannot take this visit"


class NotCertified(DomainError):
    """R-TEC-1: no valid certification for the product line."""

    status, code, title = 422, "technician_not_certified", "Technician not certified"


class UploadExpired(DomainError):
    """A resumable upload left unfinished past its expiry (tus expiration): start a new one."""

    status, code, title = 410, "upload_expired", "Upload expired"


class UploadQuotaExceeded(DomainError):
    """The upload session (one login's uploads for one work order) would exceed its storage quota."""

    status, code, title = 413, "upload_quota_exceeded", "Upload quota exceeded"


class PhotoNotProcessed(Conflict):
    """The requested variant of a photo is not made yet (processing, or processing failed)."""

    code, title = "photo_not_processed", "Photo not processed yet"


class UnusableJson(DomainError):
    """A JSON body with a lone UTF-16 surrogate or nested too deep (fieldservice/common/jsonsafety.py)."""

    status, code, title = 400, "unusable_json", "Unusable JSON body"


class AuthenticationFailed(DomainError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


def problem(status: int, title: str, detail: str | None = None, code: str | None = None,
            **extra: Any) -> Response:
    """Build an `application/problem+json` response."""
    body: dict[str, Any] = {
        "type": f"/problems/{code or 'http-' + str(status)}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    # a detail may quote the client's input: a lone surrogate in it is written as its JSON escape, never a 500
    text = json.dumps(body).encode("utf-8", "backslashreplace")
    response = Response(text, status=status, mimetype=PROBLEM_JSON)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fieldservice"'
    return response


class ProblemApi(Api):
    """flask-smorest Api whose HTTP errors (404, 405, 422 from webargs, ...) are problem responses."""

    class ProblemSchema(ma.Schema):
        """RFC 9457 problem details; refusals add members of their own (e.g. `allowed_transitions`,
        `unmet_conditions`, `current_version`)."""

        class Meta:
            unknown = ma.INCLUDE  # documented as additionalProperties: true

        type = ma.fields.String(required=True, metadata={"description": "`/problems/<code>`"})
        title = ma.fields.String(required=True)
        status = ma.fields.Integer(required=True)
        detail = ma.fields.String()
        errors = ma.fields.Dict(metadata={"description": "Field errors, by location then field"})

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        status = error.code or 500
        if status >= 500:
            # never show internals: the original exception is logged by Flask
            return problem(status, "Internal server error", "An unexpected error occurred; it has been logged.")
        extra: dict[str, Any] = {}
        detail = error.description
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if errors:
            extra["errors"] = errors
            detail = "The request has invalid fields; see `errors`."
        if "message" in data:
            detail = data["message"]
        response = problem(status, error.name, detail, code=_http_code(status), **extra)
        for key, value in (data.get("headers") or {}).items():
            response.headers[key] = value
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response


def _http_code(status: int) -> str:
    return {
        400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
        405: "method_not_allowed", 409: "conflict", 412: "precondition_failed", 413: "payload_too_large",
        415: "unsupported_media_type", 422: "validation_failed", 429: "too_many_requests",
    }.get(status, f"http-{status}")


def register_error_handlers(app: Flask) -> None:
    """One mapping for the whole app: domain errors, database conflicts, anything unexpected."""

    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Response:
        response = problem(err.status, err.title, err.detail, code=err.code, **err.extra)
        response.headers.update(getattr(err, "headers", None) or {})  # e.g. Retry-After of a 429
        return response

    @app.errorhandler(MediaError)
    def _media(err: MediaError) -> Response:
        # storage and image errors from media/ (not an image, too many pixels, tus offset/checksum, ...)
        return problem(err.status, err.title, err.detail, code=err.code, **err.extra)

    @app.errorhandler(StaleDataError)
    def _stale(err: StaleDataError) -> Response:
        return problem(409, StaleVersion.title, "The record was changed concurrently; reload and retry.",
                       code=StaleVersion.code)

    @app.errorhandler(IntegrityError)
    def _integrity(err: IntegrityError) -> Response:
        # A constraint the service could not see coming (a concurrent insert, usually).
        log.info("integrity error mapped to 409: %s", err.orig.__class__.__name__)
        return problem(409, "Conflict", "The change conflicts with existing data (a duplicate or a missing reference).",
                       code="integrity_conflict")

    @app.errorhandler(DataError)
    def _data(err: DataError) -> Response:
        # A value the schema let through but the database cannot store: still the caller's input.
        log.info("data error mapped to 422: %s", err.orig.__class__.__name__)
        return problem(422, "Unprocessable value", "A value cannot be stored (out of range or malformed).",
                       code="unstorable_value")

    @app.errorhandler(OperationalError)
    def _db_down(err: OperationalError) -> Response:
        if getattr(err.orig, "sqlstate", None) == QUERY_CANCELED:
            # DB_STATEMENT_TIMEOUT_MS ran out (issue 13): the statement was cancelled and the transaction rolled
            # back, the worker lives on; the same request may be sent again
            log.error("database statement cancelled (statement timeout): %s", str(err.orig).splitlines()[0])
            return _unavailable("The request took longer than the database allows for one statement and was "
                                "cancelled; nothing of it was kept. Try again shortly.", "statement_timeout")
        log.error("database error: %s", err.orig.__class__.__name__)
        return _unavailable("The database is not reachable; try again shortly.", "database_unavailable")

    @app.errorhandler(DBAPIError)
    def _db_connection_lost(err: DBAPIError) -> Response:
        # a connection that died mid-request (the server restarted) surfaces as InterfaceError & co.
        if err.connection_invalidated or isinstance(err, InterfaceError):
            log.error("database connection lost: %s", err.orig.__class__.__name__)
            return _unavailable("The database connection was lost; try again shortly.", "database_unavailable")
        return _unexpected(err)

    @app.errorhandler(BotoCoreError)
    def _storage_down(err: BotoCoreError) -> Response:
        log.error("object storage unreachable: %s", type(err).__name__)
        return _unavailable("The photo storage is not reachable; try again shortly (uploads resume).",
                            "storage_unavailable")

    @app.errorhandler(S3UploadFailedError)
    def _storage_refused(err: S3UploadFailedError) -> Response:
        log.error("object storage refused an upload: %s", err)
        return _unavailable("The photo storage refused the file; try again shortly (uploads resume).",
                            "storage_unavailable")

    @app.errorhandler(ClientError)
    def _storage_error(err: ClientError) -> Response:
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status >= 500 or status == 429 or err.response.get("Error", {}).get("Code") in ("SlowDown", "Throttling"):
            log.error("object storage unavailable: %s", status)
            return _unavailable("The photo storage is unavailable; try again shortly.", "storage_unavailable")
        return _unexpected(err)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        # HTTPExceptions go to the Api's more specific handler; this is everything else.
        log.exception("unhandled error", exc_info=err)
        return problem(500, "Internal server error", "An unexpected error occurred; it has been logged.")


RETRY_AFTER_SECONDS = 5
QUERY_CANCELED = "57014"  # PostgreSQL's query_canceled: statement_timeout (or a cancel request)


def _unavailable(detail: str, code: str) -> Response:
    """503 with Retry-After: a dependency is down; the same request may simply be sent again."""
    response = problem(503, "Service unavailable", detail, code=code)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
