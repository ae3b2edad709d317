"""Oracle-MNIST: does a method learn the image when the label is also in the input? (LI thesis §1.3, §4.1.1)

Each method is a mechanism/regularizer combination trained on the same packed data (train oracle =
true label), with the same seeds and the same data order, and scored on three test conditions:
``permuted`` (the oracle always names a wrong class: following it scores 0%), ``true`` and ``zeroed``.
Success is a permuted-oracle accuracy above the majority-class baseline of the test labels (the
paper's "1*" row, 11.35% on MNIST). Everything here returns tidy DataFrames; nothing prints.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.nn.parameter import UninitializedBuffer

from licli.config import TrainConfig, tomllib
from licli.data import Dataset, Split, batches
from licli.data.oracle import majority_baseline, oracle_test_splits, with_oracle
from licli.errors import LicliError
from licli.models import MechanismSpec, build_model
from licli.models.oracle_net import ORACLE_PATHS, OracleNet, feature_groups
from licli.models.zoo import ACTIVATIONS
from licli.progress import OnProgress, Parts
from licli.registry import pick
from licli.training import cross_entropy, evaluate, model_spec_for, objective_for, train

SLOT = "inhibition"
RECIPE = "oracle-mnist.toml"
PAPER_COLUMNS = {"Train Accuracy (%)": "train", "Test Accuracy (%)": "test"}
PAPER_METHODS = {"always-1": "majority"}
LOCAL_INHIBITION = {"correlation": "cmap", "calibration": "paper", "p_update": 0.3, "p_eye": 0.3,
                    "calibration_batch": 2048}
"""Algorithm 1's hyper-parameters as used for every Oracle experiment (§4.1.1)."""


