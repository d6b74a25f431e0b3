"""Pull: the changes in a technician's scope after a cursor, one page at a time, in change order.

Events that can concern a record on a technician's phone, each numbered from the one change counter:
  (a) the row changed (`change_seq`),       (b) the record entered the scope (`added_seq`),
  (c) the record left the scope (`removed_seq`, also on delete),  (d) a push of it was quarantined.
A record is sent once per pull, at the number of its latest event, with its state as of now; its state is
never newer than the watermark because rows changed after it are left for the next pull. Each kind of event
is read with an index-driven query limited to the page size, so the cost follows the number of changes,
not the size of the tables.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fieldservice.db import in_param, in_values, rows_of
from sync import rowsql
from sync.models import RejectionKind, RejectionStatus, ScopeMember, SyncReceipt, SyncRejection
from sync.rowsql import constant
from sync.schema import TABLES, SyncTable, raw_record

INFINITY = float("inf")


@dataclass
class Candidate:
    table: str
    record_id: str                     # canonical UUID text (a quarantined record's id may be any string)
    is_uuid: bool = True               # false for a quarantined record whose id is not a UUID
    seq: int = 0
    row: Any = None                    # the row (Python path) or (id, change_seq, json) on PostgreSQL
    text: str | None = None            # the record as JSON text built by PostgreSQL (sync/rowsql.py)
    added: int | None = None           # its scope entry's added_seq, when a query already told
    own: bool = False                  # a work log this technician's phone pushed (bulk: no receipt)
    removed: bool = False
    entered: bool = False              # entered the scope after the cursor: new to the phone
    too_new: bool = False
    rejection: SyncRejection | None = None


@dataclass
class PullPage:
    changes: dict[str, dict[str, list[Any]]]
    cursor: int
    has_more: bool
    visit_ids: list[uuid.UUID] = field(default_factory=list)
    count: int = 0


@dataclass(frozen=True)
class PullContext:
    technician_id: uuid.UUID


# tables whose computed columns need the ORM object (a quote's canonical text reads its lines); every other
# table is read as plain rows (issue 13: no ORM objects on the pull's hot path)
ORM_TABLES = frozenset({"quotes"})


_ROWS: dict[tuple[str, str, bool, bool], sa.Select[Any]] = {}


def _rows(dialect: str, table: SyncTable, *, as_json: bool, joined: bool) -> sa.Select[Any]:
    """The statement loading a table's candidate rows (bound parameters: ids, tech): as JSON text built by
    PostgreSQL (`as_json`), as ORM objects (quotes), or as plain rows; `joined` adds the scope entry's
    added_seq (for candidates whose membership no query told yet). Built once per table and kind."""
    key = (dialect, table.name, as_json, joined)
    if key in _ROWS:
        return _ROWS[key]
    model = table.model
    source = model.__table__
    tech = sa.bindparam("tech", type_=sa.Uuid())
    if as_json:
        columns: list[Any] = [source.c.id, source.c.change_seq, rowsql.record_sql(table).label("json")]
        if table.name == "work_logs":
            columns.append(sa.and_(source.c.technician_id == tech, source.c.device_time.is_not(None)).label("own"))
        stmt = sa.select(*columns)
    else:
        stmt = sa.select(model if table.name in ORM_TABLES else source)
    if joined:
        m = ScopeMember.__table__.c
        stmt = stmt.add_columns(m.added_seq).select_from(source).join(ScopeMember.__table__, sa.and_(
            m.record_id == source.c.id, m.table_name == constant(table.name), m.technician_id == tech,
            m.removed_seq.is_(None)))
    _ROWS[key] = stmt = stmt.where(in_param(dialect, source.c.id, "ids"))
    return stmt


# Planning the 22-branch events statement cost more than running it (~1.4 ms a branch): psycopg prepares a
# statement run often on a connection, and this makes PostgreSQL keep one plan for it (each branch an index range
# scan whatever the bounds; docs/benchmarks.md, issue 13). Set by the pull with its watermark, in one round trip.
GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"


@functools.cache
def _events_statement() -> sa.CompoundSelect:
    """Every kind of event of the module docstring as (kind, table_name, record_id, seq, text_id), each branch
    an index range scan limited to the page, in one round trip: (a) per table on `change_seq`, (b) and (c) on
    the technician's scope entries, (d) the technician's quarantined pushes (their ids may be any string:
    `text_id`), and one row telling whether any of theirs is open at all (most have none: `_complete_rejections`
    then looks nothing up). Built once with bound parameters (tech, c, w, lim): the statement is the same on
    every pull, so neither SQLAlchemy nor PostgreSQL builds or plans it anew."""
    tech, c, w = sa.bindparam("tech", type_=sa.Uuid()), sa.bindparam("c", type_=sa.BigInteger()), \
        sa.bindparam("w", type_=sa.BigInteger())
    lim = sa.bindparam("lim", type_=sa.Integer())
    m, r = ScopeMember.__table__.c, SyncRejection.__table__.c
    no_text = sa.cast(sa.null(), r.record_id.type).label("text_id")
    parts = []
    for table in TABLES.values():
        source = table.model.__table__.c
        parts.append(sa.select(constant("changed").label("kind"), constant(table.name).label("table_name"),
                               source.id.label("record_id"), source.change_seq.label("seq"), no_text)
                     .select_from(table.model.__table__)
                     .join(ScopeMember.__table__, sa.and_(m.record_id == source.id,
                                                          m.table_name == constant(table.name),
                                                          m.technician_id == tech, m.removed_seq.is_(None)))
                     # records that entered the scope after the cursor come with their entry (b); rows
                     # created after the cursor cannot have entered before it: skipped without a look
                     # at the scope (a technician's fresh pushes, the fleet's new work logs)
                     .where(source.change_seq > c, source.change_seq <= w,
                            sa.or_(source.created_seq.is_(None), source.created_seq <= c), m.added_seq <= c)
                     .order_by(source.change_seq).limit(lim))
    parts.append(sa.select(constant("added").label("kind"), m.table_name, m.record_id, m.added_seq, no_text)
                 .where(m.technician_id == tech, m.removed_seq.is_(None), m.added_seq > c, m.added_seq <= w)
                 .order_by(m.added_seq).limit(lim))
    parts.append(sa.select(constant("removed").label("kind"), m.table_name, m.record_id, m.removed_seq, no_text)
                 .where(m.technician_id == tech, m.removed_seq > c, m.removed_seq <= w)
                 .order_by(m.removed_seq).limit(lim))
    no_id = sa.cast(sa.null(), m.record_id.type).label("record_id")
    parts.append(sa.select(constant("rejected").label("kind"), r.table_name, no_id, r.change_seq.label("seq"),
                           r.record_id.label("text_id"))
                 .where(r.technician_id == tech, r.change_seq > c, r.change_seq <= w)
                 .order_by(r.change_seq).limit(lim))
    parts.append(sa.select(constant("open").label("kind"), sa.cast(sa.null(), r.table_name.type).label("table_name"),
                           no_id, sa.cast(sa.null(), r.change_seq.type).label("seq"), no_text)
                 .where(r.technician_id == tech, r.status == constant(RejectionStatus.OPEN.value)).limit(1))
    return sa.union_all(*(part.subquery().select() for part in parts))


def _key(record_id: Any) -> str:
    """A candidate's record id as canonical UUID text: on PostgreSQL the statements give it so (`uuid_as_text`,
    no uuid.UUID built and hashed per row: a page of a first sync is a thousand); SQLAlchemy's rows give
    uuid.UUID. A quarantined record's id is the string it was pushed with."""
    return record_id if isinstance(record_id, str) else str(record_id)


