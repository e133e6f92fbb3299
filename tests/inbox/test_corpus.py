"""Real-world mail nobody on this project wrote (../shared/mail-corpus): every message ends in a defined state,
within a time bound, with no exception escaping and the raw bytes kept.

Each message runs twice: as it came (mostly unmatched), and addressed to a project's plus address so the
attach and notice steps run on it too. Each winmail.dat sample is wrapped as an Outlook attachment.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from inbox.intake import as_json, run_now
from inbox.pipeline import Intake
from inbox.store import store
from models import tokens
from models.inbound import FINAL, InboundMail
from tests import mails
from tests.factories import make_project

CORPUS = Path(os.environ.get("IXDESK_MAIL_CORPUS") or Path(__file__).resolve().parents[3] / "shared" / "mail-corpus")
MIME_FOLDERS = ("rt-emails", "cpython-test-email", "mail-parser")
TNEF_FOLDER = "tnefparse-winmail"
SECONDS_EACH = 10.0
INTAKE = Intake(own_addresses=(mails.DESK,), auth=mails.AUTH)

if not all((CORPUS / f).is_dir() for f in (*MIME_FOLDERS, TNEF_FOLDER)):
    pytest.skip(f"optional data: mail corpus not found at {CORPUS} (it lives beside the repo in ../shared/mail-corpus; "
                f"set IXDESK_MAIL_CORPUS to its path)", allow_module_level=True)


def _files() -> list:
    found = []
    for folder in MIME_FOLDERS:
        for path in sorted(p for p in (CORPUS / folder).rglob("*") if p.is_file()):
            found.append(pytest.param(path, "mime", id=str(path.relative_to(CORPUS))))
    for path in sorted((CORPUS / TNEF_FOLDER).glob("*.tnef")):
        found.append(pytest.param(path, "tnef", id=str(path.relative_to(CORPUS))))
    return found


FILES = _files()
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def slowest(request):
    """After the module: the slowest messages, shown on the terminal (not captured)."""
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter and capture and TIMINGS:
        top = sorted(TIMINGS.items(), key=lambda kv: -kv[1])[:5]
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(f"mail corpus: {len(TIMINGS)} runs, {sum(TIMINGS.values()):.1f} s; slowest: " +
                                ", ".join(f"{name} {seconds:.2f} s" for name, seconds in top))


def _raw(path: Path, kind: str) -> bytes:
    data = path.read_bytes()
    if kind == "tnef":
        return mails.with_winmail("pat@outlook.example", f"Outlook files: {path.name}", "See attached.", data)
    return data


def _check(raw: bytes, label: str) -> dict:
    stored = store(raw, "cli").mail
    started = time.perf_counter()
    try:
        mail = run_now(stored, INTAKE)
    except Exception as exc:  # the pipeline promises never to raise for a bad mail
        pytest.fail(f"{label}: an exception escaped the pipeline: {exc!r}; "
                    f"the mail is left {InboundMail.get_by_id(stored.id).state!r}")
    elapsed = time.perf_counter() - started
    TIMINGS[label] = elapsed
    out = as_json(mail)
    assert out["state"] in FINAL, out
    assert mail.raw() == raw, "the stored copy differs from what came in"
    assert not mail.reason.startswith("processing failed"), f"a pipeline step raised: {mail.reason}"
    if out["state"] == "quarantined":
        assert mail.reason, "set aside without saying why"
    assert elapsed < SECONDS_EACH, f"{label} took {elapsed:.1f} s"
    return out


@pytest.mark.parametrize("path, kind", FILES)
def test_every_corpus_message_ends_in_a_defined_state(db, path, kind):
    _check(_raw(path, kind), f"{path.name}")


@pytest.mark.parametrize("path, kind", FILES)
def test_every_corpus_message_for_a_project_runs_every_step(db, path, kind):
    p = make_project(refs={"utility_part1": ("SUBMITTED", "PGE-INT-300123456")})
    raw = f"Delivered-To: {tokens.plus_address(mails.DESK, p.id)}\r\n".encode() + _raw(path, kind)
    out = _check(raw, f"{path.name} (for a project)")
    if out["state"] not in ("quarantined", "duplicate") and out["kind"] != "bounce":
        assert out["project"] == p.external_id, out
    if kind == "tnef" and out["documents"]:
        assert "winmail.dat" not in out["documents"]


def test_the_corpus_is_all_there():
    """The corpus README promises these folders; a partial copy would silently test less."""
    assert len(FILES) >= 110, len(FILES)
