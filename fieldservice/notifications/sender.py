"""The outbox sender: claims due messages, delivers them through a transport, records the outcome.

Transports: webhook (HTTP POST of JSON signed with HMAC-SHA256), e-mail (SMTP, stdlib smtplib) and `record`
(no transport: the row is the record). A channel whose transport is not configured is left alone, so its
messages wait (nothing is lost, no attempt is spent) until the transport is configured. Delivery happens
outside any database transaction; each claim and each outcome is its own short unit of work.

Outbox rule (docs/scheduler.md, "Notification outbox and sender"): a failure that another attempt could
cure (connection refused, timeout, HTTP 408/425/429/5xx, SMTP 4xx) is retried with backoff; an answer that
says this message will never be accepted (HTTP 4xx other than 408/425/429, SMTP 5xx for the sender,
a recipient or the data) fails the message at once, so it is not re-sent for hours to a receiver that
already said no. The office can still re-queue a failed message (`POST /notifications/{id}/retry`).
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import smtplib
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from flask import Flask

from fieldservice.db import unit_of_work, utcnow
from fieldservice.notifications import service
from fieldservice.notifications.models import Channel
from fieldservice.notifications.service import Claimed

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Fieldservice-Signature"
TIMESTAMP_HEADER = "X-Fieldservice-Timestamp"
ID_HEADER = "X-Fieldservice-Notification-Id"


# HTTP 4xx answers that say "not now" rather than "never": retried like a 5xx or a dead connection
RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})
# answers whose Retry-After header is honoured (as the earliest next attempt, capped by the backoff cap)
RETRY_AFTER_STATUSES = frozenset({429, 503})
BODY_EXCERPT_CHARS = 200


class DeliveryError(Exception):
    """The transport could not deliver (refused, timed out, non-2xx answer).

    `permanent`: the receiver refused this message for good (HTTP 4xx but 408/425/429, SMTP 5xx): it fails
    at once instead of being retried. `retry_after`: seconds the receiver asked us to wait (Retry-After),
    used as the earliest next attempt."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def is_permanent_http_status(status: int) -> bool:
    """A 4xx other than 408 (timeout), 425 (too early) and 429 (too many requests) will not change on retry."""
    return 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). None when
    absent or unreadable; a date in the past is 0."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 850 / asctime forms carry no zone: HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _excerpt(raw: bytes) -> str:
    """The start of a refusal's body, on one line, for `last_error` (what the receiver said was wrong)."""
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= BODY_EXCERPT_CHARS else text[:BODY_EXCERPT_CHARS] + "…"


class Transport(Protocol):
    def deliver(self, message: Claimed) -> None: ...


