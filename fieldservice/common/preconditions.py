"""ETag and If-Match for every updatable resource (RFC 9110 §13), without each view doing it.

The ETag of a resource is that of its representation: a hash of the JSON a GET of its URL answers (or the
ETag that GET sets itself, as records do with their lock version). A write (PUT, PATCH, POST, DELETE) to a
URL that names a resource by id and carries `If-Match` first reads the resource's current ETag through its
own GET (the URL itself, or the nearest shorter URL ending in the same id: `/visits/<id>/assignment` guards
`/visits/<id>`) and answers 412 when no tag matches; then it runs. Without If-Match nothing changes, so
existing clients keep working; records require it (428, their own rule).
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from fieldservice.errors import DomainError

WRITES = ("PUT", "PATCH", "POST", "DELETE")


class PreconditionFailed(DomainError):
    """If-Match names a version the resource no longer has: nothing was changed."""

    status, code, title = 412, "precondition_failed", "The resource was changed by someone else"


def representation_etag(response: Response) -> str | None:
    """The ETag a 2xx JSON object answer carries: its own, else a hash of its body."""
    if response.headers.get("ETag"):
        return response.headers["ETag"]
    if not (200 <= response.status_code < 300) or not response.is_json or response.direct_passthrough:
        return None
    body = response.get_data()
    if not body.startswith(b"{") or b'"items"' in body[:10]:
        return None
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def add_etag(response: Response) -> Response:
    """GET, PUT and PATCH answers on a URL with an id carry the representation's ETag."""
    if request.method in ("GET", "PUT", "PATCH") and request.view_args and "ETag" not in response.headers:
        tag = representation_etag(response)
        if tag:
            response.headers["ETag"] = tag
    return response


def _resource_get(path: str) -> tuple[Any, dict[str, Any]] | None:
    """The GET view and its arguments for `path`, or for the nearest shorter path ending in the id it names."""
    adapter = current_app.url_map.bind("localhost")
    parts = path.rstrip("/").split("/")
    ids = [i for i, part in enumerate(parts) if _is_uuid(part)]
    if not ids:
        return None
    for end in range(len(parts), ids[-1], -1):
        try:
            endpoint, args = adapter.match("/".join(parts[:end]), method="GET")
        except (NotFound, MethodNotAllowed):
            continue
        cls = getattr(current_app.view_functions[endpoint], "view_class", None)
        if cls is not None and hasattr(cls, "get"):
            return cls, args
    return None


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def current_etag(path: str) -> str | None:
    """The current ETag of the resource `path` names (its GET runs with the caller's rights: a resource they
    may not read raises the same 403/404 the GET would)."""
    found = _resource_get(path)
    if found is None:
        return None
    cls, args = found
    result = cls().get(**args)
    response = current_app.make_response(result)
    return representation_etag(response)


def check_if_match() -> None:
    """Before a write with If-Match: 412 unless one of its tags is the resource's current ETag (`*` matches
    any existing resource). Views that check If-Match themselves are marked `handles_if_match`."""
    if request.method not in WRITES or "If-Match" not in request.headers or not request.view_args:
        return
    wanted = request.if_match
    tag = current_etag(request.path)
    if tag is None:
        return  # no representation to compare with (a write-only URL): nothing to guard
    g.if_match_checked = True
    if wanted.star_tag or wanted.contains(tag.strip('"')):
        return
    raise PreconditionFailed(f"If-Match does not name the current version of {request.path}; read it again "
                             "and apply your change to it", current_etag=tag)
