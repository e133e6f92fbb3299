"""Long-running work (imports, packet builds) as rows, so pages can show progress."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, JSONField, TextField

from models.base import BaseModel, utcnow
from models.users import User

STATES = ("queued", "running", "done", "failed")


class Job(BaseModel):
    kind = CharField(index=True)
    # Set when at most one such job may ever exist (e.g. "apply:<dry-run id>"); the unique index enforces it.
    key = CharField(null=True, unique=True)
    state = CharField(default="queued", index=True)
    done = IntegerField(default=0)
    total = IntegerField(default=0)
    message = TextField(default="")
    params = JSONField(null=True)
    result = JSONField(null=True)
    created_by = ForeignKeyField(User, null=True, backref="jobs", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def claim(self) -> bool:
        """Move a queued job to running; False when another worker already took it."""
        taken = (Job.update(state="running", started_at=utcnow())
                 .where((Job.id == self.id) & (Job.state == "queued")).execute())
        if taken:
            self.state = "running"
        return bool(taken)

    def start(self, total: int) -> None:
        Job.update(total=total, done=0).where(Job.id == self.id).execute()
        self.total, self.done = total, 0

    def progress(self, done: int, message: str = "") -> None:
        # A narrow UPDATE so progress writes never clobber other columns.
        Job.update(done=done, message=message).where(Job.id == self.id).execute()
        self.done, self.message = done, message

    def finish(self, result: dict, message: str = "") -> None:
        Job.update(state="done", done=self.total, result=result, message=message,
                   finished_at=utcnow()).where(Job.id == self.id).execute()
        self.state, self.result, self.message = "done", result, message

    def fail(self, message: str) -> None:
        Job.update(state="failed", message=message[:2000], finished_at=utcnow()).where(Job.id == self.id).execute()
        self.state, self.message = "failed", message
