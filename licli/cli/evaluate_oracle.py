"""``licli evaluate oracle``: the Oracle-MNIST label-oracle benchmark (LI thesis §1.3, §4.1.1, Table 1.1)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import typer

from licli.cli.config_file import field_flags
from licli.cli.options import with_run_options
from licli.cli.app import evaluate_app, recorded_run
from licli.cli.choices import Activation, Calibration, Optimizer, OracleDataset, OraclePath, value
from licli.config import RunOptions
from licli.data import load_dataset
from licli.data.oracle import DEFAULT_COPIES, ORACLE_BASES
from licli.errors import CheckFailed, LicliError
from licli.evaluations.oracle import (FOLLOW_THRESHOLD, METHODS, OracleConfig, SweepConfig, ablate_architecture, run_benchmark,
                                     size_sweep, summary_rows, table_1_1)
from licli.mechanisms.inhibition import CALIBRATIONS
from licli.parsing import comma_list
from licli.registry import pick
from licli.reporting import oracle_plots
from licli.reporting.console import PartProgress, notice, stdout
from licli.io import to_json
from licli.reporting.summary import write_summary
from licli.reporting.tables import frame_table
from licli.runtime import check_seed

PERCENT = ("train_accuracy", "permuted_accuracy", "permuted_accuracy_std", "true_oracle_accuracy", "zeroed_accuracy",
           "permuted_accuracy_identity", "zeroed_accuracy_identity", "follows_oracle", "top_class_share",
           "oracle_weight_share", "image_saturation_init", "image_saturation_step1", "baseline", "paper_train",
           "paper_test", "licli_train", "licli_test", "licli_test_std", "licli_test_identity", "final_follow_rate",
           "measured", "threshold")


def _check_options(pool: int, li_calibration: str, seeds: tuple[int, ...]) -> None:
    """Refuse what training would refuse only after its first method started (validated before any work)."""
    if pool < 1:
        raise LicliError(f"--pool must be ≥ 1 (got {pool})", "pass --pool 1 (no pooling, the paper) or --pool 2")
    pick(dict.fromkeys(CALIBRATIONS), li_calibration, "LI calibration")
    for seed in seeds:
        check_seed(seed)


@dataclass(frozen=True)
class OracleCommand:
    dataset: str
    benchmark: OracleConfig
    sweep: SweepConfig | None
    ablate_architecture: bool


@evaluate_app.command("oracle")
@field_flags(seed="seeds", copies="oracle_copies", follow_threshold="protocol_follow_threshold",
             threshold="follow_threshold")
@with_run_options("oracle")
def evaluate_oracle(
    options: RunOptions,
    methods: str = typer.Option("erm", help=f"Comma-separated methods: {','.join(METHODS)}."),
    dataset: OracleDataset = typer.Option("oracle-mnist-mini", help=f"{' or '.join(ORACLE_BASES)}."),
    epochs: int = typer.Option(3, help="Epochs per method."),
    seeds: str = typer.Option("0", help="Comma-separated seeds; every method trains once per seed."),
    oracle_copies: int = typer.Option(DEFAULT_COPIES, help="Copies of the one-hot label (10 → 100 oracle inputs)."),
    activation: Activation = typer.Option("sigmoid", help="sigmoid (the paper, §3.7) or relu, for every layer."),
    oracle_path: OraclePath = typer.Option("layer", help="layer (own 100-unit layer, the paper) or raw (inputs concatenated)."),
    pool: int = typer.Option(1, help="Max-pool after the conv: 1 = none (the paper's network), 2 = 2×2 (about 2× "
                             "faster, but ERM learns the image too: see docs/oracle-mnist.md)."),
    batch_size: int = typer.Option(128, help="Training batch size."),
    optimizer: Optimizer = typer.Option("sgd", help="sgd or adam (the paper does not say; chosen by measurement, see "
                                  "docs/oracle-mnist.md)."),
    lr: float = typer.Option(0.05, help="Learning rate."),
    momentum: float = typer.Option(0.9, help="SGD momentum."),
    weight_decay: float = typer.Option(0.0, help="L2 weight decay (Fig. 4.1 used some with LI)."),
    li_calibration: Calibration = typer.Option("paper", help="LI calibration: paper (Algorithm 1) or online (EMA)."),
    calibration_batch: int = typer.Option(2048, help="LI calibration batch (paper: 2048)."),
    heatmap_epochs: str = typer.Option("", help="Epochs at which to snapshot LI's map over the oracle units "
                                       "(Fig. 4.4), e.g. 1,5,10."),
    test_seed: int = typer.Option(0, help="Seed of the wrong test oracle."),
    check_protocol: bool = typer.Option(True, "--check-protocol/--no-check-protocol",
                                        help="Train the no-oracle control and ERM first and check that the protocol is "
                                        "valid (the image is learnable; ERM follows the oracle)."),
    control_threshold: float | None = typer.Option(None, help="No-oracle test accuracy the protocol needs (default: "
                                                   "97.5% on oracle-mnist, the thesis; 90% on oracle-mnist-mini)."),
    protocol_follow_threshold: float = typer.Option(FOLLOW_THRESHOLD, help="Share of permuted test images on which "
                                                    "ERM must answer the oracle's class."),
    ablate: bool = typer.Option(False, "--ablate-architecture", help="Also train ERM under each activation × "
                                "oracle path × pooling."),
    sweep: str = typer.Option("", "--size-sweep", help="Oracle copies for Fig. 3.1, e.g. 1,2,4,8,16 (sigmoid and "
                              "relu); empty = no sweep."),
    sweep_epochs: int = typer.Option(1, help="Epochs per size-sweep run."),
    follow_threshold: float = typer.Option(0.9, help="Size sweep: share of probes that must follow the oracle."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train each method on Oracle-MNIST and report train, permuted-, true- and zeroed-oracle accuracy."""
    dataset, activation, oracle_path = value(dataset), value(activation), value(oracle_path)
    optimizer, li_calibration = value(optimizer), value(li_calibration)
    base_name = pick(ORACLE_BASES, dataset, "oracle dataset")
    _check_options(pool, li_calibration, comma_list(seeds, "--seeds", int))
    benchmark = OracleConfig(
        methods=comma_list(methods, "--methods"), seeds=comma_list(seeds, "--seeds", int), epochs=epochs, copies=oracle_copies,
        activation=activation, oracle_path=oracle_path, pool=pool, batch_size=batch_size, optimizer=optimizer, lr=lr,
        momentum=momentum, weight_decay=weight_decay, test_seed=test_seed, check_protocol=check_protocol,
        control_threshold=control_threshold, follow_threshold=protocol_follow_threshold,
        li_overrides={"calibration": li_calibration, "calibration_batch": calibration_batch},
        heatmap_epochs=comma_list(heatmap_epochs, "--heatmap-epochs", int))
    sweep_config = (SweepConfig(copies=comma_list(sweep, "--size-sweep", int), epochs=sweep_epochs,
                                threshold=follow_threshold) if sweep.strip() else None)
    config = OracleCommand(dataset, benchmark, sweep_config, ablate)
    base = load_dataset(base_name, options.data_dir)
    with recorded_run("evaluate-oracle", config, options, seed=benchmark.seeds[0]) as (torch_device, run):
        run.record_dataset(base)
        report = run_benchmark(base, benchmark, device=torch_device,
                               on_run=lambda r: notice(f"training {r['method']} (seed {r['seed']})"),
                               on_progress=PartProgress())
        table = table_1_1(report)
        run.write_csv("table_1_1.csv", table)
        run.write_csv("unavailable.csv", report.unavailable)
        run.write_json("baseline.json", report.baseline)
        run.note("protocol_valid", report.protocol_valid)
        if len(report.protocol):
            run.write_csv("protocol.csv", report.protocol)
            run.write_csv("protocol_runs.csv", report.protocol_runs)
        if len(report.runs):
            write_summary(run, summary_rows(report.runs))
            for file, frame in (("methods.csv", report.summary), ("runs.csv", report.runs),
                                ("curves.csv", report.curves), ("predicted_classes.csv", report.predicted)):
                run.write_csv(file, frame)
            run.save_figure("curves.png", oracle_plots.accuracy_curves(report.curves, report.baseline["accuracy"]))
        if report.heatmaps:
            run.save_figure("correlation_oracle_units.png", oracle_plots.correlation_heatmaps(report.heatmaps))
        architecture = ablate_architecture(base, benchmark, device=torch_device) if ablate else None
        if architecture is not None:
            run.write_csv("architecture.csv", architecture)
        sweep_summary = None
        if sweep_config is not None:
            sweep_summary, sweep_curves = size_sweep(base, benchmark, sweep_config, device=torch_device)
            run.write_csv("size_sweep.csv", sweep_summary)
            run.write_csv("size_sweep_curves.csv", sweep_curves)
            run.save_figure("size_sweep.png", oracle_plots.follow_curves(sweep_curves, sweep_config.threshold))
        _print(report, table, architecture, sweep_summary, str(run.path), json_output)
        if report.protocol_valid is False:
            failed = report.protocol[~report.protocol["passed"]]
            raise CheckFailed("the Oracle-MNIST protocol is invalid, no method is scored: " + "; ".join(
                f"{r.check} {r.measured:.1%} < {r.threshold:.1%}" for r in failed.itertuples()),
                f"train longer or change --optimizer/--lr (docs/oracle-mnist.md); see {run.path / 'protocol.csv'}")


def _print(report, table: pd.DataFrame, architecture: pd.DataFrame | None, sweep: pd.DataFrame | None,
           run_path: str, json_output: bool) -> None:
    console = stdout()
    summary = report.summary.drop(columns=["label", "baseline"], errors="ignore")
    frames = {"protocol": report.protocol, "table_1_1": table, "summary": summary, "unavailable": report.unavailable,
              "architecture": architecture, "size_sweep": sweep}
    frames = {key: frame for key, frame in frames.items() if frame is not None and len(frame)}
    if json_output:
        console.print_json(to_json({"run": run_path, "baseline": report.baseline,
                                    **{key: frame.to_dict(orient="records") for key, frame in frames.items()}}))
        return
    titles = {"protocol": "protocol checks (before any method is scored)", "table_1_1": "Oracle-MNIST · Table 1.1 (paper vs licli; test = permuted oracle)",
              "summary": "per method (mean over seeds)", "unavailable": "methods not available in this licli",
              "architecture": "ERM under each architecture choice", "size_sweep": "Fig. 3.1 · samples until the "
              "network follows the oracle"}
    for key, frame in frames.items():
        console.print(frame_table(frame, title=titles[key], percent_columns=PERCENT))
    console.print(f"run: {run_path}", highlight=False)

