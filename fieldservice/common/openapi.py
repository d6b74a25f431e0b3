"""The OpenAPI contract in one place (an apispec plugin and a field converter), so generated clients can trust
the document without every view repeating it:

- every operation has an `operationId` (`<method>_<view class in snake_case>`, unique);
- every error response is `application/problem+json` with the Problem schema, and the errors every operation
  can meet are declared (401/403 for non-public ones, 404 with a path id, 400/415/422 with input, 409/412/428
  for writes, 429, 503 and `default`);
- output fields that can be null say so (`nullable`), read from the model column they dump, else assumed;
- headers are documented: `If-Match` and `ETag` (optimistic locking), `Idempotency-Key` (sync push), the tus
  headers of the uploads, `X-Request-ID`;
- multipart form fields go into the `multipart/form-data` request body (never OpenAPI 2 `formData`).
"""
from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from apispec import BasePlugin

from fieldservice.errors import ProblemApi

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WRITE_METHODS = ("post", "put", "patch", "delete")

# status → description of the problem responses declared on operations (see ContractPlugin._errors)
ERRORS = {
    "400": "Malformed request (bad JSON, bad header)",
    "401": "No valid bearer token",
    "403": "The caller's role or ownership does not allow this",
    "404": "No such resource (or not visible to the caller)",
    "409": "Conflicts with the current state (stale version, illegal transition, duplicate client id with a "
           "different body, ...)",
    "412": "If-Match does not name the current ETag: nothing was changed",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "Invalid input: `errors` names the fields",
    "428": "This change needs If-Match (or the version in the body)",
    "429": "Too many requests; retry after Retry-After",
    "503": "A dependency (database, object storage) is unavailable; retry",
}

IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
            "description": "The ETag you read (`\"<version>\"`): the change is refused with 412 when the resource "
                           "changed since. Optional unless the operation answers 428 without it."}
ETAG_HEADER = {"description": "The resource's version (`\"<n>\"`), to send back in If-Match",
               "schema": {"type": "string"}}
REQUEST_ID_HEADER = {"description": "The request id (yours from X-Request-ID, or one made for you); it is in the "
                                    "server's logs", "schema": {"type": "string"}}
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": True,
                   "schema": {"type": "string", "format": "uuid"},
                   "description": "A new UUID per push; the same one when retrying the same push (the stored "
                                  "answer is returned and nothing is applied twice)"}


