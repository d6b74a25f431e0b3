"""Installation rules read from the data alone: the delivered unit against its contract line (R-INS-3), the
sheet against the product's procedure (commissioning parameters and checklist, R-INS-4) and the training
record (R-INS-5). It imports models only, so the lifecycle gate, records.service and the signing page can
all ask it without importing one another.

Public: `open_contract_mismatches(order)`, `sheet_sign_problems(record, order)`,
`product_content_errors(content, product)`, `out_of_range(content, product)`, `serial_resolution(...)`.
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from fieldservice.catalog.models import Product
from fieldservice.contracts.models import SalesContractLine
from fieldservice.extensions import db
from fieldservice.records.models import ContractMismatchResolution, RecordKind, ServiceRecord
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

ITEMS = ("model", "serial_number", "configuration")


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def same(a: str | None, b: str | None) -> bool:
    """Identity values compare without case and surrounding blanks ("xr-200 " is "XR-200")."""
    return _norm(a) == _norm(b)


def mismatch_key(item: str, expected: str | None, found: str | None) -> tuple[str, str, str]:
    return item, _norm(expected), _norm(found)


# ---- R-INS-3: the contract is the source of truth ---------------------------------------------------

def contract_values(order: WorkOrder) -> dict[str, str | None]:
    """What the server expects to be delivered for an installation job, per item: from the contract line of
    the job's asset (its product's model, its serial (else the asset's) and configuration); for an asset on
    no contract line, the asset's own model and serial; for a job without an asset, nothing (the values
    typed on the sheet are then all there is to compare)."""
    values: dict[str, str | None] = dict.fromkeys(ITEMS)
    asset = order.asset
    if asset is None:
        return values
    line = db.session.get(SalesContractLine, asset.contract_line_id) if asset.contract_line_id else None
    product = db.session.get(Product, line.product_id if line else asset.product_id)
    values["model"] = product.model_code if product else None
    values["serial_number"] = (line.serial_number if line else None) or asset.serial_number
    values["configuration"] = line.configuration if line else None
    return values


def _mismatch(item: str, expected: str, found: str, record_id: uuid.UUID | None) -> dict[str, Any]:
    return {"item": item, "expected": expected, "found": found,
            "record_id": str(record_id) if record_id is not None else None}


def _sheet_mismatches(record: ServiceRecord, truth: dict[str, str | None]) -> list[dict[str, Any]]:
    """Mismatches on one sheet. With a server value for an item, every value found for it (its contract
    check lines, and for the serial the installed serial) and every `expected` typed on the sheet must equal
    it (a typed expected is not trusted: one that differs is reported too). Without one, each line's typed
    expected is compared with what was found, as the sheet says."""
    content = record.content
    installed = content.get("installed_serial_number")
    pairs: list[tuple[str, str, str]] = []
    for item in ITEMS:
        lines = [line for line in content.get("contract_check", []) if line["item"] == item]
        extra = [installed] if item == "serial_number" and installed else []
        expected = truth[item]
        if expected is not None:
            pairs += [(item, expected, value) for value in [line["found"] for line in lines] + extra]
            pairs += [(item, expected, line["expected"]) for line in lines]
        else:
            pairs += [(item, line["expected"], value) for line in lines for value in [line["found"], *extra]]
    return [_mismatch(item, expected, found, record.id) for item, expected, found in pairs
            if not same(expected, found)]


def _asset_mismatches(order: WorkOrder) -> list[dict[str, Any]]:
    """The job's asset against its own contract line (a unit registered with another serial or model)."""
    asset = order.asset
    if asset is None or asset.contract_line_id is None:
        return []
    line = db.session.get(SalesContractLine, asset.contract_line_id)
    if line is None:
        return []
    found: list[dict[str, Any]] = []
    if line.product_id != asset.product_id:
        wanted, registered = db.session.get(Product, line.product_id), db.session.get(Product, asset.product_id)
        found.append(_mismatch("model", wanted.model_code if wanted else "?",
                               registered.model_code if registered else "?", None))
    if line.serial_number and not same(line.serial_number, asset.serial_number):
        found.append(_mismatch("serial_number", line.serial_number, asset.serial_number, None))
    return found


def latest_sheets(order: WorkOrder) -> list[ServiceRecord]:
    """The latest version of each installation sheet of the order (a correction replaces its predecessor)."""
    sheets = db.session.scalars(sa.select(ServiceRecord).where(
        ServiceRecord.work_order_id == order.id, ServiceRecord.kind == RecordKind.INSTALLATION_SHEET)
        .order_by(ServiceRecord.created_at, ServiceRecord.version_no)).all()
    latest: dict[uuid.UUID, ServiceRecord] = {}
    for sheet in sheets:
        if sheet.root_id not in latest or sheet.version_no > latest[sheet.root_id].version_no:
            latest[sheet.root_id] = sheet
    return list(latest.values())


