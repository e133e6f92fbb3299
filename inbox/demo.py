"""Demo mail for the demo projects, dropped into the embedded Maildir so a newcomer sees the whole path."""
from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from models import tokens
from models.applications import Application
from models.catalog_ref import current
from models.projects import Project


def _pdf(title: str, lines: list[str]) -> bytes:
    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _message(sender: str, to: str, subject: str, body: str, **headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain=sender.split("@")[-1].strip(">"))
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def _utility_domain(project: Project) -> str:
    utility = current().utilities.get(project.utility.code)
    return utility.sender_domains[0] if utility and utility.sender_domains else "utility.example.com"


def messages(desk: str) -> list[tuple[str, bytes]]:
    """(file name, raw) for a deficiency, an approval with its letter, a signed document and an out-of-office."""
    out: list[tuple[str, bytes]] = []
    submitted = (Application.select().join(Project).where(Application.kind == "utility_part1",
                                                          Application.status == "SUBMITTED",
                                                          Application.reference_number.is_null(False))
                 .order_by(Application.id).limit(2))
    apps = list(submitted)
    if apps:
        a = apps[0]
        p = a.project
        msg = _message(f"Interconnection Team <interconnection@{_utility_domain(p)}>", desk,
                       f"Deficiency Notice - Application {a.reference_number}",
                       f"Application {a.reference_number} for {p.street}, {p.city} has been reviewed and is "
                       f"deficient.\nPlease correct the following and resubmit within 10 business days:\n"
                       f"- Single-line diagram does not show the AC disconnect\n"
                       f"- Utility bill is older than 120 days\n\nInterconnection Services",
                       Auto_Submitted="auto-generated")
        out.append(("1-deficiency.eml", msg.as_bytes()))
    if len(apps) > 1:
        a = apps[1]
        p = a.project
        msg = _message(f"Interconnection Team <interconnection@{_utility_domain(p)}>", desk,
                       f"Approval to Install - Application {a.reference_number}",
                       f"Good news: application {a.reference_number} ({p.street}, {p.city}) is approved to install."
                       f"\nThe approval letter is attached. Do not operate the system until you receive "
                       f"Permission to Operate.\n\nInterconnection Services", Auto_Submitted="auto-generated")
        msg.add_attachment(_pdf("Approval to Install", [f"Application {a.reference_number}",
                                                        f"Customer: {p.customer_name}", f"Site: {p.street}"]),
                           maintype="application", subtype="pdf", filename="Approval_Letter.pdf")
        out.append(("2-approval.eml", msg.as_bytes()))
    customer = (Project.select().where(Project.customer_email.is_null(False), Project.stage == "intake")
                .order_by(Project.id).first()) or Project.select().order_by(Project.id).first()
    if customer is not None:
        msg = _message(f"{customer.customer_name} <{customer.customer_email}>", desk,
                       f"Re: Documents we still need {tokens.subject_tag(customer.id)}",
                       "Hi, here is the signed authorization form. Let me know if you need anything else.\n\n"
                       f"{customer.customer_name}\n\n> Please sign and return the attached authorization.")
        msg.add_attachment(_pdf("Customer Authorization", [f"Signed by {customer.customer_name}",
                                                           time.strftime("%Y-%m-%d")]),
                           maintype="application", subtype="pdf", filename="Signed_Authorization.pdf")
        out.append(("3-customer-reply.eml", msg.as_bytes()))
        msg = _message(f"{customer.customer_name} <{customer.customer_email}>", desk,
                       f"Automatic reply: Re: Documents we still need {tokens.subject_tag(customer.id)}",
                       "I am out of the office until Monday with limited access to email.",
                       Auto_Submitted="auto-replied")
        out.append(("4-out-of-office.eml", msg.as_bytes()))
    return out


def drop(maildir: Path, desk: str) -> int:
    """Write the demo messages into maildir/new (the watcher takes them from there)."""
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    written = 0
    for name, raw in messages(desk):
        target = maildir / "new" / f"demo-{name}"
        target.write_bytes(raw)
        written += 1
    return written
