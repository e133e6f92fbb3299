"""Packet limits through the web: an oversized page is named at upload, a refused build is shown on its page."""
from __future__ import annotations

import io

import pytest

from models import ChecklistItem, Job
from models.applications import file_application
from tests import files
from tests.conftest import login
from tests.factories import make_project, wait_for_state
from tests.hostile_files import blank_png, blank_tiff

HX = {"HX-Request": "true"}


@pytest.fixture
def maria(client, users):
    return login(client, users["maria"])


def upload(client, project, item, name, data):
    return client.post(f"/projects/{project.id}/documents", data={"files": [(io.BytesIO(data), name)],
                       "item_id": str(item.id), "back": "documents"}, content_type="multipart/form-data", headers=HX)


def application_with(users, *named):
    p = make_project(coordinator=users["maria"])
    app = file_application(p, "utility_part1", "DRAFT")
    items = [ChecklistItem.create(project=p, application="utility_part1", doc_type=f"T{n}", label=f"Item {n + 1}",
                                  rule_id="r") for n in range(len(named))]
    return p, app, items


def build_job(client, app) -> Job:
    resp = client.post(f"/applications/{app.id}/packet", headers=HX)
    assert "HX-Redirect" in resp.headers, resp.get_data(as_text=True)[:300]
    return wait_for_state(Job, int(resp.headers["HX-Redirect"].rsplit("/", 1)[1]), ("done", "failed"), timeout=60)


def test_upload_names_the_page_over_the_limit(maria, users):
    p, app, (item,) = application_with(users, "plan.tif")
    plan = blank_tiff([(300, 200), (300, 200), (10000, 18000)] + [(300, 200)] * 147)
    body = upload(maria, p, item, "plan.tif", plan).get_data(as_text=True)
    assert "plan.tif is too large: page 3 is 180 megapixels; the limit is 50" in body
    page = maria.get(f"/projects/{p.id}/checklist").get_data(as_text=True)
    assert "plan.tif is too large: page 3 is 180 megapixels" in page


def test_a_refused_build_says_why_on_the_packet_page_and_the_timeline(maria, users, worker):
    p, app, items = application_with(users, "a", "b", "c")
    for item, pages in zip(items, (204, 204, 203)):
        upload(maria, p, item, f"{item.label}.pdf", files.pdf(item.label, pages=pages))
    job = build_job(maria, app)
    assert job.state == "failed" and job.message == "the packet would have 612 pages; the limit is 500"
    resp = maria.get(f"/packets/{job.id}")
    assert resp.status_code == 200
    assert "The packet was not built: the packet would have 612 pages; the limit is 500" in resp.get_data(as_text=True)
    project_page = maria.get(f"/projects/{p.id}").get_data(as_text=True)
    assert "Packet not built for Utility Part 1: the packet would have 612 pages" in project_page


def test_a_build_past_its_memory_limit_fails_the_job_and_the_worker_goes_on(maria, users, worker, monkeypatch):
    from models import packet_build
    p, app, (item,) = application_with(users, "photo")
    upload(maria, p, item, "photo.png", blank_png(7000, 7000, color=True))
    monkeypatch.setattr(packet_build, "LIMITS", packet_build.Limits(memory_mb=250))
    job = build_job(maria, app)
    assert job.state == "failed"
    assert job.message == "building the packet needed more than 250 MB of memory and was stopped"
    assert "needed more than 250 MB of memory" in maria.get(f"/packets/{job.id}").get_data(as_text=True)
    monkeypatch.setattr(packet_build, "LIMITS", packet_build.Limits())
    job = build_job(maria, app)
    assert job.state == "done" and job.result["pages"] == 2
