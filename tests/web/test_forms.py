"""Prefill through the web: an admin uploads and maps a form; a coordinator generates it for a project."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import catalog
from app import create_app
from models import Document
from tests.conftest import login, overrides
from tests.factories import make_project


def test_admin_uploads_maps_and_a_coordinator_generates(db, users, tmp_path):
    root = tmp_path / "catalog"
    shutil.copytree(Path(catalog.__file__).parent / "data", root / "data")
    app = create_app(overrides(catalog_dir=root, installer={"name": "Sunrise Solar"}))
    admin = app.test_client()
    login(admin, users["admin"])
    pdf = (root / "data" / "forms" / "SAMPLE_IX_APP.pdf").read_bytes()
    resp = admin.post("/forms", data={"code": "ACME_APP", "name": "Acme application", "number": "A-1",
                                      "version": "2026", "doc_type": "INTERCONNECTION_APPLICATION",
                                      "pdf": (io.BytesIO(pdf), "acme.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 303 and resp.headers["Location"] == "/forms/ACME_APP"
    page = admin.get("/forms/ACME_APP").get_data(as_text=True)
    assert "CustomerSignature" in page and "Customer name" in page
    bad = admin.post("/forms/ACME_APP", data={"map.CustomerName": "customer_name", "map.CustomerSignature": "__blank__"})
    assert bad.status_code == 422 and "CustomerSignature: say why it is left blank" in bad.get_data(as_text=True)
    admin.post("/forms/ACME_APP", data={"map.CustomerName": "customer_name", "map.InstallerName": "installer_name",
                                        "map.CustomerSignature": "__blank__", "blank.CustomerSignature": "customer signs"})
    coordinator = app.test_client()
    login(coordinator, users["maria"])
    assert coordinator.post("/forms", data={"code": "X"}).status_code == 403
    p = make_project(coordinator=users["maria"], customer_name="Noah Regan")
    resp = coordinator.post(f"/projects/{p.id}/prefill", data={"code": "ACME_APP"})
    assert resp.status_code == 303
    page = coordinator.get(resp.headers["Location"]).get_data(as_text=True)
    assert "generated" in page and "ServiceAddress (not mapped)" in page
    doc = Document.get(Document.kind == "prefilled_form")
    assert doc.data()[:5] == b"%PDF-"


def test_upload_of_a_flat_pdf_is_refused(db, users, tmp_path):
    from tests import files
    root = tmp_path / "catalog"
    shutil.copytree(Path(catalog.__file__).parent / "data", root / "data")
    admin = create_app(overrides(catalog_dir=root)).test_client()
    login(admin, users["admin"])
    resp = admin.post("/forms", data={"code": "FLAT", "name": "Flat", "pdf": (io.BytesIO(files.pdf()), "f.pdf")},
                      content_type="multipart/form-data")
    assert resp.status_code == 422 and "no fillable fields" in resp.get_data(as_text=True)
