"""SLA fixtures: a Shanghai business calendar with New Year's Day 2027 off, and a default policy."""
from __future__ import annotations

from datetime import date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.sla import service as sla

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def default_policy(app: Flask) -> SimpleNamespace:
    with app.app_context(), unit_of_work():
        calendar = sla.create_calendar(SYSTEM, {
            "name": "上海 工作日", "timezone": "Asia/Shanghai", "workdays": [1, 2, 3, 4, 5],
            "day_start": time(9), "day_end": time(18), "holidays": [date(2027, 1, 1)]})
        policy = sla.create_policy(SYSTEM, {
            "name": "标准 standard", "is_default": True, "calendar_id": calendar.id, "respond_minutes": 30,
            "on_site_minutes": 120, "fix_minutes": 240, "answer_minutes": 24 * 60,
            "escalate_to": "supervisor@example.cn"})
        return SimpleNamespace(id=policy.id, calendar_id=calendar.id)
