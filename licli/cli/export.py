"""``licli export tensorboard``: runs as TensorBoard event files."""

from __future__ import annotations

from pathlib import Path

import typer

from licli.cli.app import export_app


@export_app.command("tensorboard")
def export_tensorboard(
    runs: list[Path] = typer.Argument(..., help="Run folders (of licli train, attack, evaluate …)."),
    out: Path = typer.Option(Path("tensorboard"), "--out", help="Folder of the TensorBoard runs (tensorboard "
                                                                "--logdir OUT)."),
) -> None:
    """Write runs' metrics as TensorBoard event files (one TensorBoard run per run folder), offline."""
    # deferred: pandas and tensorboard; `licli export --help` starts without them
    from licli.reporting.console import stdout
    from licli.reporting.tables import frame_table
    from licli.reporting.tensorboard import export_tensorboard as export

    stdout().print(frame_table(export(runs, out), title="licli export tensorboard"))