def _header(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {"in": "header", "name": name, "required": required, "description": description,
            "schema": {"type": "string", **schema}}


TUS_RESUMABLE = _header("Tus-Resumable", "The tus version: `1.0.0`", required=True, enum=["1.0.0"])
TUS_REQUEST_HEADERS: dict[str, list[dict[str, Any]]] = {
    "post": [TUS_RESUMABLE,
             _header("Upload-Length", "Bytes of the whole file", required=True, pattern=r"^\d+$"),
             _header("Upload-Metadata", "Comma-separated `key base64(value)` pairs (visit_id, kind, ...)")],
    "patch": [TUS_RESUMABLE,
              _header("Upload-Offset", "Where this chunk starts", required=True, pattern=r"^\d+$"),
              _header("Upload-Checksum", "`sha1 <base64 digest>` or `sha256 <base64 digest>` of the chunk"),
              _header("X-HTTP-Method-Override", "`PATCH` or `DELETE` sent with POST by clients behind proxies "
                                                "that drop those methods (tus-js-client `overridePatchMethod`)")],
    "head": [TUS_RESUMABLE],
    "delete": [TUS_RESUMABLE],
}
TUS_RESPONSE_HEADERS = {
    "Tus-Resumable": "`1.0.0` (on every response of the upload endpoints)",
    "Upload-Offset": "Bytes received so far",
    "Upload-Expires": "When an unfinished upload expires (RFC 9110 date)",
    "Location": "The upload's URL (creation)",
}


# the older spellings of a time range, before `from`/`to` (common/schemas.py TimeRangeArgs)
DEPRECATED_PARAMETERS = {"created_from": "from", "created_to": "to", "starts_from": "from", "starts_before": "to",
                         "received_from": "from", "received_to": "to", "detected_from": "from",
                         "detected_to": "to", "since": "from", "until": "to"}


def _deprecate_parameters(operation: dict[str, Any]) -> None:
    names = {p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)}
    for param in operation.get("parameters", []):
        if isinstance(param, dict) and param.get("in") == "query" and param.get("name") in DEPRECATED_PARAMETERS \
                and DEPRECATED_PARAMETERS[param["name"]] in names:
            param["deprecated"] = True
            param["description"] = f"Deprecated: use `{DEPRECATED_PARAMETERS[param['name']]}`"


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ContractPlugin(BasePlugin):
    """Completes every operation as it is registered (runs after the marshmallow plugin)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.operation_ids: set[str] = set()
        self.spec: Any = None

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        self.spec = spec

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        blueprint, _, view = rule.endpoint.partition(".")
        has_path_params = bool(rule.arguments)
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete", "head", "options"):
                continue
            self._operation_id(operation, method, blueprint, view)
            _move_form_data(operation, self._component)
            _deprecate_parameters(operation)
            if view.endswith("Deprecated"):
                noun_path = (path or "").rsplit("/", 1)[0]
                operation["deprecated"] = True
                operation["description"] = (f"Deprecated alias: use `{noun_path}/…` named with a noun (one naming "
                                            "for actions). " + operation.get("description", ""))
            public = _is_public(self.app, rule, method)
            if not public:
                operation.setdefault("security", [{"bearerAuth": []}])
            else:
                operation["security"] = []
            self._headers(operation, method, path or "", has_path_params)
            _errors(operation, method, public=public, has_path_params=has_path_params)

    def _operation_id(self, operation: dict[str, Any], method: str, blueprint: str, view: str) -> None:
        if "operationId" in operation:
            self.operation_ids.add(operation["operationId"])
            return
        candidate = f"{method}_{snake(view)}"
        if candidate in self.operation_ids:
            candidate = f"{blueprint}_{candidate}"
        self.operation_ids.add(candidate)
        operation["operationId"] = candidate

    def _component(self, ref: dict[str, Any]) -> dict[str, Any]:
        """The schema a `$ref` names (already converted by the marshmallow plugin)."""
        if "$ref" not in ref:
            return ref
        return self.spec.components.schemas[ref["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]

    @staticmethod
    def _headers(operation: dict[str, Any], method: str, path: str, has_path_params: bool) -> None:
        params = operation.setdefault("parameters", [])
        names = {p.get("name") for p in params if isinstance(p, dict)}

        def add(param: dict[str, Any]) -> None:
            if param["name"] not in names:
                params.append(dict(param))
                names.add(param["name"])

        if path.startswith("/api/v1/uploads"):
            for param in TUS_REQUEST_HEADERS.get(method, []):
                add(param)
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict):
                    headers = response.setdefault("headers", {})
                    for name, text in TUS_RESPONSE_HEADERS.items():
                        headers.setdefault(name, {"description": text, "schema": {"type": "string"}})
        elif path == "/api/v1/sync/push" and method == "post":
            add(IDEMPOTENCY_KEY)
        elif has_path_params and method in ("put", "patch", "post", "delete"):
            add(IF_MATCH)
        for code, response in operation.get("responses", {}).items():
            if isinstance(response, dict):
                response.setdefault("description", "Success" if str(code).startswith(("2", "3")) else "Error")
            if isinstance(response, dict) and str(code).startswith("2"):
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", REQUEST_ID_HEADER)
                if method != "delete" and "content" in response and not path.startswith("/api/v1/uploads"):
                    headers.setdefault("ETag", ETAG_HEADER)
        if not params:
            del operation["parameters"]


def _is_public(app: Any, rule: Any, method: str) -> bool:
    view = app.view_functions.get(rule.endpoint)
    cls = getattr(view, "view_class", None)
    fn = getattr(cls, method, None) if cls is not None else view
    return bool(getattr(fn, "is_public", False))


def _move_form_data(operation: dict[str, Any], resolve: Any) -> None:
    """flask-smorest documents `location="form"` arguments as OpenAPI 2 `formData` parameters next to the
    `files` request body: put them into the multipart body's schema instead."""
    params = operation.get("parameters") or []
    form = [p for p in params if isinstance(p, dict) and p.get("in") == "formData"]
    if not form:
        return
    operation["parameters"] = [p for p in params if p not in form]
    if not operation["parameters"]:
        del operation["parameters"]
    content = operation.setdefault("requestBody", {"required": True}).setdefault("content", {})
    body = content.pop("multipart/form-data", None) or {}
    files_schema = resolve(body.get("schema") or {})
    properties = {p["name"]: {**p.get("schema", {}), **({"description": p["description"]} if "description" in p else {})}
                  for p in form}
    properties.update(files_schema.get("properties", {}))
    required = [p["name"] for p in form if p.get("required")] + list(files_schema.get("required", []))
    form_schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        form_schema["required"] = required
    content["multipart/form-data"] = {"schema": form_schema}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}}


