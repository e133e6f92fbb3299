"""The project timeline: notes, changes, flags and what caused them."""
from __future__ import annotations

from peewee import JOIN, CharField, DateTimeField, ForeignKeyField, JSONField, TextField

from models.applications import Application
from models.base import BaseModel, utcnow
from models.projects import Project
from models.users import User

KINDS = {
    "note": "Note", "change": "Change", "flag": "Flag", "unflag": "Flag cleared",
    "status": "Status", "import": "Import", "create": "Created", "checklist": "Checklist", "contact": "Contact", "snooze": "Snoozed", "document": "Document", "email": "Email", "call": "Call", "sms": "Text",
}


class Event(BaseModel):
    project = ForeignKeyField(Project, backref="events", on_delete="CASCADE")
    application = ForeignKeyField(Application, null=True, backref="events", on_delete="SET NULL")
    kind = CharField(index=True)
    actor = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # Who or what acted when no person did: "import", "mail", "system".
    actor_label = CharField(default="")
    summary = CharField()
    body = TextField(default="")
    data = JSONField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("project", "created_at"), False),)

    @property
    def who(self) -> str:
        if self.actor_id:
            return self.actor.name
        return self.actor_label or "system"

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @classmethod
    def record(cls, project: Project, kind: str, actor: User | None, summary: str, body: str = "",
               data: dict | None = None, actor_label: str = "", application=None) -> "Event":
        return cls.create(project=project, kind=kind, actor=actor, actor_label=actor_label,
                          summary=summary[:250], body=body or "", data=data, application=application)

    @classmethod
    def timeline(cls, project: Project):
        return (cls.select(cls, User).join(User, on=(cls.actor == User.id), join_type=JOIN.LEFT_OUTER)
                .where(cls.project == project).order_by(cls.created_at.desc(), cls.id.desc()))
