"""Plain functions that make rows for tests."""
from __future__ import annotations

import itertools

from models import Ahj, Application, Project, User, Utility

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def make_user(email: str, name: str, role: str = "coordinator") -> User:
    return User.register(email, name, role, PASSWORD)


def make_project(**fields) -> Project:
    n = next(_seq)
    utility = fields.pop("utility", "PGE")
    if isinstance(utility, str):
        utility = Utility.get(Utility.code == utility)
    ahj = fields.pop("ahj", None)
    if isinstance(ahj, str):
        ahj = Ahj.named(ahj, fields.get("state", "CA"))
    refs = fields.pop("refs", {})
    values = dict(external_id=f"P{n:05d}", customer_name=f"Customer {n}", customer_email=f"c{n}@example.net",
                  customer_phone="+14155550100", street=f"{n} Main St", city="Oakland", state="CA", zip="94610",
                  utility=utility, ahj=ahj, product_type="pv", pv_kw_dc=7.2, pv_kw_ac=6.0)
    values.update(fields)
    project = Project.create(**values)
    for kind, (status, ref) in refs.items():
        Application.create(project=project, kind=kind, status=status, reference_number=ref)
    project.refresh_rollups()
    project.save()
    return project


def wait_for_state(model, row_id: int, states, timeout: float = 20.0):
    """The row once a worker has moved it into one of `states` (fails after `timeout` seconds)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = model.get_by_id(row_id)
        if row.state in states:
            return row
        time.sleep(0.05)
    raise AssertionError(f"{model.__name__} {row_id} stuck in {model.get_by_id(row_id).state}")
