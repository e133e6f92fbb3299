"""Mail that moves a status must be proven: each way an outsider tried to move an application, and each way a
real notice used to be missed, as the coordinator sees the result."""
from __future__ import annotations

import base64
import dataclasses
import json

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from inbox.intake import as_json, run_now
from inbox.pipeline import MAX_ATTACHMENTS, Intake
from inbox.store import store
from models import Application, ChecklistItem, Document, Event, InboundMail, checklists, documents, tokens
from models.messages import OutboundMessage
from tests import files, mails
from tests.factories import make_project

INTAKE = Intake(own_addresses=(mails.DESK,), auth=mails.AUTH, desk_domains=("solarco.example",))
REF = "SCE-INT-NST-396139"


def run(raw: bytes, auth: str | None = "pass", intake: Intake = INTAKE, source: str = "imap") -> InboundMail:
    return run_now(store(mails.received(raw, auth) if auth else raw, source).mail, intake)


def status(p, kind: str = "utility_part2") -> str | None:
    app = Application.get_or_none((Application.project == p) & (Application.kind == kind))
    return app.status if app else None


@pytest.fixture
def sce(db):
    """An SCE project waiting for PTO: Part 1 holds the reference, Part 2 has the meter in."""
    return make_project(utility="SCE", refs={"utility_part1": ("AGREEMENT_EXECUTED", REF),
                                             "utility_part2": ("METER_INSTALLED", None)})


def pto(subject: str = f"Permission to operate granted - {REF}", frm: str = "SCE Grid <noreply@sce.com>",
        **kw) -> bytes:
    return mails.message(frm, subject, f"Application {REF}: the system has been granted permission to operate.",
                         **kw)


def test_an_authenticated_pto_naming_the_held_reference_applies(sce):
    mail = run(pto())
    assert mail.state == "processed" and status(sce) == "PTO_GRANTED"
    assert mail.auth["verdict"] == "pass" and "sce.com" in mail.auth["why"]
    moved = [e for e in Event.select().where(Event.project == sce, Event.kind == "status")]
    assert moved and "DMARC pass for sce.com" in moved[-1].data["cause"]["auth"]


@pytest.mark.parametrize("auth, why", [(None, "no Authentication-Results"), ("fail", "DMARC fail"),
                                       ("none", "DMARC none")])
def test_a_forged_pto_from_the_utility_domain_only_suggests(sce, auth, why):
    mail = run(pto(), auth=auth)
    assert mail.state == "needs_review" and status(sce) == "METER_INSTALLED"
    assert "sender not authenticated" in mail.reason and why in mail.reason
    assert mail.suggested_change["to"] == "PTO_GRANTED", "a person still sees what it claims"


def test_results_the_sender_wrote_below_our_servers_received_do_not_count(sce):
    forged = ("Received: from attacker.example (attacker.example [198.51.100.9]) by mx.ixdesk.test; Mon, 2 Mar 2026\r\n"
              "Authentication-Results: mx.ixdesk.test; dkim=pass header.d=sce.com; dmarc=pass header.from=sce.com\r\n")
    mail = run(forged.encode() + pto(), auth=None)
    assert mail.state == "needs_review" and status(sce) == "METER_INSTALLED"
    assert "below the first Received from outside" in " ".join(mail.auth["ignored"])
    page_trace = " ".join(t["verdict"] for t in mail.trace)
    assert "ignored" in page_trace


def test_a_guessed_old_token_finds_the_project_but_proves_nothing(sce):
    mail = run(pto(subject=f"PTO granted [{tokens.legacy(sce.id)}]").replace(REF.encode(), b"the application"))
    assert mail.project_id == sce.id and mail.state == "needs_review" and status(sce) == "METER_INSTALLED"
    assert "project found only by token" in mail.reason


