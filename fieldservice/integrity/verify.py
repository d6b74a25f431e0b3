"""`flask verify-archive`: everything the archive proves, checked again from the database and the stores.

- the three hash chains (archive_log, audit_events, archive_reads): every row's hash over its content, the
  link to the row before, the sequence without gaps (a deleted row), the HMAC with ARCHIVE_HMAC_KEY (a chain
  recomputed by someone without the key), rows outside the chain (inserted directly);
- the anchors outside the database: each anchored head still in its chain with the same hash (a rewrite, even
  with the key) and no chain shorter than an anchor says (rows deleted from the end);
- every service record version, draft or signed, against the last archive log entry of its content (an edit
  in the database); every record ever signed (from the chained audit trail) still signed, with its sign-off;
- every sign-off against its archive log entry, and its signature image re-hashed from the stored bytes;
- every photo's SHA-256 against its chained upload event, and the stored original re-hashed.

Each finding names the table and the row. Rows are read in batches; the blobs are streamed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from fieldservice.extensions import db
from fieldservice.integrity import anchors as anchors_module
from fieldservice.integrity.links import AUDIT_CHAIN, READS_CHAIN, CommitChain, hmac_key, link_hash, row_mac
from fieldservice.records.canonical import GENESIS_HASH, canonical_sha256

T = TypeVar("T")
Progress = Callable[[str, Iterable[T], int], Iterable[T]]
VERSION_ACTIONS = ("record.create", "record.update", "record.correct")
BATCH = 1000


def _no_progress(label: str, items: Iterable[T], length: int) -> Iterable[T]:
    return items


@dataclass(frozen=True)
class Finding:
    table: str
    row: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.row}: {self.problem}"


@dataclass
class VerifyReport:
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        return [str(f) for f in self.findings]

    @property
    def entries(self) -> int:
        return self.counts.get("archive_log", 0)

    @property
    def signed_records(self) -> int:
        return self.counts.get("signed record versions", 0)

    def add(self, table: str, row: Any, problem: str) -> None:
        self.findings.append(Finding(table, str(row), problem))


@dataclass
class _Walk:
    """What the chain walks collect for the later checks."""

    anchored: dict[str, dict[int, list[tuple[str, str]]]] = field(default_factory=dict)  # table: seq: [(hash, anchor)]
    heads: dict[str, int] = field(default_factory=dict)
    versions: dict[uuid.UUID, tuple[int, str]] = field(default_factory=dict)      # record id: (seq, payload)
    signs: dict[uuid.UUID, tuple[int, str]] = field(default_factory=dict)         # signoff id: (seq, payload)
    signed_records: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)      # record id: audit event id
    photo_uploads: dict[uuid.UUID, str] = field(default_factory=dict)             # photo id: sha256


def verify_archive(progress: Progress[Any] | None = None, *, media: Any = None) -> VerifyReport:
    """Run every check (read-only). `progress(label, iterable, length)` wraps each pass (a progress bar)."""
    progress = progress or _no_progress
    report, walk = VerifyReport(), _Walk()
    key = hmac_key()
    if key is None:
        report.add("settings", "ARCHIVE_HMAC_KEY", "not set: the chains' keys cannot be checked")
    _read_anchors(report, walk, key)
    _walk_archive_log(report, walk, key, progress)
    for chain in (AUDIT_CHAIN, READS_CHAIN):
        _walk_commit_chain(report, walk, chain, key, progress)
    _check_anchor_lengths(report, walk)
    _check_records(report, walk, progress)
    _check_signoffs(report, walk, progress)
    _check_photos(report, walk, progress, media)
    return report


# ---- anchors -----------------------------------------------------------------------------------------

def _read_anchors(report: VerifyReport, walk: _Walk, key: bytes | None) -> None:
    count = 0
    for store in anchors_module.stores():
        for name, document in anchors_module.read_anchors(store):
            count += 1
            where = f"{store.label}:{name}"
            if document is None:
                report.add("anchor", where, "not an anchor document (damaged or replaced)")
                continue
            if key is not None and not hmac.compare_digest(str(document.get("mac", "")),
                                                          anchors_module.document_mac(key, document)):
                report.add("anchor", where, "its HMAC does not match (forged or made with another key)")
                continue
            for table, head in (document.get("heads") or {}).items():
                if table in anchors_module.CHAIN_TABLES and isinstance(head, dict) and head.get("seq"):
                    walk.anchored.setdefault(table, {}).setdefault(int(head["seq"]), []).append(
                        (str(head.get("hash")), f"{where} ({document.get('at')})"))
    report.counts["anchors"] = count


def _check_anchored(report: VerifyReport, walk: _Walk, table: str, seq: int, hash_: str) -> None:
    for anchored_hash, anchor in walk.anchored.get(table, {}).get(seq, []):
        if anchored_hash != hash_:
            report.add(table, f"seq {seq}", f"hash differs from the head anchored in {anchor}: the chain was "
                                            f"rewritten up to here")


def _check_anchor_lengths(report: VerifyReport, walk: _Walk) -> None:
    for table, seqs in walk.anchored.items():
        head = walk.heads.get(table, 0)
        beyond = [s for s in seqs if s > head]
        if beyond:
            top = max(beyond)
            report.add(table, f"seq {top}", f"anchored in {seqs[top][0][1]} but the chain ends at seq {head}: "
                                            f"rows {head + 1}..{top} were deleted")


# ---- chains ------------------------------------------------------------------------------------------

def _rows(stmt: sa.Select[Any]) -> Iterator[Any]:
    yield from db.session.execute(stmt.execution_options(yield_per=BATCH))


def _link_problems(report: VerifyReport, table: str, seq: int, expected: int, prev_hash: str | None,
                   prev: str, computed: str, stored: str | None, mac: str | None, key: bytes | None) -> None:
    where = f"seq {seq}"
    if seq != expected:
        report.add(table, where, f"expected seq {expected}: rows {expected}..{seq - 1} were deleted")
    if prev_hash != prev:
        report.add(table, where, "prev_hash does not match the previous entry (a row before it was removed or "
                                 "changed)")
    if computed != stored:
        report.add(table, where, "hash does not match its content (tampered)")
    if key is not None:
        if mac is None:
            report.add(table, where, "has no HMAC (written without the key, or the key was removed)")
        elif not hmac.compare_digest(mac, row_mac(key, table, seq, stored or "")):
            report.add(table, where, "HMAC does not match (the chain was recomputed without the key)")


def _walk_archive_log(report: VerifyReport, walk: _Walk, key: bytes | None, progress: Progress[Any]) -> None:
    from fieldservice.records.archive import entry_document
    from fieldservice.records.models import ArchiveEntry

    total = db.session.scalar(sa.select(sa.func.count()).select_from(ArchiveEntry)) or 0
    prev, expected = GENESIS_HASH, 1
    table = ArchiveEntry.__table__
    for row in progress("archive_log", _rows(sa.select(table).order_by(table.c.seq)), total):
        computed = link_hash(row.prev_hash, entry_document(row))
        _link_problems(report, "archive_log", row.seq, expected, row.prev_hash, prev, computed, row.hash, row.mac, key)
        _check_anchored(report, walk, "archive_log", row.seq, row.hash)
        if row.entity_type == "service_records" and row.action in VERSION_ACTIONS:
            walk.versions[row.entity_id] = (row.seq, row.payload_sha256)
        elif row.entity_type == "signoffs" and row.action == "record.sign":
            walk.signs[row.entity_id] = (row.seq, row.payload_sha256)
        prev, expected = row.hash, row.seq + 1
    walk.heads["archive_log"] = expected - 1
    report.counts["archive_log"] = total


def _walk_commit_chain(report: VerifyReport, walk: _Walk, chain: CommitChain, key: bytes | None,
                       progress: Progress[Any]) -> None:
    table = db.metadata.tables[chain.table]
    total = db.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
    prev, expected = GENESIS_HASH, 1
    linked = sa.select(table).where(table.c.chain_seq.is_not(None)).order_by(table.c.chain_seq)
    for row in progress(chain.table, _rows(linked), total):
        computed = link_hash(row.prev_hash or "", chain.document(row, row.chain_seq))
        _link_problems(report, chain.table, row.chain_seq, expected, row.prev_hash, prev, computed, row.hash,
                       row.mac, key)
        _check_anchored(report, walk, chain.table, row.chain_seq, row.hash)
        if chain is AUDIT_CHAIN:
            _collect_audit(walk, row)
        prev, expected = row.hash, row.chain_seq + 1
    walk.heads[chain.table] = expected - 1
    for row in _rows(sa.select(table.c.id).where(table.c.chain_seq.is_(None)).order_by(table.c.id)):
        report.add(chain.table, row.id, "not in the hash chain (inserted outside the application)")
    report.counts[chain.table] = total


def _collect_audit(walk: _Walk, row: Any) -> None:
    if row.action == "record.sign" and row.entity_type == "service_records":
        walk.signed_records[row.entity_id] = row.id
    elif row.action == "photo.upload" and row.entity_type == "photos" and isinstance(row.details, dict):
        walk.photo_uploads[row.entity_id] = str(row.details.get("sha256"))


# ---- records and sign-offs -----------------------------------------------------------------------------

def _check_records(report: VerifyReport, walk: _Walk, progress: Progress[Any]) -> None:
    from fieldservice.records.models import RecordStatus, ServiceRecord, Signoff
    from fieldservice.records.service import content_hash

    total = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRecord)) or 0
    signed_with_signoff = dict(db.session.execute(sa.select(Signoff.record_id, Signoff.id)).all())
    seen: set[uuid.UUID] = set()
    signed = 0
    stmt = sa.select(ServiceRecord).order_by(ServiceRecord.id).execution_options(yield_per=200)
    for record in progress("service_records", db.session.scalars(stmt), total):
        seen.add(record.id)
        try:
            actual = content_hash(record)
        except Exception as err:  # e.g. content edited into something unreadable, or a photo row removed
            report.add("service_records", record.id, f"content cannot be rendered ({err.__class__.__name__}): "
                                                     f"edited outside the application")
            actual = None
        version = walk.versions.get(record.id)
        if version is None:
            report.add("service_records", record.id, "not in the archive log (inserted outside the application)")
        elif actual is not None and actual != version[1]:
            report.add("service_records", record.id, f"content hashes to {actual}, not to its archive log entry "
                                                     f"seq {version[0]} (edited outside the application)")
        ever_signed = record.id in walk.signed_records or record.id in signed_with_signoff
        if record.status is RecordStatus.SIGNED:
            signed += 1
            if actual is not None and actual != record.content_sha256:
                report.add("service_records", record.id, f"content hash {actual} differs from the signed hash "
                                                         f"{record.content_sha256} (tampered)")
            if record.id not in signed_with_signoff:
                report.add("service_records", record.id, "signed but its signoff row is missing")
        elif ever_signed:
            signed += 1
            report.add("service_records", record.id, f"was signed (audit event "
                                                     f"{walk.signed_records.get(record.id)}) but its status is "
                                                     f"{record.status.value}")
        db.session.expunge(record)
    for record_id, (seq, _payload) in walk.versions.items():
        if record_id not in seen:
            report.add("service_records", record_id, f"in the archive log (seq {seq}) but the row is missing "
                                                     f"(deleted)")
    for record_id, event_id in walk.signed_records.items():
        if record_id not in seen and record_id not in walk.versions:
            report.add("service_records", record_id, f"signed (audit event {event_id}) but the row is missing")
    report.counts["service_records"] = total
    report.counts["signed record versions"] = signed


def _check_signoffs(report: VerifyReport, walk: _Walk, progress: Progress[Any]) -> None:
    from fieldservice.records.models import ServiceRecord, Signoff
    from fieldservice.records.service import signoff_document

    total = db.session.scalar(sa.select(sa.func.count()).select_from(Signoff)) or 0
    seen: set[uuid.UUID] = set()
    records = sa.orm.aliased(ServiceRecord)
    stmt = (sa.select(Signoff, records.content_sha256).join(records, records.id == Signoff.record_id, isouter=True)
            .order_by(Signoff.id).execution_options(yield_per=200))
    for signoff, record_hash in progress("signoffs", db.session.execute(stmt), total):
        seen.add(signoff.id)
        entry = walk.signs.get(signoff.id)
        if entry is None:
            report.add("signoffs", signoff.id, "no archive log entry (inserted outside the application)")
        elif entry[1] != canonical_sha256(signoff_document(signoff)):
            report.add("signoffs", signoff.id, f"differs from its archive log entry seq {entry[0]} (tampered)")
        if record_hash != signoff.content_sha256:
            report.add("signoffs", signoff.id, f"bound to {signoff.content_sha256}, its record version says "
                                               f"{record_hash}")
        _check_signature_image(report, signoff)
        db.session.expunge(signoff)
    for signoff_id, (seq, _payload) in walk.signs.items():
        if signoff_id not in seen:
            report.add("signoffs", signoff_id, f"signed (archive_log seq {seq}) but the row is missing (deleted)")
    report.counts["signoffs"] = total


def _check_signature_image(report: VerifyReport, signoff: Any) -> None:
    """The stored PNG's bytes, re-hashed: the hash column alone proves nothing about the image served."""
    if signoff.signature_png is None:
        if signoff.signature_png_sha256 is not None:
            report.add("signoffs", signoff.id, "the signature image was removed")
        return
    try:
        actual = hashlib.sha256(base64.b64decode(signoff.signature_png, validate=True)).hexdigest()
    except (binascii.Error, ValueError):
        actual = "not base64"
    if actual != signoff.signature_png_sha256:
        report.add("signoffs", signoff.id, f"signature image bytes hash to {actual}, not to the signed "
                                           f"{signoff.signature_png_sha256} (image replaced)")


