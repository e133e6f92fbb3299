"""Reading mail (pure: no database): charsets, addresses, bodies, attachments, reports, and the reply's own text."""
from __future__ import annotations

import base64

import pytest

from inbox.match import own_text
from inbox.parse import MAX_TEXT, ParseError, decode_bytes, decode_header, parse
from tests import files, mails


@pytest.mark.parametrize("text, data, label", [
    ("태양광 똠방각하", "태양광 똠방각하".encode("cp949"), "ks_c_5601-1987"),  # 똠 is outside EUC-KR proper
    ("태양광", "태양광".encode("cp949"), "EUC-KR"),
    ("光伏 𠮷 €", "光伏 𠮷 €".encode("gb18030"), "gb2312"),  # labelled GB2312, written as GB18030
    ("申请", "申请".encode("gbk"), "x-gbk"),
    ("“quoted” — café", "“quoted” — café".encode("cp1252"), "iso-8859-1"),  # Windows text under a Latin-1 label
    ("naïve", "naïve".encode("utf-8"), "us-ascii"),  # 8-bit UTF-8 under an ASCII label
    ("naïve", "naïve".encode("utf-8"), None),
    ("naïve", "naïve".encode("utf-8"), '"UTF-8"'),
    ("naïve", "naïve".encode("utf-8"), "x-no-such-charset"),
    ("①②㈱", "①②㈱".encode("cp932"), "shift_jis"),
    ("สวัสดี", "สวัสดี".encode("cp874"), "tis-620"),
    ("太陽光発電", "太陽光発電".encode("iso2022_jp"), "ISO-2022-JP"),
])
def test_decode_bytes_forgives_the_labels_senders_use(text, data, label):
    assert decode_bytes(data, label) == text


def test_decode_bytes_never_raises_on_garbage():
    assert isinstance(decode_bytes(bytes(range(256)), "utf-8"), str)
    assert isinstance(decode_bytes(b"\xff\xfe\x00", "ks_c_5601-1987"), str)


def test_encoded_words_in_any_charset():
    assert decode_header(mails.encoded_word("光伏 𠮷", "gb2312", "gb18030")) == "光伏 𠮷"
    assert decode_header(mails.encoded_word("申請について", "iso-2022-jp")) == "申請について"
    assert decode_header("=?utf-8?Q?Caf=C3=A9?= =?utf-8?Q?_ok?=") == "Café ok"
    assert decode_header("=?bogus?Q?broken") == "=?bogus?Q?broken"


def test_headers_addresses_and_threading():
    raw = mails.message('"Ruiz, Ana" <Ana.Ruiz@Example.NET>', "=?utf-8?Q?Solicitud_fotovoltaica?=", "hola",
                        to="Desk <desk@example.com>, other@example.org", cc="cc@example.org",
                        message_id="<abc@example.net>", in_reply_to="<ix-1@example.com>",
                        references="<ix-0@example.com> <ix-1@example.com>",
                        headers=[("Delivered-To", "desk+ix-12@example.com"), ("Return-Path", "<>")])
    m = parse(raw)
    assert (m.from_name, m.from_addr) == ("Ruiz, Ana", "ana.ruiz@example.net")
    assert m.subject == "Solicitud fotovoltaica" and m.message_id == "<abc@example.net>"
    assert m.to == ["desk@example.com", "other@example.org"] and m.cc == ["cc@example.org"]
    assert "desk+ix-12@example.com" in m.recipients
    assert m.in_reply_to == ["<ix-1@example.com>"] and m.references == ["<ix-0@example.com>", "<ix-1@example.com>"]
    assert m.return_path == "" and m.sender_domain == "example.net"
    assert m.date is not None and m.date.tzinfo is None and m.date.hour == 9


def test_raw_utf8_headers_are_read():
    """RFC 6532 (SMTPUTF8): UTF-8 written straight into headers, no encoded words."""
    raw = ("From: José Núñez <jose@example.net>\r\nTo: desk@example.com\r\n"
           "Subject: Solicitud de conexión ☀\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCafé\r\n").encode()
    m = parse(raw)
    assert (m.subject, m.from_name, m.from_addr) == ("Solicitud de conexión ☀", "José Núñez", "jose@example.net")
    assert m.header("subject") == "Solicitud de conexión ☀"