def test_a_keyed_token_is_strong_evidence(sce):
    raw = mails.message("SCE Grid <noreply@sce.com>", f"PTO granted {tokens.subject_tag(sce.id)}",
                        "The system has been granted permission to operate.")
    assert run(raw).state == "processed" and status(sce) == "PTO_GRANTED"


def test_a_reply_to_the_senders_own_earlier_mail_is_not_our_thread(sce):
    first = run(mails.message("Helpdesk <help@sce-notices.example>", f"Your SCE application {REF}", "Hello",
                              message_id="<start.1@sce-notices.example>"))
    assert first.project_id == sce.id
    reply = mails.message("SCE Grid <noreply@sce.com>", "Re: Your SCE application",
                          "The system has been granted permission to operate.",
                          in_reply_to="<start.1@sce-notices.example>")
    mail = run(reply)
    assert mail.matched_by == "inbound_thread" and mail.state == "needs_review" and status(sce) == "METER_INSTALLED"


def test_a_reply_to_mail_the_desk_sent_is_strong(sce):
    OutboundMessage.create(project=sce, recipients=["gridinterconnections@sce.com"], subject="PTO status?",
                           body="", message_id="<ours.1@ixdesk.test>", state="sent")
    reply = mails.message("SCE Grid <gridinterconnections@sce.com>", "Re: PTO status?",
                          "The system has been granted permission to operate.", in_reply_to="<ours.1@ixdesk.test>")
    assert run(reply).state == "processed" and status(sce) == "PTO_GRANTED"


def test_a_made_up_id_never_creates_an_application_straight_at_pto(db):
    p = make_project(utility="SCE", customer_name="Dana Pate", street="3758 Palm Ave",
                     refs={"utility_part1": ("AGREEMENT_EXECUTED", REF)})
    raw = mails.message("SCE Grid <noreply@sce.com>", "Permission to operate granted",
                        f"Application ID: SCE-INT-NST-999999\nService address: 3758 Palm Ave\n\n"
                        f"Application {REF} has been granted permission to operate.")
    mail = run(raw)
    assert mail.state == "needs_review" and status(p) is None
    assert "first status" in mail.reason and mail.suggested_change["create"]


@pytest.mark.parametrize("sender", ["permits@notsolarapp.org", "permits@co.fake.ca.us",
                                    "permits@cityofirvine.org.verify-permit.net", "noreply@solar-app.org"])
def test_look_alike_and_unlisted_permit_senders_only_suggest(db, sender):
    p = make_project(utility="SCE", ahj="City of Irvine", refs={"ahj_permit": ("SUBMITTED", "B26-01234")})
    mail = run(mails.message(sender, "Permit B26-01234 has been issued", "Your permit B26-01234 has been issued."))
    assert mail.project_id == p.id and mail.state == "needs_review" and status(p, "ahj_permit") == "SUBMITTED"


def test_the_projects_own_ahj_issues_the_permit(db):
    p = make_project(utility="SCE", ahj="City of Irvine", refs={"ahj_permit": ("SUBMITTED", "B26-01234")})
    mail = run(mails.message("Building & Safety <permits@cityofirvine.org>", "Permit B26-01234 has been issued",
                             "Your permit B26-01234 has been issued."))
    assert mail.state == "processed" and status(p, "ahj_permit") == "APPROVED_TO_INSTALL"


def test_a_platform_many_organisations_send_through_needs_the_held_reference(db):
    p = make_project(utility="SCE", refs={"utility_part1": ("SUBMITTED", REF)})
    token_only = mails.message("PowerClerk <noreply@powerclerk.com>", f"Approval to proceed {tokens.subject_tag(p.id)}",
                               "Your application has received approval to proceed.")
    mail = run(token_only)
    assert mail.state == "needs_review" and "reference number the application holds" in mail.reason
    named = mails.message("PowerClerk <noreply@powerclerk.com>", f"Approval to proceed - {REF}",
                          "Your application has received approval to proceed.")
    assert run(named).state == "processed" and status(p, "utility_part1") == "APPROVED_TO_INSTALL"


