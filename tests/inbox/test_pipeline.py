"""The inbox pipeline end to end, as a coordinator sees it: what `flask inbox ingest --json` reports, and what
happened to the project (application statuses, checklist, documents, contacts, timeline)."""
from __future__ import annotations

import base64
import email

import pytest

from inbox.intake import as_json, run_now
from inbox.pipeline import Intake
from inbox.store import store
from models import Application, ChecklistItem, Document, Event, Project, checklists, tokens
from models.base import today
from models.catalog_ref import current
from models.inbound import InboundMail
from models.messages import Contact, OutboundMessage, contacts_for
from outbox import compose
from tests import files, mails
from tests.factories import make_project

DESK = mails.DESK
INTAKE = Intake(own_addresses=(DESK,), auth=mails.AUTH)


def run(raw: bytes, auth: str | None = "pass") -> tuple[InboundMail, dict]:
    """Store and process one mail as the CLI does; the mail row and its --json result.

    auth: the DMARC result the desk's receiving server records for the From domain (None: no results).
    """
    stored = store(mails.received(raw, auth) if auth else raw, "cli").mail
    try:
        mail = run_now(stored, INTAKE)
    except Exception as exc:  # the pipeline promises never to raise for a bad mail
        left = InboundMail.get_by_id(stored.id).state
        pytest.fail(f"an exception escaped the pipeline: {exc!r}; the mail is left {left!r}")
    return mail, as_json(mail)


def status(project, kind: str) -> str | None:
    app = Application.get_or_none((Application.project == project) & (Application.kind == kind))
    return app.status if app else None


def statuses(project) -> dict[str, str]:
    return {a.kind: a.status for a in Application.select().where(Application.project == project)}


def events(project, kind: str) -> list[Event]:
    return list(Event.select().where(Event.project == project, Event.kind == kind).order_by(Event.id))


def corrections(project) -> list[str]:
    return [i.label for i in ChecklistItem.select().where(ChecklistItem.project == project,
                                                          ChecklistItem.doc_type == "CORRECTION")
            .order_by(ChecklistItem.id)]


def fresh(project) -> Project:
    return Project.get_by_id(project.id)


def documents(project) -> list[Document]:
    return list(Document.select().where(Document.project == project).order_by(Document.id))


# --- utility notices, for every utility we recognise by its mail domain ---------------------------------------

def _utilities():
    out = []
    for code, u in sorted(current().utilities.items()):
        if not u.sender_domains:
            continue
        pattern = next((p for p in u.reference_patterns if p.example), None)
        # Utilities whose numbers we have no pattern for still label them ("Application ID: ...").
        ref = pattern.example if pattern else f"{code.replace('_', '')}-2026-00417"
        out.append(pytest.param(code, u.sender_domains[0], ref, u.states[0], id=code))
    return out


UTILITIES = _utilities()
DEFICIENCY_ITEMS = ["Single-line diagram does not show the AC disconnect",
                    "Customer authorization form is missing page 2",
                    "Inverter model is not on the CEC list"]
# notice -> (applications before: {kind: (status, carries the reference)}, subject, body, application, to)
NOTICES = {
    "deficiency": (
        {"utility_part1": ("SUBMITTED", True)},
        "Corrections required - Application {ref}",
        "We reviewed interconnection application {ref}.\n\nThe following items are deficient:\n\n"
        + "".join(f"- {item}\n" for item in DEFICIENCY_ITEMS)
        + "\nPlease upload corrected documents in the portal.\n",
        "utility_part1", "DEFICIENT"),
    "approval": (
        {"utility_part1": ("TECHNICAL_REVIEW", True)},
        "Approval to proceed - Application {ref}",
        "Interconnection application {ref} has received approval to proceed.\nYou may now install the system.\n",
        "utility_part1", "APPROVED_TO_INSTALL"),
    "pto_created": (
        {"utility_part1": ("AGREEMENT_EXECUTED", True)},
        "Permission to operate granted - Application {ref}",
        "Good news: the system on application {ref} has been granted permission to operate.\n",
        "utility_part2", "PTO_GRANTED"),
    "pto": (
        {"utility_part1": ("AGREEMENT_EXECUTED", True), "utility_part2": ("METER_INSTALLED", False)},
        "Permission to operate granted - Application {ref}",
        "Good news: the system on application {ref} has been granted permission to operate.\n",
        "utility_part2", "PTO_GRANTED"),
    "meter_ordered": (
        {"utility_part1": ("AGREEMENT_EXECUTED", True), "utility_part2": ("COMPLETION_SUBMITTED", False)},
        "Meter ordered - Application {ref}",
        "A bi-directional meter has been ordered for application {ref}.\n",
        "utility_part2", "METER_ORDERED"),
    "meter_installed": (
        {"utility_part1": ("AGREEMENT_EXECUTED", True), "utility_part2": ("METER_ORDERED", False)},
        "Meter installed - Application {ref}",
        "The new meter was installed today for application {ref}.\n",
        "utility_part2", "METER_INSTALLED"),
}


@pytest.mark.parametrize("notice", sorted(NOTICES))
@pytest.mark.parametrize("code, domain, ref, state", UTILITIES)
def test_a_utility_notice_moves_the_application_it_names(db, code, domain, ref, state, notice):
    before, subject, body, kind, to = NOTICES[notice]
    p = make_project(utility=code, state=state,
                     refs={k: (s, ref if carries else None) for k, (s, carries) in before.items()})
    other = make_project(utility=code, state=state, refs={"utility_part1": ("SUBMITTED", "OTHER-000001")})
    mail, out = run(mails.message(f"Interconnection Team <interconnection@{domain}>", subject.format(ref=ref),
                                  body.format(ref=ref)))

    if notice == "pto_created":
        # The desk never saw this application filed: a notice does not create it straight at PTO.
        assert out["state"] == "needs_review" and "first status" in out["reason"], out
        assert out["suggested_change"]["create"] and out["suggested_change"]["to"] == "PTO_GRANTED"
        assert status(p, "utility_part2") is None
        return
    assert out["state"] == "processed", out
    assert out["kind"] == "utility_notice" and out["project"] == p.external_id and out["matched_by"] == "reference"
    frm = None if kind not in before else before[kind][0]
    assert out["status_change"] == {"application": kind, "from": frm, "to": to}
    assert status(p, kind) == to
    assert statuses(other) == {"utility_part1": "SUBMITTED"}, "another project of the same utility moved"
    moves = [e for e in events(p, "status") if (e.data or {}).get("to") == to]
    assert len(moves) == 1 and moves[0].data["source"] == "notice"
    assert moves[0].data["cause"]["inbound_id"] == mail.id
    assert [e.summary for e in events(p, "email")] == [f"Utility notice from Interconnection Team: "
                                                       f"{subject.format(ref=ref)}"]
    if notice == "deficiency":
        assert corrections(p) == DEFICIENCY_ITEMS
        assert moves[0].data["deficiencies"] == DEFICIENCY_ITEMS
    else:
        assert corrections(p) == []
    if to == "PTO_GRANTED":
        assert fresh(p).stage == "pto"


