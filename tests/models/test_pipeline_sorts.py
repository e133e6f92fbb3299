"""Sorts by utility, AHJ and coordinator give the order of their joined names, through every rename and reassignment."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from models import Ahj, Project, User, Utility, pipeline
from tests.factories import make_project


def F(**args):
    return pipeline.PipelineFilter.from_args(MultiDict(args))


def joined_order(sort: str, direction: str) -> list[int]:
    """The order the pipeline gave when it joined and sorted by the names themselves: name, then id; no name last."""
    name = {"utility": lambda p: p.utility.name, "ahj": lambda p: p.ahj.name if p.ahj_id else None,
            "coordinator": lambda p: p.coordinator.name if p.coordinator_id else None}[sort]
    projects = list(Project.select())
    named = sorted((p for p in projects if name(p) is not None), key=lambda p: (name(p), p.id),
                   reverse=direction == "desc")
    unnamed = sorted((p for p in projects if name(p) is None), key=lambda p: p.id, reverse=direction == "desc")
    return [p.id for p in named + unnamed]


def assert_sorted_like_joins():
    for sort in ("utility", "ahj", "coordinator"):
        for direction in ("asc", "desc"):
            assert [p.id for p in pipeline.rows_query(F(sort=sort, dir=direction))] == \
                joined_order(sort, direction), (sort, direction)


def test_name_sorts_follow_renames_reassignments_and_new_rows(db, users):
    fresno, kern = Ahj.named("City of Fresno", "CA"), Ahj.named("County of Kern", "CA")
    maria, james, lead = users["maria"], users["james"], users["lead"]
    for i, (utility, ahj, who) in enumerate([("PGE", fresno, maria), ("SCE", kern, james), ("SDGE", None, None),
                                             ("PGE", kern, maria), ("SCE", fresno, None), ("SDGE", fresno, james)]):
        make_project(utility=utility, ahj=ahj, coordinator=who, customer_name=f"Name {i}")
    assert_sorted_like_joins()
    User.update(name="Aaron Zed").where(User.id == james.id).execute()  # a person renamed
    Ahj.update(name="Aardvark County").where(Ahj.id == kern.id).execute()
    Utility.update(name="Zulu Power").where(Utility.code == "PGE").execute()
    assert_sorted_like_joins()
    p = Project.get(Project.customer_name == "Name 2")
    p.apply_changes({"coordinator": lead, "ahj": fresno, "utility": Utility.get(Utility.code == "PGE")}, lead)
    Project.update(coordinator=None, ahj=None).where(Project.customer_name == "Name 0").execute()
    Project.insert(external_id="RAW1", customer_name="Raw insert", utility=Utility.get(Utility.code == "SCE").id,
                   ahj=kern.id, coordinator=maria.id).execute()
    assert_sorted_like_joins()
    raw = Project.get(Project.external_id == "RAW1")
    assert (raw.sort_utility, raw.sort_ahj, raw.sort_coordinator) == (
        Utility.get(Utility.code == "SCE").name, "Aardvark County", maria.name)
