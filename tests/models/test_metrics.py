"""Dashboard numbers against a desk computed by hand.

The desk: ten projects at PG&E and SCE, moved through their statuses on explicit days by Maria, James,
the lead and utility notices. "Today" is Monday 2025-06-16; the period is 2025-04-01 .. 2025-06-13.
The only federal holiday on the way is Memorial Day, Monday 2025-05-26 (Juneteenth, 06-19, is after
today). Business days from a to b count the business days after a up to and including b, so a Tuesday
to the Tuesday three weeks later is 15, and 15 minus one across Memorial Day.

    project  utility coord.  contract    what happens (BD = business days)
    P1       PGE     maria   2025-03-10  Part 1 sub 04-01 -> ack 04-03 -> tech 04-10 -> approved 04-22 (15 BD);
                                         Part 2 sub 05-20 -> PTO 06-03 (9 BD; Memorial Day); approved->PTO 29 BD
    P2       PGE     maria   2025-04-02  Part 1 sub 04-07 -> deficient 04-14 -> resub 04-21 -> tech 04-28 ->
                                         approved 05-12 (25 BD); ours since 05-12: 24 BD
    P3       PGE     james   2025-04-20  Part 1 sub 05-01 -> ack 05-05 -> tech 05-15 -> agreement sent 06-05
                                         (approved by the agreement, no decided_on: 24 BD); customer's since 06-05: 7 BD
    P4       SCE     james   (created 04-10) Part 1 sub 04-15 -> deficient twice -> approved 05-20 (25 BD);
                                         Part 2 sub 06-02 -> PTO 06-10 (6 BD); approved->PTO 14 BD
    P5       SCE     maria   2025-05-20  Part 1 sub 05-27 -> ack by mail notice 06-04; due 06-10 (4 BD late);
                                         with the utility since 05-27: 14 BD (8 BD since its last status change)
    P6       PGE     -       2025-03-28  AHJ permit filed 04-01 (due 04-15: 43 BD late); Part 1 sub 06-09 by the lead
                                         (follow-up due today); with the utility since 06-09: 5 BD
    P7       SCE     maria   2025-06-09  intake, nothing filed; ours since it came in on 06-09: 5 BD
    P8       PGE     james   2025-05-01  cancelled
    P9       PGE     james   2025-03-01  Part 1 sub 03-20 (James) -> approved 04-03 by the lead (10 BD); ours: 51 BD
    P10      SCE     maria   2025-02-01  Part 1 sub 04-24 -> deficient by mail notice 05-01 (due 05-15); ours: 31 BD
"""
from __future__ import annotations

import datetime as dt

import pytest

from models import Application, Event, metrics
from models.applications import file_application
from models.base import day_start_utc
from tests.factories import make_project

D = dt.date
TODAY = D(2025, 6, 16)
START, END = D(2025, 4, 1), D(2025, 6, 13)


def period(**extra) -> metrics.DashboardFilter:
    return metrics.DashboardFilter(START, END, **extra)


def move(app: Application, to: str, on: dt.date, actor=None, **kw) -> None:
    """A real transition, recorded as if made at 11:00 that day at the desk (18:00 UTC)."""
    if actor is None:
        kw.setdefault("by_notice", True)
        kw.setdefault("actor_label", "mail")
    if to == "DEFICIENT":
        kw.setdefault("deficiencies", ["Single-line diagram missing the AC disconnect"])
    app.transition(to, actor, on=on, **kw)
    last = Event.select().where(Event.application == app).order_by(Event.id.desc()).first()
    Event.update(created_at=dt.datetime.combine(on, dt.time(18))).where(Event.id == last.id).execute()


def project(name: str, utility: str, coordinator, contract: dt.date | None, created: dt.date, **kw):
    return make_project(external_id=name, customer_name=f"Customer {name}", utility=utility, coordinator=coordinator,
                        contract_signed_on=contract, created_at=dt.datetime.combine(created, dt.time(18)), **kw)


def part1(p, *moves):
    app = file_application(p, "utility_part1", "DRAFT", on=moves[0][1])
    for to, on, actor in moves:
        move(app, to, on, actor)
    return app


