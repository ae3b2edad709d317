"""``licli import``: convert a foreign model (your class + weights) into a licli checkpoint."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from licli.cli.app import app
from licli.cli.choices import DatasetName, value
from licli.cli.options import with_foreign_source
from licli.data import DATASETS
from licli.sources import ModelSource, import_model
from licli.registry import pick
from licli.reporting.console import stdout
from licli.reporting.files import check_writable
from licli.reporting.tables import frame_json, frame_table


@app.command("import")
@with_foreign_source
def import_command(
    source: ModelSource,
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint to write (.safetensors; its .json goes beside it)."),
    dataset: DatasetName = typer.Option(None, help="Dataset the model was trained on (the default for later evaluations)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Convert --model-def FILE.py:NAME (or --model torchvision:NAME) with --weights into a licli checkpoint.

    The metadata records the definition file's sha256, the class, its arguments and the input
    normalisation, so later commands need only --checkpoint. FILE.py is imported: it runs its code.
    """
    dataset = value(dataset)
    if dataset is not None:
        pick(DATASETS, dataset, "dataset")
    check_writable(out.expanduser().absolute().parent)
    checkpoint, loaded = import_model(source, out, dataset)
    result = pd.DataFrame([{"model": loaded.label, "tensors": len(loaded.model.state_dict()),
                            "checkpoint": str(checkpoint.weights), "weights_sha256": checkpoint.meta["weights_sha256"]}])
    console = stdout()
    if json_output:
        console.print_json(frame_json(result))
    else:
        console.print(frame_table(result, title="licli import"))
