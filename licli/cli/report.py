"""``licli report`` and ``licli check``: compare runs across models and seeds, check them against a baseline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from licli.cli.app import app
from licli.cli.config_file import field_flags
from licli.errors import LicliError
from licli.reporting import baseline as baselines
from licli.reporting.adapters import read_verdict
from licli.reporting.compare import aggregate, degenerate_models, metric_tables
from licli.reporting.console import notice, stdout
from licli.reporting.discovery import Discovery, RunFilter, discover
from licli.reporting.document import Section, build_report, render_markdown
from licli.reporting.files import check_writable
from licli.io import atomic_write_csv, atomic_write_text, to_json
from licli.reporting.html import render_html
from licli.reporting.tables import frame_table

COMPARISON_FILE = "comparison.csv"


def parse_tolerances(values: list[str]) -> tuple[baselines.Tolerance | None, dict[str, baselines.Tolerance]]:
    """``0.02`` sets the overall absolute tolerance, ``METRIC=0.05`` one metric's, a ``%`` suffix makes it
    relative to the baseline value (``fisher_rao_norm=10%``). Not given: ``None`` (the file decides)."""
    default: baselines.Tolerance | None = None
    per_metric: dict[str, baselines.Tolerance] = {}
    for text in values:
        metric, _, amount = text.rpartition("=")
        relative = amount.endswith("%")
        try:
            number = float(amount.rstrip("%"))
        except ValueError:
            raise LicliError(f"--tolerance {text!r} is not a number",
                             "pass e.g. --tolerance 0.02, --tolerance test_loss=0.05 or --tolerance fisher_rao_norm=10%"
                             ) from None
        tolerance = baselines.Tolerance(relative=number / 100) if relative else baselines.Tolerance(absolute=number)
        if metric:
            per_metric[metric] = tolerance
        else:
            default = tolerance
    return default, per_metric


def _outputs(out: Path | None, html: Path | None, markdown: Path | None, csv: Path | None
             ) -> dict[str, Path]:
    chosen = {"csv": csv, "markdown": markdown, "html": html}
    if out is not None:
        defaults = {"csv": COMPARISON_FILE, "markdown": "report.md", "html": "report.html"}
        chosen = {kind: path or out / defaults[kind] for kind, path in chosen.items()}
    outputs = {kind: path for kind, path in chosen.items() if path is not None}
    for path in outputs.values():
        check_writable(path.parent)
    return outputs


def _print(discovery: Discovery, aggregated: pd.DataFrame, diff: pd.DataFrame | None) -> None:
    console = stdout()
    for run in discovery.runs:
        if run.command == "verdict":
            console.print(f"verdict · {run.name}: {read_verdict(run.path)['verdict']}", highlight=False)
    for metric, table in metric_tables(aggregated).items():
        console.print(frame_table(table, title=f"{metric} ({table.attrs['direction']} is better)"))
    for model in sorted(degenerate_models(aggregated)):
        console.print(f"{model}: DEGENERATE (one class or chance-level answers in some seed): its robustness "
                      "numbers are no evidence of robustness", highlight=False)
    if diff is not None:
        console.print(frame_table(diff, title="against the baseline"))
    console.print(f"{len(discovery.runs)} run(s), {len(discovery.skipped)} skipped", highlight=False)


def run_report(paths: list[Path], run_filter: RunFilter, *, out: Path | None = None, html: Path | None = None,
               markdown: Path | None = None, csv: Path | None = None, json_output: bool = False,
               baseline: Path | None = None, tolerance: list[str] | None = None,
               write_baseline: Path | None = None, title: str = "licli report") -> None:
    default_tolerance, per_metric = parse_tolerances(tolerance or [])
    reference = baselines.load_baseline(baseline) if baseline else None
    outputs = _outputs(out, html, markdown, csv)
    if write_baseline is not None:
        check_writable(write_baseline.parent, field="write_baseline")
    discovery = discover(paths or [Path("reports")], run_filter)
    for skipped in discovery.skipped:
        notice(skipped.notice())
    aggregated = aggregate(discovery.metrics())
    if aggregated.empty and not any(run.command == "verdict" for run in discovery.runs):
        raise LicliError(f"no finished runs with metrics under {', '.join(str(p) for p in paths or ['reports'])}",
                         "run an evaluation first, or check the paths and filters")
    diff = baselines.compare(aggregated, reference, default_tolerance, per_metric) if reference else None
    extra = [Section("against the baseline", diff, f"baseline {baseline}")] if diff is not None else []
    report = build_report(discovery, aggregated, title=title, extra=extra)
    if "csv" in outputs:
        atomic_write_csv(outputs["csv"], aggregated)
    if "markdown" in outputs:
        atomic_write_text(outputs["markdown"], render_markdown(report, relative_to=outputs["markdown"].parent))
    if "html" in outputs:
        atomic_write_text(outputs["html"], render_html(report))
    if write_baseline is not None:
        baselines.write_baseline(write_baseline, baselines.baseline_document(
            aggregated, default_tolerance or baselines.DEFAULT_TOLERANCE, f"written by `licli report --write-baseline` from {len(discovery.runs)} run(s)",
            per_metric))
        notice(f"baseline written: {write_baseline}")
    if json_output:
        stdout().print_json(to_json({
            "runs": [{"path": str(r.path), "command": r.command, "name": r.name, "seed": r.seed} for r in discovery.runs],
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in discovery.skipped],
            "metrics": aggregated.to_dict(orient="records"),
            "diff": None if diff is None else diff.to_dict(orient="records"),
            "files": {kind: str(path) for kind, path in outputs.items()}}))
    else:
        _print(discovery, aggregated, diff)
    if diff is not None:
        baselines.check(diff)


_PATHS = typer.Argument(None, help="Run folders or folders holding them (default: reports).")
_COMMAND = typer.Option([], "--command", help="Only runs of this command (repeatable), e.g. train, attack.")
_NAME = typer.Option([], "--name", help="Only runs with this --name (repeatable).")
_TAG = typer.Option([], "--tag", help="Only runs with this tag (repeatable).")
_MODEL = typer.Option([], "--model", help="Only models whose label contains this (repeatable).")
_MECHANISM = typer.Option([], "--mechanism", help="Only models using this mechanism; `none` for plain models.")
_TOLERANCE = typer.Option([], "--tolerance", help="Allowed drift: 0.02 (default, absolute), METRIC=0.05, METRIC=10% "
                                                  "(relative). Repeatable.")


@app.command()
@field_flags(absolute="tolerance", relative="tolerance")
def report(
    paths: list[Path] = _PATHS,
    command: list[str] = _COMMAND,
    name: list[str] = _NAME,
    tag: list[str] = _TAG,
    model: list[str] = _MODEL,
    mechanism: list[str] = _MECHANISM,
    out: Path = typer.Option(None, help=f"Folder for {COMPARISON_FILE}, report.md and report.html."),
    html: Path = typer.Option(None, help="Write the self-contained HTML page here."),
    markdown: Path = typer.Option(None, help="Write the Markdown report here."),
    csv: Path = typer.Option(None, help="Write the aggregated metrics (mean, std, seeds) here."),
    baseline: Path = typer.Option(None, help="Baseline JSON to check against (exit 1 on a regression)."),
    tolerance: list[str] = _TOLERANCE,
    write_baseline: Path = typer.Option(None, help="Write the current metrics as a new baseline JSON (on purpose)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compare runs: models × metrics tables (mean ± std over seeds), Markdown/HTML/CSV, baseline checks."""
    run_report(paths, RunFilter(tuple(command), tuple(name), tuple(tag), tuple(model), tuple(mechanism)),
               out=out, html=html, markdown=markdown, csv=csv, json_output=json_output, baseline=baseline,
               tolerance=tolerance, write_baseline=write_baseline)


@app.command()
@field_flags(absolute="tolerance", relative="tolerance")
def check(
    baseline: Path = typer.Argument(..., help="Baseline JSON (see docs/report-contract.md)."),
    paths: list[Path] = _PATHS,
    command: list[str] = _COMMAND,
    name: list[str] = _NAME,
    tag: list[str] = _TAG,
    model: list[str] = _MODEL,
    mechanism: list[str] = _MECHANISM,
    tolerance: list[str] = _TOLERANCE,
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check runs against a baseline: exit 0 if within tolerance, 1 on a regression, 2 on bad input."""
    run_report(paths, RunFilter(tuple(command), tuple(name), tuple(tag), tuple(model), tuple(mechanism)),
               json_output=json_output, baseline=baseline, tolerance=tolerance, title="licli check")
