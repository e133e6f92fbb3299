"""Utilities and AHJs (building departments) that projects deal with."""
from __future__ import annotations

from peewee import CharField, fn

from models.base import BaseModel


class Utility(BaseModel):
    """A row per catalog utility; the catalog is the source, this is its foreign-key anchor."""

    code = CharField(unique=True)
    name = CharField()

    def __str__(self) -> str:
        return self.name

    @classmethod
    def sync(cls, catalog) -> int:
        """Insert or rename rows so the table mirrors the catalog's utilities; returns rows changed."""
        changed = 0
        existing = {u.code: u for u in cls.select()}
        for code, info in catalog.utilities.items():
            row = existing.get(code)
            if row is None:
                cls.create(code=code, name=info.name)
                changed += 1
            elif row.name != info.name:
                row.name = info.name
                row.save()
                changed += 1
        return changed


class Ahj(BaseModel):
    """Authority having jurisdiction: the city or county building department."""

    name = CharField()
    state = CharField(max_length=2, default="")

    class Meta:
        indexes = ((("name", "state"), True),)

    def __str__(self) -> str:
        return f"{self.name}, {self.state}" if self.state else self.name

    @classmethod
    def named(cls, name: str, state: str) -> "Ahj":
        """The AHJ of that name in that state (names match case-insensitively), created if new."""
        name = " ".join((name or "").split())
        state = (state or "").strip().upper()
        if "\x00" in name + state:
            # Saving would drop it, so the next lookup (with it) would miss the stored row and create it twice.
            raise ValueError("an AHJ name cannot hold a NUL character")
        # The exact name too: SQLite's LOWER() folds ASCII only, so "ÉCOLE" would never find itself.
        found = (cls.select().where(((fn.LOWER(cls.name) == name.lower()) | (cls.name == name)) & (cls.state == state))
                 .order_by(cls.id).first())
        return found or cls.create(name=name, state=state)
