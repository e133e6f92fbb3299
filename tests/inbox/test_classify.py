"""What kind of mail this is, and which identifiers it carries (pure: no database)."""
from __future__ import annotations

import pytest

from inbox.classify import classify
from inbox.match import identifiers, plus_ids, token_ids
from inbox.parse import ParsedMail, parse
from models import tokens
from models.catalog_ref import current
from tests import mails

ORIGINAL = mails.message(f"Solar Desk <{mails.DESK}>", "Documents we still need", "Please send your bill.",
                         to="ana@example.net", message_id="<ix-out-1@example.com>")


def kind(raw: bytes) -> str:
    return classify(parse(raw)).kind


def test_a_person_writing_is_human():
    verdict = classify(parse(mails.message("ana@example.net", "Re: Documents we still need", "Attached.")))
    assert (verdict.kind, verdict.rule) == ("human", "no automatic-mail marker")


@pytest.mark.parametrize("subject, headers", [
    ("Re: Documents", {"Auto-Submitted": "auto-replied"}),
    ("Re: Documents", {"Auto-Submitted": "auto-notified"}),
    ("Re: Documents", {"Auto-Submitted": "Auto-Replied"}),
    ("Re: Documents", {"Auto-Submitted": "auto-replied (zimbra; vacation)"}),  # RFC 3834 allows a comment
    ("Re: Documents", {"Auto-Submitted": "auto-replied; owner-email=\"ana@example.net\""}),
    ("Re: Documents", {"X-Autoreply": "yes"}),
    ("Re: Documents", {"X-Autorespond": "Vacation"}),
    ("Re: Documents", {"Precedence": "auto_reply"}),
    ("Automatic reply: Documents", {}),
    ("Automatic reply: Documents", {"X-Auto-Response-Suppress": "All"}),
    ("Out of Office: Documents", {}),
    ("AUTO: Ana Ruiz is out of the office (returning 03/10/2026)", {}),  # Lotus Notes / HCL Notes
    ("AutoReply: Documents", {}),
    ("Abwesenheitsnotiz: Documents", {}),
    ("Réponse automatique : Documents", {}),
    ("Respuesta automática: Documents", {}),
])
def test_out_of_office_replies(subject, headers):
    assert kind(mails.message("ana@example.net", subject, "I am away until Monday.", headers=headers)) \
        == "auto_reply"


def test_auto_submitted_no_is_a_person():
    assert kind(mails.message("ana@example.net", "Re: Documents", "Here.", headers={"Auto-Submitted": "no"})) \
        == "human"


@pytest.mark.parametrize("headers", [
    {"List-Id": "<news.example.org>"},
    {"List-Unsubscribe": "<mailto:leave@example.org>"},
    {"Precedence": "bulk"},
    {"Precedence": "list"},
    {"Precedence": "junk"},
])
def test_bulk_and_list_mail(headers):
    assert kind(mails.message("news@example.org", "Newsletter", "News.", headers=headers)) == "bulk"


def test_an_out_of_office_from_a_list_is_an_auto_reply():
    raw = mails.message("ana@example.net", "Re: x", "away", headers={"Auto-Submitted": "auto-replied",
                                                                      "Precedence": "bulk"})
    assert kind(raw) == "auto_reply"


@pytest.mark.parametrize("returned", ["message", "headers", "none"])
def test_a_delivery_status_notification_is_a_bounce_naming_our_message(returned):
    verdict = classify(parse(mails.dsn(ORIGINAL, "ana@example.net", returned=returned)))
    assert verdict.kind == "bounce"
    assert verdict.report.failed == ["ana@example.net"]
    if returned != "none":
        assert verdict.report.original_message_id == "<ix-out-1@example.com>"


def test_a_delayed_delivery_report_is_not_a_bounce():
    verdict = classify(parse(mails.dsn(ORIGINAL, "ana@example.net", action="delayed", status="4.4.1")))
    assert verdict.kind == "auto_reply" and "delayed" in verdict.rule


def test_a_plain_mailer_daemon_bounce():
    verdict = classify(parse(mails.daemon_bounce("<ix-out-1@example.com>", "ana@example.net")))
    assert verdict.kind == "bounce"
    assert verdict.report.original_message_id == "<ix-out-1@example.com>"
    assert "ana@example.net" in verdict.report.failed and "5.1.1" in verdict.report.diagnostic


@pytest.mark.parametrize("frm, subject, headers", [
    ("postmaster@mail.example.org", "Undeliverable: Documents we still need", {}),
    ("Mail Delivery Subsystem <mailer-daemon@googlemail.com>", "Delivery Status Notification (Failure)", {}),
    ("someone@relay.example.org", "Mail delivery failed: returning message to sender",
     {"X-Failed-Recipients": "ana@example.net"}),
    ("MAILER-DAEMON@mx.example.org", "", {}),
])
def test_non_standard_bounces(frm, subject, headers):
    body = "Your message to ana@example.net could not be delivered.\nMessage-ID: <ix-out-1@example.com>\n"
    verdict = classify(parse(mails.message(frm, subject, body, headers=headers)))
    assert verdict.kind == "bounce"
    assert verdict.report.original_message_id == "<ix-out-1@example.com>"
    assert "ana@example.net" in verdict.report.failed