def test_an_e_signature_service_only_suggests(db):
    p = make_project(utility="SCE", refs={"utility_part1": ("APPROVED_TO_INSTALL", REF)})
    mail = run(mails.message("SCE via Docusign <dse@docusign.net>", f"Interconnection agreement {REF}",
                             f"Your interconnection agreement for {REF} is ready for your signature."))
    assert mail.state == "needs_review" and "general-purpose" in mail.reason
    assert status(p, "utility_part1") == "APPROVED_TO_INSTALL"


def test_a_reference_the_desk_holds_matches_in_any_shape(db):
    p = make_project(utility="PGE", refs={"utility_part1": ("APPROVED_TO_INSTALL", "2025-117806")})
    mail = run(mails.message("PG&E <noreply@pge.com>", "Update on Request 2025-117806",
                             "The deficiency notice for Request 2025-117806: please upload the corrected SLD."))
    assert mail.project_id == p.id and mail.matched_by == "reference" and mail.notice == "deficiency"


def test_a_notice_about_no_project_says_what_it_reads_like(db):
    p = make_project(utility="SCE", customer_name="Dana Pate", street="3758 Palm Ave")
    mail = run(mails.message("SCE Grid <noreply@sce.com>", "Permission to operate granted",
                             "The system at 3758 Palm Ave has been granted permission to operate."))
    assert mail.state == "unmatched" and mail.notice == "pto_granted"
    assert "reads like a PTO letter" in mail.reason and f"probably {p.external_id}" in mail.reason
    assert mail.suggestions[0]["external_id"] == p.external_id


def test_a_coordinator_forwarding_a_notice_gets_a_suggestion(sce):
    inner = pto(to="casey@solarco.example")
    mail = run(mails.forwarded(inner, "Casey <casey@solarco.example>", f"Fwd: PTO {REF}"))
    assert mail.state == "needs_review" and mail.notice == "pto_granted" and status(sce) == "METER_INSTALLED"
    assert "forwarded" in mail.reason and mail.suggested_change["provenance"] == "forward"


def test_an_inline_forward_is_read_from_the_original(sce):
    body = ("FYI, see below.\n\n---------- Forwarded message ---------\nFrom: SCE Grid <noreply@sce.com>\n"
            f"Date: Mon, Mar 2, 2026\nSubject: Permission to operate granted - {REF}\n\n"
            f"Application {REF}: the system has been granted permission to operate.\n")
    mail = run(mails.message("Casey <casey@solarco.example>", f"Fwd: Permission to operate granted - {REF}", body))
    assert mail.notice == "pto_granted" and mail.state == "needs_review" and status(sce) == "METER_INSTALLED"
    assert any("original from noreply@sce.com" in t["verdict"] for t in mail.trace)


def test_a_forward_nested_ten_deep_ends_in_a_defined_state(sce):
    raw = pto()
    for n in range(10):
        raw = mails.forwarded(raw, f"Person {n} <p{n}@example.org>", f"Fwd: {n}")
    mail = run(raw)
    assert mail.state == "needs_review" and mail.notice == "pto_granted" and status(sce) == "METER_INSTALLED"
    assert any("original from noreply@sce.com" in t["verdict"] and "10 levels" in t["verdict"] for t in mail.trace)