# Where each utility phrase's status is reached from: {status: (application, {kind: status before})}.
FROM = {
    "SUBMITTED": ("utility_part1", {"utility_part1": "DRAFT"}),
    "TECHNICAL_REVIEW": ("utility_part1", {"utility_part1": "SUBMITTED"}),
    "DEFICIENT": ("utility_part1", {"utility_part1": "SUBMITTED"}),
    "APPROVED_TO_INSTALL": ("utility_part1", {"utility_part1": "TECHNICAL_REVIEW"}),
    "AGREEMENT_SENT": ("utility_part1", {"utility_part1": "APPROVED_TO_INSTALL"}),
    "METER_ORDERED": ("utility_part2", {"utility_part1": "AGREEMENT_EXECUTED",
                                        "utility_part2": "COMPLETION_SUBMITTED"}),
    "METER_INSTALLED": ("utility_part2", {"utility_part1": "AGREEMENT_EXECUTED", "utility_part2": "METER_ORDERED"}),
    "INSPECTION_FAILED": ("utility_part2", {"utility_part1": "AGREEMENT_EXECUTED",
                                            "utility_part2": "INSPECTION_SCHEDULED"}),
    "PTO_GRANTED": ("utility_part2", {"utility_part1": "AGREEMENT_EXECUTED", "utility_part2": "METER_INSTALLED"}),
}


def _own_phrases():
    refs = {p.values[0]: (p.values[1], p.values[2], p.values[3]) for p in UTILITIES}
    out = []
    for code, u in sorted(current().utilities.items()):
        if code in refs:
            out += [pytest.param(code, *refs[code], ph.phrase, ph.status, id=f"{code}-{ph.phrase}")
                    for ph in u.notice_phrases]
    return out


@pytest.mark.parametrize("code, domain, ref, state, phrase, to", _own_phrases())
def test_a_utilitys_own_wording_reaches_the_status_its_catalog_names(db, code, domain, ref, state, phrase, to):
    """Each [[notice_phrases]] entry says which status its wording means; a clear subject applies it."""
    kind, before = FROM[to]
    p = make_project(utility=code, state=state,
                     refs={k: (s, ref if k == "utility_part1" else None) for k, s in before.items()})
    _, out = run(mails.message(f"noreply@{domain}", f"{phrase.title()} - Application {ref}",
                               "Sign in to the portal for details.\n"))
    assert out["state"] == "processed", out
    assert out["status_change"] == {"application": kind, "from": before[kind], "to": to}
    assert status(p, kind) == to


def test_a_utility_approval_letter_is_not_the_ahj_final_sign_off(db):
    p = make_project(ahj="City of Oakland", refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    checklists.sync(p)
    _, out = run(mails.message("noreply@pge.com", "Approval to proceed - PGE-INT-300123456",
                               "Your application has approval to proceed. Your approval letter is attached.",
                               attachments=[("Approval Letter PGE-INT-300123456.pdf", files.pdf("Approval"),
                                             "application/pdf")]))
    assert out["status_change"]["to"] == "APPROVED_TO_INSTALL"
    assert out["documents"] == ["Approval Letter PGE-INT-300123456.pdf"]
    final = ChecklistItem.get(ChecklistItem.project == p, ChecklistItem.doc_type == "AHJ_FINAL")
    assert final.status == "missing", "a utility letter was filed as the city's final inspection sign-off"
    assert Document.get(Document.project == p).checklist_item_id != final.id


def test_the_letter_of_a_notice_is_filed_on_the_application_it_moved(db):
    p = make_project(refs={"utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300123456"),
                           "utility_part2": ("METER_INSTALLED", None)})
    _, out = run(mails.message("noreply@pge.com", "Permission to operate - Application PGE-INT-300123456",
                               "Your system has been granted permission to operate. Your PTO letter is attached.",
                               attachments=[("PTO Letter.pdf", files.pdf("Permission to Operate"),
                                             "application/pdf")]))
    assert out["status_change"]["to"] == "PTO_GRANTED" and out["documents"] == ["PTO Letter.pdf"]
    part2 = Application.get((Application.project == p) & (Application.kind == "utility_part2"))
    assert Document.get(Document.project == p).application_id == part2.id


def test_an_ahj_permit_notice_issues_the_permit(db):
    p = make_project(ahj="City of Oakland", refs={"ahj_permit": ("SUBMITTED", "B24-001234"),
                                          "utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    _, out = run(mails.message("Oakland Building Services <permits@oaklandca.gov>",
                               "Permit has been issued - Permit #B24-001234",
                               "Your building permit B24-001234 for a rooftop PV system has been issued.\n"
                               "Print the job card and keep it on site.\n",
                               attachments=[("Permit B24-001234.pdf", files.pdf("Building permit"),
                                             "application/pdf")]))
    assert out["state"] == "processed" and out["kind"] == "ahj_notice" and out["notice"] == "permit_issued"
    assert out["status_change"] == {"application": "ahj_permit", "from": "SUBMITTED", "to": "APPROVED_TO_INSTALL"}
    assert statuses(p) == {"ahj_permit": "APPROVED_TO_INSTALL", "utility_part1": "TECHNICAL_REVIEW"}
    assert out["documents"] == ["Permit B24-001234.pdf"]
    doc = Document.get(Document.project == p)
    assert doc.source == "email" and doc.application.kind == "ahj_permit"