def resolutions(order_id: uuid.UUID) -> list[ContractMismatchResolution]:
    return list(db.session.scalars(sa.select(ContractMismatchResolution).where(
        ContractMismatchResolution.work_order_id == order_id)
        .order_by(ContractMismatchResolution.resolved_at, ContractMismatchResolution.id)))


def open_contract_mismatches(order: WorkOrder) -> list[dict[str, Any]]:
    """R-INS-3: every unresolved mismatch of an installation job, over the latest version of each of its
    installation sheets and its asset against the asset's contract line. Each is
    {"item": "model" | "serial_number" | "configuration", "expected": the contract's value, "found": the
    value delivered (or typed on the sheet), "record_id": the sheet's id as a string, or None for the asset}.
    A mismatch stays open until the back office records a resolution for the same (item, expected, found)
    on this job; a technician's `resolved` on the sheet is their note, not a resolution. Other job kinds: []."""
    if order.kind is not WorkOrderKind.INSTALLATION:
        return []
    truth = contract_values(order)
    found = _asset_mismatches(order)
    for sheet in latest_sheets(order):
        found += _sheet_mismatches(sheet, truth)
    done = {mismatch_key(r.item, r.expected, r.found) for r in resolutions(order.id)}
    seen: set[tuple[Any, ...]] = set()
    open_: list[dict[str, Any]] = []
    for mismatch in found:
        key = (*mismatch_key(mismatch["item"], mismatch["expected"], mismatch["found"]), mismatch["record_id"])
        if key[:3] in done or key in seen:
            continue
        seen.add(key)
        open_.append(mismatch)
    return open_


def serial_resolution(order_id: uuid.UUID, installed: str) -> ContractMismatchResolution | None:
    """R-INS-6: the back office's resolution that lets the installed serial replace the one the job's asset
    is registered with (a serial_number resolution of this job naming the installed serial as found)."""
    return next((r for r in resolutions(order_id) if r.item == "serial_number" and same(r.found, installed)), None)


def _unchecked_items(record: ServiceRecord, truth: dict[str, str | None]) -> list[str]:
    """Items the contract states that the sheet does not check at all (the serial is always checked: the
    sheet names the installed serial)."""
    checked = {line["item"] for line in record.content.get("contract_check", [])}
    return [item for item in ("model", "configuration") if truth[item] is not None and item not in checked]


# ---- R-INS-4: the product's procedure ---------------------------------------------------------------

def _parameter(product: Product, name: str) -> dict[str, Any] | None:
    return next((p for p in product.commissioning_parameters or [] if same(p["name"], name)), None)


def product_content_errors(content: dict[str, Any], product: Product | None) -> dict[str, Any]:
    """R-INS-4: what in a sheet's content does not follow its product, as marshmallow-style errors
    ({"commissioning": {0: {"item": [...]}}, ...}); {} when it follows. When the product defines
    commissioning parameters, each measured item must be one of them (once), stating the product's range
    (`expected_min`/`expected_max` equal to the product's) and unit; when it defines a checklist, each
    `install_steps` entry must be one of its steps (once). A product without them keeps the sheet's own
    items and ranges. What must be complete to sign (every parameter measured and in range, every step
    done) is checked at signing (`sheet_sign_problems`), so a draft can be written bit by bit."""
    errors: dict[str, Any] = {}
    if product is None:
        return errors
    if product.commissioning_parameters:
        known = ", ".join(p["name"] for p in product.commissioning_parameters)
        seen: set[str] = set()
        for index, item in enumerate(content.get("commissioning", [])):
            problems: dict[str, list[str]] = {}
            parameter = _parameter(product, item["item"])
            if parameter is None:
                problems["item"] = [f"not a commissioning parameter of {product.model_code} (its parameters: "
                                    f"{known})"]
            elif _norm(parameter["name"]) in seen:
                problems["item"] = ["measured twice"]
            else:
                seen.add(_norm(parameter["name"]))
                for field, key in (("expected_min", "min"), ("expected_max", "max")):
                    if item.get(field) is None:
                        problems[field] = [f"state the product's expected range: {parameter[key]}"]
                    elif item[field] != parameter[key]:
                        problems[field] = [f"the product's expected range says {parameter[key]}, not {item[field]}"]
                if item.get("unit") and parameter.get("unit") and not same(item["unit"], parameter["unit"]):
                    problems["unit"] = [f"the product's unit is {parameter['unit']}"]
            if problems:
                errors.setdefault("commissioning", {})[index] = problems
    if product.installation_checklist:
        steps = {_norm(step) for step in product.installation_checklist}
        seen_steps: set[str] = set()
        for index, entry in enumerate(content.get("install_steps", [])):
            if _norm(entry["step"]) not in steps:
                errors.setdefault("install_steps", {})[index] = {
                    "step": [f"not a step of the installation checklist of {product.model_code}"]}
            elif _norm(entry["step"]) in seen_steps:
                errors.setdefault("install_steps", {})[index] = {"step": ["listed twice"]}
            seen_steps.add(_norm(entry["step"]))
    return errors