@dataclass(frozen=True)
class Method:
    """A mechanism in the ``inhibition`` slot and/or a regularizer; ``separate`` adds the per-group
    sizes ``[image units, oracle units]`` to the mechanism (inhibition applied to each group, Fig. 4.5)."""

    label: str
    mechanism: str | None = None
    mechanism_params: Mapping[str, Any] = field(default_factory=dict)
    separate: bool = False
    regularizer: str | None = None
    regularizer_params: Mapping[str, Any] = field(default_factory=dict)

    def missing(self) -> list[str]:
        """Registry entries this method needs that this licli does not have (yet)."""
        from licli.mechanisms import MECHANISMS, REGULARIZERS

        needs = [(self.mechanism, MECHANISMS, "mechanism"), (self.regularizer, REGULARIZERS, "regularizer")]
        return [f"{kind} {name!r}" for name, registry, kind in needs if name is not None and name not in registry]

    def mechanisms(self, groups: list[int], overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The ``TrainConfig.mechanisms`` entry; ``overrides`` replace parameters the method already sets."""
        if self.mechanism is None:
            return {}
        params = {key: overrides.get(key, value) for key, value in self.mechanism_params.items()}
        grouping = {"groups": list(groups)} if self.separate else {}
        return {SLOT: MechanismSpec(self.mechanism, {**params, **grouping}).to_dict()}


METHODS: dict[str, Method] = {
    "erm": Method("ERM"),
    "dropout": Method("Dropout", mechanism="dropout", mechanism_params={"p": 0.5}),
    "irm": Method("IRM", regularizer="irm"),
    "vrex": Method("V-REx", regularizer="vrex"),
    "fishr": Method("Fishr", regularizer="fishr"),
    "sd": Method("SD", regularizer="spectral-decoupling"),
    "mma": Method("MMA", regularizer="mma"),
    "li": Method("LI", mechanism="local-inhibition", mechanism_params=LOCAL_INHIBITION),
    "li-separate": Method("LI separate", mechanism="local-inhibition", mechanism_params=LOCAL_INHIBITION,
                          separate=True),
    "li+sd": Method("LI + SD", mechanism="local-inhibition", mechanism_params=LOCAL_INHIBITION,
                    regularizer="spectral-decoupling"),
    "li-separate+sd": Method("LI separate + SD", mechanism="local-inhibition", mechanism_params=LOCAL_INHIBITION,
                             separate=True, regularizer="spectral-decoupling"),
}


@dataclass(frozen=True)
class OracleConfig:
    """The benchmark's protocol. The paper gives the architecture's widths and LI's hyper-parameters but not
    the optimizer, learning rate, batch size or pooling: Adam 1e-3, batch 128 and no pooling after the conv
    are licli's choices (flags; ``oracle-net`` says why pooling matters)."""

    methods: tuple[str, ...] = ("erm",)
    seeds: tuple[int, ...] = (0,)
    epochs: int = 3
    copies: int = 10
    activation: str = "sigmoid"
    oracle_path: str = "layer"
    pool: int = 1
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    test_seed: int = 0
    li_overrides: Mapping[str, Any] = field(default_factory=dict)
    heatmap_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in self.methods:
            pick(METHODS, name, "oracle method")
        pick(ACTIVATIONS, self.activation, "activation")
        pick({p: p for p in ORACLE_PATHS}, self.oracle_path, "oracle path")
        if not self.seeds:
            raise LicliError("no seeds given", "pass e.g. --seeds 0,1,2")
        if not self.methods:
            raise LicliError("no methods given", f"pass e.g. --methods erm,li (choose from {', '.join(METHODS)})")
        if self.copies < 1:
            raise LicliError(f"--oracle-copies must be ≥ 1 (got {self.copies})", "pass e.g. --oracle-copies 10")
        bad_epochs = [e for e in self.heatmap_epochs if not 1 <= e <= self.epochs]
        if bad_epochs:
            raise LicliError(f"--heatmap-epochs {bad_epochs} lie outside 1…{self.epochs}",
                             "choose epochs the run reaches")
        self.train_config(Method("ERM"), [1, 1], 0)

    def model_options(self) -> dict[str, Any]:
        return {"oracle_copies": self.copies, "activation": self.activation, "oracle_path": self.oracle_path,
                "pool": self.pool}

    def train_config(self, method: Method, groups: list[int], seed: int, dataset: str = "mnist-mini") -> TrainConfig:
        return TrainConfig(
            model="oracle-net", dataset=dataset, epochs=self.epochs, batch_size=self.batch_size,
            optimizer=self.optimizer, lr=self.lr, weight_decay=self.weight_decay, seed=seed,
            model_options=self.model_options(),
            mechanisms=method.mechanisms(groups, self.li_overrides),
            regularizer=method.regularizer, regularizer_params=dict(method.regularizer_params))


def correlation_map(model: nn.Module) -> torch.Tensor | None:
    """The correlation map ``C`` (eq. 3.4.3) of the ``inhibition`` slot's mechanism, if it has one."""
    mechanism = getattr(getattr(model, SLOT, None), "mechanism", None)
    found = getattr(mechanism, "correlation_map", None)
    return found if isinstance(found, torch.Tensor) and not isinstance(found, UninitializedBuffer) else None


class EpochProbe:
    """A training observer: each epoch, accuracy on the extra test conditions and (at chosen epochs)
    a copy of the correlation map over the oracle units (Fig. 4.4)."""

    def __init__(self, model: OracleNet, splits: Mapping[str, Split], device: torch.device,
                 heatmap_epochs: Sequence[int] = ()) -> None:
        self.model, self.splits, self.device = model, splits, device
        self.heatmap_epochs = set(heatmap_epochs)
        self.epoch = 0
        self.heatmaps: dict[int, torch.Tensor] = {}

    def epoch_statistics(self) -> dict[str, float]:
        self.epoch += 1
        if self.epoch in self.heatmap_epochs:
            c = correlation_map(self.model)
            if c is not None:
                start = self.model.groups[0]
                self.heatmaps[self.epoch] = c[start:, start:].detach().cpu().clone()
        return {f"{name}_accuracy": evaluate(self.model, split, device=self.device)["accuracy"]
                for name, split in self.splits.items()}


@torch.no_grad()
def predictions(model: nn.Module, split: Split, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x).argmax(1) for x, _, _ in batches(split, batch_size, device=device)])


@dataclass
class MethodRun:
    """Everything one (method, seed) training produced."""

    row: dict[str, Any]
    curves: pd.DataFrame
    predicted: pd.DataFrame
    heatmaps: dict[int, torch.Tensor]


