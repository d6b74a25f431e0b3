"""The outbox sender against real servers: a local HTTP server (500 then 200, or a closed port) and a local
SMTP server. Retries back off, give up as `failed` (kept, listed, re-queueable by the office), a sender that
dies mid-send leaves its messages to be retried, and a sender that is down loses nothing. A permanent
refusal (HTTP 4xx but 408/425/429, SMTP 5xx) fails at once; Retry-After is honoured, capped (outbox rules,
docs/scheduler.md)."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications import service
from fieldservice.notifications.models import Channel, Notification, NotificationStatus
from fieldservice.notifications.sender import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_retry_after, send_due
from tests.notifications.servers import Answer, closed_port_url, smtp_server, webhook_server

T0 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
SECRET = "whsec-测试"


@pytest.fixture
def configure(app: Flask, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Point the session app's sender settings somewhere for one test (restored afterwards)."""
    def set_(**settings: object) -> None:
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)

    set_(NOTIFY_WEBHOOK_URL=None, NOTIFY_WEBHOOK_SECRET=SECRET, SMTP_HOST=None, NOTIFY_MAX_ATTEMPTS=3,
         NOTIFY_BACKOFF_BASE_SECONDS=30, NOTIFY_BACKOFF_MAX_SECONDS=3600, NOTIFY_LEASE_SECONDS=120,
         NOTIFY_TIMEOUT_SECONDS=3)
    return set_


def enqueue(app: Flask, *, channel: Channel = Channel.WEBHOOK, recipient: str = "dispatch-supervisor",
            key: str | None = None, at: datetime = T0) -> str:
    key = key or f"test:{uuid.uuid4()}"
    with app.app_context(), unit_of_work():
        service.enqueue("sla.breach", recipient, {"工单": "WO-1", "客户": "上海仁济医院"}, channel=channel,
                        subject="SLA 超时", dedupe_key=key, now=at)
        return str(db.session.scalar(sa.select(Notification.id).where(Notification.dedupe_key == key)))


def row(app: Flask, notification_id: str) -> Notification:
    with app.app_context():
        found = db.session.get(Notification, uuid.UUID(notification_id))
        db.session.expunge(found)
        return found


def send_at(app: Flask, when: datetime) -> dict[str, int]:
    with time_machine.travel(when, tick=False):
        return send_due(app, rng=random.Random(7))


