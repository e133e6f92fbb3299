"""Sender authentication: which Authentication-Results count, DMARC alignment, DKIM verified here, ARC."""
from __future__ import annotations

import dataclasses
import json

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from inbox.auth import AuthSettings, authenticate, organisational, parse_results
from inbox.parse import parse
from tests import mails

OURS = AuthSettings(authserv_ids=("mx.ixdesk.test",), receiving_hosts=("imap.ixdesk.test",), verify_dkim=False)
TOP = "Received: from mx.ixdesk.test (localhost [127.0.0.1]) by imap.ixdesk.test with LMTP; Mon, 2 Mar 2026 09:30:02 +0000\r\n"
OUTSIDE = "Received: from mail.sce.com (mail.sce.com [203.0.113.7]) by mx.ixdesk.test with ESMTPS; Mon, 2 Mar 2026 09:30:01 +0000\r\n"
PASS = "Authentication-Results: mx.ixdesk.test; spf=pass smtp.mailfrom=sce.com; dkim=pass header.d=sce.com; dmarc=pass header.from=sce.com\r\n"


def notice(frm: str = "Interconnection <noreply@sce.com>", body: str = "Permission to operate granted.",
           headers=None) -> bytes:
    return mails.message(frm, "PTO granted - SCE-INT-NST-396139", body, headers=headers)


def verdict(raw: bytes, settings: AuthSettings = OURS):
    return authenticate(parse(raw).header_list, raw, settings)


def test_our_servers_dmarc_pass_authenticates_the_from_domain():
    v = verdict((TOP + PASS + OUTSIDE).encode() + notice())
    assert (v.verdict, v.domain, v.method) == ("pass", "sce.com", "our server") and not v.ignored


def test_no_results_is_no_evidence():
    v = verdict(notice())
    assert v.verdict == "none" and "mx.ixdesk.test" in v.why


def test_results_below_the_outside_received_were_written_by_the_sender():
    v = verdict((TOP + OUTSIDE + PASS).encode() + notice())
    assert v.verdict == "none" and "below the first Received from outside" in v.ignored[0]


def test_results_of_another_server_are_ignored_and_recorded():
    other = PASS.replace("mx.ixdesk.test", "mx.google.com")
    v = verdict((TOP + other + OUTSIDE).encode() + notice())
    assert v.verdict == "none" and "mx.google.com" in v.ignored[0]


def test_an_internal_relay_above_keeps_our_results_in_view():
    relay = "Received: from imap.ixdesk.test (imap.ixdesk.test [10.0.0.5]) by store.ixdesk.test; Mon, 2 Mar 2026\r\n"
    raw = (relay + TOP + PASS + OUTSIDE).encode() + notice()
    assert verdict(raw).verdict == "none", "a host we were not told is ours ends the trusted top"
    listed = dataclasses.replace(OURS, receiving_hosts=("imap.ixdesk.test", "store.ixdesk.test"))
    assert verdict(raw, listed).verdict == "pass"


def test_a_content_filter_reinjecting_on_our_server_keeps_the_top_trusted():
    filtered = "Received: from localhost (localhost [127.0.0.1]) by mx.ixdesk.test (amavis); Mon, 2 Mar 2026\r\n"
    assert verdict((TOP + PASS + filtered + OUTSIDE).encode() + notice()).verdict == "pass"


@pytest.mark.parametrize("helo", ["mx.ixdesk.test", "localhost", "127.0.0.1", "imap.ixdesk.test"])
def test_a_helo_naming_our_own_host_does_not_extend_the_trusted_top(helo):
    """The from-clause's name is whatever the sender said; what counts is who wrote the line, for which peer."""
    outside = f"Received: from {helo} (unknown [198.51.100.9]) by mx.ixdesk.test with ESMTP; Mon, 2 Mar 2026\r\n"
    forged = "Authentication-Results: mx.ixdesk.test; dkim=pass header.d=sce.com header.s=s1\r\n"
    v = verdict((TOP + outside + forged).encode() + notice())
    assert v.verdict == "none" and "below the first Received from outside" in v.ignored[0]


def test_an_escaped_quote_cannot_end_a_quoted_string_early():
    smuggled = ('Authentication-Results: mx.ixdesk.test; spf=pass smtp.mailfrom="x\\";dmarc=pass header.from=sce.com;'
                'y=\\""@attacker.test\r\n')
    assert verdict((TOP + smuggled + OUTSIDE).encode() + notice()).verdict == "none"


