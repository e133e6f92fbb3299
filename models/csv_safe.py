"""CSV a spreadsheet opens as data: a cell it would run as a formula is written with a leading '.

Every CSV the desk writes goes through writer() or cell(); the import undoes exactly what they added
(unguard), so an exported file reads back as the values it was written from.
"""
from __future__ import annotations

import csv
import re
from typing import Any, Iterable

# What makes Excel, LibreOffice and Google Sheets read a cell as a formula (tab and CR: some of them
# strip a leading one and read on).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Starts like a formula but is data a spreadsheet shows as typed: plain numbers and phone numbers.
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
PHONE = re.compile(r"\+[\d ().-]+")


def _formula_like(text: str) -> bool:
    if text[:1] not in TRIGGERS or NUMBER.fullmatch(text):
        return False
    return not (PHONE.fullmatch(text) and 7 <= sum(ch.isdigit() for ch in text) <= 15)


def needs_guard(text: str) -> bool:
    """Whether the text is written with a leading '.

    Also a text that already starts with quotes before a formula ("'=x"): guarding it too is what lets
    unguard() tell the quote it added from one that is part of the value.
    """
    return _formula_like(text.lstrip("'"))


def cell(value: Any) -> Any:
    """A value as a CSV cell: None as empty, formula-like text behind a ', everything else as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and needs_guard(value):
        return "'" + value
    return value


def unguard(text: str) -> str:
    """A cell as it was before cell(): the leading ' is dropped only where cell() put it."""
    return text[1:] if text[:1] == "'" and needs_guard(text[1:]) else text


class _Writer:
    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable) -> Any:
        return self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream, **options) -> _Writer:
    """csv.writer whose every cell goes through cell()."""
    return _Writer(stream, **options)
