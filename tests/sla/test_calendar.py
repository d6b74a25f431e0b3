"""Business-time arithmetic (pure): weekends, holidays, make-up working days, time zones."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fieldservice.sla.calendar import Calendar, add_seconds, seconds_between

SH = ZoneInfo("Asia/Shanghai")
HOUR = 3600
# Mon-Fri 09:00-18:00 Shanghai; New Year's Day 2027 (a Friday) is a holiday
CAL = Calendar(timezone="Asia/Shanghai", workdays=frozenset({1, 2, 3, 4, 5}), day_start=time(9), day_end=time(18),
               holidays=frozenset({date(2027, 1, 1)}))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_deadline_skips_holiday_and_weekend() -> None:
    start = local(2026, 12, 31, 17, 0)   # Thursday, one working hour left
    assert add_seconds(CAL, start, 4 * HOUR) == local(2027, 1, 4, 12, 0)  # Fri holiday, Sat+Sun off -> Monday
    assert seconds_between(CAL, start, local(2027, 1, 4, 12, 0)) == 4 * HOUR


def test_make_up_working_day_counts() -> None:
    cal = Calendar(**{**CAL.__dict__, "extra_workdays": frozenset({date(2027, 1, 2)})})  # 调休: Saturday worked
    assert add_seconds(cal, local(2026, 12, 31, 17, 0), 4 * HOUR) == local(2027, 1, 2, 12, 0)


def test_outside_hours_starts_counting_next_morning() -> None:
    assert add_seconds(CAL, local(2027, 1, 4, 22, 30), 30 * 60) == local(2027, 1, 5, 9, 30)
    assert seconds_between(CAL, local(2027, 1, 4, 22, 30), local(2027, 1, 5, 8, 59)) == 0


def test_deadline_at_closing_time_stays_there() -> None:
    assert add_seconds(CAL, local(2027, 1, 4, 17, 0), HOUR) == local(2027, 1, 4, 18, 0)


def test_round_the_clock_without_calendar() -> None:
    start = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert add_seconds(None, start, 24 * HOUR) == start + timedelta(days=1)
    assert seconds_between(None, start, start + timedelta(hours=5)) == 5 * HOUR


def test_dst_zone_keeps_local_hours() -> None:
    cal = Calendar(timezone="Europe/Berlin", day_start=time(9), day_end=time(17))
    berlin = ZoneInfo("Europe/Berlin")
    # Friday 16:00 before the spring change (Sunday 2027-03-28): 2 h -> Monday 10:00 local, CEST
    end = add_seconds(cal, datetime(2027, 3, 26, 16, 0, tzinfo=berlin), 2 * HOUR)
    assert end == datetime(2027, 3, 29, 10, 0, tzinfo=berlin)
    assert end == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)  # CEST is UTC+2 after the change
