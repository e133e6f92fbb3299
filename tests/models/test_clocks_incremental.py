"""The periodic recompute touches only what changed, and always ends where a recompute from scratch would."""
from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings, strategies as st

from models import Application, ChecklistItem, Event, Project, Utility, business_days, clocks, lifecycle
from models.applications import file_application, recompute_clocks, recompute_clocks_counted
from models.catalog_ref import current
from tests.factories import make_project

D = dt.date
START = D(2025, 11, 3)
OPS = ("move", "contact", "import", "redate", "utility", "clobber", "request", "remind", "item_dates",
       "day_passes", "holiday", "recompute")


def _day(rng: random.Random) -> dt.date:
    return START + dt.timedelta(days=rng.randint(0, 400))


def _clear_calendar_caches() -> None:
    for name in ("_year", "_weekday_holidays"):
        cached = getattr(business_days, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


class Desk:
    """A few projects with applications of every kind and requested documents, changed at random."""

    def __init__(self, actor):
        self.actor = actor
        self.codes = [c for c in ("PGE", "SCE", "SDGE", "HECO", "APS", "XCEL_CO") if c in current().utilities]
        self.original_year = business_days._year
        rng = random.Random(7)
        for n in range(4):
            project = make_project(utility=self.codes[n % len(self.codes)])
            for kind in lifecycle.PATHS:
                status = rng.choice([s for s in lifecycle.statuses(kind) if s not in lifecycle.TERMINAL])
                file_application(project, kind, status, on=_day(rng))
            for doc in ("UTILITY_BILL", "SLD"):
                ChecklistItem.create(project=project, application="utility_part1", doc_type=doc, label=doc,
                                     rule_id="x", status="missing")

    def apply(self, op: str, n: int) -> None:
        rng = random.Random(n)
        app = rng.choice(list(Application.select().order_by(Application.id)))
        item = rng.choice(list(ChecklistItem.select().order_by(ChecklistItem.id)))
        if op == "move":
            if app.status in lifecycle.TERMINAL:
                app.reopen(self.actor, "reopened to test")
            else:
                to = rng.choice(lifecycle.allowed(app.kind, app.status))
                app.transition(to, self.actor, why="testing", on=_day(rng),
                               deficiencies=["fix the SLD"] if to == "DEFICIENT" else None)
        elif op == "contact":
            app.log_contact(self.actor, "call", "checked the portal", on=_day(rng))
        elif op == "import":  # another writer moves a status without touching the clocks
            status = rng.choice(lifecycle.statuses(app.kind))
            Application.update(status=status, status_changed_on=_day(rng)).where(Application.id == app.id).execute()
        elif op == "redate":
            field = rng.choice(("status_changed_on", "submitted_on", "clock_started_on", "last_contact_on",
                                "decided_on"))
            value = rng.choice((None, _day(rng)))
            Application.update({getattr(Application, field): value}).where(Application.id == app.id).execute()
        elif op == "utility":
            other = Utility.get(Utility.code == rng.choice(self.codes))
            Project.update(utility=other).where(Project.id == app.project_id).execute()
        elif op == "clobber":  # a clock written by hand is put right again
            Application.update(due_on=_day(rng), next_follow_up_on=None).where(Application.id == app.id).execute()
        elif op == "request":
            item.set_status(rng.choice(("requested", "requested", "received", "missing")), "", self.actor)
        elif op == "remind":
            if item.status == "requested":
                item.log_reminder(self.actor, "email")
        elif op == "item_dates":
            ChecklistItem.update(requested_on=rng.choice((None, _day(rng))), reminders_sent=rng.randint(0, 4),
                                 next_reminder_on=rng.choice((None, _day(rng)))).where(
                ChecklistItem.id == item.id).execute()
        elif op == "day_passes":
            recompute_clocks(today=_day(rng))
        elif op == "holiday":  # the holiday table gains a weekday
            closure = _day(rng)
            while closure.weekday() >= 5:
                closure += dt.timedelta(days=1)
            before = business_days._year

            def year(y: int, before=before) -> frozenset[dt.date]:
                return before(y) | {closure} if y == closure.year else before(y)
            business_days._year = year
            _clear_calendar_caches()
        elif op == "recompute":
            recompute_clocks()

    def restore_calendar(self) -> None:
        business_days._year = self.original_year
        _clear_calendar_caches()


def _stored() -> tuple[dict, dict]:
    apps = {a.id: (a.status, a.due_on, a.due_step, a.next_follow_up_on, a.expires_on)
            for a in Application.select()}
    items = {i.id: i.next_reminder_on for i in ChecklistItem.select()}
    return apps, items


def _from_scratch(before: tuple[dict, dict]) -> tuple[dict, dict]:
    """What one pass over every row with the per-application rule gives (closed ones are left alone)."""
    apps, items = dict(before[0]), dict(before[1])
    for app in Application.select():
        if app.status not in lifecycle.TERMINAL:
            app.refresh_clocks()
            apps[app.id] = (app.status, app.due_on, app.due_step, app.next_follow_up_on, app.expires_on)
    for item in ChecklistItem.select().where(ChecklistItem.status == "requested"):
        items[item.id] = clocks.next_reminder(item.requested_on, item.reminders_sent)
    return apps, items


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 10 ** 6)), min_size=1, max_size=30))
def test_incremental_recompute_equals_a_recompute_from_scratch(db, users, ops):
    for model in (Event, ChecklistItem, Application, Project):
        model.delete().execute()
    desk = Desk(users["lead"])
    try:
        recompute_clocks()
        for op, n in ops:
            desk.apply(op, n)
        stored = _stored()
        expected = _from_scratch(stored)
        recompute_clocks()
        assert _stored() == expected
        assert recompute_clocks_counted().applications_checked == 0  # nothing left to look at
        assert recompute_clocks() == 0
        # Forgetting every basis recomputes every row from scratch through the batch path: same answer.
        Application.update(clock_basis=None).execute()
        assert recompute_clocks() == 0 and _stored() == expected
    finally:
        desk.restore_calendar()