@pytest.fixture
def signer(tmp_path):
    """SCE's DKIM key as the desk looks it up, and a way to sign mail with it (stands in for SCE's servers)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = base64.b64encode(private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    records = tmp_path / "dns.json"
    records.write_text(json.dumps({"k1._domainkey.sce.com": f"v=DKIM1; k=rsa; p={public}"}))
    intake = dataclasses.replace(INTAKE, auth=dataclasses.replace(mails.AUTH, verify_dkim=True,
                                                                  dns=f"file:{records}"))

    def sign(raw: bytes) -> bytes:
        return dkim.sign(raw, b"k1", b"sce.com", pem, include_headers=[b"from", b"subject", b"date"]) + raw
    return sign, intake


def test_a_genuine_letter_for_another_job_forwarded_with_this_jobs_reference_only_suggests(db, signer):
    sign, intake = signer
    mine = make_project(utility="SCE", refs={"utility_part1": ("AGREEMENT_EXECUTED", "SCE-INT-NST-111111"),
                                             "utility_part2": ("METER_INSTALLED", None)})
    victim = make_project(utility="SCE", refs={"utility_part1": ("AGREEMENT_EXECUTED", REF),
                                               "utility_part2": ("METER_INSTALLED", None)})
    own_letter = sign(fresh(mails.message("SCE Grid <noreply@sce.com>", "Permission to operate granted",
                                    "Application SCE-INT-NST-111111 has been granted permission to operate.")))
    for frm in ("Stranger <x@attacker.example>", "Casey <casey@solarco.example>"):
        mail = run(mails.forwarded(own_letter, frm, f"Fwd: {REF}"), intake=intake)
        assert mail.state in ("needs_review", "unmatched") and not mail.status_change, (frm, mail.reason)
        assert status(victim) == "METER_INSTALLED" and status(mine) == "METER_INSTALLED"


def test_an_attached_original_forwarded_by_a_stranger_only_suggests(sce, signer):
    sign, intake = signer
    mail = run(mails.forwarded(sign(fresh(pto(to="casey@solarco.example"))), "Someone <someone@elsewhere.example>",
                               f"Fwd: PTO {REF}"), intake=intake)
    assert mail.state == "needs_review" and status(sce) == "METER_INSTALLED"


def test_a_platform_mail_must_name_the_reference_of_the_application_it_moves(sce):
    """PowerClerk's DMARC proves PowerClerk: a Part 1 id (public in CA DG Stats) does not move Part 2."""
    raw = mails.message("PowerClerk <noreply@powerclerk.com>", f"Permission to operate granted - {REF}",
                        f"Project {REF}: the system has been granted permission to operate.")
    mail = run(raw)
    assert mail.state == "needs_review" and status(sce) == "METER_INSTALLED"
    assert "reference number the application holds" in mail.reason


def test_a_from_that_cannot_be_read_is_not_replaced_by_the_sender_header(db):
    p = make_project(utility="PGE", customer_email="ana@example.net")
    checklists.sync(p)
    raw = mails.raw([("From", "<" + "a" * 250 + "@attacker.example>"), ("Sender", "ana@example.net"),
                     ("To", mails.DESK), ("Subject", f"Signed form {tokens.subject_tag(p.id)}"),
                     ("Message-ID", "<odd-from@attacker.example>")], b"see attached\r\n")
    mail = run(raw)
    assert mail.from_addr != "ana@example.net" and mail.auth["verdict"] == "refused"


def test_a_gmail_forward_with_crlf_line_endings_is_read_from_the_original(sce):
    body = ("Update for the Pate job.\r\n\r\n---------- Forwarded message ---------\r\n"
            "From: SCE Grid <noreply@sce.com>\r\nDate: Mon, Mar 2, 2026\r\n"
            f"Subject: Permission to operate granted - {REF}\r\nTo: <casey@solarco.example>\r\n\r\n"
            f"Application {REF}: the system has been granted permission to operate.\r\n")
    raw = mails.raw([("From", "Casey <casey@solarco.example>"), ("To", mails.DESK),
                     ("Subject", "Update for the Pate job"), ("Message-ID", "<gm-fwd@solarco.example>"),
                     ("Content-Type", "text/plain; charset=utf-8")], body.encode())
    mail = run(raw)
    assert mail.notice == "pto_granted" and mail.state == "needs_review" and status(sce) == "METER_INSTALLED"