def test_an_ahj_failed_inspection_is_recorded(db):
    p = make_project(ahj="City of Oakland", refs={"ahj_permit": ("INSPECTION_SCHEDULED", "B24-001234")})
    _, out = run(mails.message("inspections@oaklandca.gov", "Inspection failed: Permit #B24-001234",
                               "Final inspection for permit B24-001234: FAILED.\n\n"
                               "- Rapid shutdown placard missing at the service panel\n"))
    assert out["notice"] == "inspection_failed" and out["state"] == "processed"
    assert out["status_change"] == {"application": "ahj_permit", "from": "INSPECTION_SCHEDULED",
                                    "to": "INSPECTION_FAILED"}
    assert status(p, "ahj_permit") == "INSPECTION_FAILED"
    assert fresh(p).needs_attention


def test_an_ahj_correction_notice_is_a_deficiency_not_an_issued_permit(db):
    p = make_project(ahj="City of Oakland", refs={"ahj_permit": ("TECHNICAL_REVIEW", "B24-001234")})
    _, out = run(mails.message("permits@oaklandca.gov", "Permit #B24-001234: a correction notice has been issued",
                               "Plan review found the following:\n\n- Show fire setbacks on the roof plan\n"))
    assert out["notice"] == "deficiency" and out["state"] == "processed", out
    assert status(p, "ahj_permit") == "DEFICIENT" and corrections(p) == ["Show fire setbacks on the roof plan"]


def test_utility_wording_from_an_ahj_moves_no_utility_application(db):
    """'Permission to operate' is a utility's word: a city saying it changes nothing of the utility's."""
    p = make_project(refs={"ahj_permit": ("INSPECTION_SCHEDULED", "B24-001234"),
                           "utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300123456")})
    _, out = run(mails.message("permits@oaklandca.gov", "Permit #B24-001234: permission to operate",
                               "Permit B24-001234: the utility will now give permission to operate.\n"))
    assert out["status_change"] is None
    assert statuses(p) == {"ahj_permit": "INSPECTION_SCHEDULED", "utility_part1": "AGREEMENT_EXECUTED"}


# --- wording ----------------------------------------------------------------------------------------------------

def test_a_hedged_pto_sentence_inside_an_approval_letter_is_an_approval(db):
    p = make_project(refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    _, out = run(mails.message("noreply@pge.com", "Your interconnection application PGE-INT-300123456",
                               "Your application has been approved.\n"
                               "Do not operate your system until you receive permission to operate from PG&E.\n"))
    assert out["notice"] == "approved_to_install" and out["state"] == "processed"
    assert out["status_change"] == {"application": "utility_part1", "from": "TECHNICAL_REVIEW",
                                    "to": "APPROVED_TO_INSTALL"}
    assert statuses(p) == {"utility_part1": "APPROVED_TO_INSTALL"}, "a Part 2 was invented from a condition"


def test_a_future_tense_pto_sentence_in_an_approval_letter_is_an_approval(db):
    """Approval letters promise PTO later; only news of PTO is a PTO notice."""
    p = make_project(refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    _, out = run(mails.message("noreply@pge.com", "Your interconnection application PGE-INT-300123456",
                               "Your application has been approved.\n"
                               "PG&E will issue permission to operate within 10 business days of the final "
                               "inspection.\n"))
    assert out["notice"] == "approved_to_install" and out["state"] == "processed", out
    assert statuses(p) == {"utility_part1": "APPROVED_TO_INSTALL"}


def test_opposed_wording_is_suggested_to_a_person_and_changes_nothing(db):
    p = make_project(refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    mail, out = run(mails.message("noreply@pge.com", "Application PGE-INT-300123456 update",
                                  "Your application has been approved to install.\n"
                                  "A deficiency was found in the single-line diagram.\n"))
    assert out["state"] == "needs_review" and out["status_change"] is None
    assert "conflicting wording" in out["reason"]
    suggested = out["suggested_change"]
    assert suggested["application"] == "utility_part1" and suggested["from"] == "TECHNICAL_REVIEW"
    assert suggested["to"] in ("DEFICIENT", "APPROVED_TO_INSTALL")
    assert statuses(p) == {"utility_part1": "TECHNICAL_REVIEW"} and events(p, "status") == []
    assert mail.project_id == p.id and len(events(p, "email")) == 1


def test_subject_wording_outweighs_a_hedged_body(db):
    p = make_project(refs={"utility_part1": ("SUBMITTED", "PGE-INT-300123456")})
    _, out = run(mails.message("noreply@pge.com", "Corrections required: PGE-INT-300123456",
                               "Once corrected, your application can be approved to install.\n\n"
                               "1. Upload the signed customer authorization\n"))
    assert out["notice"] == "deficiency" and out["state"] == "processed"
    assert status(p, "utility_part1") == "DEFICIENT"
    assert corrections(p) == ["Upload the signed customer authorization"]


def test_body_only_wording_is_enough_when_it_is_one_clear_notice(db):
    p = make_project(refs={"utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300123456"),
                           "utility_part2": ("COMPLETION_SUBMITTED", None)})
    _, out = run(mails.message("noreply@pge.com", "Update on PGE-INT-300123456",
                               "The meter has been ordered for your project.\n"))
    assert out["notice"] == "meter_ordered" and out["state"] == "processed"
    assert status(p, "utility_part2") == "METER_ORDERED"


def test_two_different_notices_in_the_body_need_a_person(db):
    p = make_project(refs={"utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300123456"),
                           "utility_part2": ("COMPLETION_SUBMITTED", None)})
    _, out = run(mails.message("noreply@pge.com", "Update on PGE-INT-300123456",
                               "The meter has been ordered.\nThe inspection has been scheduled for May 4.\n"))
    assert out["state"] == "needs_review" and out["status_change"] is None
    assert out["suggested_change"]["to"] == "METER_ORDERED"
    assert status(p, "utility_part2") == "COMPLETION_SUBMITTED"


def test_a_notice_matched_only_by_its_sender_needs_a_person(db):
    p = make_project(refs={"utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300123456"),
                           "utility_part2": ("METER_INSTALLED", None)})
    Contact.create(project=p, name="Pat Rep", role="utility", email="pat.rep@pge.com")
    mail, out = run(mails.message("Pat Rep <pat.rep@pge.com>", "Permission to operate",
                                  "Your customer's system now has permission to operate.\n"))
    assert out["matched_by"] == "sender" and out["project"] == p.external_id
    assert out["state"] == "needs_review" and "only by sender" in out["reason"]
    assert out["suggested_change"]["to"] == "PTO_GRANTED" and out["status_change"] is None
    assert status(p, "utility_part2") == "METER_INSTALLED"


