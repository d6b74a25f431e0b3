"""A stand-in for a phone running WatermelonDB's synchronize(): a local store, pending changes, and the
same pull-then-push sequence and conflict rule (local changed columns win over pulled values)."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from sync.schema import TABLES


@dataclass
class LocalRecord:
    data: dict[str, Any]
    status: str = "synced"          # synced | created | updated
    changed: set[str] = field(default_factory=set)


class Phone:
    """`created_as_updated` is WatermelonDB's `sendCreatedAsUpdated` flag (the app then asks the server for
    every upsert in `updated`). Like WatermelonDB, the phone notes a sync error when the server sends a record
    as created that it already holds, or (without the flag) as updated that it does not hold; `pull_all`
    fails on any."""

    def __init__(self, client: FlaskClient, token: str, *, page_size: int | None = None,
                 created_as_updated: bool = False) -> None:
        self.client = client
        self.created_as_updated = created_as_updated
        self.auth = {"Authorization": f"Bearer {token}"}
        self.page_size = page_size
        self.tables: dict[str, dict[str, LocalRecord]] = {name: {} for name in TABLES}
        self.deleted: dict[str, set[str]] = {name: set() for name in TABLES}
        self.last_pulled_at: int | None = None
        self.pages = 0
        self.last_push: Any = None

    # ---- local edits (what the app does offline) ----
    def edit(self, table: str, record_id: Any, **values: Any) -> None:
        record = self.tables[table][str(record_id)]
        record.data.update(values)
        record.changed |= set(values) | {"updated_at"}
        record.data["updated_at"] = int(time.time() * 1000)
        if record.status == "synced":
            record.status = "updated"

    def create(self, table: str, **values: Any) -> str:
        record_id = str(values.pop("id", uuid.uuid4()))
        columns = {c.name: None for c in TABLES[table].columns}
        columns.update(values)
        columns["created_at"] = columns["updated_at"] = int(time.time() * 1000)
        self.tables[table][record_id] = LocalRecord({"id": record_id, **columns}, status="created")
        return record_id

    def destroy(self, table: str, record_id: Any) -> None:
        record = self.tables[table].pop(str(record_id))
        if record.status != "created":
            self.deleted[table].add(str(record_id))

    def holds(self, table: str, record: dict[str, Any]) -> None:
        """The phone has this record (a test pushed it with its own request body, as the app would have)."""
        self.tables[table][record["id"]] = LocalRecord({k: v for k, v in record.items() if not k.startswith("_")})

    def has_unpushed(self) -> bool:
        return any(r.status != "synced" for t in self.tables.values() for r in t.values()) or any(
            self.deleted.values())

    def get(self, table: str, record_id: Any) -> dict[str, Any] | None:
        record = self.tables[table].get(str(record_id))
        return None if record is None else record.data

    # ---- sync ----
    def pull_all(self, *, unpushed: bool | None = None) -> tuple[dict[str, Any], int]:
        """pullChanges with the paging loop the mobile app uses: merge pages, later pages win."""
        merged: dict[str, dict[str, Any]] = {name: {"updated": {}, "deleted": set(), "created": set()}
                                             for name in TABLES}
        cursor = self.last_pulled_at
        while True:
            query = {"last_pulled_at": "null" if cursor is None else cursor, "schema_version": 1}
            if unpushed is not None:
                query["unpushed"] = str(unpushed).lower()
            if self.page_size:
                query["page_size"] = self.page_size
            if self.created_as_updated:
                query["created_as_updated"] = "true"
            if cursor != self.last_pulled_at:
                query["continuation"] = "true"  # a follow-up page of this pull
            response = self.client.get("/api/v1/sync/pull", query_string=query, headers=self.auth)
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_json()
            self.pages += 1
            assert isinstance(body["timestamp"], int) and body["timestamp"] > 0
            for name, lists in body["changes"].items():
                assert set(lists) == {"created", "updated", "deleted"}
                if self.created_as_updated:
                    assert lists["created"] == []
                for kind in ("created", "updated"):
                    for record in lists[kind]:
                        assert "_status" not in record and "_changed" not in record
                        merged[name]["deleted"].discard(record["id"])
                        merged[name]["updated"][record["id"]] = record
                        if kind == "created":  # the app's page merge keeps "new to you" across pages
                            merged[name]["created"].add(record["id"])
                for record_id in lists["deleted"]:
                    merged[name]["updated"].pop(record_id, None)
                    merged[name]["created"].discard(record_id)
                    merged[name]["deleted"].add(record_id)
            cursor = body["timestamp"]
            if not body["has_more"]:
                break
        errors = []
        for name, lists in merged.items():
            for record_id in lists["updated"]:
                held = record_id in self.tables[name] or record_id in self.deleted[name]
                if record_id in lists["created"] and held:
                    errors.append(f"server wants the phone to create {name}#{record_id}, which it already holds")
                elif (record_id not in lists["created"] and not held and not self.created_as_updated
                      and lists["updated"][record_id].get("sync_status", "synced") == "synced"):
                    # (a refused record the phone pushed comes back marked: it held it when it pushed)
                    errors.append(f"server wants the phone to update {name}#{record_id}, which it does not hold")
        assert not errors, errors  # WatermelonDB's logError cases (sync/impl/applyRemote.js)
        return merged, cursor

    def apply(self, merged: dict[str, Any], cursor: int) -> None:
        for name, lists in merged.items():
            for record_id in lists["deleted"]:
                self.tables[name].pop(record_id, None)  # destroyed even with unpushed edits, like WatermelonDB
            for record_id, remote in lists["updated"].items():
                if record_id in self.deleted[name]:
                    continue
                local = self.tables[name].get(record_id)
                if local is None:
                    self.tables[name][record_id] = LocalRecord(dict(remote))
                elif local.status == "synced":
                    local.data = dict(remote)
                else:  # conflict: columns changed locally win, the rest takes the server's value
                    resolved = dict(remote)
                    for column in local.changed:
                        resolved[column] = local.data.get(column)
                    local.data = resolved
        self.last_pulled_at = cursor

    def push(self, *, key: uuid.UUID | None = None) -> Any:
        changes: dict[str, Any] = {}
        for name, records in self.tables.items():
            changes[name] = {
                "created": [{**r.data, "_status": "created", "_changed": ""} for r in records.values()
                            if r.status == "created"],
                "updated": [{**r.data, "_status": "updated", "_changed": ",".join(sorted(r.changed))}
                            for r in records.values() if r.status == "updated"],
                "deleted": sorted(self.deleted[name]),
            }
        if not any(v["created"] or v["updated"] or v["deleted"] for v in changes.values()):
            return None
        response = self.client.post("/api/v1/sync/push", query_string={"last_pulled_at": self.last_pulled_at},
                                    data=json.dumps({"changes": changes}),
                                    headers={**self.auth, "Idempotency-Key": str(key or uuid.uuid4())})
        self.last_push = response
        assert response.status_code == 200, response.get_data(as_text=True)
        for name, records in self.tables.items():
            for record in records.values():
                record.status, record.changed = "synced", set()
            self.deleted[name].clear()
        return response.get_json()

    def sync(self, *, report_unpushed: bool = True) -> Any:
        merged, cursor = self.pull_all(unpushed=self.has_unpushed() if report_unpushed else None)
        self.apply(merged, cursor)
        return self.push()

    def ids(self, table: str) -> set[str]:
        return set(self.tables[table])
