"""``licli demo``: train small-cnn on the embedded mnist-mini sample, evaluate it, print the tables."""

from __future__ import annotations

import typer

from licli.cli.app import app, recorded_run
from licli.cli.train import print_history, run_options, write_trained_model
from licli.demo import demo_config, run_demo
from licli.reporting.console import EpochProgress, stdout
from licli.reporting.files import to_json
from licli.reporting.tables import frame_table


@app.command()
def demo(
    seed: int = typer.Option(0, help="Seed for weights and data order."),
    epochs: int = typer.Option(2, help="Training epochs (2 reach ≈ 96% test accuracy)."),
    device: str = typer.Option(None, help="auto (default), cpu, cuda or cuda:N."),
    out: str = typer.Option(None, help="Root folder for run folders (default: reports)."),
    name: str = typer.Option("demo", help="Name of this run (suffix of its folder)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Offline demo: train the LI paper's small CNN on mnist-mini (embedded), then evaluate it."""
    config = demo_config(seed=seed, epochs=epochs)
    options = run_options(device, out, name, data_dir=None)
    with recorded_run("demo", config, options, config.seed) as (torch_device, run):
        result = run_demo(config, device=torch_device, progress=EpochProgress())
        for role, path in result.data.files.items():
            run.record_input(f"data:{role}", path)
        checkpoint = write_trained_model(run, result.model, result.spec, result.history, config)
        for evaluation, frame in result.evaluations.items():
            run.write_csv(f"{evaluation}.csv", frame)
    console = stdout()
    if json_output:
        console.print_json(to_json({
            "run": str(run.path), "checkpoint": str(checkpoint.weights),
            "history": result.history.to_dict(orient="records"),
            "evaluations": {k: v.to_dict(orient="records") for k, v in result.evaluations.items()}}))
        return
    print_history(result.history, f"licli demo · training {config.model} on {config.dataset}")
    for evaluation, frame in result.evaluations.items():
        console.print(frame_table(frame, title=f"licli demo · {evaluation}", percent_columns=("accuracy",)))
    console.print(f"run folder: {run.path}", highlight=False, markup=False)