def _canonical(value: str) -> tuple[str, bool]:
    """A pushed record id as canonical UUID text, and whether it is a UUID at all (else kept as it came)."""
    try:
        return str(uuid.UUID(value)), True
    except (TypeError, ValueError):
        return value, False


def _ids_param(dialect: str, ids: list[str]) -> list[Any]:
    """Candidate ids as a statement's array parameter: text cast to uuid[] by the SQL on PostgreSQL, UUIDs for
    SQLAlchemy's expanding IN elsewhere."""
    return ids if dialect == "postgresql" else [uuid.UUID(i) for i in ids]


class _Collector:
    def __init__(self, session: Session, technician_id: uuid.UUID, cursor: int, watermark: int, limit: int) -> None:
        self.session, self.technician_id = session, technician_id
        self.cursor, self.watermark, self.limit = cursor, watermark, limit
        self.candidates: dict[tuple[str, str], Candidate] = {}
        self.bound: float = INFINITY  # every record whose latest event is <= bound is among the candidates
        self.any_open_rejection = False

    def _note_limit(self, seqs: list[int]) -> None:
        """A limited query that returned a full page may have left out events after its highest number."""
        if len(seqs) >= self.limit:
            self.bound = min(self.bound, max(seqs))

    def _candidate(self, table: str, record_id: Any) -> Candidate:
        key = (table, _key(record_id))
        if key not in self.candidates:
            self.candidates[key] = Candidate(*key)
        return self.candidates[key]

    def _take_row(self, table: SyncTable, row: Any, added_seq: int, *, text: str | None = None) -> None:
        record_id = row.id
        cand = self._candidate(table.name, record_id)
        cand.row, cand.text = row, text
        # a work log this technician's phone pushed: told by PostgreSQL with the JSON, else read off the row
        cand.own = table.name == "work_logs" and (bool(row.own) if text is not None else (
            row.technician_id == self.technician_id and row.device_time is not None))
        if row.change_seq > self.watermark or added_seq > self.watermark:
            cand.too_new = True  # changed (or entered the scope) after the watermark: the next pull sends it
        for seq in (row.change_seq, added_seq):
            if self.cursor < seq <= self.watermark:
                cand.seq = max(cand.seq, seq)
        if self.cursor < added_seq <= self.watermark:
            cand.entered = True

    def collect(self) -> None:
        c, w, lim = self.cursor, self.watermark, self.limit
        params = {"tech": self.technician_id, "c": c, "w": w, "lim": lim}
        # (a) rows changed since the cursor, already on the phone before it; (b) records that entered the
        # scope and (c) records that left it; (d) quarantined pushes: ids and numbers only, in one round trip
        # (rows: _complete)
        per_kind: dict[str, list[int]] = {}
        for kind, name, record_id, seq, text_id in rows_of(self.session, _events_statement(), params,
                                                           uuid_as_text=True):
            if kind == "open":
                self.any_open_rejection = True
                continue
            per_kind.setdefault(name if kind == "changed" else kind, []).append(seq)
            if kind == "rejected":  # any string the phone pushed: its canonical UUID text when it is one
                key, is_uuid = _canonical(text_id)
                cand = self._candidate(name, key)
                cand.is_uuid = is_uuid
            else:
                cand = self._candidate(name, record_id)
            cand.seq = max(cand.seq, seq)
            if kind == "changed":
                cand.added = cand.added if cand.added is not None else 0  # its entry is at or below the cursor
            elif kind == "added":
                cand.entered, cand.added = True, seq
            elif kind == "removed":
                cand.removed = True
        for seqs in per_kind.values():  # one list per limited branch
            self._note_limit(seqs)
        self._complete()

    def _complete(self) -> None:
        """Load the rows of the candidates found (the limited queries gave ids and change numbers only): one
        query per table, and one more for candidates whose scope entry no query told (quarantined records)."""
        dialect = self.session.get_bind().dialect.name
        as_json_ok = dialect == "postgresql"
        by_table: dict[str, list[Candidate]] = {}
        for cand in self.candidates.values():
            by_table.setdefault(cand.table, []).append(cand)
        for name, cands in by_table.items():
            table = TABLES[name]
            as_json = as_json_ok and rowsql.record_sql(table) is not None
            for joined in (False, True):
                wanted = [c for c in cands if not c.removed and c.row is None and (c.added is None) == joined
                          and c.is_uuid]
                if not wanted:
                    continue
                added = {c.record_id: c.added for c in wanted}
                stmt = _rows(dialect, table, as_json=as_json, joined=joined)
                params = {"tech": self.technician_id, "ids": _ids_param(dialect, [c.record_id for c in wanted])}
                for row in (rows_of(self.session, stmt, params, uuid_as_text=as_json) if name not in ORM_TABLES
                            else self.session.execute(stmt, params).all()):
                    if name in ORM_TABLES:
                        obj = row[0]
                        self._take_row(table, obj, row.added_seq if joined else added[_key(obj.id)])
                        continue
                    self._take_row(table, row, row.added_seq if joined else added[_key(row.id)],
                                   text=row.json if as_json else None)
        self._complete_rejections(by_table)
        self._complete_removed()

    def _complete_rejections(self, by_table: dict[str, list[Candidate]]) -> None:
        """The latest open rejection of each candidate of a pushable table: one query for all tables."""
        ids = [str(c.record_id) for name, cands in by_table.items() if TABLES[name].pushable for c in cands]
        if not ids or not self.any_open_rejection:
            return  # most technicians have nothing in quarantine: no lookup of a thousand ids
        latest: dict[tuple[str, str], SyncRejection] = {}
        for rejection in self.session.scalars(sa.select(SyncRejection).where(
                SyncRejection.technician_id == self.technician_id, SyncRejection.record_id.in_(ids),
                SyncRejection.status == RejectionStatus.OPEN).order_by(SyncRejection.change_seq)):
            latest[(rejection.table_name, rejection.record_id)] = rejection
        for (name, record_id), rejection in latest.items():
            cand = self.candidates.get((name, record_id))
            if cand is None:
                continue
            cand.rejection = rejection
            if rejection.change_seq > self.watermark:
                cand.too_new = True
            elif rejection.change_seq > self.cursor:
                cand.seq = max(cand.seq, rejection.change_seq)

    def _complete_removed(self) -> None:
        """A record may have been removed and not be in the limited "removed" result: look up the candidates
        that are neither present nor known removed, in one query."""
        unknown = [c for c in self.candidates.values() if c.row is None and not c.removed]
        ids = [uuid.UUID(cand.record_id) for cand in unknown if cand.is_uuid]
        if not ids:
            return
        removed = {(name, _key(record_id)): seq for name, record_id, seq in self.session.execute(
            sa.select(ScopeMember.table_name, ScopeMember.record_id, ScopeMember.removed_seq).where(
                # the candidates' tables too: the key (table_name, record_id, technician_id) finds each one
                ScopeMember.table_name.in_(sorted({cand.table for cand in unknown if cand.is_uuid})),
                ScopeMember.technician_id == self.technician_id, in_values(self.session, ScopeMember.record_id, ids),
                ScopeMember.removed_seq.is_not(None)))}
        for cand in unknown:
            seq = removed.get((cand.table, cand.record_id))
            if seq is not None:
                cand.removed = True
                if seq > self.watermark:
                    cand.too_new = True
                elif seq > self.cursor:
                    cand.seq = max(cand.seq, seq)

    def eligible(self) -> list[Candidate]:
        return sorted((c for c in self.candidates.values()
                       if not c.too_new and c.seq > self.cursor and c.seq <= self.bound),
                      key=lambda c: c.seq)