def test_undeclared_8bit_headers_are_decoded_like_an_undeclared_body():
    """No charset anywhere: the same forgiving guess as a body (UTF-8, else Windows-1252), never U+FFFD."""
    raw = b"From: a@example.org\r\nSubject: \xd4\xc5\xd3\xd4 caf\xe9\r\n\r\n\xd4\xc5\xd3\xd4 caf\xe9\r\n"
    m = parse(raw)
    assert "\ufffd" not in m.subject
    assert m.subject == m.text.strip() == decode_bytes(b"\xd4\xc5\xd3\xd4 caf\xe9", None)


@pytest.mark.parametrize("header, utc", [
    ("Mon, 02 Mar 2026 01:30:00 -0800", "2026-03-02 09:30:00"),
    ("Mon, 02 Mar 2026 18:30:00 +0900", "2026-03-02 09:30:00"),
    ("Mon, 2 Mar 2026 09:30:00 GMT", "2026-03-02 09:30:00"),
    ("the day after tomorrow", None),
])
def test_dates_are_kept_in_utc(header, utc):
    m = parse(f"From: a@example.org\r\nSubject: x\r\nDate: {header}\r\n\r\nx\r\n".encode())
    assert (str(m.date) if m.date else None) == utc


def test_a_message_id_without_brackets_is_normalised():
    raw = mails.raw([("From", "a@example.org"), ("Message-ID", "  weird.id@host.example "), ("Subject", "x")], b"x")
    assert parse(raw).message_id == "<weird.id@host.example>"


def test_text_and_sanitised_html():
    m = parse(mails.message("a@example.org", "x", "plain words",
                            html='<p>html <b>words</b></p><script>evil()</script><a href="javascript:x()">l</a>'))
    assert m.text.strip() == "plain words"
    assert "<script" not in m.html and "evil()" not in m.html and "javascript:" not in m.html
    assert "<b>words</b>" in m.html


def test_html_only_mail_gets_text():
    raw = mails.raw([("From", "a@example.org"), ("Subject", "x"), ("MIME-Version", "1.0"),
                     ("Content-Type", "text/html; charset=utf-8")],
                    b"<style>p {color: red}</style><p>first</p><p>second&amp;third</p><script>no()</script>")
    m = parse(raw)
    assert m.text == "first\nsecond&third" and "no()" not in m.text and "color" not in m.text


def test_body_text_is_capped():
    m = parse(mails.message("a@example.org", "x", "y" * (MAX_TEXT + 5000)))
    assert len(m.text) == MAX_TEXT