def train_method(name: str, base: Dataset, config: OracleConfig, seed: int, *, device: torch.device) -> MethodRun:
    """Train ``oracle-net`` with method ``name`` on ``base`` + oracle; score the three test conditions."""
    method = METHODS[name]
    data = with_oracle(base, config.copies, config.test_seed)
    splits = oracle_test_splits(base.test, base.num_classes, config.copies, config.test_seed)
    groups = feature_groups(base.num_classes, **config.model_options())
    train_config = config.train_config(method, groups, seed, data.name)
    torch.manual_seed(seed)
    model = build_model(model_spec_for(train_config, data))
    probe = EpochProbe(model, {k: splits[k].to(device) for k in ("true", "zeroed")}, device,
                       config.heatmap_epochs)
    history = train(model, data, train_config, device=device, objective=objective_for(train_config),
                    observers=[probe])
    predicted = predictions(model, splits["permuted"].to(device), device).cpu()
    counts = torch.bincount(predicted, minlength=base.num_classes)
    final = history.iloc[-1]
    row = {"method": name, "label": method.label, "seed": seed,
           "train_accuracy": evaluate(model, data.train.to(device), device=device)["accuracy"],
           "permuted_accuracy": float((predicted == base.test.labels).double().mean()),
           "true_oracle_accuracy": float(final["true_accuracy"]),
           "zeroed_accuracy": float(final["zeroed_accuracy"]),
           "follows_oracle": float((predicted == _shown_oracle(splits["permuted"], base.num_classes)).double().mean()),
           "oracle_weight_share": model.oracle_weight_share(),
           "seconds_per_epoch": float(history["seconds"].mean())}
    curves = history.rename(columns={"test_accuracy": "permuted_accuracy", "true_accuracy": "true_oracle_accuracy"})
    curves = curves[["epoch", "train_loss", "train_accuracy", "permuted_accuracy", "true_oracle_accuracy",
                     "zeroed_accuracy", "seconds"]].assign(method=name, seed=seed)
    predicted_frame = pd.DataFrame({"method": name, "seed": seed, "class": base.classes,
                                    "count": counts.tolist(), "share": (counts / counts.sum()).tolist()})
    return MethodRun(row, curves, predicted_frame, probe.heatmaps)


def _shown_oracle(split: Split, num_classes: int) -> torch.Tensor:
    """The class the oracle plane of a packed split names (the argmax of its first one-hot copy)."""
    return split.images[:, -1].flatten(1)[:, :num_classes].argmax(1)


SUMMARY_METRICS = ("train_accuracy", "permuted_accuracy", "true_oracle_accuracy", "zeroed_accuracy",
                   "follows_oracle", "oracle_weight_share", "seconds_per_epoch")


def summarise(runs: pd.DataFrame, baseline: float) -> pd.DataFrame:
    """One row per method: the mean of each metric over seeds, the std of the permuted accuracy,
    and success = mean permuted-oracle accuracy above the majority baseline."""
    grouped = runs.groupby(["method", "label"], sort=False)
    summary = grouped[list(SUMMARY_METRICS)].mean().reset_index()
    summary.insert(4, "permuted_accuracy_std", grouped["permuted_accuracy"].std(ddof=0).to_numpy())
    summary.insert(2, "seeds", grouped.size().to_numpy())
    summary["baseline"] = baseline
    summary["success"] = summary["permuted_accuracy"] > baseline
    return summary


def summary_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The report contract's rows (docs/report-contract.md) of ``runs``: per method (the model) and
    seed, ``oracle_train_accuracy`` and ``oracle_test_accuracy`` (the permuted-oracle accuracy, Table 1.1's
    "test"), with an empty setting as the oracle-mnist recipe reads them."""
    return pd.DataFrame([{"model": r["method"], "metric": metric, "setting": "", "value": r[column], "seed": r["seed"]}
                         for r in runs.to_dict(orient="records")
                         for metric, column in (("oracle_train_accuracy", "train_accuracy"),
                                                ("oracle_test_accuracy", "permuted_accuracy"))])


@dataclass
class OracleReport:
    """The benchmark's tidy outputs (each a DataFrame) and the correlation-map snapshots."""

    summary: pd.DataFrame
    runs: pd.DataFrame
    curves: pd.DataFrame
    predicted: pd.DataFrame
    unavailable: pd.DataFrame
    baseline: dict[str, Any]
    heatmaps: dict[tuple[str, int], torch.Tensor]


