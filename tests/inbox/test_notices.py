"""Reading a notice's wording, the corrections it lists and the documents its files are (pure: no database)."""
from __future__ import annotations

import pytest

from catalog.model import NoticePhrase
from inbox import notices
from inbox.apply import deficiency_items
from inbox.attach import doc_types_for
from inbox.notices import read, target_status
from models.catalog_ref import current

GENERIC = list(current().notice_phrases)


def phrases_of(code: str | None = None) -> list[NoticePhrase]:
    return GENERIC + (list(current().utilities[code].notice_phrases) if code else [])


def utility(subject: str, text: str = "", code: str | None = None):
    return read(subject, text, phrases_of(code), "utility")


def ahj(subject: str, text: str = ""):
    return read(subject, text, GENERIC, "ahj")


def test_subject_wording_is_surest():
    r = utility("Corrections Required - Application SCE-INT-NST-396139", "Please see the portal.")
    assert (r.notice, r.confidence, r.conflict) == ("deficiency", 0.95, False)
    assert "corrections required" in r.why


def test_body_wording_alone_is_enough_to_apply():
    r = utility("Application update", "The meter has been ordered.")
    assert r.notice == "meter_ordered" and r.confidence == notices.APPLY_AT


def test_two_notices_in_the_body_take_the_furthest_but_below_the_bar():
    r = utility("Application update", "The meter has been ordered. Permission to operate is granted.")
    assert r.notice == "pto_granted" and r.confidence < notices.APPLY_AT and "also: meter_ordered" in r.why


def test_subject_beats_body():
    r = utility("Meter ordered", "Once installed, the inspection has been scheduled by our crew.")
    assert r.notice == "meter_ordered" and r.confidence == 0.95


@pytest.mark.parametrize("text", [
    "Do not operate your system until you receive permission to operate.",
    "You may not turn the system on before permission to operate is granted.",
    "Once you have permission to operate, you may turn the system on.",
    "Permission to operate is pending the meter exchange.",
    "If the inspection passes we will send the PTO letter.",
    "Awaiting PTO letter from the field team.",
    "PG&E will issue permission to operate within 10 business days of the final inspection.",
    "You will receive permission to operate by email.",
])
def test_hedged_wording_never_acts_alone(text):
    """A condition, a promise or a pending step is not news of PTO."""
    r = utility("Your application", text)
    assert not (r.notice == "pto_granted" and r.confidence >= notices.APPLY_AT), r


def test_a_hedge_in_one_sentence_does_not_reach_the_next():
    r = utility("Your application", "Do not reply to this mail. Your system has permission to operate.")
    assert r.notice == "pto_granted" and r.confidence == 0.8


def test_hedged_pto_inside_an_approval_is_an_approval():
    r = utility("Application PGE-INT-300123456", "Your application has been approved.\n"
                "Do not operate your system until you receive permission to operate.", "PGE")
    assert (r.notice, r.conflict) == ("approved_to_install", False) and r.confidence >= notices.APPLY_AT


@pytest.mark.parametrize("subject, text", [
    ("Application update", "Your application has been approved to install. A deficiency was found."),
    ("Deficiency notice", "Your application has been approved to install."),
    ("Inspection failed", "Inspection passed for the electrical portion."),
])
def test_opposed_wording_is_a_conflict(subject, text):
    r = read(subject, text, GENERIC, "ahj" if "Inspection" in subject else "utility")
    assert r.conflict and r.confidence < notices.APPLY_AT and "conflicting wording" in r.why


def test_only_conditional_wording_is_a_weak_guess():
    r = utility("Your application", "Until corrections required items are fixed nothing moves.")
    assert r.confidence == 0.3 and r.notice == "deficiency" and "only conditional wording" in r.why


def test_no_wording():
    r = utility("Hello", "Just checking in about the roof.")
    assert (r.notice, r.confidence, r.hits) == (None, 0.0, [])


def test_phrases_match_from_a_word_start_only():
    assert utility("Deficiencies found").notice == "deficiency"
    assert utility("Nondeficient review").notice is None
    assert utility("SOLAR PERMISSION TO OPERATE").notice == "pto_granted"


def test_who_may_say_what():
    assert utility("Permit has been issued").notice is None, "a utility does not issue permits"
    assert ahj("Permit has been issued").notice == "permit_issued"
    assert ahj("Permission to operate").notice is None, "a city does not grant PTO"
    assert ahj("Plan check comments").notice == "deficiency"
    assert utility("Plan check comments").notice is None


@pytest.mark.parametrize("subject, notice", [
    ("Permit B24-0012 has been issued", "permit_issued"),
    ("A correction notice has been issued for permit B24-0012", "deficiency"),
    ("A stop work order has been issued for permit B24-0012", None),
    ("An invoice has been issued for permit B24-0012", None),
])
def test_only_a_permit_being_issued_is_a_permit_issued(subject, notice):
    """'has been issued' alone says nothing about what was issued."""
    r = ahj(subject)
    assert (r.notice if r.confidence >= notices.APPLY_AT else None) == notice, r


def test_a_utilitys_own_phrase_reads_only_for_that_utility():
    assert utility("Approval to energize", code="DUKE_NC").notice == "pto_granted"
    assert utility("Approval to energize").notice is None


@pytest.mark.parametrize("code, phrase", [
    pytest.param(code, ph, id=f"{code}-{ph.phrase}")
    for code, u in sorted(current().utilities.items()) for ph in u.notice_phrases])
