"""One self-contained HTML page: inline CSS, tables, and every plot embedded as a base64 data URI.

Nothing is fetched when the page opens (no scripts, fonts, stylesheets or images by URL), so it
renders offline and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html

from licli.reporting.document import Plot, Report

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.section { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.scroll { overflow-x: auto; max-width: 100%; flex: 0 1 auto; }
.section .scroll { min-width: 0; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; white-space: nowrap; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.note { color: #666; font-style: italic; }
figure { display: inline-block; margin: .5rem 1rem; vertical-align: top; }
figure img { max-width: 36rem; border: 1px solid #ddd; }
figcaption { font-size: .85rem; color: #444; }
.notices li { color: #a33; }
.evidence li { margin: .2rem 0; }
"""


def png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure(plot: Plot) -> str:
    return (f'<figure><img alt="{html.escape(plot.caption, quote=True)}" src="{png_data_uri(plot.path.read_bytes())}">'
            f"<figcaption>{html.escape(plot.caption)}</figcaption></figure>")


def render_html(report: Report) -> str:
    """The page: each section's table in a horizontal scroll box (wide tables never overflow the page), its
    plots beside it (below when the window is narrow), then the remaining plots and the notices."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(report.title)}</h1>"]
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        if section.lines:
            parts.append('<ul class="evidence">' + "".join(f"<li>{html.escape(line)}</li>" for line in section.lines)
                         + "</ul>")
        parts.append('<div class="section"><div class="scroll">'
                     + section.table.to_html(index=False, escape=True, na_rep="—", border=0) + "</div>"
                     + "".join(_figure(plot) for plot in section.plots) + "</div>")
    if report.plots:
        parts.append("<h2>plots</h2>")
        parts += [_figure(plot) for plot in report.plots]
    if report.notices:
        parts.append('<h2>skipped</h2><ul class="notices">')
        parts += [f"<li>{html.escape(notice)}</li>" for notice in report.notices]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
