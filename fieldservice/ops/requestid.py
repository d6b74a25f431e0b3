"""Request ids: the caller's `X-Request-ID` when it is a sane token, else a new one; echoed on the response,
attached to every log record of the request (field `request_id`), and to the access log (gunicorn.conf.py)."""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, Response, current_app, g, has_request_context, request

SANE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def assign_request_id() -> None:
    given = request.headers.get(current_app.config.get("REQUEST_ID_HEADER", "X-Request-ID"), "")
    g.request_id = given if SANE.match(given) else uuid.uuid4().hex


def echo_request_id(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[current_app.config.get("REQUEST_ID_HEADER", "X-Request-ID")] = rid
    return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` ("-" outside a request) to every record, for both the text and the JSON format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (g.get("request_id") if has_request_context() else None) or "-"
        return True


def log_formatter(fmt: str) -> logging.Formatter:
    """`json`: one JSON object per line (python-json-logger) with time, level, logger, message, request_id and
    any `extra`; `text`: the human format of `make run`."""
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                             rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                             json_ensure_ascii=False)
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")


def init_app(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.after_request(echo_request_id)
