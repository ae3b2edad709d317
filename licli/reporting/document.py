"""A report as data (tables, plots, notices) and its Markdown form; ``licli.reporting.html`` renders HTML."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from licli.reporting.adapters import read_verdict
from licli.reporting.compare import metric_tables
from licli.reporting.discovery import Discovery, Run


@dataclass(frozen=True)
class Plot:
    caption: str
    path: Path


@dataclass(frozen=True)
class Section:
    title: str
    table: pd.DataFrame
    note: str = ""
    plots: list[Plot] = field(default_factory=list)
    """Plots of the runs whose main metric this section shows (drawn beside the table)."""
    lines: tuple[str, ...] = ()
    """Bullet points shown above the table (a verdict's evidence)."""


@dataclass(frozen=True)
class Report:
    title: str
    sections: list[Section]
    plots: list[Plot]
    notices: list[str] = field(default_factory=list)


def is_fraction(metric: str) -> bool:
    """Accuracies and rates are fractions in [0, 1] (docs/report-contract.md); reports show them in %."""
    return metric.endswith(("_accuracy", "_rate"))


def main_metric(run) -> str | None:
    """The metric a run reports most rows of (its plots illustrate it), None without metrics."""
    counts = run.metrics["metric"].value_counts(sort=False) if len(run.metrics) else pd.Series(dtype=int)
    return str(counts.idxmax()) if len(counts) else None


def _percent(value: object, sign: bool = True) -> str:
    number = float(value) if value is not None else math.nan
    return "—" if math.isnan(number) else f"{number:+.1%}" if sign else f"{number:.1%}"


def verdict_section(run: Run) -> Section:
    """A ``licli verdict`` run: the decision in the title, its scale as the note, the evidence lines that
    decided it, and the mechanism-vs-baseline comparison per ε as the table (docs/verdict.md)."""
    document = read_verdict(run.path)
    scale = document["scale"]
    rows = [{"eps": f"{row['eps']:g}", "robust accuracy mechanism − baseline": _percent(row["effect"]),
             "interval (images)": f"[{_percent(row['image_low'])}, {_percent(row['image_high'])}]",
             "interval (seeds)": f"[{_percent(row['seed_low'])}, {_percent(row['seed_high'])}]",
             "only mechanism robust": row["only_mechanism"], "only baseline robust": row["only_baseline"],
             "p": f"{row['p_value']:.3g}", "Holm p": f"{row['p_holm']:.3g}"}
            for row in document["comparisons"]]
    note = scale["text"] if isinstance(scale, dict) and "text" in scale else str(scale)
    return Section(f"verdict · {run.name}: {str(document['verdict']).upper()}", pd.DataFrame(rows), note,
                   lines=tuple(str(line) for line in document["evidence"]))


def build_report(discovery: Discovery, aggregated: pd.DataFrame, *, title: str = "licli report",
                 extra: list[Section] | None = None) -> Report:
    """Sections: the verdict of each ``licli verdict`` run first, one per metric (models × settings,
    accuracies and rates in %) with the plots of the runs whose main metric it is, the runs read, then
    ``extra`` (e.g. a baseline diff); other plots at the end."""
    fraction = aggregated["metric"].map(is_fraction).astype(bool)
    shown = aggregated.assign(mean=aggregated["mean"].where(~fraction, aggregated["mean"] * 100),
                              std=aggregated["std"].where(~fraction, aggregated["std"] * 100))
    plots: dict[str | None, list[Plot]] = {}
    for run, image in discovery.images():
        plots.setdefault(main_metric(run), []).append(Plot(f"{run.command} · {run.name} · {image.name}", image))
    tables = metric_tables(shown)
    sections = [verdict_section(run) for run in discovery.runs if run.command == "verdict"]
    sections += [Section(metric, table, f"{table.attrs['direction']} is better; mean ± std over seeds"
                        + ("; in %" if is_fraction(metric) else ""), plots.pop(metric, []))
                for metric, table in tables.items()]
    runs = pd.DataFrame([{"command": r.command, "name": r.name, "seed": r.seed, "rows": len(r.metrics),
                          "plots": len(r.images), "path": str(r.path)} for r in discovery.runs])
    if len(runs):
        sections.append(Section("runs", runs))
    sections.extend(extra or [])
    return Report(title, sections, [plot for group in plots.values() for plot in group],
                  [s.notice() for s in discovery.skipped])


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
    def image(plot: Plot) -> list[str]:
        target = plot.path.resolve()
        if relative_to is not None:
            try:
                target = Path(os.path.relpath(target, relative_to.resolve()))
            except ValueError:
                pass
        return [f"![{plot.caption}]({target.as_posix()})", ""]

    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        if section.note:
            lines += [f"_{section.note}_", ""]
        if section.lines:
            lines += [f"- {line}" for line in section.lines] + [""]
        lines += [_markdown_table(section.table), ""]
        for plot in section.plots:
            lines += image(plot)
    if report.plots:
        lines += ["## plots", ""]
        for plot in report.plots:
            lines += image(plot)
    if report.notices:
        lines += ["## skipped", ""] + [f"- {notice}" for notice in report.notices] + [""]
    return "\n".join(lines)
