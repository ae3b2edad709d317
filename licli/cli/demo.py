"""``licli demo``: train small-cnn on the embedded mnist-mini sample, evaluate it, print the tables."""

from __future__ import annotations

import typer

from licli.cli.app import app, recorded_run
from licli.cli.options import with_run_options
from licli.cli.train import print_history, write_trained_model
from licli.config import RunOptions
from licli.demo import demo_config, demo_summary, run_demo
from licli.reporting.console import EpochProgress, stdout
from licli.io import to_json
from licli.reporting.summary import meta_identity, write_summary
from licli.reporting.tables import frame_table

SHORT_NAMES = {"clean_accuracy": "clean", "robust_accuracy": "robust", "attack_success_rate": "success_rate",
               "max_perturbation_norm": "max_norm"}
"""Printed headers of long column names (the CSVs and --json keep the full names)."""
PERCENT_COLUMNS = ("accuracy", "clean", "robust", "success_rate")
CAPTIONS = {"attack": "L∞ ε = 0.1, MNIST's usual budget (8/255 is CIFAR-10's); first 200 test images",
            "masking": "the cheap checks; all seven: licli attack --masking-check"}


@app.command()
@with_run_options("demo", data=False)
def demo(
    options: RunOptions,
    seed: int = typer.Option(0, help="Seed for weights and data order."),
    epochs: int = typer.Option(2, help="Training epochs (2 reach ≈ 96% test accuracy)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Offline demo: train the LI paper's small CNN on mnist-mini (embedded), measure its clean accuracy,
    FGSM / PGD-10 robust accuracy (L∞, ε = 0.1, 200 test images) and the cheap gradient-masking checks."""
    config = demo_config(seed=seed, epochs=epochs)
    with recorded_run("demo", config, options, config.seed) as (torch_device, run):
        result = run_demo(config, device=torch_device, progress=EpochProgress())
        run.record_dataset(result.data)
        checkpoint = write_trained_model(run, result.model, result.spec, result.history, config)
        for evaluation, frame in result.evaluations.items():
            run.write_csv(f"{evaluation}.csv", frame)
        write_summary(run, demo_summary(result.evaluations, meta_identity(checkpoint.meta)))
    console = stdout()
    if json_output:
        console.print_json(to_json({
            "run": str(run.path), "checkpoint": str(checkpoint.weights),
            "history": result.history.to_dict(orient="records"),
            "evaluations": {k: v.to_dict(orient="records") for k, v in result.evaluations.items()}}))
        return
    print_history(result.history, f"licli demo · training {config.model} on {config.dataset}")
    for evaluation, frame in result.evaluations.items():
        shown = frame.drop(columns="model", errors="ignore").rename(columns=SHORT_NAMES)
        console.print(frame_table(shown, title=f"licli demo · {evaluation} ({config.model})",
                                  percent_columns=PERCENT_COLUMNS,
                                  captions={"caption": CAPTIONS[evaluation]} if evaluation in CAPTIONS else None))
    console.print(f"run folder: {run.path}", highlight=False, markup=False)