def empty_changes() -> dict[str, dict[str, list[Any]]]:
    return {name: {"created": [], "updated": [], "deleted": []} for name in TABLES}


def _pushed_here(session: Session, technician_id: uuid.UUID, cands: list[Candidate]) -> set[tuple[str, str]]:
    """Of the records new to the scope, those the technician's phone pushed (it holds them already, so they
    are sent as `updated`): their receipts, or for work logs (bulk-created, no receipt) their technician and
    device time. A second phone of the same technician gets them as `updated` too (WatermelonDB creates them
    with a warning); a first pull (no cursor) gets everything as `created`."""
    mine = {(c.table, c.record_id) for c in cands if c.own}
    by_table: dict[str, list[str]] = {}
    for c in cands:
        # a work log the phone created is its own (`own`); the push writes no receipt for it (bulk), so there
        # is nothing to look up for the others (a thousand ids per page of a first sync)
        if TABLES[c.table].pushable and c.table != "work_logs" and (c.table, c.record_id) not in mine:
            by_table.setdefault(c.table, []).append(str(c.record_id))
    for table, ids in by_table.items():
        mine.update((table, r) for r in session.scalars(sa.select(SyncReceipt.record_id).where(
            SyncReceipt.technician_id == technician_id, SyncReceipt.table_name == table,
            in_values(session, SyncReceipt.record_id, ids, sa.String())).distinct()))
    return mine


