"""Anchors: the heads of the hash chains (seq and hash of the last row of archive_log, audit_events and
archive_reads), written outside the database by `flask archive anchor` (a scheduler job), and read back by
`flask verify-archive`. Someone who can write the database, even with the chain key, cannot rewrite or
truncate what an anchor already holds without it showing.

Two stores, either or both: a directory (ARCHIVE_ANCHOR_DIR; each anchor a new file, created exclusively and
made read-only; put it on a disk or host the database's administrators cannot write) and an S3 bucket with
Object Lock (ARCHIVE_ANCHOR_S3_BUCKET; each anchor an object in COMPLIANCE mode retained for
ARCHIVE_ANCHOR_RETENTION_DAYS, so nobody, root account included, can change or delete it before then).
Each anchor document carries an HMAC with ARCHIVE_HMAC_KEY, so a forged anchor is reported too.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app

from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.integrity.links import hmac_key
from fieldservice.records.canonical import canonical_bytes, utc_z

log = logging.getLogger(__name__)

SCHEMA = "fieldservice.anchor/1"
CHAIN_TABLES = ("archive_log", "audit_events", "archive_reads")


@dataclass(frozen=True)
class Anchor:
    name: str                       # file or object name, e.g. 20261206T223000.123456Z.json
    document: dict[str, Any]        # {"schema", "at", "heads": {table: {"seq", "hash"}}, "mac"}
    store: str                      # dir | s3


class AnchorStore(Protocol):
    label: str

    def write(self, name: str, data: bytes) -> None: ...

    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...


class DirectoryStore:
    label = "dir"

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)  # never overwrites an anchor
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.glob("*.json")) if self.root.is_dir() else []

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


class S3ObjectLockStore:
    label = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str, retention_days: int) -> None:
        self.client, self.bucket, self.prefix, self.retention = client, bucket, prefix, timedelta(days=retention_days)

    def write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=data,
                               ContentType="application/json", ObjectLockMode="COMPLIANCE",
                               ObjectLockRetainUntilDate=utcnow() + self.retention)

    def names(self) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            found += [item["Key"][len(self.prefix):] for item in page.get("Contents", [])]
        return sorted(n for n in found if n.endswith(".json"))

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"].read()  # type: ignore[no-any-return]


def stores(config: Mapping[str, Any] | None = None) -> list[AnchorStore]:
    """The configured anchor stores (ARCHIVE_ANCHOR_DIR, ARCHIVE_ANCHOR_S3_BUCKET)."""
    config = config if config is not None else current_app.config
    found: list[AnchorStore] = []
    if config.get("ARCHIVE_ANCHOR_DIR"):
        found.append(DirectoryStore(Path(config["ARCHIVE_ANCHOR_DIR"])))
    if config.get("ARCHIVE_ANCHOR_S3_BUCKET"):
        from media.storage import s3_client_from_config

        found.append(S3ObjectLockStore(s3_client_from_config(config), config["ARCHIVE_ANCHOR_S3_BUCKET"],
                                       config.get("ARCHIVE_ANCHOR_S3_PREFIX") or "",
                                       int(config.get("ARCHIVE_ANCHOR_RETENTION_DAYS") or 3650)))
    return found


def document_mac(key: bytes, document: Mapping[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "mac"}
    return hmac.new(key, canonical_bytes(body), "sha256").hexdigest()


def chain_heads() -> dict[str, dict[str, Any]]:
    """The last (seq, hash) of each chain, as committed."""
    from fieldservice.records.models import ArchiveEntry

    meta = db.metadata.tables
    heads: dict[str, dict[str, Any]] = {}
    row = db.session.execute(sa.select(ArchiveEntry.seq, ArchiveEntry.hash)
                             .order_by(ArchiveEntry.seq.desc()).limit(1)).first()
    heads["archive_log"] = {"seq": row.seq if row else 0, "hash": row.hash if row else None}
    for name in CHAIN_TABLES[1:]:
        table = meta[name]
        row = db.session.execute(sa.select(table.c.chain_seq, table.c.hash).where(table.c.chain_seq.is_not(None))
                                 .order_by(table.c.chain_seq.desc()).limit(1)).first()
        heads[name] = {"seq": row.chain_seq if row else 0, "hash": row.hash if row else None}
    return heads


def read_anchors(store: AnchorStore) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(name, document) per anchor of a store, oldest first; None for one that is not an anchor document."""
    for name in store.names():
        try:
            document = json.loads(store.read(name))
        except ValueError:
            yield name, None
            continue
        yield name, document if isinstance(document, dict) and document.get("schema") == SCHEMA else None


def _latest(store: AnchorStore) -> dict[str, Any] | None:
    for _name, document in reversed(list(read_anchors(store))):
        if document is not None:
            return document
    return None


def write_anchor(*, now: datetime | None = None, force: bool = False) -> dict[str, Any]:
    """Write the current chain heads to every configured store (skipped for a store whose latest anchor
    already holds these heads, unless `force`). Returns {"heads", "written": [store labels]}."""
    now = now or utcnow()
    key = hmac_key()
    if key is None:
        raise RuntimeError("ARCHIVE_HMAC_KEY is not set: anchors are signed with it")
    targets = stores()
    if not targets:
        raise RuntimeError("no anchor store: set ARCHIVE_ANCHOR_DIR and/or ARCHIVE_ANCHOR_S3_BUCKET")
    heads = chain_heads()
    document: dict[str, Any] = {"schema": SCHEMA, "at": utc_z(now), "heads": heads}
    document["mac"] = document_mac(key, document)
    data = json.dumps(document, sort_keys=True, indent=1).encode("utf-8")
    name = now.strftime("%Y%m%dT%H%M%S.%fZ") + ".json"
    written = []
    for store in targets:
        latest = None if force else _latest(store)
        if latest is not None and latest.get("heads") == heads:
            continue
        store.write(name, data)
        written.append(store.label)
    log.info("archive anchor %s: %s written to %s", name, heads, written or "no store (heads unchanged)")
    return {"name": name, "heads": heads, "written": written}
