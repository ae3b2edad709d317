"""Runs are the same model only when their training configuration is equal (seed aside): issue 14, item 5."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from licli.cli.report import run_report
from licli.errors import CheckFailed
from licli.reporting.baseline import DEFAULT_TOLERANCE, baseline_document, compare, parse_baseline
from licli.reporting.compare import aggregate, metric_tables
from licli.reporting.discovery import RunFilter, discover
from licli.reporting.summary import recorded_models, training_key, with_identities
from tests.reporting.conftest import write_run

CONFIG = {"model": "small-cnn", "dataset": "mnist-mini", "epochs": 1, "batch_size": 128, "optimizer": "sgd",
          "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0, "augment": False, "eval_batch_size": 1000,
          "model_options": {}, "mechanisms": {}, "regularizer": None}


def _train_run(root, name, seed, lr, test_accuracy):
    config = {**CONFIG, "lr": lr, "seed": seed}
    metrics = pd.DataFrame({"epoch": [1], "train_loss": [0.5], "train_accuracy": [test_accuracy],
                            "test_accuracy": [test_accuracy], "test_loss": [0.3]})
    return write_run(root, "train", name, seed=seed, config=config, files={"metrics.csv": metrics})


def _attack_run(root, name, seed, lr, robust):
    training = training_key({**CONFIG, "lr": lr, "seed": seed})
    rows = [{"model": "small-cnn", "metric": "robust_accuracy", "setting": "attack=pgd;norm=linf;eps=0.1",
             "value": robust, "seed": seed, "training": training}]
    return write_run(root, "attack", name, seed=seed, summary=rows)


@pytest.fixture
def two_learning_rates(tmp_path):
    root = tmp_path / "reports"
    for seed in (0, 1):
        _train_run(root, f"fast-s{seed}", seed, 0.05, 0.97 + seed / 100)
        _attack_run(root, f"fast-attack-s{seed}", seed, 0.05, 0.60 + seed / 100)
    _train_run(root, "slow-s0", 0, 0.002, 0.60)
    _attack_run(root, "slow-attack-s0", 0, 0.002, 0.10)
    return root


def test_training_key_leaves_out_the_seed_and_what_the_label_holds():
    assert training_key({**CONFIG, "seed": 1}) == training_key({**CONFIG, "seed": 2})
    assert training_key({**CONFIG, "lr": 0.002}) != training_key(CONFIG)
    assert "seed" not in json.loads(training_key({**CONFIG, "seed": 1})) and training_key(None) is None


def test_different_learning_rates_are_different_rows(two_learning_rates):
    aggregated = aggregate(discover([two_learning_rates]).metrics()).set_index(["model", "metric"])
    fast, slow = "small-cnn [lr=0.05]", "small-cnn [lr=0.002]"
    assert aggregated.loc[(fast, "clean_accuracy"), "seeds"] == 2
    assert aggregated.loc[(fast, "clean_accuracy"), "mean"] == pytest.approx(0.975)
    assert aggregated.loc[(slow, "clean_accuracy"), "mean"] == pytest.approx(0.60)
    assert aggregated.loc[(slow, "robust_accuracy"), "mean"] == pytest.approx(0.10)
    assert aggregated.loc[(fast, "robust_accuracy"), "mean"] == pytest.approx(0.605)


def test_check_compares_like_with_like(two_learning_rates, tmp_path):
    """A baseline written from the lr 0.05 runs alone: adding the lr 0.002 run is no regression."""
    fast_only = discover([two_learning_rates], RunFilter(names=("fast-s0", "fast-s1", "fast-attack-s0",
                                                                "fast-attack-s1")))
    document = baseline_document(aggregate(fast_only.metrics()), DEFAULT_TOLERANCE)
    assert {entry["model"] for entry in document["entries"]} == {"small-cnn"}
    baseline = parse_baseline(document)
    diff = compare(aggregate(discover([two_learning_rates]).metrics()), baseline)
    assert set(diff.loc[diff["status"] != "new", "status"]) == {"ok"}, diff.to_string()
    assert set(diff.loc[diff["status"] == "new", "model"]) == {"small-cnn [lr=0.002]"}
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(document))
    run_report([two_learning_rates], RunFilter(), baseline=path)  # exit 0: no CheckFailed


def test_with_identities_records_the_training_configuration(tmp_path):
    """The identity of a live run's models comes from their metadata in memory; a finished run's is read back
    from the checkpoint it recorded (``recorded_models``): both give the same rows."""
    meta = {"model": {"name": "small-cnn"}, "config": {**CONFIG, "lr": 0.002, "seed": 4}}
    metadata = tmp_path / "model.json"
    metadata.write_text(json.dumps(meta))
    manifest = {"inputs": {"m:metadata": {"path": str(metadata)}, "data:mnist-mini": {"path": "x"},
                           "foreign:weights": {"path": "y"}}}
    frame = pd.DataFrame([{"model": "m", "metric": "x", "setting": "", "value": 1.0},
                          {"model": "foreign", "metric": "x", "setting": "", "value": 2.0}])
    rows = with_identities(frame, {"m": meta, "foreign": None})
    assert rows.loc[0, "model"] == "small-cnn" and rows.loc[0, "seed"] == 4
    assert json.loads(rows.loc[0, "training"])["lr"] == 0.002
    assert rows.loc[1, "model"] == "foreign" and pd.isna(rows.loc[1, "seed"]) and pd.isna(rows.loc[1, "training"])
    assert recorded_models(manifest) == {"m": meta}
    assert with_identities(frame, recorded_models(manifest)).equals(rows)


def test_degenerate_models_are_marked_and_fail_check(tmp_path):
    root = tmp_path / "reports"
    rows = [{"model": "small-cnn+local-inhibition@hidden", "metric": "robust_accuracy",
             "setting": "attack=pgd;norm=linf;eps=0.1", "value": 0.9},
            {"model": "small-cnn+local-inhibition@hidden", "metric": "degenerate", "setting": "images=split",
             "value": 1.0}]
    write_run(root, "attack", "li", seed=0, summary=rows)
    aggregated = aggregate(discover([root]).metrics())
    table = metric_tables(aggregated)["robust_accuracy"]
    assert list(table["model"]) == ["small-cnn+local-inhibition@hidden (DEGENERATE)"]
    document = {"format": "licli-baseline", "version": 1, "entries": [
        {"model": "small-cnn+local-inhibition@hidden", "metric": "robust_accuracy",
         "setting": "attack=pgd;norm=linf;eps=0.1", "value": 0.5}]}
    diff = compare(aggregated, parse_baseline(document))
    assert diff.loc[diff["metric"] == "robust_accuracy", "status"].item() == "degenerate"  # not "improved"
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CheckFailed, match="degenerate model"):
        run_report([root], RunFilter(), baseline=path)
