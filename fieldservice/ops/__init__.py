"""Operations: request ids and JSON logs, Prometheus metrics, the scheduler's heartbeat, CORS for browser
clients. `init_ops(app)` wires them into the app (each as its own hook, so they merge cleanly with others)."""
from __future__ import annotations

from flask import Flask


def init_ops(app: Flask) -> None:
    from fieldservice.ops import cors, metrics, requestid

    requestid.init_app(app)
    metrics.init_app(app)
    cors.init_app(app)
