"""Push: apply a phone's change set through the same service functions as the JSON API.

One transaction per push. Each record is applied inside its own SAVEPOINT: a record that breaks a rule
(a DomainError from the service layer) is rolled back alone and kept in quarantine (SyncRejection) with
its reason, and the rest of the push applies. Fields a technician does not own (schedule, assignee, ...)
keep the server's value; the phone's value is kept in quarantine as "overridden" and the record is
re-sent so the phone converges. Nothing a phone pushed is silently dropped.

The table registry (HANDLERS) maps each table to the functions that apply created/updated and deleted
records, like a command-handler map.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fieldservice.auth.service import Actor
from fieldservice.changes import numbered_so_far, touch
from fieldservice.common import jsonsafety
from fieldservice.db import in_values
from fieldservice.errors import DomainError, NotFound
from fieldservice.records import service as records_service
from fieldservice.records.models import Signoff
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, WorkLog
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from sync.changeset import STAMP_COLUMNS, ChangeSet, PushedRecord, Unroutable
from sync.errors import ReadOnlyTable
from sync.models import RejectionKind, RejectionStatus, SyncReceipt, SyncRejection
from sync.schema import encode

log = logging.getLogger(__name__)

BOOKKEEPING = frozenset({*STAMP_COLUMNS, "sync_status", "rejection_reason", "is_read_only"})
FUTURE_TOLERANCE = timedelta(minutes=5)
PAST_TOLERANCE = timedelta(days=14)


@dataclass
class PushContext:
    session: Session
    actor: Actor
    idempotency_key: uuid.UUID
    received_at: datetime
    accepted: int = 0
    merged: int = 0
    rejected: dict[str, list[str]] = field(default_factory=dict)
    quarantine_limit: int | None = None       # open quarantine rows one technician may have (None: no limit)
    payload_limit: int | None = None          # bytes of a quarantined payload kept whole
    quarantine_open: int | None = None        # counted when the first record of this push is quarantined

    @property
    def technician_id(self) -> uuid.UUID:
        assert self.actor.technician_id is not None
        return self.actor.technician_id


Overrides = dict[str, Any] | None
"""What a handler returns: the changed fields the technician does not own that kept the server's value."""


