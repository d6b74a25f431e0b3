"""The notification outbox: one table of messages that a sender delivers with retries (R-SLA-2 escalation,
reorder alerts, advisory notices, reminders). Writers only ever `enqueue`; delivery happens later."""