@pytest.fixture
def desk(db, users):
    maria, james, lead = users["maria"], users["james"], users["lead"]
    p = {}
    p[1] = project("P1", "PGE", maria, D(2025, 3, 10), D(2025, 3, 10))
    part1(p[1], ("SUBMITTED", D(2025, 4, 1), maria), ("COMPLETENESS_REVIEW", D(2025, 4, 3), maria),
          ("TECHNICAL_REVIEW", D(2025, 4, 10), maria), ("APPROVED_TO_INSTALL", D(2025, 4, 22), maria))
    part2 = file_application(p[1], "utility_part2", "DRAFT", on=D(2025, 5, 19))
    move(part2, "COMPLETION_SUBMITTED", D(2025, 5, 20), maria)
    move(part2, "PTO_GRANTED", D(2025, 6, 3), maria)

    p[2] = project("P2", "PGE", maria, D(2025, 4, 2), D(2025, 4, 2))
    part1(p[2], ("SUBMITTED", D(2025, 4, 7), maria), ("DEFICIENT", D(2025, 4, 14), maria),
          ("RESUBMITTED", D(2025, 4, 21), maria), ("TECHNICAL_REVIEW", D(2025, 4, 28), maria),
          ("APPROVED_TO_INSTALL", D(2025, 5, 12), maria))

    p[3] = project("P3", "PGE", james, D(2025, 4, 20), D(2025, 4, 20))
    part1(p[3], ("SUBMITTED", D(2025, 5, 1), james), ("COMPLETENESS_REVIEW", D(2025, 5, 5), james),
          ("TECHNICAL_REVIEW", D(2025, 5, 15), james), ("AGREEMENT_SENT", D(2025, 6, 5), james))

    p[4] = project("P4", "SCE", james, None, D(2025, 4, 10))
    part1(p[4], ("SUBMITTED", D(2025, 4, 15), james), ("DEFICIENT", D(2025, 4, 22), james),
          ("RESUBMITTED", D(2025, 4, 29), james), ("DEFICIENT", D(2025, 5, 6), james),
          ("RESUBMITTED", D(2025, 5, 13), james), ("APPROVED_TO_INSTALL", D(2025, 5, 20), james))
    part2 = file_application(p[4], "utility_part2", "DRAFT", on=D(2025, 5, 30))
    move(part2, "COMPLETION_SUBMITTED", D(2025, 6, 2), james)
    move(part2, "PTO_GRANTED", D(2025, 6, 10), james)

    p[5] = project("P5", "SCE", maria, D(2025, 5, 20), D(2025, 5, 20))
    part1(p[5], ("SUBMITTED", D(2025, 5, 27), maria), ("COMPLETENESS_REVIEW", D(2025, 6, 4), None))

    p[6] = project("P6", "PGE", None, D(2025, 3, 28), D(2025, 3, 28))
    file_application(p[6], "ahj_permit", "SUBMITTED", on=D(2025, 4, 1))
    part1(p[6], ("SUBMITTED", D(2025, 6, 9), lead))

    p[7] = project("P7", "SCE", maria, D(2025, 6, 9), D(2025, 6, 9))
    p[8] = project("P8", "PGE", james, D(2025, 5, 1), D(2025, 5, 1), stage="cancelled")

    p[9] = project("P9", "PGE", james, D(2025, 3, 1), D(2025, 3, 1))
    part1(p[9], ("SUBMITTED", D(2025, 3, 20), james), ("APPROVED_TO_INSTALL", D(2025, 4, 3), lead))

    p[10] = project("P10", "SCE", maria, D(2025, 2, 1), D(2025, 2, 1))
    part1(p[10], ("SUBMITTED", D(2025, 4, 24), maria), ("DEFICIENT", D(2025, 5, 1), None))
    return p


def desk_name(desk, project_id: int) -> str:
    return next(proj.external_id for proj in desk.values() if proj.id == project_id)


def names(items, desk) -> list[str]:
    return sorted(desk_name(desk, i.project_id) for i in items)


def test_the_desk_is_what_the_table_says(desk):
    """Guard the fixture itself: the stages and balls the hand computation starts from."""
    from models import Project
    got = {p.external_id: (p.stage, p.ball_in_court) for p in Project.select()}
    assert got == {"P1": ("pto", "none"), "P2": ("ix_approval", "us"), "P3": ("ix_approval", "customer"),
                   "P4": ("pto", "none"), "P5": ("ix_approval", "utility"), "P6": ("ix_approval", "utility"),
                   "P7": ("intake", "us"), "P8": ("cancelled", "us"), "P9": ("ix_approval", "us"),
                   "P10": ("ix_approval", "us")}