def _errors(operation: dict[str, Any], method: str, *, public: bool, has_path_params: bool) -> None:
    """Every error response is problem+json; the ones this operation can meet are declared."""
    responses = operation.setdefault("responses", {})
    for code, response in list(responses.items()):
        if (code == "default" or int(code) >= 400) and isinstance(response, dict):
            response.setdefault("description", ERRORS.get(str(code), "Error"))
            response["content"] = {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}
    has_input = "requestBody" in operation or any(
        isinstance(p, dict) and p.get("in") in ("query", "header") for p in operation.get("parameters", []))
    wanted = ["429", "503"]
    if not public:
        wanted += ["401", "403"]
    if has_path_params:
        wanted.append("404")
    if has_input or method in WRITE_METHODS:
        wanted += ["400", "422"]
    if "requestBody" in operation:
        wanted += ["413", "415"]
    if method in WRITE_METHODS:
        wanted.append("409")
    if has_path_params and method in ("put", "patch", "post", "delete"):
        wanted += ["412", "428"]
    for code in wanted:
        responses.setdefault(code, _problem_response(ERRORS[code]))
    responses.setdefault("default", _problem_response("Any other error (a 500 never shows internals)"))


# --- nullable output fields ------------------------------------------------------------------------------

def _model_columns(app: Any) -> dict[str, Any]:
    """Mapped class name → its mapper (for reading column nullability), from the app's Flask-SQLAlchemy."""
    model = app.extensions["sqlalchemy"].Model
    return {m.class_.__name__: m for m in model.registry.mappers}


# output schemas whose name does not say their model
SCHEMA_MODELS = {"Record": "ServiceRecord", "RecordSummary": "ServiceRecord", "Me": "User"}


def _model_for(app: Any, schema: ma.Schema) -> Any:
    """The model an output schema dumps: `<Model>Schema` (or a subclass of one), by name only, so a schema
    that merely starts like a model (`TechnicianKpiSchema`) is not taken for it."""
    mappers = _model_columns(app)
    for cls in type(schema).__mro__:
        name = cls.__name__.removesuffix("Schema")
        name = SCHEMA_MODELS.get(name, name)
        if name in mappers:
            return mappers[name]
    return None


def _is_output(schema: Any) -> bool:
    """Output schemas are plain ones; input schemas derive from common.schemas.StrictSchema (by name here, so
    this module imports no domain code and the import graph stays one-way)."""
    return isinstance(schema, ma.Schema) and schema.opts.unknown != ma.EXCLUDE and \
        not any(cls.__name__ == "StrictSchema" for cls in type(schema).__mro__)


def field_can_be_null(app: Any, field: ma.fields.Field) -> bool:
    """An output field is nullable unless it dumps a NOT NULL column of its schema's model (or says
    `metadata={"nullable": False}`, or is `required`)."""
    if "nullable" in field.metadata:
        return bool(field.metadata["nullable"])
    if field.required or field.allow_none:
        return field.allow_none
    if isinstance(field, (ma.fields.Method, ma.fields.Function)):
        return True
    parent = field.parent
    if not _is_output(parent):
        return False
    mapper = _model_for(app, parent)  # type: ignore[arg-type]
    attribute = field.attribute or field.name
    if mapper is None or attribute is None or "." in attribute:
        return True
    column = mapper.columns.get(attribute)
    if column is None:
        prop = mapper.attrs.get(attribute)
        # a relationship list is never null; anything else we cannot prove
        return not (prop is not None and getattr(prop, "uselist", False))
    return bool(column.nullable)


def nullable_attribute(self: Any, field: ma.fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: mark output fields that can be null (OpenAPI 3.0 `nullable`)."""
    app = getattr(self, "fieldservice_app", None)
    if app is None or field.allow_none or not isinstance(field.parent, ma.Schema) or not field_can_be_null(app, field):
        return {}
    if "enum" in ret and None not in ret["enum"]:
        ret["enum"].append(None)
    if "$ref" in ret:
        return {"anyOf": [{"type": "object", "nullable": True}, {"$ref": ret.pop("$ref")}]}
    if "allOf" in ret:
        return {"anyOf": [*ret.pop("allOf"), {"type": "object", "nullable": True}]}
    return {"nullable": True}


class ContractApi(ProblemApi):
    """The Api of this service: problem responses (ProblemApi) plus the contract completed by ContractPlugin."""

    def _init_spec(self, **kwargs: Any) -> None:  # type: ignore[override]
        """The contract plugin and the nullable-field rule (fieldservice/common/openapi.py)."""
        kwargs["extra_plugins"] = [*(kwargs.get("extra_plugins") or ()), ContractPlugin(self._app)]
        super()._init_spec(**kwargs)
        self.ma_plugin.converter.fieldservice_app = self._app
        self.ma_plugin.converter.add_attribute_function(nullable_attribute)
        self.spec.components.schema("Problem", schema=self.ERROR_SCHEMA)

    def _register_responses(self) -> None:
        """The shared error responses are problem+json (flask-smorest would say application/json)."""
        import http as _http

        for status in _http.HTTPStatus:
            if status < 400:
                continue
            response = {"description": ERRORS.get(str(int(status)), status.phrase),
                        "content": {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response("DEFAULT_ERROR", {
            "description": "Default error response", "content": {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}},
            lazy=True)