def _split(record: PushedRecord, row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The technician's changes to apply, and the changed fields they do not own that differ from the server."""
    own: dict[str, Any] = {}
    foreign: dict[str, Any] = {}
    for name in record.changed - BOOKKEEPING:
        column = record.table.column_map[name]
        value = record.values.get(name)
        if column.owner == "technician":
            own[name] = value
        elif row is None:
            continue  # a new record has nothing to conflict with: the server fills the fields it owns
        elif record.operation == "created" and (column.owner == "server" or value is None):
            continue  # a re-pushed create carries what the phone had before the server filled its fields
        elif encode(getattr(row, name, None), column) != encode(value, column):
            foreign[name] = {"phone": record.raw.get(name), "server": encode(getattr(row, name, None), column)}
    return own, foreign


def _plausible_times(ctx: PushContext, visit: Visit, own: dict[str, Any]) -> None:
    """Arrival/departure times from a phone whose clock is off are flagged, not trusted blindly: a time in
    the future (beyond a small tolerance) is replaced by the receive time; one long past is kept, flagged."""
    flags = list(visit.time_flags or [])
    for name in ("arrived_at", "departed_at"):
        value = own.get(name)
        if value is None:
            continue
        problem = None
        if value > ctx.received_at + FUTURE_TOLERANCE:
            problem = "in the future relative to the server's clock; the receive time was recorded instead"
            own[name] = ctx.received_at
        elif value < ctx.received_at - PAST_TOLERANCE:
            problem = "more than 14 days before the server received it"
        if problem:
            flags.append({"field": name, "device_value": value.isoformat(), "received_at": ctx.received_at.isoformat(),
                          "problem": problem})
    if flags != (visit.time_flags or []):
        visit.time_flags = flags


def upsert_visit(ctx: PushContext, record: PushedRecord) -> Overrides:
    visit = ctx.session.get(Visit, record.id)
    if visit is None:
        raise NotFound(f"visit {record.id} does not exist; visits are planned by dispatchers, not created on phones")
    own, foreign = _split(record, visit)
    own = {k: v for k, v in own.items() if k in visits.TECHNICIAN_VISIT_FIELDS}
    if visit.technician_id != ctx.technician_id:
        # reassigned while the phone was offline: the technician still owns their notes (and work logs),
        # no longer the visit's progress; those values are kept aside like any field they do not own
        for name in set(own) - {"notes"}:
            column = record.table.column_map[name]
            if encode(getattr(visit, name), column) != encode(own[name], column):
                foreign[name] = {"phone": record.raw.get(name), "server": encode(getattr(visit, name), column),
                                 "why": "the visit was reassigned to another technician"}
            del own[name]
    _plausible_times(ctx, visit, own)
    visits.apply_field_changes(ctx.actor, visit.id, own, now=ctx.received_at)
    return foreign


def upsert_work_log(ctx: PushContext, record: PushedRecord) -> Overrides:
    """A work log created or edited on the phone. An existing log is looked up with the API's owner check
    first (visits.get_work_log): someone else's log is not found, even when the record asks for nothing the
    technician owns, so it is never merged or re-sent."""
    entry = ctx.session.get(WorkLog, record.id)
    if entry is not None:
        entry = visits.get_work_log(ctx.actor, entry.id)
    own, foreign = _split(record, entry)
    if entry is None:
        data = {k: own.get(k) for k in ("started_at", "ended_at", "description")}
        visit_id = own.get("visit_id")
        if visit_id is None or data["started_at"] is None or not data["description"]:
            raise _invalid("a work log needs visit_id, started_at and description")
        visits.add_work_log(ctx.actor, visit_id, {"id": record.id, **data}, now=ctx.received_at)
    else:
        changes = {k: v for k, v in own.items() if encode(getattr(entry, k), record.table.column_map[k])
                   != encode(v, record.table.column_map[k])}
        if changes:
            visits.update_work_log(ctx.actor, entry.id, changes, now=ctx.received_at)
    return foreign


def create_work_logs(ctx: PushContext, records: list[PushedRecord]) -> list[PushedRecord]:
    """The common cases of a push in bulk: many new work logs, and work logs the server already has unchanged
    (WatermelonDB re-pushes a whole push under a new Idempotency-Key after a lost answer; issue 13 point 4).

    Every created or updated log goes through the same service rules as the API (add_work_logs: a few queries
    and one insert instead of a savepoint and a dozen statements per record); the insert skips ids the server
    already has (one statement: the new logs are not looked up first). Only the logs that did not go in (an
    id the server has, a rule broken, fields missing) are then looked up, in one query: the technician's own
    logs whose technician-owned fields equal the pushed ones (and that carry no other changed field) are
    accepted without a write or a savepoint, as the per-record path would; other existing ones (changed,
    someone else's) are left to it, so an existing log never takes the outcome of the rules for new ones;
    logs the server does not have that broke a rule are quarantined. Returns the records handled; the rest
    (changed logs, someone else's, deletes) take the per-record path."""
    pushed = [r for r in records if r.operation != "deleted"]
    if not pushed:
        return []
    items: list[dict[str, Any]] = []
    for record in pushed:
        # what _split(record, None) keeps of these fields: all four are the technician's, none bookkeeping
        changed, values = record.changed, record.values
        item = {name: values.get(name) if name in changed else None for name in _WORK_LOG_OWN}
        item["id"], item["device_time"] = record.id, values.get("updated_at") or values.get("created_at")
        items.append(item)
    outcomes: list[DomainError | str | None] = [None] * len(items)
    complete = [i for i, item in enumerate(items) if item["visit_id"] and item["started_at"] and item["description"]]
    if len(complete) < len(items):
        for i in set(range(len(items))) - set(complete):
            outcomes[i] = _invalid("a work log needs visit_id, started_at and description")
    if complete:
        for i, outcome in zip(complete, visits.add_work_logs(ctx.actor, [items[i] for i in complete],
                                                             now=ctx.received_at, skip_existing=True), strict=True):
            outcomes[i] = outcome
    doubtful = [record.id for record, outcome in zip(pushed, outcomes, strict=True) if outcome is not None]
    existing: dict[uuid.UUID, Any] = {}
    if doubtful:
        columns = [WorkLog.id, WorkLog.technician_id, *(getattr(WorkLog, name) for name in _WORK_LOG_OWN)]
        existing = {row.id: row for row in ctx.session.execute(
            sa.select(*columns).where(in_values(ctx.session, WorkLog.id, doubtful)))}
    accepted: list[PushedRecord] = []
    handled: list[PushedRecord] = []
    for record, outcome in zip(pushed, outcomes, strict=True):
        if outcome is None:  # created
            accepted.append(record)
        elif record.id in existing:
            if not _same_work_log(ctx, record, existing[record.id]):
                continue  # changed, or someone else's: the per-record path
            accepted.append(record)  # unchanged: nothing to write
        elif outcome == visits.EXISTING:
            continue  # gone again since the insert: the per-record path decides
        else:
            assert isinstance(outcome, DomainError)
            ctx.rejected.setdefault(record.table.name, []).append(str(record.id))
            _quarantine(ctx, record, RejectionKind.REJECTED, outcome.code, outcome.detail)
            _receipt(ctx, record, "rejected")
        handled.append(record)
    ctx.accepted += len(accepted)
    if accepted and ctx.session.scalar(sa.select(SyncRejection.id).where(
            SyncRejection.technician_id == ctx.technician_id, SyncRejection.table_name == "work_logs",
            SyncRejection.status == RejectionStatus.OPEN).limit(1)) is not None:
        # an accepted push of a record clears its earlier rejections (as _supersede_open does, in bulk)
        ctx.session.execute(sa.update(SyncRejection).where(
            SyncRejection.technician_id == ctx.technician_id, SyncRejection.table_name == "work_logs",
            SyncRejection.record_id.in_([str(r.id) for r in accepted]),
            SyncRejection.status == RejectionStatus.OPEN).values(status=RejectionStatus.SUPERSEDED)
            .execution_options(synchronize_session=False))
    # device facts of the accepted logs are on the rows themselves (device_time, received_at); an unchanged
    # re-push changed nothing and leaves no trace, like any record that changes nothing
    return handled


_WORK_LOG_OWN = ("visit_id", "started_at", "ended_at", "description")


def _same_work_log(ctx: PushContext, record: PushedRecord, row: Any) -> bool:
    """The technician's own log, and the push changes nothing on it: every technician-owned field it carries
    equals the server's, and no field they do not own differs (which would be merged and re-sent)."""
    if row.technician_id != ctx.technician_id or record.unusable:
        return False  # someone else's log is not found (per-record path, with the API's owner check)
    own, foreign = _split(record, row)
    if foreign or set(own) - set(_WORK_LOG_OWN):
        return False
    return all(encode(getattr(row, name), record.table.column_map[name])
               == encode(value, record.table.column_map[name]) for name, value in own.items())


def delete_work_log(ctx: PushContext, record: PushedRecord) -> Overrides:
    if ctx.session.get(WorkLog, record.id) is not None:  # already gone: a replayed delete changes nothing
        visits.delete_work_log(ctx.actor, record.id, now=ctx.received_at)
    return None


def upsert_work_order(ctx: PushContext, record: PushedRecord) -> Overrides:
    """A technician's status change of a work order. The order is looked up with the API's visibility
    check (workorders.get_work_order) before anything else: an order the technician cannot see is not found,
    even when the record changes only fields they do not own (which would otherwise merge and re-send it)."""
    if ctx.session.get(WorkOrder, record.id) is None:
        raise NotFound(f"work order {record.id} does not exist; work orders are opened by dispatchers")
    order = workorders.get_work_order(ctx.actor, record.id)
    own, foreign = _split(record, order)
    status = own.get("status")
    if status and status != order.status.value:
        try:
            target = WorkOrderStatus(status)
        except ValueError:
            raise _invalid(f"unknown work-order status {status!r}") from None
        workorders.change_status(ctx.actor, order.id, target, now=ctx.received_at)
    return foreign


def _json_column(record: PushedRecord, name: str, *, kind: type) -> Any:
    """A JSON-text column (content_json, strokes_json) decoded, or 422 naming the column."""
    text = record.values.get(name)
    if text is None or text == "":
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise _invalid(f"{name} is not valid JSON text (or is nested too deep)") from None
    found = jsonsafety.problem(value)
    if found:
        raise _invalid(f"{name} cannot be taken: {found}")
    if not isinstance(value, kind):
        raise _invalid(f"{name} must hold a JSON {'object' if kind is dict else 'array'}")
    return value


def upsert_service_record(ctx: PushContext, record: PushedRecord) -> Overrides:
    """A draft created or edited on the phone: records.service.apply_pushed_record (the API's rules, the
    edit guarded by the lock_version the phone last pulled). Server-derived columns (status, hashes,
    version numbers) are not the phone's to set; a pull sends the server's values back."""
    data: dict[str, Any] = {"kind": record.values.get("kind"), "visit_id": record.values.get("visit_id"),
                            "lock_version": record.values.get("lock_version")}
    if "content_json" in record.changed or record.operation == "created":
        data["content"] = _json_column(record, "content_json", kind=dict)
    if isinstance(data["lock_version"], float):
        data["lock_version"] = int(data["lock_version"]) if data["lock_version"].is_integer() else -1
    records_service.apply_pushed_record(ctx.actor, record.id, data, now=ctx.received_at)
    return None


def create_signoff(ctx: PushContext, record: PushedRecord) -> Overrides:
    """A sign-off captured offline: records.service.sign_pushed, the same core as the API's sign-off
    (R-SIG-1/2, R-INS-3/4), so it is accepted only if the server's canonical hash of the record equals the
    hash the customer saw and the work is complete (a completion earlier in this push counts: visits are
    applied first). Otherwise it is quarantined with the reason. Sign-offs are never edited."""
    if record.operation != "created" and ctx.session.get(Signoff, record.id) is not None:
        if record.changed - {"sync_status", "rejection_reason"}:
            raise _invalid("a sign-off cannot change once captured; capture a new one on a corrected record")
        return None
    values = record.values
    data = {"id": record.id, "record_id": values.get("record_id"), "content_sha256": values.get("content_sha256"),
            "signer_name": values.get("signer_name"), "signer_role": values.get("signer_role"),
            "signature_png": values.get("signature_png") or None,
            "strokes": _json_column(record, "strokes_json", kind=list),
            "content": _json_column(record, "content_json", kind=dict),
            "device_id": values.get("device_id"), "device_time": values.get("device_time"),
            "latitude": values.get("latitude"), "longitude": values.get("longitude")}
    records_service.sign_pushed(ctx.actor, data, now=ctx.received_at)
    return None


def upsert_stock_movement(ctx: PushContext, record: PushedRecord) -> Overrides:
    """Parts used on a job, recorded offline (R-REP-6, R-PRT-1): a new ledger line is an issue from the
    technician's van through parts.issue_to_job (approved part, own job, stock on hand, serials); a refused
    issue is quarantined with its reason. The ledger is append-only: a re-push of the same line changes
    nothing, a changed line is refused."""
    from fieldservice.parts import service as parts
    from fieldservice.parts.models import StockMovement

    own, _ = _split(record, None)
    existing = ctx.session.get(StockMovement, record.id)
    if existing is not None and existing.technician_id != ctx.technician_id:
        raise NotFound(f"stock movement {record.id} not found")  # another's ledger line: not even "unchanged"
    if existing is not None:
        same = (existing.part_id == own.get("part_id", existing.part_id)
                and existing.quantity == own.get("quantity", existing.quantity)
                and existing.work_order_id == own.get("work_order_id", existing.work_order_id))
        if not same:
            raise _conflict("stock ledger lines are never changed; return the parts or record a new issue")
        return None
    quantity = own.get("quantity")
    if not own.get("part_id") or not own.get("work_order_id") or not isinstance(quantity, int | float):
        raise _invalid("a part issue needs part_id, work_order_id and quantity")
    if quantity >= 0 or quantity != int(quantity):
        raise _invalid("an issue takes parts out of the van: quantity is a negative whole number (ledger sign)")
    serials = own.get("serial_numbers")
    if serials:
        import json

        try:
            serials = json.loads(serials)
        except ValueError:
            raise _invalid("serial_numbers is a JSON array of strings") from None
        if not isinstance(serials, list) or not all(isinstance(x, str) and 0 < len(x) <= 80 for x in serials):
            raise _invalid("serial_numbers is a JSON array of strings")
    parts.issue_to_job(ctx.actor, {
        "id": record.id, "part_id": own["part_id"], "work_order_id": own["work_order_id"],
        "visit_id": own.get("visit_id"), "quantity": -int(quantity), "serial_numbers": serials or None,
        "occurred_at": own.get("occurred_at")}, now=ctx.received_at, device_time=record.device_time)
    return None


def _conflict(message: str) -> DomainError:
    from fieldservice.errors import Conflict

    return Conflict(message)


def _invalid(message: str) -> DomainError:
    from fieldservice.errors import ValidationFailed

    return ValidationFailed(message)


def refuse(reason: str) -> Callable[[PushContext, PushedRecord], Overrides]:
    def handler(ctx: PushContext, record: PushedRecord) -> Overrides:
        raise ReadOnlyTable(reason)

    return handler


@dataclass(frozen=True)
class TableHandler:
    upsert: Callable[[PushContext, PushedRecord], Overrides]
    delete: Callable[[PushContext, PushedRecord], Overrides]
    bulk_create: Callable[[PushContext, list[PushedRecord]], list[PushedRecord]] | None = None


def upsert_quote_consent(ctx: PushContext, record: PushedRecord) -> Overrides:
    """The customer's accept/decline captured on the phone (R-REP-4): the same rule as the API (bound to the
    quote's canonical SHA-256, only on a presented quote). A consent is never changed once recorded."""
    from fieldservice.commerce import quotes
    from fieldservice.commerce.models import QuoteConsent
    from fieldservice.errors import Conflict

    own, _ = _split(record, None)
    existing = ctx.session.get(QuoteConsent, record.id)
    if existing is not None and existing.captured_by_user_id != ctx.actor.user_id:
        raise NotFound(f"consent {record.id} not found")  # captured by someone else: not even "unchanged"
    if existing is not None:
        if own.get("decision") not in (None, existing.decision.value) or \
                own.get("content_sha256") not in (None, existing.content_sha256):
            raise Conflict("a recorded consent never changes; the customer decides again on a new quote")
        return None
    missing = [k for k in ("quote_id", "decision", "content_sha256", "signer_name") if not own.get(k)]
    if missing:
        raise _invalid(f"a consent needs {', '.join(missing)}")
    if own["decision"] not in ("accepted", "declined"):
        raise _invalid("decision must be accepted or declined")
    data = {"id": record.id, "decision": own["decision"], "content_sha256": own["content_sha256"],
            "signer_name": own["signer_name"], "visit_id": own.get("visit_id"),
            "signature_png": own.get("signature_png") or None, "device_id": own.get("device"),
            "agreement_sha256": own.get("agreement_sha256") or None,  # R-REP-8 written repair agreement
            "device_time": own.get("device_time") or record.device_time}
    quotes.record_consent(ctx.actor, own["quote_id"], data, now=ctx.received_at)
    return None


def upsert_visit_charge(ctx: PushContext, record: PushedRecord) -> Overrides:
    """Chargeable work recorded offline: refused (quarantined with the reason) on a chargeable job without
    an accepted consent covering it (R-REP-4); a part that is not an approved catalog part, or not issued
    from stock (R-REP-6: the charge names the issue line pushed with it in `stock_movement_id`, or recording it
    issues the parts from the van). Consents and issues of the same push are applied first (APPLY_ORDER)."""
    import json

    from fieldservice.commerce import charges
    from fieldservice.commerce.models import VisitCharge
    from fieldservice.errors import Conflict

    own, _ = _split(record, None)
    existing = ctx.session.get(VisitCharge, record.id)
    if existing is not None and existing.technician_id != ctx.technician_id:
        raise NotFound(f"charge {record.id} not found")  # another technician's: not even "unchanged"
    if existing is not None:
        # a phone that let the server issue the parts has no stock_movement_id yet: not a change
        changed = [k for k in ("visit_id", "kind", "code", "quantity_centi", "stock_movement_id") if k in own and
                   not (k == "stock_movement_id" and own[k] is None) and
                   encode(getattr(existing, k), record.table.column_map[k]) != encode(own[k], record.table.column_map[k])]
        if changed:
            raise Conflict(f"a recorded charge never changes ({', '.join(changed)}); record a new one")
        return None  # a re-pushed charge the server already has
    missing = [k for k in ("visit_id", "kind", "code", "quantity_centi") if own.get(k) in (None, "")]
    if missing:
        raise _invalid(f"a charge needs {', '.join(missing)}")
    if own["kind"] not in ("part", "labour", "fee"):
        raise _invalid("kind must be part, labour or fee")
    quantity = own["quantity_centi"]
    if quantity != int(quantity) or not 0 < quantity <= 10_000_000:
        raise _invalid("quantity_centi must be a positive whole number of hundredths")
    serials = None
    if own.get("serial_numbers"):
        try:
            serials = json.loads(own["serial_numbers"])
        except ValueError:
            serials = None
        if not isinstance(serials, list) or not all(isinstance(x, str) and 0 < len(x) <= 100 for x in serials):
            raise _invalid("serial_numbers must be a JSON list of serial strings")
    data = {"id": record.id, "visit_id": own["visit_id"], "kind": own["kind"], "code": own["code"],
            "quantity_centi": int(quantity), "description": own.get("description") or None, "serial_numbers": serials,
            "stock_movement_id": own.get("stock_movement_id") or None}
    charges.record_charge(ctx.actor, data, now=ctx.received_at, device_time=record.device_time)
    return None


_READ_ONLY = TableHandler(refuse("this table is read-only on phones"), refuse("this table is read-only on phones"))
HANDLERS: dict[str, TableHandler] = {
    "visits": TableHandler(upsert_visit, refuse("visits are cancelled by dispatchers, not deleted on phones")),
    "work_logs": TableHandler(upsert_work_log, delete_work_log, bulk_create=create_work_logs),
    "work_orders": TableHandler(upsert_work_order, refuse("work orders are never deleted")),
    "quote_consents": TableHandler(upsert_quote_consent, refuse("a customer's consent is never deleted")),
    "visit_charges": TableHandler(upsert_visit_charge, refuse("recorded charges are not deleted on phones")),
    "service_records": TableHandler(upsert_service_record,
                                    refuse("records are never deleted; a signed one is corrected by a new version")),
    "signoffs": TableHandler(create_signoff, refuse("sign-offs are never deleted")),
    "stock_movements": TableHandler(upsert_stock_movement,
                                    refuse("stock ledger lines are never deleted; return the parts instead")),
}
# applied in this order: record drafts first (a fixed contract mismatch lets the visit complete, R-INS-3), a
# visit's arrival before the work logged on it, its departure before the order's status; a consent before the
# parts issued under it and the charges it covers (R-REP-4); parts issued from the van before the charges that
# name their ledger line (R-REP-6); sign-offs last, so that a completion pushed in the same sync counts (R-SIG-2)
APPLY_ORDER = ["service_records", "visits", "work_logs", "work_orders", "quote_consents", "stock_movements",
               "visit_charges", "signoffs"]


def _quarantine(ctx: PushContext, record: PushedRecord, kind: RejectionKind, code: str, reason: str,
                fields: dict[str, Any] | None = None, unmet: list[Any] | None = None) -> bool:
    """Keep the record (or the overridden fields) with the reason. A re-push of the same record with the
    same content and outcome adds nothing new. Returns whether a new entry was made."""
    payload = _bounded(dict(record.raw), ctx.payload_limit)
    existing = ctx.session.scalars(sa.select(SyncRejection).where(
        SyncRejection.technician_id == ctx.technician_id, SyncRejection.table_name == record.table.name,
        SyncRejection.record_id == str(record.id), SyncRejection.status == RejectionStatus.OPEN)).all()
    for old in existing:
        if old.kind is kind and old.payload == payload and old.reason_code == code:
            return False
        old.status = RejectionStatus.SUPERSEDED
    _count_against_limit(ctx, superseded=len(existing))
    ctx.session.add(SyncRejection(
        kind=kind, technician_id=ctx.technician_id, idempotency_key=ctx.idempotency_key,
        table_name=record.table.name, record_id=str(record.id), operation=record.operation, payload=payload,
        changed_columns=sorted(record.changed), reason_code=code, reason=reason[:1000], unmet_conditions=unmet,
        device_time=record.device_time, received_at=ctx.received_at,
        resolution_note=None if fields is None else f"fields kept at the server's value: {sorted(fields)}"))
    return True


def _count_against_limit(ctx: PushContext, *, superseded: int) -> None:
    """One more open quarantine row for this technician: past SYNC_QUARANTINE_MAX_OPEN the whole push is
    refused (429 quarantine_full, nothing applied) until a dispatcher has reviewed the open ones."""
    if ctx.quarantine_limit is None:
        return
    if ctx.quarantine_open is None:
        ctx.quarantine_open = ctx.session.scalar(sa.select(sa.func.count()).select_from(SyncRejection).where(
            SyncRejection.technician_id == ctx.technician_id, SyncRejection.status == RejectionStatus.OPEN)) or 0
    else:
        ctx.quarantine_open -= superseded
    ctx.quarantine_open += 1
    if ctx.quarantine_open > ctx.quarantine_limit:
        from sync.errors import QuarantineFull

        raise QuarantineFull(
            f"technician {ctx.technician_id} already has {ctx.quarantine_limit} refused records awaiting review; "
            f"a dispatcher must review them (GET /api/v1/sync/rejections?technician_id={ctx.technician_id}) "
            f"before this push can be kept. Nothing of it was applied; push again afterwards.",
            limit=ctx.quarantine_limit, technician_id=str(ctx.technician_id))


def _bounded(payload: dict[str, Any], limit: int | None) -> dict[str, Any]:
    """A quarantined payload of at most `limit` bytes (as JSON): longer texts are kept as their length and
    SHA-256, so a huge push cannot fill the database through the quarantine."""
    if limit is None or len(json.dumps(payload, ensure_ascii=False)) <= limit:
        return payload
    import hashlib

    short = {}
    for key, value in payload.items():
        if isinstance(value, str) and len(value) > 256:
            digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
            value = f"[{len(value)} characters, sha256 {digest}, not kept]"
        short[key] = value
    if len(json.dumps(short, ensure_ascii=False)) > limit:
        short = {"id": payload.get("id"), "_not_kept": f"{len(json.dumps(payload))} bytes"}
    return short


def _supersede_open(ctx: PushContext, record: PushedRecord) -> None:
    """An accepted push of a record clears its earlier rejections on the phone."""
    for old in ctx.session.scalars(sa.select(SyncRejection).where(
            SyncRejection.technician_id == ctx.technician_id, SyncRejection.table_name == record.table.name,
            SyncRejection.record_id == str(record.id), SyncRejection.status == RejectionStatus.OPEN)):
        old.status = RejectionStatus.SUPERSEDED


def _receipt(ctx: PushContext, record: PushedRecord, outcome: str) -> None:
    """Device facts: the phone's time for the record and the server's receive time (once per version)."""
    device_time = record.device_time
    seen = ctx.session.scalar(sa.select(SyncReceipt.id).where(
        SyncReceipt.technician_id == ctx.technician_id, SyncReceipt.table_name == record.table.name,
        SyncReceipt.record_id == str(record.id), SyncReceipt.operation == record.operation,
        SyncReceipt.device_time == device_time if device_time else SyncReceipt.device_time.is_(None)).limit(1))
    if seen is None:
        ctx.session.add(SyncReceipt(
            idempotency_key=ctx.idempotency_key, technician_id=ctx.technician_id, table_name=record.table.name,
            record_id=str(record.id), operation=record.operation, outcome=outcome, device_time=device_time,
            received_at=ctx.received_at))


def apply_change_set(ctx: PushContext, change_set: ChangeSet) -> None:
    """Apply table by table in APPLY_ORDER (then the read-only tables, which only quarantine): within a
    table, a bulk handler takes what it can (new work logs, unchanged re-pushed ones) and the rest goes
    record by record. Records no handler can take (unknown tables, ids that are not UUIDs) are quarantined."""
    grouped: dict[str, list[PushedRecord]] = {}
    for record in change_set.records:  # one pass (as by_table, in push order)
        grouped.setdefault(record.table.name, []).append(record)
    names = APPLY_ORDER + sorted(set(grouped) - set(APPLY_ORDER))
    for name in names:
        records = sorted(grouped.get(name, ()), key=lambda r: r.operation == "deleted")
        if not records:
            continue
        handler = HANDLERS.get(name, _READ_ONLY)
        usable = [r for r in records if not r.unusable]
        # the records the bulk handler took, by identity (ids are unique per table in a push)
        done = {id(r) for r in handler.bulk_create(ctx, usable)} if handler.bulk_create and usable else set()
        for record in records:
            if id(record) not in done:
                _apply_one(ctx, record)
    if change_set.unroutable:
        quarantine_unroutable(ctx, change_set.unroutable)


UNROUTABLE_CODES = frozenset({"unknown_table", "id_not_uuid"})


def quarantine_unroutable(ctx: PushContext, items: list[Unroutable]) -> None:
    """Records of tables the server does not sync, or with ids that are not UUIDs (issue 13 point 5): kept in
    quarantine for a dispatcher (and counted in the answer's `rejected_ids`), the rest of the push applies.

    Written with Core statements and `change_seq` 0, so they are never a change for a pull: there is no
    synced row to send back (an unknown table is not in the phone's synced schema; a record without a UUID
    can never be taken). A re-push of the same record with the same content adds nothing."""
    table = SyncRejection.__table__
    for table_name in sorted({item.table_name for item in items}):
        group = [item for item in items if item.table_name == table_name]
        open_rows: dict[str, list[Any]] = {}
        for row in ctx.session.execute(sa.select(table.c.id, table.c.record_id, table.c.kind, table.c.payload,
                                                 table.c.reason_code).where(
                table.c.technician_id == ctx.technician_id, table.c.table_name == table_name,
                table.c.record_id.in_([item.record_id for item in group]),
                table.c.status == RejectionStatus.OPEN)):
            open_rows.setdefault(row.record_id, []).append(row)
        inserts: list[dict[str, Any]] = []
        for item in group:
            ctx.rejected.setdefault(item.table_name, []).append(item.record_id)
            payload = _bounded(item.payload, ctx.payload_limit)
            existing = open_rows.get(item.record_id, [])
            if any(old.kind == RejectionKind.REJECTED and old.payload == payload and old.reason_code == item.code
                   for old in existing):
                continue
            if existing:
                ctx.session.execute(sa.update(table).where(table.c.id.in_([old.id for old in existing]))
                                    .values(status=RejectionStatus.SUPERSEDED))
                open_rows[item.record_id] = []
            _count_against_limit(ctx, superseded=len(existing))
            inserts.append({
                "id": uuid.uuid4(), "kind": RejectionKind.REJECTED, "status": RejectionStatus.OPEN,
                "technician_id": ctx.technician_id, "idempotency_key": ctx.idempotency_key,
                "table_name": item.table_name, "record_id": item.record_id, "operation": item.operation,
                "payload": payload, "changed_columns": item.changed, "reason_code": item.code,
                "reason": item.reason[:1000], "unmet_conditions": None, "device_time": None,
                "received_at": ctx.received_at, "resolved_at": None, "resolved_by_id": None,
                "resolution_note": None, "change_seq": 0})
        if inserts:
            ctx.session.execute(sa.insert(table), inserts)
        log.info("sync push from technician %s: %d records of %s quarantined (%s)", ctx.technician_id,
                 len(group), table_name, ", ".join(sorted({item.code for item in group})))


def _apply_one(ctx: PushContext, record: PushedRecord) -> None:
    """One record in its own savepoint: a rule it breaks rolls back only its own writes."""
    handler = HANDLERS.get(record.table.name, _READ_ONLY)
    apply = handler.delete if record.operation == "deleted" else handler.upsert
    outcome = "accepted"
    numbered_before = numbered_so_far(ctx.session)
    try:
        with ctx.session.begin_nested():
            if record.unusable:
                raise _invalid(f"the record's content cannot be taken: {record.unusable}")
            overridden = apply(ctx, record)
            ctx.session.flush()
    except DomainError as err:
        outcome = "rejected"
        ctx.rejected.setdefault(record.table.name, []).append(str(record.id))
        _quarantine(ctx, record, RejectionKind.REJECTED, err.code, err.detail,
                    unmet=err.extra.get("unmet_conditions"))  # the lifecycle gate's conditions, if it refused
        log.info("sync push from technician %s: %s %s rejected (%s)", ctx.technician_id,
                 record.table.name, record.id, err.code)
    else:
        if overridden:
            # what the technician owns was applied; the fields they do not own are kept aside
            outcome = "merged"
            ctx.merged += 1
            if _quarantine(ctx, record, RejectionKind.OVERRIDDEN, "not_owned",
                           "kept the server's value for fields the technician does not own: "
                           + ", ".join(sorted(overridden)), overridden):
                touch(ctx.session.get(record.table.model, record.id))  # re-send the server's values, once
        else:
            ctx.accepted += 1
            _supersede_open(ctx, record)
    if numbered_so_far(ctx.session) != numbered_before:  # a re-pushed record that changed nothing leaves no trace
        _receipt(ctx, record, outcome)