def test_funnel_counts_projects_signed_in_the_period_by_stage(desk):
    # Signed 04-01..06-13: P2, P3, P5 (IX approval), P7 (intake), P8 (cancelled), and P4, which has no
    # contract date but came in on 04-10 (PTO). P1, P6, P9, P10 were signed before the period.
    funnel = metrics.funnel(period())
    counts = {s.stage: s.count for s in funnel.stages}
    assert funnel.total == 6
    assert counts == {"intake": 1, "design": 0, "permitting": 0, "ix_approval": 3, "install": 0, "inspection": 0,
                      "pto_requested": 0, "pto": 1, "on_hold": 0, "cancelled": 1}
    assert [s.stage for s in funnel.stages] == list(counts)  # stage order
    reached = {s.stage: s.reached for s in funnel.stages}
    # Reached = in this stage or further along the road (on hold and cancelled stand aside).
    assert reached == {"intake": 5, "design": 4, "permitting": 4, "ix_approval": 4, "install": 1, "inspection": 1,
                       "pto_requested": 1, "pto": 1, "on_hold": None, "cancelled": None}
    assert next(s for s in funnel.stages if s.stage == "pto").share == pytest.approx(1 / 6)
    assert names(metrics.drill("funnel", "ix_approval", period()).items, desk) == ["P2", "P3", "P5"]


def test_funnel_filtered_by_utility(desk):
    # SCE projects signed in the period: P4 (created 04-10), P5, P7.
    assert metrics.funnel(period(utility="SCE")).total == 3


def test_aging_buckets_open_projects_by_time_on_the_ball_side(desk):
    aging = metrics.aging(period(), TODAY)
    table = {r.ball: r.counts for r in aging.rows}
    # Buckets: 0-5, 6-10, 11-20, 21-40, over 40 business days.
    assert table == {
        "us": [1, 0, 0, 2, 1],        # P7 5 BD; P2 24 and P10 31; P9 51
        "customer": [0, 1, 0, 0, 0],  # P3 7 BD since the agreement went out
        "utility": [1, 0, 1, 0, 0],   # P6 5 BD; P5 14 BD: the mail acknowledgement did not restart the wait
        "ahj": [0, 0, 0, 0, 0],       # P6's permit waits on the AHJ, but the utility outranks it for P6
    }
    assert aging.total == 7 and aging.column_totals() == [2, 1, 1, 2, 1]
    utility = metrics.drill("aging", "utility:11-20", period(), TODAY)
    assert [(i.value, i.note.split(":")[0]) for i in utility.items] == [(14, "since 2025-05-27")]
    assert names(metrics.drill("aging", "us", period(), TODAY).items, desk) == ["P10", "P2", "P7", "P9"]
    with pytest.raises(KeyError):
        metrics.drill("aging", "nobody:0-5", period(), TODAY)


def test_turnaround_per_utility_with_nearest_rank_percentiles(desk):
    rows = {r.code: r for r in metrics.turnaround(period())}
    assert set(rows) == {"PGE", "SCE"}
    pge, sce = rows["PGE"], rows["SCE"]
    # PG&E Part 1 approvals in the period: P9 10 BD (submitted before the period, approved 04-03), P1 15,
    # P3 24 (approved by the agreement going out: its status event, not decided_on), P2 25.
    assert sorted(pge.part1.values) == [10, 15, 24, 25]
    # Nearest rank: the median is the 2nd of 4 (ceil(0.5 * 4)), 15, where an averaging median would say
    # 19.5; p90 is the 4th (ceil(0.9 * 4)), 25.
    assert (pge.part1.n, pge.part1.median, pge.part1.p90) == (4, 15, 25)
    # PG&E's catalog: completeness 10 + engineering 15 business days.
    assert pge.part1.sla.business_days == 25 and pge.part1.sla.met(pge.part1.p90) is True
    assert pge.part1.sla.explanation == "completeness 10 BD + engineering 15 BD"
    assert (pge.approved_to_pto.values, pge.part2.values) == ([29], [9])
    assert pge.approved_to_pto.sla is None
    assert pge.part2.sla.business_days == 30  # implementation
    # SCE: P4 approved after two deficiencies in 25 BD; no Part 1 SLA in the catalog.
    assert (sce.part1.n, sce.part1.median, sce.part1.p90, sce.part1.sla) == (1, 25, 25, None)
    assert (sce.approved_to_pto.values, sce.part2.values) == ([14], [6])
    assert sce.part2.sla.business_days == 10 and sce.part2.sla.met(6) is True  # pto_if_complete
    # Deficiency rate over Part 1 applications submitted in the period:
    # PG&E P1, P2, P3, P6 (P9 was submitted in March): only P2 went deficient -> 1 of 4.
    assert (len(pge.deficient), len(pge.submitted), pge.deficiency_rate) == (1, 4, 0.25)
    # SCE P4 (twice), P5, P10 (by a mail notice): 2 of 3; P4 counts once.
    assert (len(sce.deficient), len(sce.submitted)) == (2, 3)
    assert sce.deficiency_rate == pytest.approx(2 / 3)
    assert sorted((i.value for i in sce.deficient), reverse=True) == [2, 1]
    drilled = metrics.drill("part1", "PGE", period())
    assert names(drilled.items, desk) == ["P1", "P2", "P3", "P9"] and drilled.value_label == "Business days"
    assert [r.code for r in metrics.turnaround(period(utility="SCE"))] == ["SCE"]


