"""Horizontal bar charts as inline SVG, drawn on the server: no chart library, no script.

Every bar carries its value as text, so a chart reads without colour and prints in black and white;
the SVG is an image with a title and a description that lists the values, and the page shows the
same numbers in a table beside it.
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 176  # right edge of the labels; bars start 8 units further
VALUE_SPACE = 150  # room right of the longest bar for its value text
ROW = 24
BAR_HEIGHT = 14
TOP = 6
MAX_LABEL = 26


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no data (no bar, the text says so)
    text: str = ""  # the value as a person reads it; defaults to the number
    target: float | None = None  # a reference mark on this row (e.g. the SLA)

    @property
    def shown(self) -> str:
        if self.text:
            return self.text
        return "no data" if self.value is None else f"{self.value:g}"


def hbar(chart_id: str, title: str, bars: list[Bar], description: str = "", scale_max: float | None = None,
         target_name: str = "", width: int = WIDTH, label_width: int = LABEL_WIDTH,
         value_space: int = VALUE_SPACE) -> Markup:
    """An accessible horizontal bar chart; `scale_max` shares one scale between several charts."""
    has_target = any(b.target is not None for b in bars)
    largest = max([b.value or 0 for b in bars] + [b.target or 0 for b in bars] + [scale_max or 0])
    bar_x = label_width + 8
    plot = width - bar_x - value_space
    height = TOP + ROW * max(1, len(bars)) + (ROW if has_target and target_name else 4)

    def x(value: float) -> float:
        return bar_x + (value / largest * plot if largest else 0)

    summary = description or "; ".join(f"{b.label}: {b.shown}" for b in bars) or "No data."
    parts = [f'<svg class="hbar" id="{chart_id}" role="img" aria-labelledby="{chart_id}-title" '
             f'aria-describedby="{chart_id}-desc" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             f'<desc id="{chart_id}-desc">{escape(summary)}</desc>']
    for i, b in enumerate(bars):
        y = TOP + i * ROW
        label = b.label if len(b.label) <= MAX_LABEL else b.label[:MAX_LABEL - 1] + "…"
        parts.append(f'<text class="label" x="{label_width}" y="{y + BAR_HEIGHT - 3}" text-anchor="end">'
                     f'{escape(label)}</text>')
        end = bar_x
        if b.value:
            end = max(x(b.value), bar_x + 1.5)  # a small value still shows a sliver
            parts.append(f'<rect class="bar" x="{bar_x}" y="{y}" width="{end - bar_x:.1f}" height="{BAR_HEIGHT}"/>')
        if b.target is not None:
            tx = x(b.target)
            parts.append(f'<line class="target" x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 3}" y2="{y + BAR_HEIGHT + 3}"/>')
            end = max(end, tx)
        parts.append(f'<text class="value" x="{end + 6:.1f}" y="{y + BAR_HEIGHT - 3}">{escape(b.shown)}</text>')
    parts.append(f'<line class="axis" x1="{bar_x}" x2="{bar_x}" y1="{TOP - 3}" y2="{TOP + ROW * len(bars) - 6}"/>')
    if has_target and target_name:
        y = TOP + ROW * len(bars) + 8
        parts.append(f'<line class="target" x1="{bar_x}" x2="{bar_x + 18}" y1="{y}" y2="{y}"/>'
                     f'<text class="legend" x="{bar_x + 24}" y="{y + 4}">{escape(target_name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