def test_a_notice_for_an_application_we_never_recorded_is_suggested(db):
    p = make_project(utility_account="4012345678")
    mail, out = run(mails.message(
        "PG&E Interconnection <rule21@pge.com>", "Deficiency notice - Application PGE-INT-300777888",
        "Service Agreement ID: 4012345678\nApplication ID: PGE-INT-300777888\n\n"
        "Your application is incomplete. Please correct:\n\n* Upload a legible single-line diagram\n"))
    # An account number is on every bill and the application id is one the desk does not hold: the project is
    # found, the notice is suggested, and nothing is created straight at Deficient.
    assert out["state"] == "needs_review" and out["project"] == p.external_id and out["matched_by"] == "account"
    assert out["status_change"] is None and Application.select().where(Application.project == p).count() == 0
    s = out["suggested_change"]
    assert (s["create"], s["application"], s["to"]) == (True, "utility_part1", "DEFICIENT")
    assert "first status" in s["why"] and "found only by account" in s["why"]


def test_an_html_only_deficiency_notice_lists_its_corrections(db):
    """Portal notifications are often HTML only; their <li> items are the corrections."""
    p = make_project(refs={"utility_part1": ("SUBMITTED", "SCE-INT-NST-396139")}, utility="SCE")
    html = ("<html><body><p>Application SCE-INT-NST-396139 requires corrections.</p>"
            "<p>Deficiency notification:</p><ul><li>Upload the signed NEM agreement</li>"
            "<li>Single-line diagram must show the production meter</li></ul></body></html>")
    raw = mails.raw([("From", "noreply@powerclerk.com"), ("To", DESK),
                     ("Subject", "Deficiency notification - SCE-INT-NST-396139"),
                     ("Message-ID", "<pc-1@powerclerk.com>"), ("MIME-Version", "1.0"),
                     ("Content-Type", "text/html; charset=utf-8")], html.encode())
    _, out = run(raw)
    assert out["status_change"] == {"application": "utility_part1", "from": "SUBMITTED", "to": "DEFICIENT"}
    assert corrections(p) == ["Upload the signed NEM agreement", "Single-line diagram must show the production meter"]


def test_a_mail_naming_two_projects_suggests_both(db):
    a = make_project(refs={"utility_part1": ("SUBMITTED", "PGE-INT-300000001")})
    b = make_project(refs={"utility_part1": ("SUBMITTED", "PGE-INT-300000002")})
    _, out = run(mails.message("noreply@pge.com", "Approval to proceed",
                               "Applications PGE-INT-300000001 and PGE-INT-300000002 have approval to proceed."))
    assert out["state"] == "unmatched" and out["status_change"] is None
    assert sorted(out["suggestions"]) == sorted([a.external_id, b.external_id])
    assert statuses(a) == statuses(b) == {"utility_part1": "SUBMITTED"}


def test_a_notice_never_moves_an_application_backwards(db):
    p = make_project(refs={"utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300123456")})
    _, out = run(mails.message("noreply@pge.com", "Approval to proceed - PGE-INT-300123456",
                               "Application PGE-INT-300123456 has approval to proceed.\n"))
    assert out["status_change"] is None and out["state"] == "needs_review"
    assert "backwards" in out["reason"] and out["suggested_change"]["from"] == "AGREEMENT_EXECUTED"
    assert status(p, "utility_part1") == "AGREEMENT_EXECUTED"


# --- people's replies -------------------------------------------------------------------------------------------

@pytest.fixture
def customer(db):
    p = make_project(customer_name="Ana Ruiz", customer_email="ana.ruiz@example.net",
                     refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    contacts_for(p)
    return p


def test_a_reply_with_the_token_in_the_subject(customer):
    _, out = run(mails.message("Ana Ruiz <ana.ruiz@example.net>",
                               f"Re: Documents we still need {tokens.subject_tag(customer.id)}", "Attached soon."))
    assert (out["state"], out["kind"], out["matched_by"], out["project"]) == \
        ("processed", "human", "token", customer.external_id)
    assert out["confidence"] == 1.0
    assert [e.summary for e in events(customer, "email")] == \
        [f"Email from Ana Ruiz: Re: Documents we still need {tokens.subject_tag(customer.id)}"]


def test_a_reply_to_the_plus_address(customer):
    _, out = run(mails.message("Luis Ruiz <luis@example.org>", "Re: your question", "The panel is 200 A.",
                               to=tokens.plus_address(DESK, customer.id)))
    assert (out["state"], out["matched_by"], out["project"]) == ("processed", "plus_address", customer.external_id)


def test_a_reply_in_the_thread_of_our_message(customer):
    sent = OutboundMessage.create(project=customer, recipients=["ana.ruiz@example.net"],
                                  subject="Documents we still need", body="Please send your bill.",
                                  message_id="<ix-out-77@example.com>", state="sent")
    _, out = run(mails.message("Luis Ruiz <luis@example.org>", "Re: Documents we still need", "Here it is.",
                               in_reply_to=sent.message_id, references=sent.message_id))
    assert (out["state"], out["matched_by"], out["project"]) == ("processed", "thread", customer.external_id)


def test_a_signed_document_lands_on_its_checklist_item(customer):
    checklists.sync(customer)
    item = ChecklistItem.get(ChecklistItem.project == customer, ChecklistItem.doc_type == "CUSTOMER_AUTH")
    _, out = run(mails.message("ana.ruiz@example.net", f"Signed form {tokens.subject_tag(customer.id)}",
                               "Here is the signed form.",
                               attachments=[("Signed Authorization.pdf", files.pdf("Signed authorization"),
                                             "application/pdf")]))
    assert out["documents"] == ["Signed Authorization.pdf"]
    doc = Document.get(Document.project == customer)
    assert doc.checklist_item_id == item.id and doc.source == "email"
    assert ChecklistItem.get_by_id(item.id).status == "received"


def test_a_customer_reply_moves_their_document_reminders_not_a_status(customer):
    checklists.sync(customer)
    item = ChecklistItem.get(ChecklistItem.project == customer, ChecklistItem.doc_type == "CUSTOMER_AUTH")
    ChecklistItem.update(status="requested", requested_on=today(), next_reminder_on=today()).where(
        ChecklistItem.id == item.id).execute()
    _, out = run(mails.message("ana.ruiz@example.net", f"Re: Documents {tokens.subject_tag(customer.id)}",
                               "I'll sign it tonight."))
    assert out["state"] == "processed" and out["status_change"] is None
    assert ChecklistItem.get_by_id(item.id).next_reminder_on > today()


@pytest.mark.parametrize("own", [
    "Great news, PG&E says the application has been approved! Permission to operate next?",
    "Thanks.\n\nOn Mon, Mar 2, 2026 at 9:00 AM PG&E <noreply@pge.com> wrote:\n"
    "> Your application has been approved to install.\n> Permission to operate granted.\n",
])
def test_a_customer_reply_never_changes_a_utility_status(customer, own):
    """What the customer says they heard is read (a person sees it), never applied; quoted history is not news."""
    _, out = run(mails.message("ana.ruiz@example.net", f"Re: PGE-INT-300123456 {tokens.subject_tag(customer.id)}",
                               own))
    assert out["kind"] == "human" and out["status_change"] is None
    assert statuses(customer) == {"utility_part1": "TECHNICAL_REVIEW"}
    if own.startswith("Thanks"):
        assert out["notice"] is None and out["suggested_change"] is None and out["state"] == "processed"
    else:
        assert out["state"] == "needs_review" and out["suggested_change"]["to"] == "APPROVED_TO_INSTALL"
        assert "listed for none" in out["reason"]


@pytest.mark.parametrize("address, words", [
    ("jane.doe@pge.com", "My neighbour's application has been approved to install, is mine next?"),
    ("jane.doe@ssa.gov", "The city says the permit has been issued, can we book the install?"),
    ("jane@doefamily.us", "The permit has been issued, the inspector said so."),
])
def test_a_customer_writing_from_a_utility_or_government_domain_is_still_the_customer(db, address, words):
    """The customer's own address is the customer's, whatever domain their employer gives it."""
    p = make_project(customer_email=address, customer_name="Jane Doe", ahj="City of Oakland",
                     refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456"),
                           "ahj_permit": ("SUBMITTED", "B24-001234")})
    contacts_for(p)
    _, out = run(mails.message(f"Jane Doe <{address}>", f"Re: next steps {tokens.subject_tag(p.id)}", words))
    assert out["status_change"] is None and out["kind"] == "human", out
    assert statuses(p) == {"utility_part1": "TECHNICAL_REVIEW", "ahj_permit": "SUBMITTED"}
    # At most a suggestion for a person, and never on the strength of the employer's domain.
    assert out["suggested_change"] is None or "listed for none" in out["reason"], out


