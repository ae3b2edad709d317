"""``licli merge-shards``: the k runs of ``licli attack --shard i/k`` as one attack run (equal to the unsharded one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import typer

from licli.cli.app import app, recorded_run
from licli.cli.options import with_run_options
from licli.config import RunOptions
from licli.errors import LicliError
from licli.evaluations.degenerate import Degeneracy
from licli.evaluations.robustness import robustness_table, summary_rows
from licli.evaluations.shards import check_shards, merge_samples
from licli.reporting.console import stdout
from licli.reporting.summary import recorded_models, with_identities, write_summary
from licli.reporting.tables import frame_table


@dataclass(frozen=True)
class MergeCommandConfig:
    shards: list[str]


def _read(folder: Path) -> tuple[dict, pd.DataFrame]:
    try:
        return json.loads((folder / "manifest.json").read_text()), pd.read_csv(folder / "samples.csv")
    except (OSError, ValueError) as error:
        raise LicliError(f"cannot read the shard in {folder} ({error})", "pass finished `licli attack --shard` runs"
                         ) from None


@app.command("merge-shards")
@with_run_options("merged", data=False)
def merge_shards(
    options: RunOptions,
    runs: list[Path] = typer.Argument(..., help="The run folders of `licli attack --shard 0/k` … `--shard k-1/k`."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Merge sharded attack runs into one attack run: samples.csv, attacks.csv and summary.csv as unsharded."""
    read = [_read(folder) for folder in runs]
    manifests = [m for m, _ in read]
    check_shards(manifests, [str(r) for r in runs])
    order = sorted(range(len(runs)), key=lambda n: manifests[n]["attack"]["shard"][0])
    samples, summary = merge_samples([read[n][1] for n in order])
    with recorded_run("attack", MergeCommandConfig([str(runs[n]) for n in order]), options, seed=None) as (_, run):
        first = manifests[order[0]]
        run.record_inputs(first.get("inputs", {}))
        run.note("attack", {k: v for k, v in first["attack"].items() if k != "shard"})
        run.note("merged_from", [str(runs[n]) for n in order])
        run.write_csv("samples.csv", samples)
        run.write_csv("attacks.csv", summary)
        degeneracies = {label: Degeneracy(**{**values, "reasons": tuple(values["reasons"])})
                        for label, values in first["attack"].get("degeneracy", {}).items()}  # judged on the whole split
        write_summary(run, with_identities(summary_rows(summary, degeneracies), recorded_models(first)))
    if json_output:
        stdout().print_json(json.dumps({"run": str(run.path), "summary": json.loads(summary.to_json(orient="records"))}))
        return
    table = robustness_table(summary, degeneracies)
    stdout().print(frame_table(table, title=f"licli merge-shards ({len(runs)} shards)",
                               percent_columns=tuple(c for c in table.columns if c not in ("model", "model check", "eps"))))
    stdout().print(f"run: {run.path}", highlight=False, markup=False)
