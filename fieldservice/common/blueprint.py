"""The project's flask-smorest Blueprint: one argument parser that never turns bad input into a 500, and the
HTTP semantics every JSON endpoint shares (docs in fieldservice/common/openapi.py): ETag on answers that name
one resource, If-Match checked before writes (fieldservice/common/preconditions.py), and retry-safe creates
that name their own id (fieldservice/common/replays.py)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from webargs.flaskparser import FlaskParser


class SafeParser(FlaskParser):
    """Strict about unknown query parameters (a misspelt filter must not silently list everything), and
    deeply nested JSON, which makes Python's decoder raise RecursionError, is reported as bad JSON."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def load_json(self, req: Any, schema: Any) -> Any:
        try:
            return super().load_json(req, schema)
        except RecursionError:
            return self._handle_invalid_json_error(ValueError("JSON nested too deeply"), req)  # type: ignore[arg-type]


def handles_if_match(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that checks If-Match itself (records: their lock version, with 428 when it is missing)."""
    view.handles_if_match = True  # type: ignore[attr-defined]
    return view


def handles_own_retries(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a POST that makes retries safe itself (the sync push: an `Idempotency-Key` header and the digest of
    the body's bytes): its body is not read for a create's own `id` (fieldservice/common/replays.py). A push
    body is up to SYNC_MAX_PUSH_BYTES of records, and parsing it a second time only to look for a top-level
    `id` cost as much as the push's own parse (issue 13)."""
    view.handles_own_retries = True  # type: ignore[attr-defined]
    return view


def _http_semantics(method: str, view: Callable[..., Any]) -> Callable[..., Any]:
    from fieldservice.common import preconditions, replays

    @functools.wraps(view)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method.lower() != method:  # called by another view (the GET an If-Match check reads)
            return view(self, *args, **kwargs)
        client_id = user_id = None
        if method == "post" and not getattr(view, "is_public", False) \
                and not getattr(view, "handles_own_retries", False):
            client_id = replays.client_id()
            if client_id is not None:
                from fieldservice.auth.decorators import current_actor

                user_id = current_actor().user_id
                stored = replays.replay(request.endpoint or "", client_id, user_id)
                if stored is not None:
                    return stored
        if not getattr(view, "handles_if_match", False):
            preconditions.check_if_match()
        listener = None
        if client_id is not None:
            listener = replays.store_with_the_create(request.endpoint or "", client_id, user_id,
                                                     _created_schema(view))
        try:
            response = current_app.make_response(view(self, *args, **kwargs))
        finally:
            if listener is not None:
                replays.forget_listener(listener)
        if client_id is not None:
            replays.remember(request.endpoint or "", client_id, user_id, response)
        return preconditions.add_etag(response)

    wrapper.http_semantics = True  # type: ignore[attr-defined]
    return wrapper


def _created_schema(view: Callable[..., Any]) -> Any:
    """The schema flask-smorest dumps a 201 answer with (from the view's documentation)."""
    responses = getattr(view, "_apidoc", {}).get("response", {}).get("responses", {})
    docs = responses.get(201) or []
    schema = docs[0].get("schema") if docs else None
    return schema if isinstance(schema, ma.Schema) else None


# One naming for actions on a resource: a noun for the event (`/arrival`, `/approval`, `/cancellation`). Routes
# declared with a verb are served under the noun, and under the verb as a deprecated alias (old clients).
ACTION_NOUNS = {"cancel": "cancellation", "close": "closure", "reopen": "reopening", "publish": "publication",
                "submit": "submission", "present": "presentation", "send": "sending", "post": "posting",
                "resolve": "resolution"}
DEPRECATED_SUFFIX = "Deprecated"


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = SafeParser()

    def route(self, rule: str, *, parameters: Any = None, tags: Any = None, **options: Any) -> Any:
        verb = rule.rsplit("/", 1)[-1]
        noun = ACTION_NOUNS.get(verb)
        if noun is None or ">/" not in rule:
            return super().route(rule, parameters=parameters, tags=tags, **options)

        def decorator(func: Any) -> Any:
            endpoint = options.pop("endpoint", None) or func.__name__
            self.add_url_rule(rule[: -len(verb)] + noun, endpoint, func, parameters=parameters, tags=tags, **options)
            self.add_url_rule(rule, endpoint + DEPRECATED_SUFFIX, func, parameters=parameters, tags=tags, **options)
            return func

        return decorator

    def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: Any = None,
                     provide_automatic_options: bool | None = None, **kwargs: Any) -> None:
        if isinstance(view_func, type) and issubclass(view_func, MethodView):
            for method in view_func.methods or ():
                name = method.lower()
                view = getattr(view_func, name, None)
                if view is not None and name != "options" and not getattr(view, "http_semantics", False):
                    setattr(view_func, name, _http_semantics(name, view))
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **kwargs)