# --- automatic mail ---------------------------------------------------------------------------------------------

OUT_OF_OFFICE = {
    "rfc3834": ("Re: Documents we still need", {"Auto-Submitted": "auto-replied"}),
    "x-autoreply": ("Re: Documents we still need", {"X-Autoreply": "yes"}),
    "exchange": ("Automatic reply: Documents we still need", {"X-Auto-Response-Suppress": "All"}),
    "exchange-ooo-only-subject": ("Automatic reply: Documents we still need", {}),
    "zimbra": ("Re: Documents we still need", {"Auto-Submitted": "auto-replied (zimbra; vacation)"}),
    "gmail-vacation": ("Away until March 10", {"Auto-Submitted": "auto-replied", "Precedence": "bulk"}),
    "precedence": ("I am out of the office", {"Precedence": "auto_reply"}),
}


@pytest.mark.parametrize("variant", sorted(OUT_OF_OFFICE))
def test_out_of_office_replies_change_nothing(db, variant):
    subject, headers = OUT_OF_OFFICE[variant]
    p = make_project(refs={"utility_part1": ("TECHNICAL_REVIEW", "PGE-INT-300123456")})
    Contact.create(project=p, name="Pat Rep", role="utility", email="pat.rep@pge.com")
    _, out = run(mails.message("Pat Rep <pat.rep@pge.com>", f"{subject} {tokens.subject_tag(p.id)}",
                               "I am out of the office. Your application PGE-INT-300123456 has been approved "
                               "and will get permission to operate when I return.", headers=headers))
    assert out["kind"] == "auto_reply", out
    assert out["state"] == "processed" and out["project"] == p.external_id
    assert out["status_change"] is None and out["suggested_change"] is None and out["notice"] is None
    assert statuses(p) == {"utility_part1": "TECHNICAL_REVIEW"}
    assert [e.summary.split(":")[0] for e in events(p, "email")] == ["Auto-reply from Pat Rep"]


def test_list_mail_is_bulk_and_changes_nothing(db):
    p = make_project(customer_email="ana.ruiz@example.net")
    _, out = run(mails.message("Solar News <news@solarnews.example>", "This week: PTO times are falling",
                               "Utilities grant permission to operate faster.",
                               headers={"List-Id": "<weekly.solarnews.example>",
                                        "List-Unsubscribe": "<mailto:leave@solarnews.example>"}))
    assert out["kind"] == "bulk" and out["status_change"] is None and out["project"] is None
    assert out["state"] == "unmatched"
    assert Event.select().where(Event.project == p).count() == 0


def test_a_read_receipt_is_a_receipt(customer):
    sent = OutboundMessage.create(project=customer, recipients=["ana.ruiz@example.net"], subject="Documents",
                                  body="x", message_id="<ix-out-78@example.com>", state="sent")
    _, out = run(mails.read_receipt(sent.message_id, "ana.ruiz@example.net"))
    assert out["kind"] == "receipt" and out["status_change"] is None
    assert out["state"] == "processed" and out["project"] == customer.external_id
    assert Contact.get(Contact.email == "ana.ruiz@example.net").bouncing_since is None
    assert OutboundMessage.get_by_id(sent.id).state == "sent"


# --- bounces ----------------------------------------------------------------------------------------------------

@pytest.fixture
def sent(customer):
    """A message the outbox sent the customer, and the exact bytes that went out."""
    msg = compose.queue(customer, ["ana.ruiz@example.net"], "Documents we still need",
                        "Please send your latest bill.", actor=None, template="request_documents", domain="example.com")
    OutboundMessage.update(state="sent").where(OutboundMessage.id == msg.id).execute()
    raw = compose.build(OutboundMessage.get_by_id(msg.id), f"Solar Desk <{DESK}>", DESK).as_bytes()
    return OutboundMessage.get_by_id(msg.id), raw