def test_each_utility_phrase_in_a_subject_is_one_clear_notice(code, phrase):
    """Generic and utility wording for the same words must agree, or every such mail needs a person."""
    r = utility(f"{phrase.phrase.title()} - Application 12345", "Sign in to the portal for details.", code)
    assert r.notice == phrase.notice and r.confidence >= notices.APPLY_AT, (r.notice, r.confidence, r.why)


@pytest.mark.parametrize("phrase", GENERIC, ids=lambda p: p.phrase)
def test_each_generic_phrase_reads_as_its_notice(phrase):
    authority = "ahj" if phrase.authority == "ahj" else "utility"
    r = read(f"{phrase.phrase.title()}: Application 12345", "", GENERIC, authority)
    if phrase.notice in notices.TARGETS[authority]:
        assert r.notice == phrase.notice and r.confidence == 0.95, r
    else:
        assert r.notice is None


@pytest.mark.parametrize("authority, notice, kind, status", [
    ("utility", "deficiency", "utility_part1", "DEFICIENT"),
    ("utility", "deficiency", "utility_part2", "DEFICIENT"),
    ("utility", "pto_granted", "utility_part2", "PTO_GRANTED"),
    ("utility", "pto_granted", "utility_part1", None),
    ("utility", "meter_ordered", "utility_part2", "METER_ORDERED"),
    ("utility", "conditional_approval", "utility_part1", "APPROVED_TO_INSTALL"),
    ("ahj", "permit_issued", "ahj_permit", "APPROVED_TO_INSTALL"),
    ("ahj", "inspection_passed", "ahj_permit", "PTO_GRANTED"),
    ("ahj", "pto_granted", "ahj_permit", None),
    ("utility", "permit_issued", "ahj_permit", None),
])
def test_target_status(authority, notice, kind, status):
    assert target_status(authority, notice, kind) == status


def test_every_notice_a_utility_can_send_creates_an_application_kind_it_moves():
    for authority, table in notices.TARGETS.items():
        for notice, moves in table.items():
            if notice in ("cured", "cancelled", "withdrawn", "agreement_executed"):
                assert notice not in notices.CREATES[authority], "these only ever follow an application on the desk"
                continue
            assert notices.CREATES[authority][notice] in moves, (authority, notice)


# --- the corrections a deficiency lists ---------------------------------------------------------------------------

def test_deficiency_items_from_bullets_and_numbers():
    text = ("Your application is deficient.\n\n"
            "- Single-line diagram does not show the AC disconnect\n"
            "* Customer authorization is missing page 2\n"
            "• Inverter model is not CEC listed\n"
            "1. Upload a current utility bill\n"
            "2) Site plan must show the meter location\n"
            "  10. Provide the battery spec sheet\n\n"
            "Thank you.\n")
    assert deficiency_items(text) == [
        "Single-line diagram does not show the AC disconnect", "Customer authorization is missing page 2",
        "Inverter model is not CEC listed", "Upload a current utility bill",
        "Site plan must show the meter location", "Provide the battery spec sheet"]


def test_deficiency_items_ignore_prose_signatures_and_short_lines():
    text = "Please fix the items below.\n- ok\n-- \nPat Rep\n-not a bullet\n2026. A year\n"
    assert deficiency_items(text) == []


def test_deficiency_items_are_at_most_ten():
    assert len(deficiency_items("".join(f"- correction number {n}\n" for n in range(25)))) == 10


def test_no_text_no_items():
    assert deficiency_items("") == [] and deficiency_items(None) == []


# --- which document a file is -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, first", [
    ("PTO Letter.pdf", "PTO_LETTER"),
    ("Permission_to_Operate_PGE-INT-300123456.pdf", "PTO_LETTER"),
    ("SLD rev2.pdf", "SLD"),
    ("single-line diagram.pdf", "SLD"),
    ("Three-line.pdf", None),
    ("COI 2026.pdf", "INSURANCE_COI"),
    ("Executed Interconnection Agreement.pdf", "INTERCONNECTION_AGREEMENT"),
    ("NEM agreement signed.pdf", "INTERCONNECTION_AGREEMENT"),
    ("Signed_Authorization.pdf", "CUSTOMER_AUTH"),
    ("A&A signed.pdf", "CUSTOMER_AUTH"),
    ("Final inspection card.jpg", "AHJ_FINAL"),
    ("Job Card.jpg", "AHJ_FINAL"),
    ("SolarAPP approval.pdf", "SOLARAPP_APPROVAL"),
    ("site plan.pdf", "SITE_PLAN"),
    ("Inverter data sheet.pdf", "SPEC_SHEETS"),
    ("PPA.pdf", "SALES_CONTRACT"),
    ("PGE_bill_march.pdf", "UTILITY_BILL"),
    ("Electric statement.pdf", "UTILITY_BILL"),
    ("Billing questions.pdf", None),
    ("Please sign.pdf", None),
    ("Isabella photo.jpg", None),
    ("IMG_2231.jpg", None),
])
def test_doc_types_from_the_file_name(name, first):
    types = doc_types_for(name)
    assert (types[0] if types else None) == first, types


def test_doc_types_from_the_first_page_when_the_name_says_nothing():
    assert doc_types_for("scan0001.pdf", "PACIFIC GAS AND ELECTRIC\nPermission to Operate\n") == ("PTO_LETTER",)
    assert doc_types_for("scan0001.pdf", "") == ()
