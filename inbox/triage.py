"""What people do with mail in the shared inbox: link, unlink, accept or reject a suggested change, assign,
mark handled, re-run.

Every action names the version of the mail the person saw; if someone else acted since, the action is
refused with who did what, instead of silently overwriting it.
"""
from __future__ import annotations

from dataclasses import dataclass

from inbox import apply
from models import lifecycle
from models.applications import Application
from models.base import db, utcnow
from models.events import Event
from models.inbound import InboundMail
from models.projects import Project
from models.users import User


class TriageError(ValueError):
    """The action cannot be done; the message says why."""


class Forbidden(TriageError):
    """This person may not change that project."""


class Conflict(TriageError):
    """Someone else changed the mail after this person loaded it."""


@dataclass(frozen=True)
class Done:
    mail: InboundMail
    message: str


def _claim(mail: InboundMail, seen_version: int | None, actor: User, action: str, **changes) -> InboundMail:
    """Apply changes only if the mail is still at the version the person saw; bumps the version."""
    if seen_version is not None and seen_version != mail.version:
        current = InboundMail.get_by_id(mail.id)
        raise Conflict(f"{current.last_action or 'someone changed this mail'} — reload to see it before acting")
    label = f"{actor.name} {action} {utcnow():%Y-%m-%d %H:%M} UTC"
    query = InboundMail.update(version=InboundMail.version + 1, last_action=label[:250], **changes).where(
        InboundMail.id == mail.id)
    if seen_version is not None:
        query = query.where(InboundMail.version == seen_version)
    if not query.execute():
        current = InboundMail.get_by_id(mail.id)
        raise Conflict(f"{current.last_action or 'someone changed this mail'} — reload to see it before acting")
    return InboundMail.get_by_id(mail.id)


def link(mail: InboundMail, project: Project, actor: User, seen_version: int | None = None, intake=None) -> Done:
    """Attach the mail to a project (a person's match); with `intake`, the pipeline runs again on it so its
    attachments are filed and a notice is read, with the person's match standing."""
    if mail.state == "duplicate":
        raise TriageError("a duplicate is not linked; link the first copy")
    if mail.project_id == project.id:
        raise TriageError(f"the mail is already on {project.external_id}")
    with db.atomic():
        state = "processed" if mail.state == "unmatched" else mail.state
        decisions = dict(mail.decisions or {}, not_projects=[i for i in mail.decided("not_projects") if i != project.id])
        mail = _claim(mail, seen_version, actor, f"linked it to {project.external_id}", project=project,
                      matched_by="person", confidence=1.0, suggestions=None, state=state,
                      reason="" if state != mail.state else mail.reason, decisions=decisions)
        _move_event(mail, project)
        Event.record(project, "email", actor, summary=f"Mail linked by hand: {mail.subject}"[:250],
                     data={"inbound_id": mail.id})
    if intake is not None and mail.requeue():
        from inbox.intake import run_now
        mail = run_now(mail, intake)
    else:
        from models import webhooks
        webhooks.mail_matched(mail)
    return Done(mail, f"Linked to {project.external_id}" + (f" — {mail.state_label}" if intake else ""))


def unlink(mail: InboundMail, actor: User, seen_version: int | None = None) -> Done:
    """Take a wrongly matched mail off its project (status changes it caused stay: undo them on the application)."""
    if not mail.project_id:
        raise TriageError("the mail is not linked to a project")
    old = Project.get_by_id(mail.project_id)
    with db.atomic():
        decisions = dict(mail.decisions or {}, not_projects=sorted({*mail.decided("not_projects"), old.id}))
        mail = _claim(mail, seen_version, actor, f"unlinked it from {old.external_id}", project=None,
                      matched_by="", confidence=None, state="unmatched", suggested_change=None, decisions=decisions)
        if mail.event_id:
            Event.delete().where(Event.id == mail.event_id).execute()
        Event.record(old, "email", actor, summary=f"Mail unlinked (it was not about this project): {mail.subject}"[:250],
                     data={"inbound_id": mail.id})
    note = " Its status change stays on the application; move it back there if it was wrong." \
        if mail.status_change else ""
    return Done(mail, f"Unlinked from {old.external_id}.{note}")


def _move_event(mail: InboundMail, project: Project) -> None:
    if mail.event_id:
        Event.update(project=project).where(Event.id == mail.event_id).execute()


def accept(mail: InboundMail, actor: User, seen_version: int | None = None) -> Done:
    """Apply the suggested status change as this person (it lands on the application and its timeline)."""
    s = mail.suggested_change
    if not s:
        raise TriageError("there is no suggested change on this mail")
    if not mail.project_id:
        raise TriageError("link the mail to a project first")
    project = Project.get_by_id(mail.project_id)
    notice, to = s.get("notice"), s.get("to")
    with db.atomic():
        mail = _claim(mail, seen_version, actor, f"accepted the suggested {str(to)}", state="processed",
                      reason="", handled_by=actor, handled_at=utcnow())
        plan = _plan_for(project, s)
        cause = {"inbound_id": mail.id, "message_id": mail.message_id, "notice": notice, "accepted_by": actor.id}
        why = f"Accepted from mail: {mail.subject}"[:500]
        try:
            change = apply.carry_out(plan, project, cause, why, mail.body_text, None, actor=actor)
        except lifecycle.TransitionError as exc:
            raise TriageError(str(exc)) from None
        InboundMail.update(status_change=change, suggested_change=None, application=plan.application).where(
            InboundMail.id == mail.id).execute()
    return Done(InboundMail.get_by_id(mail.id), f"Applied: {apply.describe(change)}")


