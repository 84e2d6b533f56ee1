"""Assemble report sections into one self-contained HTML page and a Markdown summary.

A report is a list of ``Section``s, each a list of blocks (text, bullets, table,
figure). The HTML embeds every figure as a base64 PNG data URI; the Markdown links the
same PNGs saved under ``figures/``. Every file is written atomically.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from regbench.store.runs import atomic_write

DPI = 90


@dataclass
class Text:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    frame: pd.DataFrame
    caption: str = ""
    # column header -> what the reader may hover for (the raw results.csv column name)
    tooltips: dict = field(default_factory=dict)


@dataclass
class Figure:
    slug: str      # file name stem under figures/ (made safe: ``file_stem``)
    caption: str
    png: bytes

    def __post_init__(self):
        self.slug = file_stem(self.slug)


def file_stem(name: str) -> str:
    """``name`` as a file name stem that stays in figures/: names are built from values
    of the results' tables (a method of per_sequence.csv), which anyone who can write
    the folder controls. Characters other than letters, digits, ``_`` and ``-`` become
    ``_``, and a name that changed gets a hash of the original, so two names never
    share a file."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if stem == name and name:
        return name
    return f"{stem}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    open: bool = False   # shown open in HTML, as the first section always is


def figure_png(fig) -> bytes:
    """Render a matplotlib Figure to PNG bytes (no timestamp, so output is stable)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


# --- HTML ------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;font-size:0.85em;margin:0.8em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0}caption{caption-side:top;text-align:left;font-style:italic}
figure{margin:1em 0}img{max-width:100%;height:auto}figcaption{font-size:0.9em;color:#444}
.note{background:#fff4d6;border-left:4px solid #e0a800;padding:0.5em 1em}
.wide{overflow-x:auto;max-width:100%}
nav.toc{font-size:0.9em;margin:0.3em 0 0.8em}nav.toc a{margin-right:0.9em}
details{margin-top:0.6em}summary{cursor:pointer}summary h2{display:inline;border:none}
details[open]>summary h2{border-bottom:1px solid #bbb}
"""


def _html_header(column, tooltips: dict) -> str:
    """A <th>, with its tooltip (title attribute) where the table names one."""
    tip = tooltips.get(column)
    title = f' title="{html.escape(str(tip), quote=True)}"' if tip else ""
    return f"<th{title}>{html.escape(str(column))}</th>"


def _html_table(table: Table) -> str:
    head = "".join(_html_header(c, table.tooltips) for c in table.frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in table.frame.itertuples(index=False))
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    # A wide table scrolls inside its own box, so the page never scrolls sideways.
    return (f'<div class="wide"><table>{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _html_block(block) -> str:
    if isinstance(block, Text):
        cls = ' class="note"' if block.text.startswith("λ was not tuned") else ""
        return f"<p{cls}>{html.escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    data = base64.b64encode(block.png).decode("ascii")
    alt = html.escape(block.caption, quote=True)
    return (f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")


def anchor(title: str) -> str:
    """The id of a section's title: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def anchors(sections: list[Section]) -> list[str]:
    """One id per section, unique (a repeated title gets '-2', '-3', ...)."""
    ids, seen = [], {}
    for section in sections:
        name = anchor(section.title)
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return ids


def table_of_contents(sections: list[Section], ids: list[str]) -> str:
    """One line of links to every section: the page's map, above the verdict."""
    links = "".join(f'<a href="#{i}">{html.escape(s.title)}</a>'
                    for s, i in zip(sections, ids))
    return f'<nav class="toc">Contents: {links}</nav>'


def _html_section(section: Section, id_: str, collapsed: bool) -> str:
    """An open section, or one collapsed under its title (a long report's detail)."""
    inner = "\n".join(_html_block(b) for b in section.blocks)
    title = f"<h2>{html.escape(section.title)}</h2>"
    if not collapsed:
        return f'<section id="{id_}">{title}\n{inner}</section>'
    return f'<details id="{id_}"><summary>{title}</summary>\n{inner}</details>'


def render_html(title: str, sections: list[Section]) -> str:
    ids = anchors(sections)
    body = [f"<h1>{html.escape(title)}</h1>", table_of_contents(sections, ids)]
    # The first section and the verdict (open=True) are the answer and stay open; the
    # rest are its details, one click away, so the first screen is the answer.
    body.extend(_html_section(s, i, n > 0 and not s.open)
                for n, (s, i) in enumerate(zip(sections, ids)))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>\n" + "\n".join(body) + "\n</body></html>\n")


# --- Markdown --------------------------------------------------------------------

def md_escape(text: str) -> str:
    """Escape characters that Markdown would read as markup (and HTML tags)."""
    text = re.sub(r"([\\`*_\[\]|#<>])", r"\\\1", str(text))
    return text.replace("\n", " ")


def _md_table(table: Table) -> str:
    cols = [md_escape(c) for c in table.frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(md_escape(v) for v in row) + " |"
              for row in table.frame.itertuples(index=False)]
    caption = f"*{md_escape(table.caption)}*\n\n" if table.caption else ""
    return caption + "\n".join(lines)


def _md_block(block) -> str:
    if isinstance(block, Text):
        return md_escape(block.text)
    if isinstance(block, Bullets):
        return "\n".join(f"- {md_escape(i)}" for i in block.items)
    if isinstance(block, Table):
        return _md_table(block)
    return f"![{md_escape(block.caption)}](figures/{block.slug}.png)"


def render_markdown(title: str, sections: list[Section]) -> str:
    parts = [f"# {md_escape(title)}"]
    for section in sections:
        parts.append(f"## {md_escape(section.title)}")
        parts.extend(_md_block(b) for b in section.blocks)
    return "\n\n".join(parts) + "\n"


def write_outputs(results_dir: Path, title: str, sections: list[Section]) -> tuple[Path, Path]:
    """Write figures/*.png, report.md and report.html into results_dir."""
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                atomic_write(results_dir / "figures" / f"{block.slug}.png", block.png)
    md_path, html_path = results_dir / "report.md", results_dir / "report.html"
    atomic_write(md_path, render_markdown(title, sections))
    atomic_write(html_path, render_html(title, sections))
    return html_path, md_path
