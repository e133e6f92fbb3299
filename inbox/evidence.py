"""When mail may change something by itself: the evidence rules, as plain functions over what the steps found.

A status moves by itself only when the sender is authenticated for a domain the catalog lists for this
project, the project is identified by something an outsider cannot forge or guess, the wording is
unambiguous and the move is allowed. Each missing piece is one reason, shown to the person who decides.
"""
from __future__ import annotations

from inbox import notices
from inbox.apply import MATCH_NEEDED, Plan
from inbox.auth import Verdict
from inbox.authority import Authority, covers
from inbox.match import Match


def doubts(verdict: Verdict | None, authority: Authority | None, match: Match, plan: Plan,
           reading: notices.Reading, upload: bool = False, forward=None, forward_verdict: Verdict | None = None
           ) -> list[str]:
    """Why this notice must not apply by itself ([] when it may)."""
    out: list[str] = []
    if upload:
        out.append("uploaded by a person: anyone can write an .eml, so someone must confirm the change")
    if forward is not None:
        if forward_verdict is not None and forward_verdict.authenticated and authority is not None:
            verdict = forward_verdict  # the original's own signature still verifies
        else:
            out.append(f"forwarded by someone else: the original sender ({forward.from_addr or 'unknown'}) "
                       "cannot be verified")
            verdict = None
    if authority is None:
        out.append("the sender is listed for none of this project's utility, AHJ, permit portal or program")
    elif not authority.listed:
        out.append(authority.why)
    elif authority.general:
        out.append(f"{authority.why}: it proves nothing about who sent it")
    if verdict is not None and not verdict.authenticated:
        out.append(f"sender not authenticated ({verdict.why})")
    elif verdict is not None and authority is not None and not covers(verdict.domain, (authority.domain,)):
        out.append(f"authenticated for {verdict.domain}, not for {authority.domain}")
    named = {h.upper() for h in match.held}
    app_ref = (plan.application.reference_number or "").upper() if plan.application is not None else ""
    if authority is not None and authority.platform and (not app_ref or app_ref not in named):
        out.append(f"{authority.domain} sends for many organisations: the mail must name the reference number "
                   "the application holds")
    if match.others:
        out.append(f"the mail also names {', '.join(match.others[:3])}: it is about several applications, and "
                   "which part is about this one needs a person")
    if match.method == "person":
        # A person chose the project; the change is theirs to make, so it is recorded as theirs (Accept).
        out.append("linked to the project by a person: accept the change to apply it")
    elif not match.strong or match.confidence < MATCH_NEEDED:
        out.append(f"project found only by {match.method.replace('_', ' ') or 'a guess'} ({match.why})")
    if reading.confidence < notices.APPLY_AT:
        out.append(f"wording not certain ({reading.why})")
    if plan.blocked:
        out.append(plan.blocked)
    if plan.create and plan.to not in notices.FIRST_STATUSES:
        out.append(f"no {plan.kind.replace('_', ' ')} application on the desk: a notice creates one only at its "
                   "first status, never straight at "
                   f"{plan.to.replace('_', ' ').lower()}")
    return list(dict.fromkeys(out))


def files_trusted(verdict: Verdict | None, authority: Authority | None, sender: str, project,
                  upload: bool = False, forward: bool = False) -> tuple[bool, str]:
    """Whether a mail's attachments may become a checklist item's current version without a person."""
    if upload:
        return False, "uploaded by a person"
    if verdict is None or not verdict.authenticated:
        return False, "the sender is not authenticated"
    if not covers(verdict.domain, (sender.rpartition("@")[2],)) and not covers(sender.rpartition("@")[2],
                                                                                (verdict.domain,)):
        return False, f"authenticated for {verdict.domain}, not for {sender}"
    if forward:
        return False, "forwarded: the original sender cannot be verified"
    if authority is not None and authority.listed and not authority.general:
        return True, ""
    from models.messages import Contact
    if project is not None and sender and (sender == (project.customer_email or "") or Contact.select().where(
            (Contact.project == project) & (Contact.email == sender)).exists()):
        return True, ""
    return False, "the sender is neither an authority for this project, its customer nor a known contact"
