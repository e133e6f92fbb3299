"""Business-day arithmetic over US federal holidays (the `holidays` package keeps the calendar)."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _year(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("US", years=year))


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _year(day.year)


def add(day: dt.date, n: int) -> dt.date:
    """The n-th business day after day (n=0: day itself, or the next business day if it is not one)."""
    step = 1 if n >= 0 else -1
    # Something received on a weekend or holiday counts from the next business day.
    while n >= 0 and not is_business_day(day):
        day += dt.timedelta(days=1)
    remaining = abs(n)
    while remaining:
        day += dt.timedelta(days=step)
        if is_business_day(day):
            remaining -= 1
    return day


def between(start: dt.date, end: dt.date) -> int:
    """Business days from start to end: 0 on the same day, negative when end is before start."""
    if end < start:
        return -between(end, start)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count
