"""Business-day arithmetic: the constant-time answers equal a day-by-day walk over the calendar."""
import datetime as dt
import random

from models import business_days as bd


def walk_add(day: dt.date, n: int) -> dt.date:
    step = 1 if n >= 0 else -1
    while n >= 0 and not bd.is_business_day(day):
        day += dt.timedelta(days=1)
    remaining = abs(n)
    while remaining:
        day += dt.timedelta(days=step)
        if bd.is_business_day(day):
            remaining -= 1
    return day


def walk_between(start: dt.date, end: dt.date) -> int:
    if end < start:
        return -walk_between(end, start)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += bd.is_business_day(day)
    return count


def random_day(rng: random.Random) -> dt.date:
    return dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 40 * 366))


def test_between_matches_the_walk_over_random_dates():
    rng = random.Random(7)
    for _ in range(3000):
        start = random_day(rng)
        end = start + dt.timedelta(days=rng.randint(-800, 800))
        assert bd.between(start, end) == walk_between(start, end), (start, end)


def test_add_matches_the_walk_over_random_dates_and_counts():
    rng = random.Random(11)
    for _ in range(3000):
        day, n = random_day(rng), rng.choice([0, 1, 2, 5, 10, 20, 60, rng.randint(-300, 300)])
        assert bd.add(day, n) == walk_add(day, n), (day, n)


def test_every_day_around_holidays_and_weekends():
    """Each day from two weeks before to two weeks after every holiday of a few years, short and long counts."""
    for year in (2020, 2021, 2026, 2027):
        for holiday in bd._year(year):
            for offset in range(-14, 15):
                day = holiday + dt.timedelta(days=offset)
                for n in (-11, -5, -1, 0, 1, 3, 10):
                    assert bd.add(day, n) == walk_add(day, n), (day, n)
                assert bd.between(day, holiday) == walk_between(day, holiday)
                assert bd.between(holiday, day + dt.timedelta(days=40)) == walk_between(holiday, day + dt.timedelta(days=40))


def test_days_back_to_business_day_puts_each_date_with_its_last_business_day():
    back = bd.days_back_to_business_day(range(2025, 2028))
    day = dt.date(2025, 1, 1)
    while day < dt.date(2028, 1, 1):
        last = day - dt.timedelta(days=back.get(day, 0))
        assert bd.is_business_day(last) and all(
            not bd.is_business_day(last + dt.timedelta(days=k)) for k in range(1, (day - last).days + 1))
        day += dt.timedelta(days=1)