def fresh(raw: bytes) -> bytes:
    """The mail dated now (the test mails carry a fixed date in March 2026)."""
    from email.utils import format_datetime
    import datetime as dt
    return raw.replace(format_datetime(mails.DATE).encode(), format_datetime(dt.datetime.now(dt.timezone.utc)).encode())


def test_an_attached_original_whose_own_dkim_still_verifies_counts(sce, signer):
    """A coordinator forwards the utility's signed letter; its signature proves it, its body names the job."""
    sign, intake = signer
    inner = sign(fresh(pto(to="casey@solarco.example")))
    mail = run(mails.forwarded(inner, "Casey <casey@solarco.example>", f"Fwd: PTO {REF}"), intake=intake)
    assert mail.state == "processed" and status(sce) == "PTO_GRANTED", mail.reason


def test_an_old_signed_letter_forwarded_again_only_suggests(sce, signer):
    sign, intake = signer
    mail = run(mails.forwarded(sign(pto(to="casey@solarco.example")), "Casey <casey@solarco.example>",
                               f"Fwd: PTO {REF}"), intake=intake)
    assert mail.state == "needs_review" and status(sce) == "METER_INSTALLED"


def test_the_verdict_is_decided_once_and_kept_for_reruns(sce):
    mail = run(pto(), auth="fail")
    assert mail.auth["verdict"] == "fail"
    mail.requeue()
    again = run_now(InboundMail.get_by_id(mail.id), INTAKE)
    assert again.auth == mail.auth and again.state == "needs_review"


# --- attachments ------------------------------------------------------------------------------------------------

def test_a_deficiency_letter_is_kept_as_the_letter_not_as_the_deliverable_it_mentions(db):
    p = make_project(utility="SCE", ahj="City of Irvine", refs={"utility_part1": ("SUBMITTED", REF)})
    checklists.sync(p)
    letter = files.pdf("Deficiency notice: the SLD does not show the AC disconnect. Upload a corrected SLD.")
    mail = run(mails.message("SCE Grid <noreply@sce.com>", f"Deficiency notification - {REF}",
                             "The following items are deficient:\n- SLD is missing the AC disconnect\n",
                             attachments=[("Deficiency_Notice_SLD.pdf", letter, "application/pdf")]))
    assert status(p, "utility_part1") == "DEFICIENT"
    doc = Document.get(Document.project == p)
    assert doc.checklist_item_id is None and doc.proposed_item_id is None
    sld = ChecklistItem.select().where(ChecklistItem.project == p, ChecklistItem.doc_type == "SLD")
    assert all(i.status in ("missing", "requested") for i in sld)
    assert any("deficiency notice's letter" in t["verdict"] for t in mail.trace)


def test_files_from_an_unknown_sender_are_kept_to_review_and_a_person_files_them(db, users):
    p = make_project(utility="PGE")
    checklists.sync(p)
    mail = run(mails.message("someone@elsewhere.example", f"Bill {tokens.subject_tag(p.id)}", "here",
                             attachments=[("PGE_bill_march.pdf", files.pdf("PG&E bill"), "application/pdf")]))
    doc = Document.get(Document.project == p)
    assert doc.checklist_item_id is None and doc.proposed_item.doc_type == "UTILITY_BILL"
    assert any("kept to review" in t["verdict"] for t in mail.trace)
    assert doc.proposed_item.status == "missing", "nothing a stranger sends fills an item"
    filed = documents.file_to(doc, doc.proposed_item, users["maria"])
    assert filed.checklist_item_id == doc.proposed_item_id and filed.proposed_item_id is None
    assert ChecklistItem.get_by_id(doc.proposed_item_id).status == "received"


