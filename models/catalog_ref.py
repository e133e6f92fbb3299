"""The requirements catalog this process uses: loaded and validated once, at start."""
from __future__ import annotations

from pathlib import Path

import catalog

_loaded: "catalog.Catalog | None" = None


def load(path: str | Path | None = None) -> "catalog.Catalog":
    """Load and validate the catalog at path (bundled data when None) and use it from now on."""
    global _loaded
    _loaded = catalog.load_catalog(path) if path else catalog.default_catalog()
    return _loaded


def current() -> "catalog.Catalog":
    return _loaded if _loaded is not None else load()


def find_utility_code(text: str) -> str | None:
    """Catalog code for a utility code, name or alias (case-insensitive), or None."""
    found = current().find_utility(text or "")
    return found.code if found else None


def utility_states(code: str) -> tuple[str, ...]:
    """States a catalog utility serves (empty when unknown)."""
    found = current().utilities.get(code or "")
    return found.states if found else ()
