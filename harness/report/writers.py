"""The report's sections (sections.py) written as HTML (self-contained: plots embedded), as
Markdown (summary.md, also a CI job's summary) and as CSV (each section's table)."""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path

from harness.report.sections import Section

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;"
    "padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
    ".answer{background:#f6f9ff;border-left:4px solid #4c72b0;padding:0.5em 1em}"
    ".warn{background:#fff4f0;border-left:4px solid #c44e52;padding:0.5em 1em}"
    "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}.grid{display:grid;"
    "grid-template-columns:1fr 1fr;gap:1em}"
)

# Say how many plots loaded (tests read it), and name any that did not.
PLOTS_LOADED = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.plotsLoaded = ok.length + "/" + images.length;
  images.filter(i => !ok.includes(i)).forEach(i => {
    const note = document.createElement("p");
    note.className = "warn";
    note.textContent = "plot missing: " + i.alt;
    i.replaceWith(note);
  });
});
</script>"""


def markdown(sections: list[Section]) -> str:
    out = []
    for index, section in enumerate(sections):
        out.append(("# " if index == 0 else "## ") + section.title)
        out += section.paragraphs
        if section.bullets:
            out.append("\n".join(f"- {line}" for line in section.bullets))
        if section.table is not None:
            out.append(markdown_table(*section.table))
        if section.plots:
            out.append("Plots: " + ", ".join(f"[{name}](plots/{name}.png)" for name in section.plots))
    return "\n\n".join(out) + "\n"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in rows]
    )


def html_page(sections: list[Section], plot_paths: dict[str, Path]) -> str:
    title = html.escape(sections[0].title)
    body = "\n".join(_html_section(section, plot_paths, first=index == 0) for index, section in enumerate(sections))
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n{PLOTS_LOADED}\n</body></html>\n"
    )


def _html_section(section: Section, plot_paths: dict[str, Path], first: bool) -> str:
    heading = f"<h1>{html.escape(section.title)}</h1>" if first else f"<h2>{html.escape(section.title)}</h2>"
    parts = [heading] + [f"<p>{html.escape(text)}</p>" for text in section.paragraphs]
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in section.bullets) + "</ul>")
    if section.table is not None:
        parts.append(html_table(*section.table))
    shown = [plot_paths[name] for name in section.plots if name in plot_paths]
    if shown:
        figures = "".join(f"<figure>{image(path)}</figure>" for path in shown)
        parts.append(f'<div class="grid">{figures}</div>' if len(shown) > 1 else figures)
    tone = f' class="{section.tone}"' if section.tone != "plain" else ""
    return f'<section id="{section.key}"{tone}>{"".join(parts)}</section>'


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def csv_tables(sections: list[Section], folder: Path) -> dict[str, Path]:
    """Each section's table as `table_<key>.csv`, as shown (the raw figures are in metrics.json)."""
    written = {}
    for section in sections:
        if section.table is None:
            continue
        path = folder / f"table_{section.key}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(section.table[0])
            writer.writerows(section.table[1])
        written[f"table_{section.key}"] = path
    return written
