"""Language and time on the pages: one language at a time (zh by default, en), chosen with the switch in the
page header (kept in the session) or `?lang=`; the page texts are gettext catalogs compiled from
fieldservice/translations/<lang>/LC_MESSAGES/messages.po (Flask-Babel; the message ids are English, so `en`
needs no catalog). Times are shown in the site's time zone when a page knows the site, else in the company's
(COMPANY_TIMEZONE), in a human format ("11月20日周五 14:30", "Fri, Nov 20 14:30")."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def _valid_zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ValueError, KeyError):
        return None


def select_language() -> str:
    """`?lang=` on this request, else the language chosen with the switch (session), else zh."""
    if has_request_context():
        asked = request.args.get("lang")
        if asked in LANGUAGES:
            return asked
        chosen = session.get("lang")
        if chosen in LANGUAGES:
            return str(chosen)
    return DEFAULT_LANGUAGE


def language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANGUAGE


def company_zone() -> ZoneInfo:
    return _valid_zone(current_app.config.get("COMPANY_TIMEZONE")) or ZoneInfo("Asia/Shanghai")


def company_today(now: datetime | None = None) -> date:
    """Today in the company's time zone (the KPI page and API agree on it)."""
    return (now or datetime.now(UTC)).astimezone(company_zone()).date()


def zone_of(name: str | None) -> ZoneInfo:
    """A site's zone by name (a bad or missing name: the company's)."""
    return _valid_zone(name) or company_zone()


def _parsed(value: Any) -> Any:
    """Archive documents carry ISO 8601 strings: read them back as dates and times."""
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    return value or None


def local(value: datetime, zone: str | ZoneInfo | None = None) -> datetime:
    tz = zone if isinstance(zone, ZoneInfo) else zone_of(zone)
    if value.tzinfo is None:                       # stored UTC (SQLite hands naive values back)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def format_when(value: datetime | str | None, zone: str | ZoneInfo | None = None, *,
                with_year: bool | None = None) -> str:
    """A date and time for people: weekday, day, month, and the year only when it is not this year."""
    value = _parsed(value)
    if not isinstance(value, datetime):
        return format_day(value)
        return "—"
    shown = local(value, zone)
    lang = language()
    if with_year is None:
        with_year = shown.year != datetime.now(shown.tzinfo).year
    day = format_skeleton("yMMMEd" if with_year else "MMMEd", shown, locale=lang)
    return f"{day} {format_skeleton('Hm', shown, locale=lang)}"


def format_time(value: datetime | str | None, zone: str | ZoneInfo | None = None) -> str:
    value = _parsed(value)
    return "—" if not isinstance(value, datetime) else format_skeleton("Hm", local(value, zone), locale=language())


def format_day(value: date | datetime | str | None, zone: str | ZoneInfo | None = None, *,
               weekday: bool = True) -> str:
    value = _parsed(value)
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local(value, zone).date()
    skeleton = ("yMMMEd" if weekday else "yMMMd") if value.year != date.today().year else ("MMMEd" if weekday else "MMMd")
    return format_skeleton(skeleton, value, locale=language())


def format_duration(seconds: float | int | timedelta | None) -> str:
    """2 h 05 min / 2小时05分; negative durations read as overdue by the caller."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)s d %(h)s h", d=days, h=hours)
    if hours:
        return _("%(h)s h %(m)02d min", h=hours, m=mins)
    return _("%(m)s min", m=mins)


def format_money(minor: int | None, currency: str = "CNY") -> str:
    if minor is None:
        return "—"
    return format_currency(minor / 100, currency, locale=language())


def format_number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return format_decimal(round(value, digits), locale=language())


def format_ratio(value: float | None) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0%", locale=language())


def language_url(lang: str) -> str:
    """The switch's link: the language route, coming back to this page."""
    from flask import url_for

    target = request.full_path if request.query_string else request.path
    return url_for("web.switch_language", lang=lang, next=target)


def init_app(app: Flask) -> None:
    """Flask-Babel with the package's catalogs, and the formatting filters every template may use."""
    from pathlib import Path

    Babel(app, locale_selector=select_language,
          default_translation_directories=str(Path(__file__).resolve().parent.parent / "translations"))
    app.jinja_env.filters.update(when=format_when, hm=format_time, day=format_day, duration=format_duration,
                                 money=format_money, number=format_number, ratio=format_ratio)

    @app.context_processor
    def _language_globals() -> dict[str, Any]:
        return {"current_language": language, "language_url": language_url, "LANGUAGES": LANGUAGES,
                "company_zone": lambda: str(company_zone()), "now_time": lambda: format_time(datetime.now(UTC))}
