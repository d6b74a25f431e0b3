"""The project's flask-smorest Blueprint: one argument parser that never turns bad input into a 500."""
from __future__ import annotations

from typing import Any

import flask_smorest
import marshmallow as ma
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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = SafeParser()