def assert_bounced(out, customer, msg):
    assert out["kind"] == "bounce" and out["project"] == customer.external_id, out
    assert out["state"] == "processed" and out["status_change"] is None
    contact = Contact.get((Contact.project == customer) & (Contact.email == "ana.ruiz@example.net"))
    assert contact.bouncing_since is not None and contact.bounce_reason
    failed = OutboundMessage.get_by_id(msg.id)
    assert failed.state == "failed" and failed.last_error.startswith("bounced:")
    assert any(e.summary == "Mail to ana.ruiz@example.net bounces" for e in events(customer, "email"))
    assert statuses(customer) == {"utility_part1": "TECHNICAL_REVIEW"}


@pytest.mark.parametrize("returned", ["message", "headers"])
def test_a_delivery_status_notification_marks_the_contact_bouncing(sent, customer, returned):
    msg, raw = sent
    _, out = run(mails.dsn(raw, "ana.ruiz@example.net", returned=returned))
    assert_bounced(out, customer, msg)


def test_a_bounce_says_why_in_the_servers_words(sent, customer):
    msg, raw = sent
    run(mails.dsn(raw, "ana.ruiz@example.net", status="5.2.2"))
    contact = Contact.get(Contact.email == "ana.ruiz@example.net")
    # The Diagnostic-Code / Status of the delivery-status part, not a guess from the prose.
    assert "Recipient address rejected" in contact.bounce_reason or "5.2.2" in contact.bounce_reason


def test_a_delayed_delivery_report_is_no_bounce(sent, customer):
    msg, raw = sent
    _, out = run(mails.dsn(raw, "ana.ruiz@example.net", action="delayed", status="4.4.1",
                           subject="Delivery Status Notification (Delay)"))
    assert out["kind"] != "bounce"
    assert Contact.get(Contact.email == "ana.ruiz@example.net").bouncing_since is None
    assert OutboundMessage.get_by_id(msg.id).state == "sent"


def test_a_plain_mailer_daemon_bounce_quoting_our_message_id(sent, customer):
    msg, _ = sent
    _, out = run(mails.daemon_bounce(msg.message_id, "ana.ruiz@example.net"))
    assert_bounced(out, customer, msg)


def test_a_bounced_reminder_marks_the_customer_even_before_their_contact_row_exists(db):
    """Automatic reminders go to the project's customer address; a bounce of one must stop the next."""
    p = make_project(customer_name="Bo Chen", customer_email="bo.chen@example.net",
                     refs={"utility_part1": ("SUBMITTED", "PGE-INT-300123456")})
    msg = compose.queue(p, ["bo.chen@example.net"], "Documents we still need", "Please send your bill.",
                        actor=None, automatic=True, domain="example.com")
    raw = compose.build(msg, f"Solar Desk <{DESK}>", DESK).as_bytes()
    _, out = run(mails.dsn(raw, "bo.chen@example.net"))
    assert out["kind"] == "bounce" and out["project"] == p.external_id
    customer = next(c for c in contacts_for(p) if c.email == "bo.chen@example.net")
    assert customer.bouncing_since is not None, "the next automatic reminder would go to a dead address"


def test_a_reply_to_what_the_outbox_sent_comes_home(sent, customer):
    msg, raw = sent
    ours = email.message_from_bytes(raw)
    subject, reply_to = (" ".join(ours[h].split()) for h in ("Subject", "Reply-To"))  # long headers are folded
    reply = mails.message("Ana Ruiz <ana.ruiz@example.net>", f"RE: {subject}", "Bill attached.\n\n"
                          "> Please send your latest bill.", to=reply_to, in_reply_to=ours["Message-ID"],
                          references=ours["Message-ID"],
                          attachments=[("PGE_bill_march.pdf", files.pdf("PG&E bill"), "application/pdf")])
    _, out = run(reply)
    assert out["state"] == "processed" and out["project"] == customer.external_id
    assert out["matched_by"] in ("token", "plus_address", "thread") and out["documents"] == ["PGE_bill_march.pdf"]


def test_a_bounce_of_something_we_never_sent_is_unmatched(customer):
    stranger = mails.message("someone@elsewhere.example", "Hi", "spam", to="nobody@example.net",
                             message_id="<never-ours@elsewhere.example>")
    _, out = run(mails.dsn(stranger, "nobody@example.net"))
    assert out["kind"] == "bounce" and out["state"] == "unmatched" and out["project"] is None
    assert Contact.select().where(Contact.bouncing_since.is_null(False)).count() == 0


def test_a_bounce_only_marks_the_address_that_failed(sent, customer):
    msg, raw = sent
    Contact.create(project=customer, name="Luis", role="customer", email="luis@example.org")
    OutboundMessage.update(recipients=["ana.ruiz@example.net", "luis@example.org"]).where(
        OutboundMessage.id == msg.id).execute()
    run(mails.dsn(raw, "ana.ruiz@example.net"))
    assert Contact.get(Contact.email == "luis@example.org").bouncing_since is None
    assert Contact.get(Contact.email == "ana.ruiz@example.net").bouncing_since is not None


# --- attachments ------------------------------------------------------------------------------------------------

def test_a_forwarded_notice_is_kept_as_eml_with_its_pdf(customer):
    inner = mails.message("PG&E <noreply@pge.com>", "PTO letter for PGE-INT-300123456",
                          "Your PTO letter is attached.", to="ana.ruiz@example.net",
                          attachments=[("PTO letter.pdf", files.pdf("Permission to operate"), "application/pdf")])
    _, out = run(mails.forwarded(inner, "ana.ruiz@example.net", f"Fwd: PTO letter {tokens.subject_tag(customer.id)}"))
    # Forwarded by the customer: the original sender cannot be verified, so a person decides.
    assert out["state"] == "needs_review" and out["status_change"] is None and "forwarded" in out["reason"]
    assert out["suggested_change"]["to"] == "PTO_GRANTED" and out["notice"] == "pto_granted"
    names = sorted(out["documents"])
    assert names == sorted(["PTO letter for PGE-INT-300123456.eml", "PTO letter.pdf"]), names
    eml = Document.get(Document.name == "PTO letter for PGE-INT-300123456.eml")
    assert eml.mime == "message/rfc822" and b"Your PTO letter is attached." in eml.data()


