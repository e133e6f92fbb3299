"""Business-day arithmetic over US federal holidays (the `holidays` package keeps the calendar).

Every answer is computed from a weekday count (a formula on the date's ordinal) less the weekday
holidays in between (a bisect per calendar year), so a date ten years out costs what tomorrow does.
"""
from __future__ import annotations

import bisect
import datetime as dt
from functools import lru_cache

import holidays

_ONE = dt.timedelta(days=1)


@lru_cache(maxsize=256)
def _year(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("US", years=year))


@lru_cache(maxsize=256)
def _weekday_holidays(year: int) -> tuple[dt.date, ...]:
    """The year's holidays that fall Monday to Friday (a weekend holiday takes nothing away), sorted."""
    return tuple(sorted(d for d in _year(year) if d.weekday() < 5))


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _year(day.year)


def _weekdays_through(day: dt.date) -> int:
    """Mondays to Fridays from 0001-01-01 (a Monday) through day."""
    n = day.toordinal() - 1
    return (n // 7) * 5 + min(n % 7 + 1, 5)


def _weekday_numbered(count: int) -> dt.date:
    """The weekday whose _weekdays_through is count."""
    weeks, rest = divmod(count - 1, 5)
    return dt.date.fromordinal(weeks * 7 + rest + 1)


def _holidays_after_through(start: dt.date, end: dt.date) -> int:
    """Weekday holidays in (start, end], for start <= end."""
    if start.year == end.year:
        days = _weekday_holidays(start.year)
        return bisect.bisect_right(days, end) - bisect.bisect_right(days, start)
    count = len(_weekday_holidays(start.year)) - bisect.bisect_right(_weekday_holidays(start.year), start)
    for year in range(start.year + 1, end.year):
        count += len(_weekday_holidays(year))
    return count + bisect.bisect_right(_weekday_holidays(end.year), end)


def between(start: dt.date, end: dt.date) -> int:
    """Business days from start to end: 0 on the same day, negative when end is before start."""
    if end < start:
        return -between(end, start)
    return _weekdays_through(end) - _weekdays_through(start) - _holidays_after_through(start, end)


def add(day: dt.date, n: int) -> dt.date:
    """The n-th business day after day (n=0: day itself, or the next business day if it is not one)."""
    if n < 0:
        return _before(day, -n)
    # Something received on a weekend or holiday counts from the next business day.
    while not is_business_day(day):
        day += _ONE
    found, short = day, n
    # Count weekdays forward, then make up for the holidays passed; each round passes fewer.
    while short:
        found = _weekday_numbered(_weekdays_through(found) + short)
        short = n - between(day, found)
    return found


def _before(day: dt.date, n: int) -> dt.date:
    """The n-th business day before day (n >= 1), day itself not counted."""
    last = day - _ONE
    found = _weekday_numbered(_weekdays_through(last) - n + 1)
    short = n - between(found - _ONE, last)
    while short:
        found = _weekday_numbered(_weekdays_through(found) - short)
        short = n - between(found - _ONE, last)
    return found


def latest_on_or_before(day: dt.date) -> dt.date:
    """The last business day on or before day."""
    while not is_business_day(day):
        day -= _ONE
    return day


def days_back_to_business_day(years: range) -> dict[dt.date, int]:
    """For each day in these years that is not a business day, how many days back the last business day is.

    Two dates are the same number of business days from any third date exactly when they share the
    last business day on or before them; SQL sorts and compares dates by that day (models.day).
    """
    out = {}
    day, end = dt.date(years.start, 1, 1), dt.date(years.stop, 1, 1)
    while day < end:
        if not is_business_day(day):
            out[day] = (day - latest_on_or_before(day)).days
        day += _ONE
    return out