def run_benchmark(base: Dataset, config: OracleConfig, *, device: torch.device,
                  on_run: Callable[[dict[str, Any]], None] | None = None,
                  on_progress: OnProgress | None = None) -> OracleReport:
    """Train every available method of ``config`` for every seed; methods whose mechanism or regularizer
    is not registered are listed in ``unavailable`` instead of failing the run. ``on_progress`` hears of
    each finished (method, seed) training (``licli.progress``)."""
    missing = {name: METHODS[name].missing() for name in config.methods}
    unavailable = pd.DataFrame([{"method": n, "label": METHODS[n].label, "missing": "; ".join(m)}
                                for n, m in missing.items() if m], columns=["method", "label", "missing"])
    results = []
    parts = Parts("oracle methods × seeds", sum(not m for m in missing.values()) * len(config.seeds), on_progress)
    for name in (n for n in config.methods if not missing[n]):
        for seed in config.seeds:
            if on_run is not None:
                on_run({"method": name, "seed": seed})
            started = time.perf_counter()
            results.append(train_method(name, base, config, seed, device=device))
            parts.finished(f"{name} · seed {seed}", time.perf_counter() - started)
    majority_class, baseline = majority_baseline(base.test.labels, base.num_classes)
    runs = pd.DataFrame([r.row for r in results], columns=["method", "label", "seed", *SUMMARY_METRICS])
    summary = summarise(runs, baseline) if len(runs) else pd.DataFrame()
    return OracleReport(
        summary=summary, runs=runs,
        curves=pd.concat([r.curves for r in results], ignore_index=True) if results else pd.DataFrame(),
        predicted=pd.concat([r.predicted for r in results], ignore_index=True) if results else pd.DataFrame(),
        unavailable=unavailable,
        baseline={"class": base.classes[majority_class], "accuracy": baseline,
                  "train_share": majority_baseline(base.train.labels, base.num_classes)[1]},
        heatmaps={(r.row["method"], epoch): c for r in results if r.row["seed"] == config.seeds[0]
                  for epoch, c in r.heatmaps.items()})


ABLATION_ACTIVATIONS = ("sigmoid", "relu")
ABLATION_POOLS = (1, 2)


def ablate_architecture(base: Dataset, config: OracleConfig, *, device: torch.device) -> pd.DataFrame:
    """ERM under every activation × oracle path × pooling: how much the verdict depends on these choices."""
    rows = []
    for activation, path, pool in itertools.product(ABLATION_ACTIVATIONS, ORACLE_PATHS, ABLATION_POOLS):
        variant = replace(config, methods=("erm",), activation=activation, oracle_path=path, pool=pool,
                          heatmap_epochs=())
        runs = pd.DataFrame([train_method("erm", base, variant, seed, device=device).row for seed in variant.seeds])
        rows.append({"activation": activation, "oracle_path": path, "pool": pool, "seeds": len(runs),
                     **{m: runs[m].mean() for m in SUMMARY_METRICS},
                     "permuted_accuracy_std": runs["permuted_accuracy"].std(ddof=0)})
    return pd.DataFrame(rows)


def paper_table() -> pd.DataFrame:
    """The paper's Table 1.1 as fractions (method, label, train, test), read from the ``oracle-mnist`` recipe
    (``licli/recipes/oracle-mnist.toml``), the one place the paper's numbers are kept."""
    recipe = tomllib.loads((resources.files("licli.recipes") / RECIPE).read_text())
    rows: dict[str, dict] = {}
    for entry in recipe["paper"]:
        if entry["ref"] == "Table 1.1" and entry["column"] in PAPER_COLUMNS:
            method = PAPER_METHODS.get(entry["model"], entry["model"])
            row = rows.setdefault(method, {"method": method, "label": entry["row"]})
            row[PAPER_COLUMNS[entry["column"]]] = entry["value"] / 100
    return pd.DataFrame(list(rows.values()))


def table_1_1(report: OracleReport) -> pd.DataFrame:
    """Table 1.1's layout — method, train and test accuracy — with the paper's numbers beside licli's.

    licli's "test" is the permuted-oracle accuracy (mean ± std over seeds); the "1*" row is the
    majority class of the test labels. Methods the paper has no row for get NaN paper columns.
    """
    paper = paper_table().set_index("method")
    rows = []
    for row in report.summary.to_dict("records"):
        known = row["method"] in paper.index
        rows.append({"method": row["label"],
                     "paper_train": paper.loc[row["method"], "train"] if known else math.nan,
                     "paper_test": paper.loc[row["method"], "test"] if known else math.nan,
                     "licli_train": row["train_accuracy"], "licli_test": row["permuted_accuracy"],
                     "licli_test_std": row["permuted_accuracy_std"], "success": bool(row["success"])})
    rows.extend({"method": row.label, "paper_train": paper.loc[row.method, "train"],
                 "paper_test": paper.loc[row.method, "test"], "licli_train": math.nan, "licli_test": math.nan,
                 "licli_test_std": math.nan, "success": False}
                for row in report.unavailable.itertuples())
    rows.append({"method": f"1* (always {report.baseline['class']})", "paper_train": paper.loc["majority", "train"],
                 "paper_test": paper.loc["majority", "test"], "licli_train": report.baseline["train_share"],
                 "licli_test": report.baseline["accuracy"], "licli_test_std": 0.0, "success": False})
    return pd.DataFrame(rows)