def test_winmail_dat_is_unpacked_into_its_real_files(customer):
    winmail = mails.tnef([("Signed Authorization.pdf", files.pdf("Signed authorization")),
                          ("Electric bill March.pdf", files.pdf("Electric bill", pages=2))])
    _, out = run(mails.with_winmail("ana.ruiz@example.net", f"Documents {tokens.subject_tag(customer.id)}",
                                    "Both files attached.", winmail))
    assert out["documents"] == ["Signed Authorization.pdf", "Electric bill March.pdf"]
    docs = documents(customer)
    assert [d.mime for d in docs] == ["application/pdf", "application/pdf"]
    assert all(d.pages for d in docs) and "winmail" not in " ".join(d.name for d in docs)


def test_a_winmail_dat_with_an_accented_file_name(customer):
    """process() never raises for a bad mail: at worst it sets the mail aside, with the reason."""
    winmail = mails.tnef([("Autorización firmada.pdf", files.pdf("Signed authorization"))])
    mail, out = run(mails.with_winmail("ana.ruiz@example.net", f"Firmado {tokens.subject_tag(customer.id)}",
                                       "Adjunto.", winmail))
    assert out["state"] == "processed" and out["documents"] == ["Autorización firmada.pdf"], out


def test_a_broken_winmail_dat_is_reported_not_lost(customer):
    broken = mails.tnef([("x.pdf", files.pdf())])[:60]
    raw = mails.with_winmail("ana.ruiz@example.net", f"Docs {tokens.subject_tag(customer.id)}", "see attached", broken)
    mail, out = run(raw, auth=None)
    assert out["state"] == "processed" and mail.raw() == raw
    attach_step = [t["verdict"] for t in mail.trace if t["step"] == "attach"]
    assert attach_step and "winmail.dat" in attach_step[0], mail.trace


def test_the_same_attachment_twice_is_one_document(customer):
    pdf = files.pdf("Utility bill")
    for n in range(2):
        run(mails.message("ana.ruiz@example.net", f"Bill, try {n} {tokens.subject_tag(customer.id)}", "bill",
                          attachments=[("bill.pdf", pdf, "application/pdf")]))
    assert len(documents(customer)) == 1


def test_a_small_inline_logo_is_no_document_but_an_attached_photo_is(customer):
    logo = files.image("PNG", size=(20, 20))
    photo = files.image("JPEG", size=(64, 48))
    tag = tokens.subject_tag(customer.id)
    raw = mails.raw([("From", "ana.ruiz@example.net"), ("To", DESK), ("Subject", f"Re: meter photo {tag}"),
                     ("Message-ID", "<inline-logo@example.net>"), ("MIME-Version", "1.0"),
                     ("Content-Type", 'multipart/mixed; boundary="m"')],
                    b"--m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
                    b"--r\r\nContent-Type: text/html\r\n\r\n<p>photo attached</p><img src=\"cid:logo\">\r\n"
                    b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n"
                    b"Content-Disposition: inline; filename=logo.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    + base64.encodebytes(logo) + b"--r--\r\n"
                    b"--m\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=meter.jpg\r\n"
                    b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(photo) + b"--m--\r\n")
    _, out = run(raw)
    assert out["state"] == "processed" and out["documents"] == ["meter.jpg"]


# --- text -------------------------------------------------------------------------------------------------------

def test_a_gb2312_labelled_subject_with_a_gb18030_only_character(db):
    subject = "光伏并网申请 𠮷 已收到"
    mail, out = run(mails.raw([("From", "li@example.cn"), ("To", DESK), ("Subject", mails.encoded_word(
        subject, "gb2312", "gb18030")), ("Message-ID", "<gb@example.cn>")], b"hello\r\n"))
    assert mail.subject == subject and out["state"] == "unmatched"


def test_a_ks_c_5601_body(db):
    text = "태양광 연계 신청서를 보냅니다. 똠방각하"
    mail, _ = run(mails.raw([("From", "kim@example.kr"), ("To", DESK), ("Subject", "solar"),
                             ("Message-ID", "<ks@example.kr>"), ("MIME-Version", "1.0"),
                             ("Content-Type", "text/plain; charset=ks_c_5601-1987"),
                             ("Content-Transfer-Encoding", "8bit")], text.encode("cp949") + b"\r\n"))
    assert mail.body_text.strip() == text


def test_an_iso_2022_jp_subject(db):
    subject = "太陽光発電の系統連系申請について"
    mail, _ = run(mails.raw([("From", "sato@example.jp"), ("To", DESK),
                             ("Subject", mails.encoded_word(subject, "iso-2022-jp")),
                             ("Message-ID", "<jp@example.jp>")], b"hi\r\n"))
    assert mail.subject == subject


def test_an_iso_2022_jp_subject_with_windows_extensions(db):
    """Outlook writes NEC row-13 characters (①, ㈱) inside ISO-2022-JP (CP50220); they must not become escapes."""
    # ESC $ B ... then 0x2D21 (①) in the JIS X 0208 shift, as Windows encodes it.
    jis = "太陽光".encode("iso2022_jp")[:-3] + b"\x2d\x21\x1b(B"
    word = "=?iso-2022-jp?B?" + base64.b64encode(jis).decode() + "?="
    mail, _ = run(mails.raw([("From", "sato@example.jp"), ("To", DESK), ("Subject", word),
                             ("Message-ID", "<jp2@example.jp>")], b"hi\r\n"))
    assert mail.subject == "太陽光①"


def test_html_bodies_are_made_safe(customer):
    html = ('<p onclick="steal()">Signed form attached</p><script>alert(document.cookie)</script>'
            '<img src="x" onerror="alert(1)"><a href="javascript:alert(2)">portal</a>'
            '<a href="https://example.com/ok">ok</a><iframe src="https://evil.example"></iframe>'
            '<style>body{background:url(javascript:alert(3))}</style>')
    mail, _ = run(mails.message("ana.ruiz@example.net", f"Re: {tokens.subject_tag(customer.id)}",
                                "Signed form attached", html=html))
    body = mail.body_html.lower()
    for bad in ("<script", "alert(", "onerror", "onclick", "javascript:", "<iframe", "<style", "<img"):
        assert bad not in body, bad
    assert 'href="https://example.com/ok"' in body and "signed form attached" in body


def test_an_html_only_mail_gets_a_text_body(customer):
    raw = mails.raw([("From", "ana.ruiz@example.net"), ("To", DESK), ("Subject", tokens.subject_tag(customer.id)),
                     ("Message-ID", "<html-only@example.net>"), ("MIME-Version", "1.0"),
                     ("Content-Type", "text/html; charset=utf-8")],
                    "<html><head><style>p{}</style></head><body><p>Bill&nbsp;attached</p>"
                    "<script>x()</script></body></html>".encode())
    mail, _ = run(raw)
    assert mail.body_text == "Bill\xa0attached" or mail.body_text == "Bill attached"