def test_steady_state_looks_at_nothing_and_a_change_at_one_row(db, users):
    p = make_project(utility="PGE")
    apps = [file_application(p, kind, "SUBMITTED", on=D(2026, 3, 2)) for kind in ("utility_part1", "ahj_permit")]
    first = recompute_clocks_counted()
    assert first.applications_checked == 2 and first.changed == 0  # filed with their clocks already right
    assert recompute_clocks_counted().applications_checked == 0
    assert recompute_clocks_counted().applications_checked == 0  # a day later too: no clock reads today
    apps[0].log_contact(users["lead"], "call", "chased", on=D(2026, 3, 10))
    again = recompute_clocks_counted()
    assert (again.applications_checked, again.changed) == (1, 0)  # log_contact already wrote its clocks
    Application.update(last_contact_on=D(2026, 3, 12)).where(Application.id == apps[1].id).execute()
    assert recompute_clocks_counted().applications_changed == 1
    assert Application.get_by_id(apps[1].id).next_follow_up_on == business_days.add(D(2026, 3, 12), 5)


def test_a_new_holiday_recomputes_every_open_clock(db, users):
    p = make_project(utility="PGE")
    app = file_application(p, "utility_part1", "SUBMITTED", on=D(2026, 3, 2))
    assert app.due_on == D(2026, 3, 16)
    recompute_clocks()
    original = business_days._year
    try:
        business_days._year = lambda y: original(y) | {D(2026, 3, 4)} if y == 2026 else original(y)
        _clear_calendar_caches()
        assert recompute_clocks() == 1
        assert Application.get_by_id(app.id).due_on == D(2026, 3, 17)
    finally:
        business_days._year = original
        _clear_calendar_caches()
    assert recompute_clocks() == 1 and Application.get_by_id(app.id).due_on == D(2026, 3, 16)


def test_a_project_moving_utility_recomputes_its_applications(db, users):
    p = make_project(utility="SCE")
    app = file_application(p, "utility_part1", "TECHNICAL_REVIEW", on=D(2026, 11, 2))
    recompute_clocks()
    assert Application.get_by_id(app.id).due_step == "default"
    Project.update(utility=Utility.get(Utility.code == "PGE")).where(Project.id == p.id).execute()
    assert recompute_clocks() == 1
    assert Application.get_by_id(app.id).due_step == "engineering"


def test_the_command_and_the_periodic_actor_run_it(app, users, caplog):
    from workers import actors
    p = make_project(utility="PGE")
    a = file_application(p, "utility_part1", "SUBMITTED", on=D(2026, 3, 2))
    Application.update(due_on=None).where(Application.id == a.id).execute()
    result = app.test_cli_runner().invoke(args=["recompute-clocks"])
    assert result.exit_code == 0 and result.output.strip() == "1 rows changed"
    Application.update(due_on=None).where(Application.id == a.id).execute()
    with caplog.at_level("INFO", logger="workers.actors"):
        actors.recompute_clocks.fn()
    assert "1 applications looked at, 1 changed, 0 reminders changed" in caplog.text
    assert Application.get_by_id(a.id).due_on == D(2026, 3, 16)