def test_attachments_keep_their_names_including_rfc2231():
    pdf = files.pdf()
    raw = mails.raw([("From", "a@example.org"), ("Subject", "x"), ("MIME-Version", "1.0"),
                     ("Content-Type", 'multipart/mixed; boundary="b"')],
                    b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                    b"--b\r\nContent-Type: application/pdf\r\n"
                    b"Content-Disposition: attachment; filename*0*=utf-8''Autorizaci%C3%B3n%20;\r\n"
                    b" filename*1*=firmada.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    + base64.encodebytes(pdf) + b"--b--\r\n")
    m = parse(raw)
    assert [(a.name, a.content_type, a.data) for a in m.attachments] == [("Autorización firmada.pdf",
                                                                          "application/pdf", pdf)]
    assert m.text.strip() == "see attached"


def test_winmail_dat_is_unpacked():
    one, two = files.pdf("Signed authorization"), files.pdf("Bill", pages=2)
    m = parse(mails.with_winmail("a@example.org", "x", "files", mails.tnef([("Signed A&A.pdf", one),
                                                                         ("bill.pdf", two)])))
    assert [(a.name, a.data) for a in m.attachments] == [("Signed A&A.pdf", one), ("bill.pdf", two)]


def test_winmail_dat_file_names_in_the_senders_code_page():
    """A German or Spanish Outlook writes attAttachTitle in cp1252, not UTF-8."""
    pdf = files.pdf()
    m = parse(mails.with_winmail("a@example.org", "x", "files", mails.tnef([("Autorización firmada.pdf", pdf)])))
    assert [(a.name, a.data) for a in m.attachments] == [("Autorización firmada.pdf", pdf)]


@pytest.mark.parametrize("cut", [7, 20, 60])
def test_a_winmail_dat_that_yields_nothing_is_kept_as_it_came(cut):
    """A wrapper we cannot unpack (error, or nothing usable inside) stays whole for a person to look at."""
    broken = mails.tnef([("x.pdf", files.pdf())])[:cut]
    m = parse(mails.with_winmail("a@example.org", "x", "files", broken))
    assert [(a.name, a.data) for a in m.attachments] == [("winmail.dat", broken)]


def test_a_forward_keeps_the_original_and_marks_its_files():
    inner = mails.message("noreply@pge.com", "PTO letter", "Attached.",
                          attachments=[("PTO.pdf", files.pdf("PTO"), "application/pdf")])
    m = parse(mails.forwarded(inner, "ana@example.net", "Fwd: PTO letter", note="FYI"))
    assert [(a.name, a.content_type, a.forwarded) for a in m.attachments] == [
        ("PTO letter.eml", "message/rfc822", False), ("PTO.pdf", "application/pdf", True)]
    assert len(m.forwards) == 1 and b"Attached." in m.forwards[0]
    assert m.text.startswith("FYI") and "Attached." in m.text


def test_a_delivery_status_report_is_read():
    original = mails.message(mails.DESK, "Docs", "x", to="ana@example.net", message_id="<ix-5@example.com>")
    m = parse(mails.dsn(original, "ana@example.net", status="5.1.1"))
    assert m.report_type == "delivery-status" and m.report is not None
    assert m.report.original_message_id == "<ix-5@example.com>"
    # The original's own text is not this message's text.
    assert "x" not in m.text.split("\n") and m.attachments == []
    # The machine-readable fields of the message/delivery-status part.
    assert m.report.failed == ["ana@example.net"]
    assert (m.report.action, m.report.status) == ("failed", "5.1.1")
    assert "Recipient address rejected" in m.report.diagnostic


def test_a_report_returning_headers_only_names_the_original():
    original = mails.message(mails.DESK, "Docs", "x", to="ana@example.net", message_id="<ix-6@example.com>")
    m = parse(mails.dsn(original, "ana@example.net", returned="headers"))
    assert m.report.original_message_id == "<ix-6@example.com>"


def test_nesting_past_the_limit_is_a_parse_error():
    with pytest.raises(ParseError, match="nests parts too deeply"):
        parse(mails.nested(60))
    assert parse(mails.nested(5)).text.strip() == "deep inside"


def test_a_header_only_message_parses():
    m = parse(b"From: a@example.org\r\nSubject: only headers\r\n")
    assert m.subject == "only headers" and m.text == "" and m.attachments == []


@pytest.mark.parametrize("text, own", [
    ("Here it is.\n\nOn Mon, Mar 2, 2026 at 9:00 AM Desk <desk@example.com> wrote:\n> Please send it\n",
     "Here it is.\n\n"),
    ("Done.\n> quoted\n", "Done.\n"),
    ("Signed.\n\n-----Original Message-----\nFrom: Desk\nSent: Monday\n", "Signed.\n\n"),
    ("Attached.\n\nFrom: Solar Desk <desk@example.com>\nSent: Monday, March 2, 2026 9:00 AM\nTo: Ana\n",
     "Attached.\n\n"),
    ("Attached.\n\n________________________________\nFrom: Solar Desk\n", "Attached.\n\n"),
    ("No quote at all.\nThe meter is from: 2019.\n", "No quote at all.\nThe meter is from: 2019.\n"),
    ("", ""),
])
def test_own_text_is_what_comes_before_the_quote(text, own):
    assert own_text(text) == own