def test_a_second_subject_under_a_genuine_signature_is_refused():
    raw = (TOP + PASS + OUTSIDE + "Subject: Permission to operate granted\r\n").encode() + notice()
    v = verdict(raw)
    assert v.verdict == "refused" and "subject" in v.why


def test_huge_result_headers_are_placed_before_they_are_read():
    """Only a header's authserv-id is read to place it; results longer than a server writes are not parsed."""
    junk = "Authentication-Results: mx.ixdesk.test; " + ";" * 100_000 + "\r\n"
    v = verdict((TOP + PASS + OUTSIDE + junk * 20).encode() + notice())
    assert v.verdict == "pass" and "below the first Received" in v.ignored[0]
    huge = "Authentication-Results: mx.ixdesk.test; dmarc=pass header.from=sce.com; " + "x=y; " * 5000 + "\r\n"
    v = verdict((TOP + huge + OUTSIDE).encode() + notice())
    assert v.verdict == "none" and "longer than" in " ".join(v.ignored)


def test_dmarc_fail_is_a_fail():
    v = verdict((TOP + PASS.replace("dmarc=pass", "dmarc=fail") + OUTSIDE).encode() + notice())
    assert v.verdict == "fail" and "DMARC fail" in v.why


def test_dmarc_for_another_domain_says_nothing_about_this_one():
    v = verdict((TOP + PASS.replace("header.from=sce.com", "header.from=evil.example").replace(
        "header.d=sce.com", "header.d=evil.example") + OUTSIDE).encode() + notice())
    assert v.verdict != "pass"


def test_an_aligned_dkim_pass_counts_when_no_dmarc_verdict_is_recorded():
    results = "Authentication-Results: mx.ixdesk.test; dkim=pass header.d=mail.sce.com header.s=k1\r\n"
    v = verdict((TOP + results + OUTSIDE).encode() + notice())
    assert v.verdict == "pass" and "aligned" in v.why
    unaligned = "Authentication-Results: mx.ixdesk.test; dkim=pass header.d=esp.example header.s=k1\r\n"
    assert verdict((TOP + unaligned + OUTSIDE).encode() + notice()).verdict == "none"


def test_dmarc_none_is_not_a_pass_even_with_dkim():
    results = ("Authentication-Results: mx.ixdesk.test; dkim=pass header.d=sce.com; dmarc=none "
               "header.from=sce.com\r\n")
    assert verdict((TOP + results + OUTSIDE).encode() + notice()).verdict == "none"


def test_two_from_headers_are_never_authenticated():
    raw = (TOP + PASS + OUTSIDE + "From: Attacker <a@evil.example>\r\n").encode() + notice()
    v = verdict(raw)
    assert v.verdict == "refused" and "2 From headers" in v.why


def test_a_dkim_body_length_limit_is_never_authenticated():
    sig = "DKIM-Signature: v=1; a=rsa-sha256; d=sce.com; s=k1; l=20; h=from:subject; bh=abc; b=def\r\n"
    v = verdict((TOP + PASS + OUTSIDE + sig).encode() + notice())
    assert v.verdict == "refused" and "l=" in v.why


def test_disagreeing_results_from_our_server_are_refused():
    both = PASS + PASS.replace("dmarc=pass", "dmarc=fail")
    assert verdict((TOP + both + OUTSIDE).encode() + notice()).verdict == "refused"


@pytest.mark.parametrize("header", [
    "Authentication-Results: ;;;\r\n",
    "Authentication-Results: (((((\r\n",
    "Authentication-Results: mx.ixdesk.test; dmarc\r\n",
    "Authentication-Results: mx.ixdesk.test; dmarc=pass header.from\r\n",
])
def test_broken_results_end_in_a_verdict_not_an_error(header):
    v = verdict((TOP + header + OUTSIDE).encode() + notice())
    assert v.verdict == "none", v


def test_comments_and_quoting_in_results():
    authserv, results = parse_results('mx.ixdesk.test 1; dmarc=pass (p=reject dis=none) header.from="sce.com"; '
                                      'dkim=pass (2048-bit key; unprotected) header.d=sce.com header.s=x')
    assert authserv == "mx.ixdesk.test"
    assert [(r.method, r.result, r.props.get("header.from") or r.props.get("header.d")) for r in results] == [
        ("dmarc", "pass", "sce.com"), ("dkim", "pass", "sce.com")]


def test_relaxed_alignment_uses_the_public_suffix_list():
    assert organisational("notices.mail.sce.com") == "sce.com"
    assert organisational("city.example.co.uk") == "example.co.uk"
    assert organisational("ci.oakland.ca.us") == "oakland.ca.us"


# --- DKIM verified here (no server in front of the desk authenticates) ------------------------------------------

