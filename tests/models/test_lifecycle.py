"""The application state machine: every allowed and every refused move, notices, reasons, side effects."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from models import Application, ChecklistItem, Event, Project, lifecycle
from models.lifecycle import TransitionError
from tests.factories import make_project

# What a person may do next from each status (besides WITHDRAWN and CANCELLED from every open status).
EXPECTED = {
    "utility_part1": {
        "DRAFT": ["SUBMITTED"],
        "SUBMITTED": ["AGREEMENT_SENT", "APPROVED_TO_INSTALL", "COMPLETENESS_REVIEW", "DEFICIENT", "FEE_DUE",
                      "TECHNICAL_REVIEW"],
        "COMPLETENESS_REVIEW": ["APPROVED_TO_INSTALL", "DEFICIENT", "FEE_DUE", "TECHNICAL_REVIEW"],
        "TECHNICAL_REVIEW": ["AGREEMENT_SENT", "APPROVED_TO_INSTALL", "DEFICIENT", "SUPPLEMENTAL_STUDY"],
        "APPROVED_TO_INSTALL": ["AGREEMENT_SENT", "EXPIRED"],
        "AGREEMENT_SENT": ["AGREEMENT_EXECUTED", "DEFICIENT"],
        "AGREEMENT_EXECUTED": ["EXPIRED"],
        "FEE_DUE": ["COMPLETENESS_REVIEW", "DEFICIENT", "SUBMITTED", "TECHNICAL_REVIEW"],
        "DEFICIENT": ["RESUBMITTED"],
        "RESUBMITTED": ["AGREEMENT_SENT", "APPROVED_TO_INSTALL", "COMPLETENESS_REVIEW", "DEFICIENT",
                        "TECHNICAL_REVIEW"],
        "SUPPLEMENTAL_STUDY": ["AGREEMENT_SENT", "APPROVED_TO_INSTALL", "DEFICIENT"],
        "EXPIRED": [], "WITHDRAWN": [], "CANCELLED": [],
    },
    "utility_part2": {
        "DRAFT": ["AWAITING_COMPLETION_DOCS", "COMPLETION_SUBMITTED", "SUBMITTED"],
        "AWAITING_COMPLETION_DOCS": ["COMPLETION_SUBMITTED"],
        "COMPLETION_SUBMITTED": ["AGREEMENT_SENT", "DEFICIENT", "FEE_DUE", "INSPECTION_SCHEDULED", "METER_ORDERED",
                                 "PTO_GRANTED"],
        "AGREEMENT_SENT": ["AGREEMENT_EXECUTED", "DEFICIENT"],
        "AGREEMENT_EXECUTED": ["INSPECTION_SCHEDULED", "METER_ORDERED", "PTO_GRANTED"],
        "INSPECTION_SCHEDULED": ["INSPECTION_FAILED", "METER_ORDERED", "PTO_GRANTED"],
        "METER_ORDERED": ["METER_INSTALLED", "PTO_GRANTED"],
        "METER_INSTALLED": ["PTO_GRANTED"],
        "SUBMITTED": ["AGREEMENT_SENT", "DEFICIENT", "FEE_DUE", "INSPECTION_SCHEDULED", "METER_ORDERED",
                      "PTO_GRANTED"],
        "FEE_DUE": ["COMPLETION_SUBMITTED", "DEFICIENT", "SUBMITTED"],
        "DEFICIENT": ["RESUBMITTED"],
        "RESUBMITTED": ["AGREEMENT_SENT", "DEFICIENT", "INSPECTION_SCHEDULED", "METER_ORDERED", "PTO_GRANTED"],
        "INSPECTION_FAILED": ["INSPECTION_SCHEDULED", "RESUBMITTED"],
        "PTO_GRANTED": [], "WITHDRAWN": [], "CANCELLED": [],
    },
    "ahj_permit": {
        "DRAFT": ["SUBMITTED"],
        "SUBMITTED": ["APPROVED_TO_INSTALL", "DEFICIENT", "FEE_DUE", "TECHNICAL_REVIEW"],
        "TECHNICAL_REVIEW": ["APPROVED_TO_INSTALL", "DEFICIENT"],
        "APPROVED_TO_INSTALL": ["EXPIRED", "INSPECTION_SCHEDULED", "PTO_GRANTED"],
        "INSPECTION_SCHEDULED": ["INSPECTION_FAILED", "PTO_GRANTED"],
        "FEE_DUE": ["DEFICIENT", "SUBMITTED", "TECHNICAL_REVIEW"],
        "DEFICIENT": ["RESUBMITTED"],
        "RESUBMITTED": ["APPROVED_TO_INSTALL", "DEFICIENT", "INSPECTION_SCHEDULED", "PTO_GRANTED", "TECHNICAL_REVIEW"],
        "INSPECTION_FAILED": ["INSPECTION_SCHEDULED", "RESUBMITTED"],
        "PTO_GRANTED": [], "EXPIRED": [], "WITHDRAWN": [], "CANCELLED": [],
    },
    "incentive": {
        "DRAFT": ["COMPLETION_SUBMITTED", "SUBMITTED"],
        "SUBMITTED": ["APPROVED_TO_INSTALL", "COMPLETENESS_REVIEW", "DEFICIENT"],
        "COMPLETENESS_REVIEW": ["APPROVED_TO_INSTALL", "DEFICIENT"],
        "APPROVED_TO_INSTALL": ["COMPLETION_SUBMITTED", "EXPIRED", "PTO_GRANTED"],
        "COMPLETION_SUBMITTED": ["DEFICIENT", "PTO_GRANTED"],
        "DEFICIENT": ["RESUBMITTED"],
        "RESUBMITTED": ["APPROVED_TO_INSTALL", "COMPLETENESS_REVIEW", "DEFICIENT", "PTO_GRANTED"],
        "PTO_GRANTED": [], "EXPIRED": [], "WITHDRAWN": [], "CANCELLED": [],
    },
}


def expected_moves(kind, frm):
    moves = set(EXPECTED[kind][frm])
    return moves | {"WITHDRAWN", "CANCELLED"} if frm not in lifecycle.TERMINAL else moves


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_allowed_and_every_refused_person_move(kind):
    assert set(EXPECTED[kind]) == set(lifecycle.statuses(kind))
    accepted = refused = 0
    for frm, to in itertools.product(lifecycle.statuses(kind), repeat=2):
        if frm == to:
            continue
        if to in expected_moves(kind, frm):
            assert lifecycle.check(kind, frm, to).to == to
            accepted += 1
        else:
            with pytest.raises(TransitionError) as err:
                lifecycle.check(kind, frm, to)
            assert "allowed next" in str(err.value) or "reopen" in str(err.value)
            refused += 1
    assert accepted and refused


def test_refusal_says_what_is_allowed():
    with pytest.raises(TransitionError) as err:
        lifecycle.check("utility_part1", "DEFICIENT", "APPROVED_TO_INSTALL")
    assert str(err.value) == ("cannot go from DEFICIENT to APPROVED_TO_INSTALL; "
                              "allowed next: RESUBMITTED, WITHDRAWN, CANCELLED")
    with pytest.raises(TransitionError, match="not a status of a ahj permit"):
        lifecycle.check("ahj_permit", "SUBMITTED", "METER_ORDERED")


def test_a_notice_jumps_forward_recording_skipped_steps_but_never_back():
    move = lifecycle.check("utility_part2", "DEFICIENT", "PTO_GRANTED", by_notice=True)
    assert move.skipped[0] == "RESUBMITTED" and move.skipped[-1] == "METER_INSTALLED"
    with pytest.raises(TransitionError, match="cannot move an application backwards"):
        lifecycle.check("utility_part1", "APPROVED_TO_INSTALL", "SUBMITTED", by_notice=True)
    with pytest.raises(TransitionError, match="a person must reopen it"):
        lifecycle.check("utility_part1", "WITHDRAWN", "APPROVED_TO_INSTALL", by_notice=True)


def test_actions_map_to_statuses_per_kind():
    assert lifecycle.target("submit", "utility_part2") == "COMPLETION_SUBMITTED"
    assert lifecycle.target("submit", "utility_part1") == "SUBMITTED"
    assert lifecycle.target("pto", "utility_part2") == "PTO_GRANTED"
    with pytest.raises(TransitionError, match="does not apply"):
        lifecycle.target("pto", "utility_part1")


def app_for(project, kind="utility_part1", status="DRAFT"):
    from models.applications import file_application
    return file_application(project, kind, status)


def test_transition_writes_the_timeline_and_runs_the_clocks(db, users):
    p = make_project(utility="PGE", coordinator=users["maria"], stage="intake")
    app = app_for(p)
    app.transition("SUBMITTED", users["maria"], reference="PGE-INT-1", sent="A&A, SLD, spec sheets",
                   on=dt.date(2026, 11, 2))
    app = Application.get_by_id(app.id)
    assert (app.status, app.reference_number, app.submitted_on) == ("SUBMITTED", "PGE-INT-1", dt.date(2026, 11, 2))
    assert app.sent_summary == "A&A, SLD, spec sheets"
    # PG&E completeness review: 10 business days; Veterans Day (11-11) is a federal holiday
    assert (app.due_step, app.due_on) == ("completeness", dt.date(2026, 11, 17))
    assert app.next_follow_up_on == dt.date(2026, 11, 9)
    event = Event.get(Event.kind == "status")
    assert event.summary == "Utility Part 1: Draft -> Submitted" and event.actor_id == users["maria"].id
    assert event.data["from"] == "DRAFT" and event.data["sent"] == "A&A, SLD, spec sheets"
    project = Project.get_by_id(p.id)
    assert project.stage == "ix_approval" and project.ball_in_court == "utility"


def test_deficiency_items_become_checklist_items_and_ball_comes_back(db, users):
    p = make_project(coordinator=users["maria"])
    app = app_for(p, status="SUBMITTED")
    with pytest.raises(TransitionError, match="list what the utility found deficient"):
        app.transition("DEFICIENT", users["maria"])
    app.transition("DEFICIENT", users["maria"], deficiencies=["SLD missing AC disconnect", "", "Bill name mismatch"])
    items = [i.label for i in ChecklistItem.select().where(ChecklistItem.doc_type == "CORRECTION")]
    assert items == ["SLD missing AC disconnect", "Bill name mismatch"]
    assert Project.get_by_id(p.id).ball_in_court == "us" and Project.get_by_id(p.id).needs_attention
    assert Application.get_by_id(app.id).due_step == "deficiency_response"


def test_notice_from_the_utility_skips_forward_and_says_so(db, users):
    p = make_project(coordinator=users["maria"], stage="pto_requested")
    app = app_for(p, kind="utility_part2", status="DEFICIENT")
    with pytest.raises(TransitionError):
        app.transition("PTO_GRANTED", users["maria"])
    app.transition("PTO_GRANTED", None, "PTO letter received", by_notice=True, actor_label="mail",
                   cause={"message_id": "<pto-123@pge.example>"})
    event = Event.get(Event.kind == "status")
    assert event.actor_label == "mail" and event.data["skipped"][0] == "RESUBMITTED"
    assert event.data["cause"] == {"message_id": "<pto-123@pge.example>"} and "skipped, not seen here" in event.summary
    assert Project.get_by_id(p.id).stage == "pto"


def test_backward_moves_and_endings_need_a_reason_and_reopen_restores(db, users):
    p = make_project(coordinator=users["maria"])
    app = app_for(p, status="FEE_DUE")
    with pytest.raises(TransitionError, match="say why the application goes back"):
        app.transition("SUBMITTED", users["maria"])
    app.transition("SUBMITTED", users["maria"], "fee paid by card")
    with pytest.raises(TransitionError, match="say why"):
        app.transition("WITHDRAWN", users["maria"])
    app.transition("WITHDRAWN", users["maria"], "customer cancelled the contract")
    with pytest.raises(TransitionError, match="say why the application is reopened"):
        app.reopen(users["maria"], "")
    app.reopen(users["lead"], "customer changed their mind")
    assert Application.get_by_id(app.id).status == "SUBMITTED"


def test_stage_only_advances(db, users):
    p = make_project(stage="inspection")
    app_for(p, status="DRAFT").transition("SUBMITTED", users["lead"])
    assert Project.get_by_id(p.id).stage == "inspection"  # ix_approval is behind inspection: no move back


def test_interruptions_are_not_steps_back_and_items_only_go_with_deficient(db, users):
    p = make_project(coordinator=users["maria"])
    app = app_for(p, status="SUBMITTED")
    app.transition("COMPLETENESS_REVIEW", users["maria"])
    app.transition("DEFICIENT", users["maria"], deficiencies=["SLD missing"])  # no "why" needed
    app = app_for(make_project(), status="SUBMITTED")
    with pytest.raises(TransitionError, match="deficiency items go with a move to Deficient"):
        app.transition("APPROVED_TO_INSTALL", users["maria"], deficiencies=["leftover text"])
    assert not ChecklistItem.select().where(ChecklistItem.label == "leftover text").exists()


def test_a_notice_after_a_deficiency_skips_only_what_was_not_seen(db, users):
    p = make_project(coordinator=users["maria"])
    app = app_for(p, status="SUBMITTED")
    app.transition("TECHNICAL_REVIEW", users["maria"])
    app.transition("DEFICIENT", users["maria"], deficiencies=["Need three-line diagram"])
    app.transition("APPROVED_TO_INSTALL", None, by_notice=True, actor_label="mail")
    event = Event.select().where(Event.kind == "status").order_by(Event.id.desc()).get()
    assert event.data["skipped"] == ["RESUBMITTED"]


def test_a_second_tab_cannot_overwrite_a_newer_status(db, users):
    p = make_project(coordinator=users["maria"])
    tab1 = app_for(p, status="SUBMITTED")
    tab2 = Application.get_by_id(tab1.id)
    tab1.transition("APPROVED_TO_INSTALL", users["maria"])
    with pytest.raises(TransitionError, match="someone else just moved this application to Approved to install"):
        tab2.transition("COMPLETENESS_REVIEW", users["james"])
    assert Application.get_by_id(tab1.id).status == "APPROVED_TO_INSTALL"


def test_reopening_a_cancelled_project_brings_its_stage_back(db, users):
    p = make_project(coordinator=users["maria"], stage="ix_approval")
    app = app_for(p, status="SUBMITTED")
    app.transition("CANCELLED", users["maria"], "customer walked away")
    assert Project.get_by_id(p.id).stage == "cancelled"
    Application.get_by_id(app.id).reopen(users["lead"], "customer came back")
    assert Project.get_by_id(p.id).stage == "ix_approval"


def test_ball_after_part1_is_done_and_while_the_meter_is_in(db, users):
    from models.applications import ball_in_court
    assert ball_in_court("utility_part1", "AGREEMENT_EXECUTED") == "us"
    assert ball_in_court("utility_part2", "AGREEMENT_EXECUTED") == "utility"
    assert ball_in_court("utility_part2", "METER_INSTALLED") == "utility"  # the PTO letter is theirs to send
    p = make_project(refs={"utility_part1": ("TECHNICAL_REVIEW", "R1"), "utility_part2": ("DRAFT", None)})
    assert p.ball_in_court == "utility"  # a Part 2 draft does not retire Part 1