def _plan_for(project: Project, s: dict) -> apply.Plan:
    if s.get("application_id"):
        app = Application.get_or_none((Application.id == s["application_id"]) & (Application.project == project))
        if app is None:
            raise TriageError("the application this change was for no longer exists")
        if app.status != s.get("from"):
            raise TriageError(f"the application moved to {app.status_label} since; the suggestion no longer fits")
        return apply.Plan(s.get("notice") or "", s["to"], app.kind, app, app.status)
    kind = s.get("application")
    if not kind:
        raise TriageError("the suggestion names no application")
    if Application.select().where(Application.project == project, Application.kind == kind).exists():
        raise TriageError("that application exists now; re-run the mail to get a fresh suggestion")
    return apply.Plan(s.get("notice") or "", s["to"], kind, create=True)


def reject(mail: InboundMail, actor: User, reason: str, seen_version: int | None = None) -> Done:
    """Dismiss the suggested change (nothing changes on the application); the reason stays on the mail."""
    if not mail.suggested_change:
        raise TriageError("there is no suggested change on this mail")
    reason = (reason or "").strip()
    if not reason:
        raise TriageError("say why the suggestion is wrong (it helps tune the rules)")
    s = mail.suggested_change
    rejected = [*mail.decided("rejected"), {"application": s.get("application"), "to": s.get("to")}]
    mail = _claim(mail, seen_version, actor, "rejected the suggested change", state="processed",
                  reason=f"suggestion rejected: {reason}"[:2000], suggested_change=None, handled_by=actor,
                  handled_at=utcnow(), decisions=dict(mail.decisions or {}, rejected=rejected))
    return Done(mail, "Suggestion rejected; nothing changed")


def assign(mail: InboundMail, user: User | None, actor: User, seen_version: int | None = None) -> Done:
    who = user.name if user else "nobody"
    mail = _claim(mail, seen_version, actor, f"assigned it to {who}", assigned_to=user)
    return Done(mail, f"Assigned to {who}")


def rerun(mail: InboundMail, actor: User, intake, seen_version: int | None = None) -> Done:
    """Run the pipeline again on the stored copy; refused while it runs or after someone else acted."""
    if mail.state == "duplicate":
        raise TriageError("a duplicate is not processed; open the first copy instead")
    if not mail.requeue(seen_version):
        current = InboundMail.get_by_id(mail.id)
        if current.state in ("pending", "processing"):
            raise Conflict("this mail is being processed right now; try again in a moment")
        raise Conflict(f"{current.last_action or 'someone changed this mail'} — reload to see it before acting")
    InboundMail.update(last_action=f"{actor.name} processed it again {utcnow():%Y-%m-%d %H:%M} UTC"[:250]).where(
        InboundMail.id == mail.id).execute()
    mail = run_as(InboundMail.get_by_id(mail.id), actor, intake)
    return Done(mail, f"Processed again: {mail.state_label}" + (f" — {mail.reason}" if mail.reason else ""))


def mark_handled(mail: InboundMail, actor: User, seen_version: int | None = None, handled: bool = True) -> Done:
    if handled and mail.handled_at:
        raise TriageError(f"already handled by {mail.handled_by.name if mail.handled_by_id else 'someone'}")
    mail = _claim(mail, seen_version, actor, "marked it handled" if handled else "reopened it",
                  handled_by=actor if handled else None, handled_at=utcnow() if handled else None)
    return Done(mail, "Marked handled" if handled else "Back to open")


def run_as(mail: InboundMail, person: User, intake) -> InboundMail:
    """Process a pending mail for a person. Mail they uploaded lands only on a project they may change, as a
    direct upload would: anyone can write an .eml naming any project. Where it would land elsewhere, nothing
    the run did stays; the mail waits unmatched, that project suggested and ruled out for later runs, until
    someone who may change it links it."""
    from inbox.intake import run_now
    if mail.source != "upload":
        return run_now(mail, intake)
    with db.atomic() as txn:
        done = run_now(mail, intake)
        project = Project.get_or_none(Project.id == done.project_id) if done.project_id else None
        if project is None or project.can_edit(person):
            return done
        # Nothing of the run stays, not even the webhook deliveries it queued; what follows is written in the
        # transaction the rollback begins, so no worker sees the mail pending in between.
        txn.rollback()
        why = (f"it names {project.external_id}, which is assigned to another coordinator: nothing was filed "
               "there; they or a lead can link it")
        # The run's reading of the mail (subject, sender, body, trace) is kept; what it did to the project is not.
        done.state, done.reason, done.project, done.matched_by, done.confidence = "unmatched", why, None, "", None
        done.suggestions = [{"project_id": project.id, "external_id": project.external_id,
                             "customer": project.customer_name, "why": "named in the mail", "score": 1.0}]
        done.status_change = done.suggested_change = done.application = done.event = done.documents = None
        done.decisions = dict(done.decisions or {}, not_projects=sorted({*done.decided("not_projects"), project.id}))
        done.trace = [*(done.trace or []), {"step": "permission", "verdict": why}]
        done.processing_since, done.lease_holder, done.lease_until = None, "", None
        done.save(only=[f for f in InboundMail._meta.sorted_fields if f.name != "id"])
    return InboundMail.get_by_id(done.id)