@pytest.fixture(scope="module")
def key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


@pytest.fixture
def here(tmp_path, key):
    records = tmp_path / "dns.json"
    records.write_text(json.dumps({"k1._domainkey.sce.com": key[1], "k1._domainkey.esp.example": key[1]}))
    return AuthSettings(verify_dkim=True, dns=f"file:{records}")


def signed(raw: bytes, pem: bytes, domain: str = "sce.com", length: bool = False) -> bytes:
    sig = dkim.sign(raw, b"k1", domain.encode(), pem, include_headers=[b"from", b"subject", b"date"],
                    length=length)
    return sig + raw


def test_a_valid_signature_is_verified_here(here, key):
    v = verdict(signed(notice(), key[0]), here)
    assert (v.verdict, v.method) == ("pass", "dkim-here") and "sce.com" in v.why


def test_a_changed_body_fails_here(here, key):
    raw = signed(notice(), key[0]).replace(b"Permission to operate granted.", b"Permission to operate DENIED.")
    assert verdict(raw, here).verdict == "fail"


def test_a_signature_of_another_domain_is_not_aligned(here, key):
    v = verdict(signed(notice(), key[0], domain="esp.example"), here)
    assert v.verdict == "none" and "not aligned" in v.why


def test_an_unknown_key_is_no_pass(here, key, tmp_path):
    empty = tmp_path / "none.json"
    empty.write_text("{}")
    v = verdict(signed(notice(), key[0]), AuthSettings(verify_dkim=True, dns=f"file:{empty}"))
    assert v.verdict == "fail"


def test_a_signature_over_a_huge_body_ends_in_a_verdict(here, key):
    raw = signed(notice(body="x" * 200 + "\n" + ("word " * 20 + "\n") * 200_000), key[0])
    assert verdict(raw, here).verdict == "pass"


def test_length_limited_signature_is_refused_even_when_valid(here, key):
    raw = signed(notice(), key[0], length=True) .replace(b"granted.", b"granted.\r\nP.S. appended by anyone")
    assert verdict(raw, here).verdict == "refused"


# --- ARC: a trusted sealer's record of the original authentication ---------------------------------------------

ARC = ("ARC-Seal: i=1; a=rsa-sha256; d=forwarder.example; s=arc; cv=none; b=xyz\r\n"
       "ARC-Message-Signature: i=1; a=rsa-sha256; d=forwarder.example; s=arc; h=from; bh=a; b=b\r\n"
       "ARC-Authentication-Results: i=1; mx.forwarder.example; dkim=pass header.d=sce.com; dmarc=pass "
       "header.from=sce.com\r\n")


def test_arc_counts_only_from_a_sealer_the_operator_trusts():
    ours = "Authentication-Results: mx.ixdesk.test; arc=pass; dkim=fail; dmarc=fail header.from=sce.com\r\n"
    raw = (TOP + ours + OUTSIDE + ARC).encode() + notice()
    assert verdict(raw).verdict == "fail"
    trusted = AuthSettings(authserv_ids=OURS.authserv_ids, receiving_hosts=OURS.receiving_hosts,
                           arc_trusted_sealers=("forwarder.example",), verify_dkim=False)
    v = verdict(raw, trusted)
    assert v.verdict == "pass" and "trusted sealer forwarder.example" in v.why
    other = dataclasses.replace(trusted, arc_trusted_sealers=("lists.example",))
    assert verdict(raw, other).verdict == "fail"


def test_arc_without_our_servers_pass_of_the_chain_counts_for_nothing():
    ours = "Authentication-Results: mx.ixdesk.test; arc=fail; dmarc=fail header.from=sce.com\r\n"
    trusted = dataclasses.replace(OURS, arc_trusted_sealers=("forwarder.example",))
    assert verdict((TOP + ours + OUTSIDE + ARC).encode() + notice(), trusted).verdict == "fail"


def test_a_seal_cannot_name_a_second_sealer_inside_another_tag():
    """DKIM tag lists: "zz=1 d=forwarder.example" is the value of zz; the sealer is still attacker.test."""
    ours = "Authentication-Results: mx.ixdesk.test; arc=pass; dmarc=fail header.from=sce.com\r\n"
    seal = ARC.replace("d=forwarder.example; s=arc; cv=none", "d=attacker.test; s=arc; cv=none; zz=1 d=forwarder.example")
    trusted = dataclasses.replace(OURS, arc_trusted_sealers=("forwarder.example",))
    v = verdict((TOP + ours + OUTSIDE + seal).encode() + notice(), trusted)
    assert v.verdict == "fail", v
