"""Observability (issue 16): /metrics in Prometheus format, request ids in responses and JSON logs, the
scheduler's heartbeat in /readyz and /readyz/scheduler; config errors name the variable; S3 addressing."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from fieldservice import create_app
from fieldservice.config import ConfigError, TestConfig
from fieldservice.db import unit_of_work, utcnow
from fieldservice.notifications import service as notifications
from fieldservice.ops import heartbeat
from fieldservice.ops.requestid import RequestIdFilter, log_formatter
from media.storage import s3_addressing_style, s3_client_from_config
from tests.factories import Factory


def samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def test_metrics_count_requests_outbox_scheduler_and_pool(app: Flask, client: FlaskClient, make: Factory) -> None:
    auth = {"Authorization": f"Bearer {make.token(make.user('dispatcher').id)}"}
    before = samples(client)
    key = ("fieldservice_http_requests_total",
           (("endpoint", "/api/v1/work-orders"), ("method", "GET"), ("status", "200")))
    client.get("/api/v1/work-orders", headers=auth)
    client.get("/api/v1/work-orders", headers=auth)
    with app.app_context(), unit_of_work():
        notifications.enqueue("test.kind", "office", {"n": 1}, now=utcnow() - timedelta(minutes=5))
    with app.app_context():
        heartbeat.record("sla.scan", "success")
        heartbeat.beat()
    after = samples(client)
    assert after[key] - before.get(key, 0) == 2
    assert after[("fieldservice_outbox_messages", (("status", "pending"),))] == 1
    assert after[("fieldservice_outbox_oldest_pending_age_seconds", ())] >= 300
    assert after[("fieldservice_scheduler_job_last_success_timestamp_seconds", (("job", "sla.scan"),))] > 0
    assert 0 <= after[("fieldservice_scheduler_heartbeat_age_seconds", ())] < 60
    assert after[("fieldservice_database_up", ())] == 1
    assert ("fieldservice_db_pool_connections", (("state", "checkedout"),)) in after
    assert any(name == "fieldservice_http_request_duration_seconds_count" for name, _ in after)


def test_metrics_token_guards_the_scrape(app: Flask, client: FlaskClient) -> None:
    app.config["METRICS_TOKEN"] = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_request_id_is_echoed_and_in_json_logs(app: Flask, client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "phone-42.abc"}).headers["X-Request-ID"] == "phone-42.abc"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"}).headers["X-Request-ID"]
    assert len(made) == 32 and " " not in made
    with app.test_request_context("/x"):
        app.preprocess_request()
        from flask import g

        record = logging.LogRecord("fieldservice.test", logging.INFO, __file__, 1, "订单 %s", ("WO-1",), None)
        RequestIdFilter().filter(record)
        line = json.loads(log_formatter("json").format(record))
        assert line["request_id"] == g.request_id and line["message"] == "订单 WO-1"
        assert line["level"] == "INFO" and line["logger"] == "fieldservice.test"


def test_readyz_reports_the_scheduler_heartbeat(app: Flask, client: FlaskClient) -> None:
    assert client.get("/readyz").get_json()["scheduler"]["status"] == "unknown"
    assert client.get("/readyz/scheduler").status_code == 503  # no scheduler ever ran: alert
    with app.app_context():
        heartbeat.beat()
    assert client.get("/readyz/scheduler").status_code == 200
    with app.app_context():
        heartbeat.record(heartbeat.PROCESS_ROW, "success", now=utcnow() - timedelta(hours=1))
    stale = client.get("/readyz/scheduler")
    assert stale.status_code == 503 and stale.get_json()["status"] == "stale"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["scheduler"]["status"] == "stale"  # web stays ready


@pytest.mark.parametrize("name,value", [("TOKEN_TTL_HOURS", "abc"), ("SESSION_COOKIE_SECURE", "perhaps"),
                                        ("LOG_FORMAT", "xml"), ("S3_ADDRESSING_STYLE", "sideways")])
def test_config_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        create_app(TestConfig("sqlite://"))


def test_s3_virtual_hosted_addressing_by_setting() -> None:
    """Aliyun OSS refuses path-style requests: S3_ADDRESSING_STYLE=virtual with a custom endpoint."""
    oss = {"S3_ENDPOINT_URL": "https://oss-cn-shanghai.aliyuncs.com", "S3_ADDRESSING_STYLE": "virtual",
           "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "S3_REGION": "oss-cn-shanghai"}
    assert s3_addressing_style(oss) == "virtual"
    client = s3_client_from_config(oss)
    url = client.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "a/b.jpg"})
    assert url.startswith("https://photos.oss-cn-shanghai.aliyuncs.com/a/b.jpg")
    minio = {"S3_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
             "S3_REGION": "us-east-1"}
    assert s3_addressing_style(minio) == "path"  # the default with a custom endpoint, as before
    assert s3_client_from_config(minio).generate_presigned_url(
        "get_object", Params={"Bucket": "photos", "Key": "k"}).startswith("http://127.0.0.1:9000/photos/k")
