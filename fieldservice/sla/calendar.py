"""Business-time arithmetic: how much working time lies between two instants, and when a given amount of
working time from an instant runs out. Pure functions over a calendar (working weekdays and hours in a
time zone, holidays, make-up working days); `None` means round-the-clock wall-clock time."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3 * 366  # a target never spans more than this; guards the day-by-day walks


@dataclass(frozen=True)
class Calendar:
    timezone: str = "Asia/Shanghai"
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_model(cls, model: object) -> Calendar:
        return cls(timezone=model.timezone, workdays=frozenset(model.workdays),  # type: ignore[attr-defined]
                   day_start=model.day_start, day_end=model.day_end,  # type: ignore[attr-defined]
                   holidays=frozenset(date.fromisoformat(d) for d in model.holidays),  # type: ignore[attr-defined]
                   extra_workdays=frozenset(date.fromisoformat(d) for d in model.extra_workdays))  # type: ignore[attr-defined]

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.isoweekday() in self.workdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's working hours as UTC instants (zoneinfo handles DST), or None on a day off."""
        if not self.is_working_day(day):
            return None
        zone = ZoneInfo(self.timezone)
        start = datetime.combine(day, self.day_start, zone).astimezone(UTC)
        end = datetime.combine(day, self.day_end, zone).astimezone(UTC)
        return (start, end) if end > start else None

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(ZoneInfo(self.timezone)).date()


def seconds_between(calendar: Calendar | None, start: datetime, end: datetime) -> int:
    """Counted seconds from `start` to `end` (0 if end <= start)."""
    if end <= start:
        return 0
    if calendar is None:
        return int((end - start).total_seconds())
    total = 0.0
    day = calendar.local_date(start) - timedelta(days=1)  # a window can begin on the previous local day in UTC
    last = calendar.local_date(end)
    for _ in range(MAX_DAYS + 2):
        if day > last:
            break
        window = calendar.window(day)
        if window:
            lo, hi = max(window[0], start), min(window[1], end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(total)


def add_seconds(calendar: Calendar | None, start: datetime, seconds: int) -> datetime:
    """The instant at which `seconds` of counted time from `start` have passed. With business hours, a
    deadline that runs out exactly at closing time stays at closing time (not the next morning)."""
    if calendar is None:
        return start + timedelta(seconds=seconds)
    remaining = float(max(seconds, 0))
    day = calendar.local_date(start) - timedelta(days=1)
    for _ in range(MAX_DAYS + 2):
        window = calendar.window(day)
        if window and window[1] > start:
            lo = max(window[0], start)
            available = (window[1] - lo).total_seconds()
            if remaining <= available:
                return lo + timedelta(seconds=remaining)
            remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"calendar has no working time within {MAX_DAYS} days")