# ---- photos ------------------------------------------------------------------------------------------

def _check_photos(report: VerifyReport, walk: _Walk, progress: Progress[Any], media: Any) -> None:
    from fieldservice.photos.models import Photo
    from media.errors import MediaError
    from media.storage import blob_key

    if media is None:
        from fieldservice.photos.adapters import current_media

        media = current_media()
    rows = db.session.execute(sa.select(Photo.id, Photo.sha256).order_by(Photo.id)).all()
    hashed: dict[str, str | None] = {}
    for photo_id, sha in progress("photos", rows, len(rows)):
        uploaded = walk.photo_uploads.get(photo_id)
        if uploaded is None:
            report.add("photos", photo_id, "no upload event in the audit trail (inserted outside the application)")
        elif uploaded != sha:
            report.add("photos", photo_id, f"sha256 {sha} differs from its upload event's {uploaded} (edited)")
        if sha not in hashed:
            try:
                with media.storage.open(blob_key(sha)) as stream:
                    digest = hashlib.sha256()
                    for chunk in iter(lambda s=stream: s.read(1024 * 1024), b""):
                        digest.update(chunk)
                hashed[sha] = digest.hexdigest()
            except MediaError:
                hashed[sha] = None
        if hashed[sha] is None:
            report.add("photos", photo_id, f"the original {sha} is missing from storage")
        elif hashed[sha] != sha:
            report.add("photos", photo_id, f"the stored original hashes to {hashed[sha]}, not {sha} (file replaced)")
    report.counts["photos"] = len(rows)
