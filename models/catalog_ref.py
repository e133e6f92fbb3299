"""The loaded requirements catalog, shared by the process (loaded once, validated at load)."""
from __future__ import annotations

from functools import lru_cache

import catalog


@lru_cache(maxsize=1)
def current():
    return catalog.load_catalog()


def find_utility_code(text: str) -> str | None:
    """Catalog code for a utility code, name or alias (case-insensitive), or None."""
    found = current().find_utility(text or "")
    return found.code if found else None