def message_body(message: Claimed) -> bytes:
    """The JSON a receiver gets (UTF-8, Chinese kept readable)."""
    return json.dumps({
        "id": str(message.id), "kind": message.kind, "recipient": message.recipient, "subject": message.subject,
        "payload": message.payload, "created_at": message.created_at.isoformat(), "attempt": message.attempt,
    }, ensure_ascii=False, sort_keys=True).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>.<body>`, hex: what the receiver recomputes to check the sender."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                                hashlib.sha256).hexdigest()


@dataclass
class WebhookTransport:
    url: str
    secret: str | None
    timeout: float = 10.0

    def deliver(self, message: Claimed) -> None:
        body = message_body(message)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", ID_HEADER: str(message.id),
                   TIMESTAMP_HEADER: timestamp, "User-Agent": "fieldservice-notifier/1"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                response.read(1024)
        except urllib.error.HTTPError as err:
            raise _http_refusal(err) from err
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise DeliveryError(f"webhook unreachable: {getattr(err, 'reason', err)}") from err


def _http_refusal(err: urllib.error.HTTPError) -> DeliveryError:
    try:
        body = _excerpt(err.read(2048))
    except (OSError, ValueError, http.client.HTTPException):  # a body cut short still leaves the status
        body = ""
    permanent = is_permanent_http_status(err.code)
    retry_after = (parse_retry_after(err.headers.get("Retry-After"), now=utcnow())
                   if err.code in RETRY_AFTER_STATUSES and err.headers is not None else None)
    text = f"webhook answered HTTP {err.code}" + (" (permanent, not retried)" if permanent else "")
    if body:
        text += f": {body}"
    return DeliveryError(text, permanent=permanent, retry_after=retry_after)


def _smtp_refusal(err: smtplib.SMTPException) -> DeliveryError:
    """SMTP replies: 5xx to MAIL FROM, RCPT TO (every recipient) or DATA is permanent for this message; 4xx
    is "try later". Connection, greeting, TLS and login failures are about our server settings, not this
    message, so they are retried (a wrong password must not fail the whole outbox at once)."""
    permanent = False
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in err.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
    elif isinstance(err, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        permanent = err.smtp_code >= 500
    text = f"smtp: {err.__class__.__name__}: {err}"
    return DeliveryError(text + (" (permanent, not retried)" if permanent else ""), permanent=permanent)


@dataclass
class SmtpTransport:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    def deliver(self, message: Claimed) -> None:
        email = EmailMessage()
        email["From"], email["To"] = self.sender, message.recipient
        email["Subject"] = message.subject or message.kind
        email["Message-ID"] = f"<{message.id}@fieldservice>"
        text = json.dumps(message.payload, ensure_ascii=False, indent=2, sort_keys=True)
        email.set_content(f"{message.subject}\n\n{text}\n", charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPException as err:
            raise _smtp_refusal(err) from err
        except OSError as err:
            raise DeliveryError(f"smtp: {err.__class__.__name__}: {err}") from err


class RecordTransport:
    """The `record` channel: nothing to send; the outbox row is the record of what was notified."""

    def deliver(self, message: Claimed) -> None:
        return None


def transports_from_config(config: Any) -> dict[Channel, Transport]:
    """The configured transports; a channel missing here is not claimed (its messages wait)."""
    timeout = float(config["NOTIFY_TIMEOUT_SECONDS"])
    found: dict[Channel, Transport] = {Channel.RECORD: RecordTransport()}
    if config.get("NOTIFY_WEBHOOK_URL"):
        found[Channel.WEBHOOK] = WebhookTransport(config["NOTIFY_WEBHOOK_URL"], config.get("NOTIFY_WEBHOOK_SECRET"),
                                                  timeout)
    if config.get("SMTP_HOST"):
        found[Channel.EMAIL] = SmtpTransport(config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_FROM"],
                                             config.get("SMTP_USERNAME"), config.get("SMTP_PASSWORD"),
                                             bool(config.get("SMTP_STARTTLS")), timeout)
    return found


def send_due(app: Flask, *, transports: dict[Channel, Transport] | None = None,
             rng: random.Random | None = None) -> dict[str, int]:
    """One sender pass: claim due messages (one unit of work), deliver each, record each outcome (one unit
    of work per message, so a crash loses at most the in-flight attempts, which their leases give back).
    Returns counts by outcome: sent, retry, failed, skipped (claimed by another sender meanwhile),
    lease_expired (not attempted: its lease ran out while earlier deliveries were slow)."""
    config = app.config
    timeout = float(config["NOTIFY_TIMEOUT_SECONDS"])
    # the lease covers a whole batch of slow deliveries, so no claim expires while it waits its turn
    lease_seconds = max(int(config["NOTIFY_LEASE_SECONDS"]), int(timeout * config["NOTIFY_BATCH_SIZE"]) + 30)
    with app.app_context():
        transports = transports if transports is not None else transports_from_config(config)
        with unit_of_work():
            claims = service.claim_due(channels=list(transports), now=utcnow(), limit=config["NOTIFY_BATCH_SIZE"],
                                       lease_seconds=lease_seconds, max_attempts=config["NOTIFY_MAX_ATTEMPTS"])
        counts: Counter[str] = Counter(claimed=len(claims))
        for claim in claims:
            if utcnow() + timedelta(seconds=timeout) >= claim.lease_expires_at:
                # too late to deliver under this claim: another sender may take it over once the lease
                # expires, and delivering now could send it twice
                counts["lease_expired"] += 1
                continue
            error, permanent, retry_after = None, False, None
            try:
                transports[claim.channel].deliver(claim)
            except DeliveryError as err:
                error, permanent, retry_after = str(err), err.permanent, err.retry_after
            except Exception as err:  # a transport bug must not strand the message in `sending`
                log.exception("notification %s: transport error", claim.id)
                error = f"{err.__class__.__name__}: {err}"
            with unit_of_work():
                status = service.record_delivery(
                    claim, error=error, now=utcnow(), max_attempts=config["NOTIFY_MAX_ATTEMPTS"],
                    base=config["NOTIFY_BACKOFF_BASE_SECONDS"], cap=config["NOTIFY_BACKOFF_MAX_SECONDS"], rng=rng,
                    permanent=permanent, retry_after=retry_after)
            outcome = "skipped" if status is None else {"sent": "sent", "pending": "retry"}.get(status.value, "failed")
            counts[outcome] += 1
            if error:
                log.info("notification %s attempt %d failed: %s", claim.id, claim.attempt, error)
    return dict(counts)