def _range(item: dict[str, Any], product: Product | None) -> tuple[float | None, float | None]:
    """The range a measured item is checked against: the product's when it defines the parameter."""
    parameter = _parameter(product, item["item"]) if product is not None else None
    if parameter is not None:
        return parameter["min"], parameter["max"]
    return item.get("expected_min"), item.get("expected_max")


def out_of_range(content: dict[str, Any], product: Product | None) -> list[dict[str, Any]]:
    """R-INS-4: the sheet's commissioning items whose measured value is outside the range checked."""
    out = []
    for item in content.get("commissioning", []):
        low, high = _range(item, product)
        if (low is not None and item["measured"] < low) or (high is not None and item["measured"] > high):
            out.append(item)
    return out


def _procedure_problems(content: dict[str, Any], product: Product | None) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []

    def add(code: str, message: str) -> None:
        problems.append({"code": code, "rule": "R-INS-4", "message": message})

    for field, by_index in product_content_errors(content, product).items():
        for index, errors in by_index.items():
            for key, messages in errors.items():
                add("not_per_product", f"{field}[{index}].{key}: {'; '.join(messages)}")
    measured = {_norm(item["item"]) for item in content.get("commissioning", [])}
    for parameter in (product.commissioning_parameters if product else None) or []:
        if _norm(parameter["name"]) not in measured:
            add("commissioning_missing", f"commissioning parameter {parameter['name']!r} was not measured")
    for item in out_of_range(content, product):
        low, high = _range(item, product)
        add("commissioning_out_of_range", f"{item['item']} measured {item['measured']}"
                                          f"{' ' + item['unit'] if item.get('unit') else ''}, expected {low}..{high}")
    done = {_norm(entry["step"]) for entry in content.get("install_steps", []) if entry.get("done")}
    for step in (product.installation_checklist if product else None) or []:
        if _norm(step) not in done:
            add("install_step_not_done", f"installation step {step!r} is not done")
    return problems


# ---- the sheet as a whole -----------------------------------------------------------------------------

def _training_problems(content: dict[str, Any]) -> list[dict[str, Any]]:
    training = content.get("training") or {}
    if training.get("given") or (training.get("not_given_reason") or "").strip():
        return []
    return [{"code": "training_not_recorded", "rule": "R-INS-5",
             "message": "operator training was not given: give it, or record why (training.not_given_reason)"}]


def sheet_sign_problems(record: ServiceRecord, order: WorkOrder) -> list[dict[str, Any]]:
    """What blocks the customer's signature on an installation sheet, each {"code", "rule", "message"}:
    R-INS-3 `contract_mismatch` (an open mismatch of this sheet or of the job's asset) and
    `contract_check_missing` (an item the contract states that the sheet does not check); R-INS-4
    `not_per_product` (items or ranges the product does not define, when the product changed after the
    draft was written), `commissioning_missing`, `commissioning_out_of_range` (the product's range, else the
    sheet's), `install_step_not_done`; R-INS-5 `training_not_recorded` (not given and no reason recorded).
    [] when the sheet may be signed; [] for records of other kinds."""
    if record.kind is not RecordKind.INSTALLATION_SHEET:
        return []
    problems: list[dict[str, Any]] = []
    for mismatch in open_contract_mismatches(order):
        if mismatch["record_id"] in (None, str(record.id)):
            problems.append({"code": "contract_mismatch", "rule": "R-INS-3", "message": (
                f"{mismatch['item']}: the contract says {mismatch['expected']!r}, found {mismatch['found']!r}; "
                f"the back office must resolve it")})
    if order.kind is WorkOrderKind.INSTALLATION:
        for item in _unchecked_items(record, contract_values(order)):
            problems.append({"code": "contract_check_missing", "rule": "R-INS-3",
                             "message": f"the contract states the {item}; check it against the unit delivered"})
    problems += _procedure_problems(record.content, order.product)
    problems += _training_problems(record.content)
    return problems