def test_an_approval_outside_the_period_is_left_out(desk):
    # Only April: P9 (04-03) and P1 (04-22) at PG&E; P2 (05-12) and P3 (06-05) fall after.
    april = metrics.DashboardFilter(D(2025, 4, 1), D(2025, 4, 30))
    pge = next(r for r in metrics.turnaround(april) if r.code == "PGE")
    assert sorted(pge.part1.values) == [10, 15] and pge.approved_to_pto.n == 0


def test_breaches_open_now_per_utility_and_coordinator(desk):
    b = metrics.breaches(period(), TODAY)
    # P5's Part 1 was due 06-10 (4 BD late); P6's permit 04-15 (43 BD late). P10 is deficient: its date
    # is our response target, a day-page deficiency, not a utility breach.
    assert {r.key: (r.count, r.worst) for r in b.by_utility} == {"PGE": (1, 43), "SCE": (1, 4)}
    assert {r.label: (r.count, r.worst) for r in b.by_coordinator} == {"Maria Ortiz": (1, 4), "Unassigned": (1, 43)}
    assert b.total == 2
    assert names(metrics.drill("breaches_coordinator", "none", period(), TODAY).items, desk) == ["P6"]


def test_coordinator_load_and_throughput(desk, users):
    rows = {r.name: r for r in metrics.coordinators(period(), TODAY)}
    got = {name: (r.open_projects, r.open_applications, r.due_today, r.overdue, r.moves, r.ptos)
           for name, r in rows.items()}
    assert got == {
        # P2 P5 P7 P10 open; their open applications P2, P5, P10; day list: P5 breach + follow-up, P10's
        # deficiency, all late; moves: P1 6 + P2 5 + P5 1 + P10 1 = 13 (notices are nobody's); PTO: P1.
        "Maria Ortiz": (4, 3, 0, 3, 13, 1),
        # P3 P9 open; nothing on the day list; moves: P3 4 + P4 8 = 12 (P9's March submission is before
        # the period, its approval the lead's); PTO: P4.
        "James Chen": (2, 2, 0, 0, 12, 1),
        # The lead approved P9 and submitted P6's Part 1.
        "Lee Lead": (0, 0, 0, 0, 2, 0),
        # P6: its Part 1 follow-up is due today; the permit's breach and follow-up are late.
        "Unassigned": (1, 2, 1, 2, 0, 0),
    }
    assert [r.name for r in metrics.coordinators(period(), TODAY)][-1] == "Unassigned"
    james = metrics.coordinators(period(coordinator=str(users["james"].id)), TODAY)
    assert [(r.name, r.moves) for r in james] == [("James Chen", 12)]
    moves = metrics.drill("moves", str(users["maria"].id), period(), TODAY)
    by_name = {desk_name(desk, i.project_id): i.value for i in moves.items}
    assert by_name == {"P1": 6, "P2": 5, "P5": 1, "P10": 1}
    assert names(metrics.drill("overdue", "none", period(), TODAY).items, desk) == ["P6"]
    assert names(metrics.drill("open_projects", str(users["maria"].id), period(), TODAY).items, desk) == \
        ["P10", "P2", "P5", "P7"]


def test_percentile_is_nearest_rank():
    assert metrics.percentile([], 50) is None
    assert metrics.percentile([7], 90) == 7
    assert metrics.percentile([3, 1, 2], 50) == 2
    assert metrics.percentile(list(range(1, 11)), 90) == 9  # ceil(0.9 * 10) = 9th
    assert metrics.percentile(list(range(1, 12)), 90) == 10  # ceil(9.9) = 10th


def test_business_day_count_matches_the_calendar_module():
    from models import business_days as bd
    start = D(2024, 12, 20)
    for offset in range(0, 60, 3):
        for length in (-7, 0, 1, 5, 12, 40):
            a = start + dt.timedelta(days=offset)
            b = a + dt.timedelta(days=length)
            assert metrics.business_days_between(a, b) == bd.between(a, b)