# --- duplicates, unmatched, quarantine, idempotency -------------------------------------------------------------

def test_the_same_message_id_twice_is_a_duplicate(customer):
    first = mails.message("ana.ruiz@example.net", f"Bill {tokens.subject_tag(customer.id)}", "bill",
                          message_id="<same@example.net>")
    second = b"Received: from relay.example by mx.example; Mon, 2 Mar 2026 09:31:00 +0000\r\n" + first
    a, out_a = run(first)
    b, out_b = run(second)
    assert out_a["state"] == "processed" and out_b["state"] == "duplicate"
    assert b.duplicate_of_id == a.id and f"#{a.id}" in out_b["reason"]
    assert len(events(customer, "email")) == 1


def test_the_same_file_twice_is_one_row(customer):
    raw = mails.message("ana.ruiz@example.net", f"Bill {tokens.subject_tag(customer.id)}", "bill")
    first = store(raw, "cli")
    again = store(raw.replace(b"\r\n", b"\n"), "cli")
    assert first.created and not again.created and again.mail.id == first.mail.id
    assert InboundMail.select().count() == 1


def test_unmatched_mail_suggests_the_customer_with_that_name(db):
    p = make_project(customer_name="Ana Ruiz", customer_email="ana.ruiz@example.net")
    make_project(customer_name="Bo Chen")
    _, out = run(mails.message("Ana Ruiz <ana.personal@gmail.example>", "my solar", "when is the install?"))
    assert out["state"] == "unmatched" and out["project"] is None
    assert out["suggestions"] == [p.external_id]


def test_a_raw_utf8_sender_name_still_suggests_the_customer(db):
    """RFC 6532: modern clients write UTF-8 straight into headers."""
    p = make_project(customer_name="José Núñez", customer_email="jose@example.net")
    raw = ("From: José Núñez <jose.nunez@gmail.example>\r\nTo: desk@example.com\r\n"
           "Subject: Solicitud de conexión\r\nMessage-ID: <u8@gmail.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n¿Cuándo instalan?\r\n").encode()
    mail, out = run(raw)
    assert mail.subject == "Solicitud de conexión" and mail.from_name == "José Núñez"
    assert out["state"] == "unmatched" and out["suggestions"] == [p.external_id]


def test_unmatched_mail_suggests_the_project_at_that_address(db):
    p = make_project(street="1234 Elm St")
    make_project(street="99 Oak Ave")
    _, out = run(mails.message("neighbour@example.org", "question", "About the install at 1234 Elm St next week."))
    assert out["state"] == "unmatched" and out["suggestions"] == [p.external_id]


def test_a_wrong_check_symbol_is_no_token(db):
    p = make_project()
    good = tokens.encode(p.id)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    _, out = run(mails.message("x@example.org", f"Re: [{bad}]", "hello"))
    assert out["project"] is None and out["state"] == "unmatched"


def test_deeply_nested_mail_is_quarantined_and_kept(db):
    raw = mails.nested(60)
    mail, out = run(raw, auth=None)
    assert out["state"] == "quarantined" and "nests" in out["reason"]
    assert mail.raw() == raw


@pytest.mark.parametrize("raw", [b"", b"\x00\xff" * 64, b"no headers at all, just words\n"])
def test_garbage_ends_in_a_defined_state_and_is_kept(db, raw):
    mail, out = run(raw, auth=None)
    assert out["state"] in ("quarantined", "unmatched") and mail.raw() == raw


def test_our_own_mail_coming_back_is_a_loop(customer):
    _, out = run(mails.message(f"Solar Desk <{DESK}>", f"Documents {tokens.subject_tag(customer.id)}", "hi",
                               to="ana.ruiz@example.net"))
    assert out["state"] == "quarantined" and "loop" in out["reason"]


def test_running_a_mail_twice_changes_nothing_more(db):
    p = make_project(refs={"utility_part1": ("SUBMITTED", "PGE-INT-300123456")})
    raw = mails.message("noreply@pge.com", "Corrections required - PGE-INT-300123456",
                        "Deficiencies:\n- Missing single-line diagram\n",
                        attachments=[("Deficiency letter.pdf", files.pdf("Deficiency"), "application/pdf")])
    mail, first = run(raw)
    mail.requeue()
    again = as_json(run_now(InboundMail.get_by_id(mail.id), INTAKE))
    assert first["status_change"] == {"application": "utility_part1", "from": "SUBMITTED", "to": "DEFICIENT"}
    assert again["state"] == "processed" and again["status_change"] == first["status_change"]
    assert again["documents"] == first["documents"] == ["Deficiency letter.pdf"]
    assert len(events(p, "email")) == 1
    assert len([e for e in events(p, "status") if (e.data or {}).get("to") == "DEFICIENT"]) == 1
    assert len(corrections(p)) == 1 and len(documents(p)) == 1
    assert InboundMail.get_by_id(mail.id).attempts == 2


def test_a_requeued_mail_follows_a_fixed_project(db):
    """Re-run after a person fixed the data: the one timeline entry moves to the right project."""
    raw = mails.message("noreply@pge.com", "Meter ordered - PGE-INT-300999111", "Meter ordered.")
    mail, out = run(raw)
    assert out["state"] in ("unmatched", "processed") and out["project"] is None
    p = make_project(refs={"utility_part1": ("AGREEMENT_EXECUTED", "PGE-INT-300999111"),
                           "utility_part2": ("COMPLETION_SUBMITTED", None)})
    mail.requeue()
    again = as_json(run_now(InboundMail.get_by_id(mail.id), INTAKE))
    assert again["project"] == p.external_id and status(p, "utility_part2") == "METER_ORDERED"
    assert len(events(p, "email")) == 1


def test_the_result_json_has_the_documented_keys(customer):
    _, out = run(mails.message("ana.ruiz@example.net", f"hi {tokens.subject_tag(customer.id)}", "hi"))
    assert set(out) == {"file", "id", "message_id", "state", "reason", "kind", "project", "matched_by",
                        "confidence", "suggestions", "notice", "status_change", "suggested_change", "documents", "auth"}
    assert out["auth"]["verdict"] == "pass" and out["auth"]["domain"] == "example.net"
    assert out["message_id"].startswith("<") and out["message_id"].endswith(">")