class FollowProbe:
    """A training observer for Fig. 3.1: every ``every`` steps, the share of a permuted-oracle probe
    set whose prediction is the class the (wrong) oracle names — 1.0 means the network follows it."""

    def __init__(self, model: nn.Module, probe: Split, shown: torch.Tensor, batch_size: int, every: int) -> None:
        self.model, self.probe, self.shown = model, probe, shown
        self.batch_size, self.every = batch_size, every
        self.samples: list[int] = []
        self.rates: list[torch.Tensor] = []

    @torch.no_grad()
    def after_optimizer_step(self, context) -> None:
        if (context.step + 1) % self.every:
            return
        self.model.eval()
        x = self.probe.images.float().div_(255.0)
        self.rates.append((self.model(x).argmax(1) == self.shown).float().mean())
        self.model.train()
        self.samples.append((context.step + 1) * self.batch_size)

    def curve(self) -> pd.DataFrame:
        rates = torch.stack(self.rates).cpu().tolist() if self.rates else []
        return pd.DataFrame({"samples": self.samples, "follow_rate": rates})


@dataclass(frozen=True)
class SweepConfig:
    """Fig. 3.1: oracle copies × activation → training samples until the network follows the oracle.

    "Follows" is the paper's unquantified "captures the feature"; licli's reading: the share of a
    permuted-oracle probe set (``probe_size`` test images) predicted as the oracle's class reaches
    ``threshold``. Training uses the benchmark's ERM protocol for ``epochs`` epochs."""

    copies: tuple[int, ...] = (1, 2, 4, 8, 16)
    activations: tuple[str, ...] = ("sigmoid", "relu")
    epochs: int = 1
    every: int = 2
    probe_size: int = 500
    threshold: float = 0.9

    def __post_init__(self) -> None:
        for activation in self.activations:
            pick(ACTIVATIONS, activation, "activation")
        if not self.copies or min(self.copies) < 1:
            raise LicliError(f"--size-sweep copies must be ≥ 1 (got {list(self.copies)})", "pass e.g. 1,2,4,8,16")
        if not 0 < self.threshold <= 1:
            raise LicliError(f"the follow threshold must be in (0, 1] (got {self.threshold})", "pass e.g. 0.9")
        if self.every < 1 or self.probe_size < 1 or self.epochs < 1:
            raise LicliError("sweep epochs, probe interval and probe size must be ≥ 1", "pass positive integers")


def size_sweep(base: Dataset, config: OracleConfig, sweep: SweepConfig, *, device: torch.device
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves (copies, activation, samples, follow_rate) and the summary (samples until ``threshold``)."""
    curves, rows = [], []
    for copies in sweep.copies:
        data = with_oracle(base, copies, config.test_seed)
        probe = data.test.subset(torch.arange(min(sweep.probe_size, len(data.test)))).to(device)
        shown = _shown_oracle(probe, base.num_classes)
        for activation in sweep.activations:
            variant = replace(config, copies=copies, activation=activation, epochs=sweep.epochs, heatmap_epochs=())
            train_config = variant.train_config(METHODS["erm"], [], config.seeds[0], data.name)
            torch.manual_seed(train_config.seed)
            model = build_model(model_spec_for(train_config, data))
            observer = FollowProbe(model, probe, shown, config.batch_size, sweep.every)
            train(model, data, train_config, device=device, objective=cross_entropy, observers=[observer])
            curve = observer.curve().assign(copies=copies, activation=activation)
            reached = curve[curve["follow_rate"] >= sweep.threshold]
            rows.append({"copies": copies, "oracle_inputs": copies * base.num_classes, "activation": activation,
                         "samples_to_follow": int(reached["samples"].iloc[0]) if len(reached) else math.nan,
                         "final_follow_rate": float(curve["follow_rate"].iloc[-1]) if len(curve) else math.nan,
                         "threshold": sweep.threshold})
            curves.append(curve)
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)