def test_filter_parsing_presets_and_errors(db):
    today = D(2025, 5, 14)
    f, errors = metrics.DashboardFilter.from_args({}, today)
    assert not errors and (f.start, f.end) == (D(2025, 2, 14), today)  # last 90 days
    f, _ = metrics.DashboardFilter.from_args({"preset": "quarter", "from": "garbage"}, today)
    assert (f.start, f.end) == (D(2025, 4, 1), today)
    f, _ = metrics.DashboardFilter.from_args({"preset": "last-quarter"}, today)
    assert (f.start, f.end) == (D(2025, 1, 1), D(2025, 3, 31))
    _, errors = metrics.DashboardFilter.from_args({"from": "2025-13-01", "to": "2025-05-01"}, today)
    assert "YYYY-MM-DD" in errors["from"]
    _, errors = metrics.DashboardFilter.from_args({"from": "2025-05-01", "to": "2025-04-01"}, today)
    assert errors == {"to": "The end date is before the start date."}
    _, errors = metrics.DashboardFilter.from_args({"from": "2025-06-01"}, today)
    assert "after today" in errors["from"]
    _, errors = metrics.DashboardFilter.from_args({"from": "2019-01-01", "to": "2025-01-01"}, today)
    assert "three years" in errors["to"]
    f, errors = metrics.DashboardFilter.from_args({"utility": "nope", "coordinator": "9999"}, today)
    assert not errors and f.utility == "" and f.coordinator == ""
    assert metrics.DashboardFilter(D(2025, 4, 1), D(2025, 4, 1)).end_utc == day_start_utc(D(2025, 4, 2))


def _walked_since(kind, status, changed_on, filed_on, events, desk_day):
    """The aging walk as it was in Python: back through the status events while they stay on this side."""
    from models.applications import ball_in_court
    side = ball_in_court(kind, status)
    if not events:
        return changed_on or filed_on
    since = changed_on
    for i, (created, to, frm) in enumerate(reversed(events)):
        if not to or ball_in_court(kind, to) != side:
            return since
        since = (changed_on or desk_day(created)) if i == 0 else desk_day(created)
        if not frm or ball_in_court(kind, frm) != side:
            return since
    return min(d for d in (since, filed_on) if d is not None)


@pytest.mark.parametrize("seed", [3, 4])
def test_aging_side_since_in_sql_equals_the_walk_over_every_event(db, users, seed):
    import random
    from models.lifecycle import TERMINAL
    rng = random.Random(seed)
    for k in range(30):
        p = make_project(external_id=f"W{k}", coordinator=users["maria"])
        kind = rng.choice(["utility_part1", "utility_part2", "ahj_permit"])
        app = file_application(p, kind, "SUBMITTED", on=TODAY - dt.timedelta(days=60))
        day, status = TODAY - dt.timedelta(days=55), "SUBMITTED"
        statuses = ["SUBMITTED", "COMPLETENESS_REVIEW", "DEFICIENT", "RESUBMITTED", "TECHNICAL_REVIEW",
                    "AGREEMENT_SENT", "AGREEMENT_EXECUTED", "APPROVED_TO_INSTALL", "FEE_DUE"]
        for _ in range(rng.randint(0, 6)):
            to = rng.choice(statuses)
            data = {"from": rng.choice([status, status, status, None, ""]), "to": rng.choice([to, to, to, ""])}
            Event.create(project=p, application=app, kind="status", summary="moved", data=data,
                         created_at=day_start_utc(day) + dt.timedelta(hours=rng.choice([1, 20])))
            Application.update(status=to, status_changed_on=day).where(Application.id == app.id).execute()
            status, day = to, day + dt.timedelta(days=rng.randint(0, 9))
        if rng.random() < 0.3:  # an imported status, with no move recorded
            Application.update(status=rng.choice(["TECHNICAL_REVIEW", "DEFICIENT", "AGREEMENT_SENT"]),
                               status_changed_on=rng.choice([None, day])).where(Application.id == app.id).execute()
    desk_day = metrics._DeskDays()
    base = (metrics._open_project(), metrics.Project.ball_in_court.in_(metrics.SIDES))
    moves = metrics._side_moves(period(), base)
    for a in Application.select().where(Application.status.not_in(tuple(TERMINAL))):
        events = [(e.created_at, (e.data or {}).get("to"), (e.data or {}).get("from")) for e in
                  Event.select().where(Event.application == a.id, Event.kind == "status").order_by(Event.id)]
        filed_on = min(d for d in (a.submitted_on, desk_day(a.created_at)) if d is not None)
        if a.project.ball_in_court in metrics.SIDES and a.project.stage not in metrics.CLOSED_STAGES:
            assert metrics._side_since(a.status_changed_on, filed_on, moves.get(a.id), desk_day) == \
                _walked_since(a.kind, a.status, a.status_changed_on, filed_on, events, desk_day), a.id