def test_webhook_500_then_200_is_retried_after_backoff_and_signed(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    with webhook_server([500, 200]) as hook:
        configure(NOTIFY_WEBHOOK_URL=hook.url)
        nid = enqueue(app)

        assert send_at(app, T0) == {"claimed": 1, "retry": 1}
        first = row(app, nid)
        assert first.status is NotificationStatus.PENDING and first.attempts == 1
        assert "HTTP 500" in (first.last_error or "")
        # exponential backoff with jitter: 30 s * [0.5, 1.0] for the first retry
        assert T0 + timedelta(seconds=15) <= first.next_attempt_at <= T0 + timedelta(seconds=30)

        assert send_at(app, T0 + timedelta(seconds=10)) == {"claimed": 0}  # not due yet: nothing sent
        assert send_at(app, T0 + timedelta(seconds=31)) == {"claimed": 1, "sent": 1}

    done = row(app, nid)
    assert done.status is NotificationStatus.SENT and done.attempts == 2 and done.last_error is None
    assert len(hook.received) == 2
    request = hook.received[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), request.headers[TIMESTAMP_HEADER].encode() + b"." + request.body,
                                    hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == expected
    body = json.loads(request.body.decode("utf-8"))
    assert body["id"] == nid and body["payload"] == {"工单": "WO-1", "客户": "上海仁济医院"}
    assert "上海仁济医院".encode() in request.body  # UTF-8, not \u escapes


def test_sender_down_gives_up_as_failed_then_office_requeues(app: Flask, client, headers, configure) -> None:  # type: ignore[no-untyped-def]
    configure(NOTIFY_WEBHOOK_URL=closed_port_url(), NOTIFY_MAX_ATTEMPTS=2)
    nid = enqueue(app)
    assert send_at(app, T0) == {"claimed": 1, "retry": 1}
    assert "unreachable" in (row(app, nid).last_error or "")
    assert send_at(app, T0 + timedelta(hours=1)) == {"claimed": 1, "failed": 1}
    failed = row(app, nid)
    assert failed.status is NotificationStatus.FAILED and failed.attempts == 2
    assert send_at(app, T0 + timedelta(days=1)) == {"claimed": 0}  # failed stays failed (kept, visible)

    office = headers(role="office")
    listed = client.get("/api/v1/notifications?status=failed&kind=sla.breach", headers=office).get_json()
    assert [n["id"] for n in listed["items"]] == [nid]
    assert listed["items"][0]["payload"]["客户"] == "上海仁济医院"
    assert client.get("/api/v1/notifications?status=sent", headers=office).get_json()["meta"]["total"] == 0
    assert client.post(f"/api/v1/notifications/{nid}/retry", headers=headers(role="technician")).status_code == 403

    retried = client.post(f"/api/v1/notifications/{nid}/retry", headers=office)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["status"] == "pending" and retried.get_json()["attempts"] == 0

    again = client.post(f"/api/v1/notifications/{nid}/retry", headers=office)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"

    with webhook_server([200]) as hook:  # the receiver is back
        configure(NOTIFY_WEBHOOK_URL=hook.url)
        assert send_at(app, T0 + timedelta(days=1, seconds=1)) == {"claimed": 1, "sent": 1}
    assert row(app, nid).status is NotificationStatus.SENT and len(hook.received) == 1


def test_bad_filters_and_unknown_ids_are_problems(client, headers) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    bad = client.get("/api/v1/notifications?status=lost", headers=office)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    missing = client.post(f"/api/v1/notifications/{uuid.uuid4()}/retry", headers=office)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_a_sender_that_dies_mid_send_leaves_the_message_to_be_retried(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    with webhook_server([200]) as hook:
        configure(NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_LEASE_SECONDS=120)
        nid = enqueue(app)
        with time_machine.travel(T0, tick=False), app.app_context(), unit_of_work():
            # a sender claims the message, then its process dies before delivering or recording anything
            [claim] = service.claim_due(channels=[Channel.WEBHOOK], now=T0, limit=10, lease_seconds=120,
                                        max_attempts=3)
        held = row(app, nid)
        assert held.status is NotificationStatus.SENDING and held.lease_expires_at == T0 + timedelta(seconds=120)

        assert send_at(app, T0 + timedelta(seconds=60)) == {"claimed": 0}  # lease still held
        assert send_at(app, T0 + timedelta(seconds=121)) == {"claimed": 1, "sent": 1}
    done = row(app, nid)
    assert done.status is NotificationStatus.SENT and done.attempts == 2 and len(hook.received) == 1

    # the dead sender's late answer (if it ever came back) writes nothing over the newer outcome
    with app.app_context(), unit_of_work():
        assert service.record_delivery(claim, error="late", now=T0, max_attempts=3, base=30, cap=60) is None
    assert row(app, nid).status is NotificationStatus.SENT


def test_a_lease_expired_on_the_last_attempt_ends_failed(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    configure(NOTIFY_MAX_ATTEMPTS=1)
    nid = enqueue(app, channel=Channel.RECORD)
    with app.app_context(), unit_of_work():
        service.claim_due(channels=[Channel.RECORD], now=T0, limit=10, lease_seconds=60, max_attempts=1)
    assert send_at(app, T0 + timedelta(minutes=5)) == {"claimed": 0}
    failed = row(app, nid)
    assert failed.status is NotificationStatus.FAILED and "lease expired" in (failed.last_error or "")


def test_email_through_smtp(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    with smtp_server() as smtp:
        configure(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, SMTP_FROM="service@example.cn")
        nid = enqueue(app, channel=Channel.EMAIL, recipient="supervisor@example.cn")
        assert send_at(app, T0) == {"claimed": 1, "sent": 1}
    [message] = smtp.messages
    assert smtp.envelopes == [("service@example.cn", ["supervisor@example.cn"])]
    assert message["Subject"] == "SLA 超时" and message["To"] == "supervisor@example.cn"
    assert "上海仁济医院" in message.get_content()
    assert row(app, nid).status is NotificationStatus.SENT


def test_unconfigured_channel_waits_without_spending_attempts(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    email = enqueue(app, channel=Channel.EMAIL, recipient="a@example.cn")
    hook = enqueue(app, channel=Channel.WEBHOOK)
    record = enqueue(app, channel=Channel.RECORD)
    assert send_at(app, T0) == {"claimed": 1, "sent": 1}  # only `record` needs no transport
    assert row(app, record).status is NotificationStatus.SENT
    for waiting in (email, hook):
        assert row(app, waiting).status is NotificationStatus.PENDING and row(app, waiting).attempts == 0


def test_cli_send(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    enqueue(app, channel=Channel.RECORD, at=datetime.now(UTC))
    result = app.test_cli_runner().invoke(args=["notifications", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output


@pytest.mark.postgres
def test_two_senders_claim_disjoint_messages_with_skip_locked(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    ids = {enqueue(app, channel=Channel.RECORD, at=T0 + timedelta(seconds=i)) for i in range(5)}
    claimed_first = threading.Event()
    release = threading.Event()
    first: list[str] = []

    def slow_sender() -> None:
        with app.app_context(), unit_of_work():
            first.extend(str(c.id) for c in service.claim_due(
                channels=[Channel.RECORD], now=T0 + timedelta(minutes=1), limit=2, lease_seconds=60, max_attempts=3))
            claimed_first.set()
            release.wait(10)  # holds its row locks, uncommitted

    thread = threading.Thread(target=slow_sender)
    thread.start()
    assert claimed_first.wait(10)
    with app.app_context(), unit_of_work():
        second = [str(c.id) for c in service.claim_due(
            channels=[Channel.RECORD], now=T0 + timedelta(minutes=1), limit=10, lease_seconds=60, max_attempts=3)]
    release.set()
    thread.join(10)
    assert len(first) == 2 and len(second) == 3
    assert set(first) | set(second) == ids and not set(first) & set(second)


class SlowTransport:
    """A transport whose delivery takes longer than the claim's lease (the clock is moved, not slept)."""

    def __init__(self, traveller, seconds: float) -> None:  # type: ignore[no-untyped-def]
        self.traveller, self.seconds, self.delivered = traveller, seconds, []

    def deliver(self, message) -> None:  # type: ignore[no-untyped-def]
        self.delivered.append(message.id)
        self.traveller.shift(self.seconds)


def test_a_claim_whose_lease_ran_out_is_not_delivered_late(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    configure(NOTIFY_LEASE_SECONDS=60, NOTIFY_TIMEOUT_SECONDS=1, NOTIFY_BATCH_SIZE=2)
    first = enqueue(app, channel=Channel.RECORD, at=T0)
    second = enqueue(app, channel=Channel.RECORD, at=T0 + timedelta(seconds=1))
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False) as traveller:
        slow = SlowTransport(traveller, 120)   # the first delivery outlasts the 60 s lease of the batch
        counts = send_due(app, transports={Channel.RECORD: slow})
    assert counts == {"claimed": 2, "sent": 1, "lease_expired": 1}
    assert [str(i) for i in slow.delivered] == [first]
    assert row(app, second).status is NotificationStatus.SENDING   # left for the next claim, not sent twice
    assert send_at(app, T0 + timedelta(minutes=5)) == {"claimed": 1, "sent": 1}


# ---- permanent refusals fail at once; "not now" answers retry (outbox rules, docs/scheduler.md) ----------

@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_webhook_permanent_client_error_fails_at_once_with_status_and_body(  # type: ignore[no-untyped-def]
        app: Flask, client, headers, configure, status: int) -> None:
    refusal = Answer(status, json.dumps({"error": "收件人不存在 unknown recipient"}, ensure_ascii=False).encode(),
                     {"Content-Type": "application/json; charset=utf-8"})
    with webhook_server([refusal, 200]) as hook:
        configure(NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_MAX_ATTEMPTS=5)
        nid = enqueue(app)
        assert send_at(app, T0) == {"claimed": 1, "failed": 1}
        failed = row(app, nid)
        assert failed.status is NotificationStatus.FAILED and failed.attempts == 1   # 4 attempts left, unused
        assert f"HTTP {status}" in (failed.last_error or "") and "permanent" in (failed.last_error or "")
        assert "收件人不存在 unknown recipient" in (failed.last_error or "")         # what the receiver said
        assert send_at(app, T0 + timedelta(days=2)) == {"claimed": 0}                # no backoff retry
        assert len(hook.received) == 1

        # the office fixes the receiver and re-queues the message through the existing API
        retried = client.post(f"/api/v1/notifications/{nid}/retry", headers=headers(role="office"))
        assert retried.status_code == 200 and retried.get_json()["status"] == "pending"
        assert send_at(app, T0 + timedelta(days=2, seconds=1)) == {"claimed": 1, "sent": 1}
    assert row(app, nid).status is NotificationStatus.SENT and len(hook.received) == 2


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503])
def test_webhook_temporary_answers_are_retried_with_backoff(app: Flask, configure, status: int) -> None:  # type: ignore[no-untyped-def]
    with webhook_server([status, 200]) as hook:
        configure(NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_MAX_ATTEMPTS=3)
        nid = enqueue(app)
        assert send_at(app, T0) == {"claimed": 1, "retry": 1}
        waiting = row(app, nid)
        assert waiting.status is NotificationStatus.PENDING and waiting.attempts == 1
        assert f"HTTP {status}" in (waiting.last_error or "") and "permanent" not in (waiting.last_error or "")
        assert T0 + timedelta(seconds=15) <= waiting.next_attempt_at <= T0 + timedelta(seconds=30)
        assert send_at(app, T0 + timedelta(seconds=31)) == {"claimed": 1, "sent": 1}
    assert len(hook.received) == 2


def test_a_long_refusal_body_is_cut_to_an_excerpt(app: Flask, configure) -> None:  # type: ignore[no-untyped-def]
    with webhook_server([Answer(403, b"<html>\n  <body>" + b"forbidden " * 500 + b"</body></html>")]) as hook:
        configure(NOTIFY_WEBHOOK_URL=hook.url)
        nid = enqueue(app)
        assert send_at(app, T0) == {"claimed": 1, "failed": 1}
    error = row(app, nid).last_error or ""
    assert error.startswith("webhook answered HTTP 403 (permanent, not retried): <html> <body>forbidden forbidden")
    assert error.endswith("…") and len(error) < 300


@pytest.mark.parametrize(("status", "retry_after", "expected_wait"), [
    (429, "600", timedelta(seconds=600)),                                            # seconds
    (503, "Mon, 01 Mar 2027 10:30:00 GMT", timedelta(minutes=30)),                  # HTTP-date (T0 is 10:00)
    (429, "86400", timedelta(seconds=3600)),                                         # capped at the backoff cap
    (503, "soon", None),                                                             # unreadable: plain backoff
])
def test_retry_after_is_honoured_and_capped(app: Flask, configure, status: int, retry_after: str,  # type: ignore[no-untyped-def]
                                            expected_wait: timedelta | None) -> None:
    with webhook_server([Answer(status, b"busy", {"Retry-After": retry_after}), 200]) as hook:
        configure(NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_BACKOFF_MAX_SECONDS=3600)
        nid = enqueue(app)
        assert send_at(app, T0) == {"claimed": 1, "retry": 1}
        waiting = row(app, nid)
        if expected_wait is None:
            assert T0 + timedelta(seconds=15) <= waiting.next_attempt_at <= T0 + timedelta(seconds=30)
        else:
            assert waiting.next_attempt_at == T0 + expected_wait
            assert send_at(app, T0 + expected_wait - timedelta(seconds=1)) == {"claimed": 0}
        assert send_at(app, waiting.next_attempt_at) == {"claimed": 1, "sent": 1}
    assert len(hook.received) == 2


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120", now=T0) == 120
    assert parse_retry_after("Mon, 01 Mar 2027 10:00:30 GMT", now=T0) == 30
    assert parse_retry_after("Sunday, 28-Feb-27 10:00:00 GMT", now=T0) == 0     # RFC 850 form, in the past
    assert parse_retry_after("-5", now=T0) is None and parse_retry_after("", now=T0) is None
    assert parse_retry_after(None, now=T0) is None


@pytest.mark.parametrize(("replies", "outcome"), [
    ({"RCPT": "550 5.1.1 <nobody@example.cn>: no such mailbox"}, "failed"),
    ({"MAIL": "553 5.7.1 sender rejected"}, "failed"),
    ({"DATA": "554 5.6.0 message refused"}, "failed"),
    ({"RCPT": "451 4.3.0 mailbox busy, try later"}, "retry"),
    ({"DATA": "452 4.3.1 insufficient storage"}, "retry"),
])
def test_smtp_permanent_5xx_fails_at_once_and_4xx_retries(app: Flask, configure, replies: dict[str, str],  # type: ignore[no-untyped-def]
                                                           outcome: str) -> None:
    with smtp_server(replies) as smtp:
        configure(SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, SMTP_FROM="service@example.cn", NOTIFY_MAX_ATTEMPTS=5)
        nid = enqueue(app, channel=Channel.EMAIL, recipient="nobody@example.cn")
        assert send_at(app, T0) == {"claimed": 1, outcome: 1}
    after = row(app, nid)
    code = next(iter(replies.values()))[:3]
    assert after.attempts == 1 and code in (after.last_error or "") and smtp.messages == []
    if outcome == "failed":
        assert after.status is NotificationStatus.FAILED and "permanent" in (after.last_error or "")
        assert send_at(app, T0 + timedelta(days=1)) == {"claimed": 0}
    else:
        assert after.status is NotificationStatus.PENDING
        assert T0 + timedelta(seconds=15) <= after.next_attempt_at <= T0 + timedelta(seconds=30)