def test_the_customers_authenticated_files_fill_their_items(db):
    p = make_project(utility="PGE", customer_email="ana@example.net")
    checklists.sync(p)
    run(mails.message("ana@example.net", f"Bill {tokens.subject_tag(p.id)}", "here",
                      attachments=[("PGE_bill_march.pdf", files.pdf("PG&E bill"), "application/pdf")]))
    assert Document.get(Document.project == p).checklist_item.doc_type == "UTILITY_BILL"
    forged = make_project(utility="PGE", customer_email="ben@example.net")
    checklists.sync(forged)
    run(mails.message("ben@example.net", f"Bill {tokens.subject_tag(forged.id)}", "here",
                      attachments=[("PGE_bill_march.pdf", files.pdf("PG&E bill 2"), "application/pdf")]), auth=None)
    assert Document.get(Document.project == forged).checklist_item_id is None


def test_too_many_attachments_are_kept_in_the_raw_mail_with_the_reason(db):
    p = make_project(utility="PGE", customer_email="ana@example.net")
    many = [(f"photo{n}.pdf", files.pdf(f"page {n}"), "application/pdf") for n in range(MAX_ATTACHMENTS + 3)]
    mail = run(mails.message("ana@example.net", f"Photos {tokens.subject_tag(p.id)}", "all of them",
                             attachments=many))
    assert mail.state == "needs_review" and f"more than {MAX_ATTACHMENTS} attachments" in mail.reason
    assert Document.select().where(Document.project == p).count() == MAX_ATTACHMENTS
    assert as_json(mail)["state"] == "needs_review"


def test_an_uploaded_eml_stays_a_suggestion_and_an_accept_records_the_person(sce, users):
    from inbox import triage
    mail = run(pto(), source="upload", intake=dataclasses.replace(INTAKE, suggest_only=True))
    assert mail.state == "needs_review" and "uploaded by a person" in mail.reason
    again = triage.rerun(mail, users["maria"], INTAKE).mail  # "Process again" without the upload flag
    assert again.state == "needs_review" and status(sce) == "METER_INSTALLED"
    done = triage.accept(again, users["maria"])
    assert status(sce) == "PTO_GRANTED" and done.mail.state == "processed"
    moved = Event.select().where(Event.project == sce, Event.kind == "status").order_by(Event.id.desc()).first()
    assert moved.actor_id == users["maria"].id


def test_a_mail_that_keeps_failing_is_quarantined_after_a_fixed_number_of_runs(sce):
    from inbox.pipeline import MAX_FAILURES, failed
    mail = run(pto())
    for n in range(1, MAX_FAILURES):
        again = failed(mail.id, "ValueError: a step broke")
        assert (again.state, again.failures) == ("pending", n) and f"({n} of {MAX_FAILURES})" in again.reason
    # A failure that is not the last: the next run takes it as usual.
    assert run_now(InboundMail.get_by_id(mail.id), INTAKE).state == "processed"
    last = failed(mail.id, "TimeLimitExceeded: the pipeline ran past its time limit")
    assert last.state == "quarantined" and f"failed {MAX_FAILURES} times" in last.reason
    assert InboundMail.get_by_id(mail.id).requeue(), "a person may still process it again by hand"


def test_a_notice_linked_by_hand_is_applied_by_the_persons_accept(db, users):
    from inbox import triage
    p = make_project(utility="SCE", customer_name="Dana Pate", refs={"utility_part1": ("AGREEMENT_EXECUTED", REF),
                                                                     "utility_part2": ("METER_INSTALLED", None)})
    mail = run(mails.message("SCE Grid <noreply@sce.com>", "Permission to operate granted",
                             "The system has been granted permission to operate."))
    assert mail.state == "unmatched" and mail.notice == "pto_granted"
    linked = triage.link(mail, p, users["maria"], intake=INTAKE).mail
    assert linked.state == "needs_review" and "linked to the project by a person" in linked.reason
    assert status(p) == "METER_INSTALLED"
    triage.accept(linked, users["maria"])
    moved = Event.select().where(Event.project == p, Event.kind == "status").order_by(Event.id.desc()).first()
    assert status(p) == "PTO_GRANTED" and moved.actor_id == users["maria"].id