def pull_page(session: Session, technician_id: uuid.UUID, cursor: int, watermark: int,
              page_size: int, *, created_as_updated: bool = False) -> PullPage:
    """One page of changes after `cursor`, up to the watermark. `cursor` of the result is the next
    `last_pulled_at`: every change numbered at or below it has been delivered.

    Records new to the phone (they entered its scope after the cursor, and its own pushes did not make them)
    come in `created`, as WatermelonDB expects by default; with `created_as_updated` (the app syncs with
    `sendCreatedAsUpdated: true`) every upsert comes in `updated`."""
    limit = page_size + 1
    while True:
        collector = _Collector(session, technician_id, cursor, watermark, limit)
        collector.collect()
        eligible = collector.eligible()
        # the limited queries may all stop at records whose latest event lies further on; widen and retry
        if eligible or collector.bound == INFINITY:
            break
        limit *= 4
    page = eligible[:page_size]
    has_more = len(eligible) > page_size or collector.bound != INFINITY
    next_cursor = page[-1].seq if has_more and page else watermark
    changes = empty_changes()
    ctx = PullContext(technician_id)
    visit_ids: list[uuid.UUID] = []
    new = [c for c in page if c.entered and c.row is not None and not c.removed]
    pushed_here = set() if created_as_updated or not new or cursor == 0 else _pushed_here(session, technician_id, new)
    for cand in page:
        if cand.removed:
            changes[cand.table]["deleted"].append(str(cand.record_id))
            continue
        table = TABLES[cand.table]
        if cand.row is not None:
            status = _status_of(cand.rejection)
            created = (cand.entered and not created_as_updated and (cand.table, cand.record_id) not in pushed_here)
            record = (rowsql.with_status(table, cand.text, status) if cand.text is not None
                      else raw_record(table, cand.row, ctx, status))
            changes[cand.table]["created" if created else "updated"].append(record)
            if cand.table == "visits":
                visit_ids.append(uuid.UUID(cand.record_id))
        elif cand.rejection is not None:
            # a record the phone created that the server refused: echo it back, marked
            record = dict(cand.rejection.payload)
            record["sync_status"], record["rejection_reason"] = _status_of(cand.rejection) or ("rejected", None)
            changes[cand.table]["updated"].append(record)
    return PullPage(changes=changes, cursor=next_cursor, has_more=has_more, visit_ids=visit_ids, count=len(page))


def _status_of(rejection: SyncRejection | None) -> tuple[str, str | None] | None:
    if rejection is None or rejection.status is not RejectionStatus.OPEN:
        return None
    if rejection.kind is RejectionKind.OVERRIDDEN:
        return "merged", rejection.reason
    return "rejected", rejection.reason
