"""CSV import through the web: upload, dry-run job with progress, per-row errors, apply."""
from __future__ import annotations

import io
import time

import pytest

from models import Job, Project
from models.project_import import COLUMNS
from tests.conftest import login

HEADER = ",".join(COLUMNS)
GOOD = "3763MORR,Olivia Morrison,olivia@example.net,,,Oakland,CA,94610,PG&E,,pv,7.6,6.0,,,,,,"
BAD = "9999NOPE,Bad Row,,,,,,,Acme Power,,pv,,,,,,,,"


def wait_for(job_id: int, timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.get_by_id(job_id)
        if job.finished:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {Job.get_by_id(job_id).state}")


@pytest.fixture
def lead(client, users, worker):
    return login(client, users["lead"])


def upload(client, text: str, name="projects.csv"):
    return client.post("/imports", data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def test_upload_dry_run_then_apply(lead):
    resp = upload(lead, f"{HEADER}\n{GOOD}\n{BAD}\n")
    assert resp.status_code == 303
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    job = wait_for(job_id)
    assert job.state == "done" and job.result["created"] == 1 and Project.select().count() == 0
    page = lead.get(f"/imports/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in page  # finished: the widget stops polling
    assert "<td>3</td><td>9999NOPE</td>" in page and "unknown utility" in page
    assert "Apply import (skip 1 bad row)" in page
    resp = lead.post(f"/imports/{job_id}/apply")
    applied = wait_for(int(resp.headers["Location"].rsplit("/", 1)[1]))
    assert applied.result["created"] == 1 and applied.result["dry_run"] is False
    assert [p.external_id for p in Project.select()] == ["3763MORR"]
    assert lead.post(f"/imports/{applied.id}/apply").status_code == 409


def test_progress_widget_polls_while_running(lead, users):
    job = Job.create(kind="import", state="running", total=1000, done=250, message="250 of 1000 rows",
                     params={"path": "/nonexistent", "dry_run": True, "filename": "big.csv"}, created_by=users["lead"])
    frag = lead.get(f"/imports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="load delay:500ms"' in frag and 'value="25"' in frag and "250 of 1000 rows" in frag


@pytest.mark.parametrize("data, message", [
    (b"", "Choose a CSV file to upload."),
    (b"name,email\nx,y\n", "lacks required column(s): external_id, customer_name, utility"),
    (HEADER.encode() + b"\n", "The file has a header but no rows."),
    (b"%PDF-1.4\x00\x00", "it contains binary data"),
])
def test_bad_files_are_refused_with_a_reason(lead, data, message):
    resp = lead.post("/imports", data={"file": (io.BytesIO(data), "x.csv")}, content_type="multipart/form-data")
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert Job.select().count() == 0


def test_actor_runs_a_job_once_even_if_delivered_twice(lead, users, tmp_path):
    from workers.actors import import_projects
    path = tmp_path / "p.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n")
    job = Job.create(kind="import", params={"path": str(path), "dry_run": False, "filename": "p.csv"})
    import_projects.send(job.id)
    import_projects.send(job.id)
    assert wait_for(job.id).result["created"] == 1
    time.sleep(0.3)
    assert Project.select().count() == 1 and Job.get_by_id(job.id).result["created"] == 1


def test_apply_records_the_lead_and_runs_once(lead, users):
    from models import Event
    resp = upload(lead, f"{HEADER}\n{GOOD}\n")
    dry = wait_for(int(resp.headers["Location"].rsplit("/", 1)[1]))
    first = lead.post(f"/imports/{dry.id}/apply")
    second = lead.post(f"/imports/{dry.id}/apply")
    assert first.headers["Location"] == second.headers["Location"]
    wait_for(int(first.headers["Location"].rsplit("/", 1)[1]))
    assert Job.select().where(Job.params["dry_run"] == False).count() == 1  # noqa: E712
    event = Event.get(Event.kind == "import")
    assert event.actor_id == users["lead"].id


def test_abandoned_running_jobs_are_failed_by_the_sweeper(db, users):
    import datetime as dt
    from models.base import utcnow
    from workers.sweeper import requeue_stale
    job = Job.create(kind="import", state="running", started_at=utcnow() - dt.timedelta(hours=2),
                     params={"path": "/x", "dry_run": True, "filename": "x.csv"})
    requeue_stale()
    job = Job.get_by_id(job.id)
    assert job.state == "failed" and "stopped" in job.message
