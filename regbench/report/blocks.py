"""Small helpers of the report's sections: a figure block, a section without its
empty blocks, a number as the tables print it."""
from __future__ import annotations

import math

from regbench.report.render import Figure, Section, figure_png


def figure_block(slug: str, caption: str, fig) -> Figure | None:
    return None if fig is None else Figure(slug, caption, figure_png(fig))


def section_block(title: str, *blocks) -> Section:
    return Section(title, [b for b in blocks if b is not None])


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) else str(value)