def test_a_person_writing_about_returned_mail_is_not_a_bounce():
    assert kind(mails.message("ana@example.net", "Returned mail? I never got your message", "Can you resend?")) \
        == "human"


def test_a_read_receipt():
    assert kind(mails.read_receipt("<ix-out-1@example.com>", "ana@example.net")) == "receipt"
    exchange = mails.message("ana@example.net", "Read: Documents we still need", "Your message was read.",
                             headers={"X-MS-Exchange-Organization-MessageSubType": "MDN"})
    assert kind(exchange) == "receipt"


def test_an_abuse_report_is_a_complaint():
    raw = mails.raw([("From", "abuse@isp.example"), ("To", mails.DESK), ("Subject", "complaint"),
                     ("MIME-Version", "1.0"),
                     ("Content-Type", 'multipart/report; report-type=feedback-report; boundary="f"')],
                    b"--f\r\nContent-Type: text/plain\r\n\r\nspam report\r\n--f\r\n"
                    b"Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\r\n--f--\r\n")
    assert kind(raw) == "complaint"


def test_a_bounce_wins_over_its_auto_submitted_header():
    assert kind(mails.dsn(ORIGINAL, "ana@example.net")) == "bounce"  # DSNs carry Auto-Submitted: auto-replied


# --- identifiers ------------------------------------------------------------------------------------------------

PATTERNS = [p.regex for u in current().utilities.values() for p in u.reference_patterns]


def ids(subject: str, text: str = "") -> list[str]:
    return identifiers(ParsedMail(subject=subject, text=text), PATTERNS)


@pytest.mark.parametrize("subject, text, expected", [
    ("Application SCE-INT-NST-396139 approved", "", "SCE-INT-NST-396139"),
    ("Update", "Application ID: PGE-INT-300123456\n", "PGE-INT-300123456"),
    ("Permit #B24-0012 issued", "", "B24-0012"),
    ("Update", "Permit No. bld2026-00417 is ready\n", "BLD2026-00417"),
    ("Update", "Work order number: WO-778812\n", "WO-778812"),
    ("Update", "ESI ID 10443720001234567\n", "10443720001234567"),
    ("Update", "Reservation ID: 7654321\n", "7654321"),
    ("TMK (1) 2-3-004:005", "", "(1) 2-3-004:005"),
])
def test_identifiers_are_found(subject, text, expected):
    assert expected in ids(subject, text)


def test_identifiers_are_whole_numbers_not_slices_of_longer_ones():
    """An APS 6-8 digit pattern must not cut '30012345' out of PG&E's 'PGE-INT-300123456'."""
    found = ids("Permission to operate - Application PGE-INT-300123456")
    assert found[0] == "PGE-INT-300123456", found
    assert not [f for f in found if f != "PGE-INT-300123456" and f in "PGE-INT-300123456"], found


def test_identifiers_skip_words_quotes_and_duplicates():
    found = ids("Reference: PENDING", "Application ID: sce-int-500005417\nSCE-INT-500005417 again\n"
                                      "> Permit #B99-0001 in the quoted mail\n")
    assert "PENDING" not in found and "B99-0001" not in found
    assert found.count("SCE-INT-500005417") == 1


def test_identifiers_are_capped():
    text = "\n".join(f"Permit #B{n:02d}-{n:04d}" for n in range(100))
    assert len(ids("x", text)) == 40


def test_reply_tokens_in_subject_body_and_plus_address():
    good = tokens.encode(4242)
    strong = tokens.Found(4242, "strong")
    assert token_ids(ParsedMail(subject=f"Re: [{good}]")) == [(strong, "subject")]
    assert token_ids(ParsedMail(subject="Re:", text=f"ref {good.lower()}")) == [(strong, "body")]
    assert token_ids(ParsedMail(subject=f"Re: [{good[:-1]}{'0' if good[-1] != '0' else '1'}]")) == []
    assert plus_ids(ParsedMail(to=[tokens.plus_address(mails.DESK, 4242)])) == [strong]
    assert plus_ids(ParsedMail(to=["desk+newsletter@example.com"])) == []


def test_a_token_carries_at_least_64_bits_nobody_outside_can_compute():
    token = tokens.encode(4242)
    assert len(token.rsplit("-", 1)[1]) * 5 >= 64 and token.startswith(tokens.legacy(4242) + "-")
    assert tokens.encode(4243).rsplit("-", 1)[1] != token.rsplit("-", 1)[1]
    # The old sequential form still routes a reply, as weak evidence only.
    assert tokens.find(f"Re: [{tokens.legacy(4242)}]") == [tokens.Found(4242, "unkeyed")]


def test_rotated_keys_keep_old_tokens_working_as_weak_evidence():
    before = tokens.encode(4242)
    old = list(tokens._keys)
    try:
        tokens.configure(["a-brand-new-token-key-0123456789", *old])
        assert tokens.find(before) == [tokens.Found(4242, "old_key")]
        assert tokens.find(tokens.encode(4242)) == [tokens.Found(4242, "strong")]
        tokens.configure(["a-brand-new-token-key-0123456789"])
        assert tokens.find(before) == [], "a token under a key the desk no longer has is no token"
    finally:
        tokens.configure(old)
