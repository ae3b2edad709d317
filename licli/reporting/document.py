"""A report as data (tables, plots, notices) and its Markdown form; ``licli.reporting.html`` renders HTML."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from licli.reporting.compare import metric_tables
from licli.reporting.discovery import Discovery


@dataclass(frozen=True)
class Section:
    title: str
    table: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class Plot:
    caption: str
    path: Path


@dataclass(frozen=True)
class Report:
    title: str
    sections: list[Section]
    plots: list[Plot]
    notices: list[str] = field(default_factory=list)


def build_report(discovery: Discovery, aggregated: pd.DataFrame, *, title: str = "licli report",
                 extra: list[Section] | None = None) -> Report:
    """Sections: one per metric (models × settings), the runs read, then ``extra`` (e.g. a baseline diff)."""
    sections = [Section(metric, table, f"{table.attrs['direction']} is better; mean ± std over seeds")
                for metric, table in metric_tables(aggregated).items()]
    runs = pd.DataFrame([{"command": r.command, "name": r.name, "seed": r.seed, "rows": len(r.metrics),
                          "plots": len(r.images), "path": str(r.path)} for r in discovery.runs])
    if len(runs):
        sections.append(Section("runs", runs))
    sections.extend(extra or [])
    plots = [Plot(f"{run.command} · {run.name} · {image.name}", image) for run, image in discovery.images()]
    return Report(title, sections, plots, [s.notice() for s in discovery.skipped])


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        text = "—" if value is None or (isinstance(value, float) and value != value) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def render_markdown(report: Report, relative_to: Path | None = None) -> str:
    """Markdown with the tables inline and the plots linked (relative to ``relative_to`` when given)."""
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        if section.note:
            lines += [f"_{section.note}_", ""]
        lines += [_markdown_table(section.table), ""]
    if report.plots:
        lines += ["## plots", ""]
        for plot in report.plots:
            target = plot.path.resolve()
            if relative_to is not None:
                try:
                    target = Path(os.path.relpath(target, relative_to.resolve()))
                except ValueError:
                    pass
            lines += [f"![{plot.caption}]({target.as_posix()})", ""]
    if report.notices:
        lines += ["## skipped", ""] + [f"- {notice}" for notice in report.notices] + [""]
    return "\n".join(lines)
