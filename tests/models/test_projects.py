"""Project rules: changes recorded on the timeline, notes, flags, roll-ups, permissions."""
from __future__ import annotations

import pytest

from models import Application, Event, Project
from models.applications import ball_in_court
from tests.factories import make_project


def test_apply_changes_records_one_event_with_old_and_new(db, users):
    p = make_project(customer_name="Ana", city="Oakland")
    changes = p.apply_changes({"customer_name": "Ana Morris", "city": "Oakland"}, users["maria"], why="typo")
    assert changes == {"customer_name": ("Ana", "Ana Morris")}
    event = Event.get(Event.project == p, Event.kind == "change")
    assert event.actor_id == users["maria"].id and event.body == "typo"
    assert event.data == {"customer_name": ["Ana", "Ana Morris"]}
    assert "ana morris" in Project.get_by_id(p.id).search_text
    assert p.apply_changes({"city": "Oakland"}, users["maria"]) == {}
    assert Event.select().where(Event.kind == "change").count() == 1


def test_notes_and_flags(db, users):
    p = make_project()
    with pytest.raises(ValueError, match="cannot be empty"):
        p.add_note("   ", users["maria"])
    p.add_note("Called utility, 3 more days", users["maria"])
    with pytest.raises(ValueError, match="say why"):
        p.flag("", users["maria"])
    p.flag("No answer from SCE in 3 weeks", users["maria"])
    p = Project.get_by_id(p.id)
    assert p.needs_attention and p.flagged_by_id == users["maria"].id
    assert [x.id for x in Project.flagged()] == [p.id]
    p.unflag(users["lead"], "escalated to utility rep")
    p = Project.get_by_id(p.id)
    assert not p.needs_attention and p.flagged_at is None
    kinds = [e.kind for e in Event.timeline(p)]
    assert kinds == ["unflag", "flag", "note"]


def test_ball_in_court_rolls_up_from_applications(db, users):
    assert ball_in_court("utility_part1", "SUBMITTED") == "utility"
    assert ball_in_court("ahj_permit", "SUBMITTED") == "ahj"
    assert ball_in_court("utility_part1", "AGREEMENT_SENT") == "customer"
    assert ball_in_court("utility_part1", "DEFICIENT") == "us"
    assert ball_in_court("utility_part2", "PTO_GRANTED") is None
    p = make_project(refs={"utility_part1": ("SUBMITTED", "R1"), "ahj_permit": ("SUBMITTED", "B1")})
    assert p.ball_in_court == "utility"
    Application.update(status="DEFICIENT").where(Application.kind == "ahj_permit").execute()
    p.refresh_rollups()
    assert p.ball_in_court == "us" and p.needs_attention
    Application.update(status="PTO_GRANTED").execute()
    p.refresh_rollups()
    assert p.ball_in_court == "none" and not p.needs_attention


def test_coordinators_edit_their_own_and_unassigned_projects(db, users):
    mine = make_project(coordinator=users["maria"])
    theirs = make_project(coordinator=users["james"])
    nobody = make_project()
    assert mine.can_edit(users["maria"]) and nobody.can_edit(users["maria"])
    assert not theirs.can_edit(users["maria"])
    assert theirs.can_edit(users["lead"]) and theirs.can_edit(users["admin"])


def test_part1_approval_no_longer_counts_once_part2_is_filed(db, users):
    p = make_project(refs={"utility_part1": ("APPROVED_TO_INSTALL", "R1"), "utility_part2": ("METER_ORDERED", "R2")})
    assert p.ball_in_court == "utility"


def test_blank_to_blank_is_no_change(db, users):
    from models import Event
    from tests.factories import make_project
    p = make_project(program=None, utility_account=None)
    assert p.apply_changes({"program": "", "utility_account": ""}, users["maria"]) == {}
    assert not Event.select().where(Event.project == p, Event.kind == "change").exists()
