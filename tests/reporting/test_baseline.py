"""Baseline checks: pass within tolerance, fail naming an injected regression, parse errors are exit 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from licli.errors import CheckFailed, LicliError
from licli.reporting.baseline import Tolerance, baseline_document, check, compare, parse_baseline

CURRENT = pd.DataFrame([
    {"model": "m", "metric": "clean_accuracy", "setting": "split=test", "direction": "higher", "seeds": 1, "mean": 0.95, "std": float("nan")},
    {"model": "m", "metric": "fisher_rao_norm", "setting": "", "direction": "lower", "seeds": 1, "mean": 10.0, "std": float("nan")},
])


def _baseline(**changes):
    document = baseline_document(CURRENT, Tolerance(absolute=0.02))
    for entry in document["entries"]:
        entry.update(changes.get(entry["metric"], {}))
    return parse_baseline(json.loads(json.dumps(document)))


def test_identical_metrics_pass():
    diff = compare(CURRENT, _baseline())
    assert list(diff["status"]) == ["ok", "ok"]
    check(diff)


def test_injected_regression_fails_and_is_named():
    diff = compare(CURRENT, _baseline(clean_accuracy={"value": 0.99}))
    assert list(diff["status"]) == ["regressed", "ok"]
    with pytest.raises(CheckFailed, match=r"1 regression.*m clean_accuracy \[split=test\] = 0\.95, baseline 0\.99") as error:
        check(diff)
    assert error.value.exit_code == 1


def test_direction_lower_is_better():
    worse = compare(CURRENT, _baseline(fisher_rao_norm={"value": 9.0}))
    assert worse.set_index("metric").loc["fisher_rao_norm", "status"] == "regressed"
    better = compare(CURRENT, _baseline(fisher_rao_norm={"value": 11.0}))
    assert better.set_index("metric").loc["fisher_rao_norm", "status"] == "improved"
    check(better)


def test_tolerances_absolute_relative_and_precedence():
    relaxed = _baseline(fisher_rao_norm={"value": 9.0, "tolerance": {"relative": 0.2}})
    assert compare(CURRENT, relaxed).set_index("metric").loc["fisher_rao_norm", "status"] == "ok"
    tight = compare(CURRENT, relaxed, per_metric={"fisher_rao_norm": Tolerance(absolute=0.5)})
    assert tight.set_index("metric").loc["fisher_rao_norm", "allowed"] == 0.5
    assert tight.set_index("metric").loc["fisher_rao_norm", "status"] == "regressed"
    assert Tolerance(absolute=0.01, relative=0.1).allowed(-3.0) == pytest.approx(0.3)


def test_missing_metric_is_a_regression_and_new_ones_are_listed():
    diff = compare(CURRENT.iloc[:1], _baseline())
    assert list(diff["status"]) == ["ok", "missing"]
    with pytest.raises(CheckFailed, match="fisher_rao_norm is missing"):
        check(diff)
    extra = pd.concat([CURRENT, CURRENT.assign(model="new")], ignore_index=True)
    assert list(compare(extra, _baseline())["status"]) == ["ok", "ok", "new", "new"]


@pytest.mark.parametrize("document,message", [
    ([], "not a licli baseline"),
    ({"format": "licli-baseline", "version": 9, "entries": []}, "version 9"),
    ({"format": "licli-baseline", "version": 1, "entries": []}, "no entries"),
    ({"format": "licli-baseline", "version": 1, "entries": [{"model": "m"}]}, "needs model, metric and value"),
    ({"format": "licli-baseline", "version": 1, "entries": [{"model": "m", "metric": "x", "value": "high"}]}, "not a finite number"),
    ({"format": "licli-baseline", "version": 1, "entries": [{"model": "m", "metric": "x", "value": 1, "direction": "up"}]}, "direction"),
    ({"format": "licli-baseline", "version": 1, "tolerance": -1, "entries": [{"model": "m", "metric": "x", "value": 1}]}, "≥ 0"),
])
def test_bad_baselines_are_input_errors(document, message):
    with pytest.raises(LicliError, match=message) as error:
        parse_baseline(document)
    assert error.value.exit_code == 2


def test_a_budget_matches_by_value_not_by_spelling():
    """8/255 written with 6 digits (as ``setting`` writes it) and with 9 (by hand) is one budget: the baseline
    entry is checked, not reported missing, and aggregation puts both spellings in one row."""
    from licli.contract import setting
    from licli.reporting.compare import aggregate
    written = setting(attack="pgd", norm="linf", eps=8 / 255)
    assert written == "attack=pgd;norm=linf;eps=0.0313725"
    by_hand = "attack=pgd;norm=linf;eps=0.031372549"
    current = pd.DataFrame([{"model": "m", "metric": "robust_accuracy", "setting": written, "direction": "higher",
                             "seeds": 1, "mean": 0.40, "std": float("nan")}])
    baseline = parse_baseline({"format": "licli-baseline", "version": 1,
                               "entries": [{"model": "m", "metric": "robust_accuracy", "setting": by_hand,
                                            "value": 0.41, "direction": "higher"}]})
    diff = compare(current, baseline)
    assert list(diff["status"]) == ["ok"] and diff["current"].iloc[0] == pytest.approx(0.40)
    other = pd.DataFrame([{"model": "m", "metric": "robust_accuracy", "setting": "attack=pgd;norm=linf;eps=0.0313726", "direction": "higher",
                           "mean": 0.40}])  # a different budget (rounds elsewhere) stays apart
    assert list(compare(other, baseline)["status"]) == ["missing", "new"]
    rows = pd.DataFrame([{"model": "m", "metric": "robust_accuracy", "setting": s, "value": v, "direction": "higher",
                          "seed": seed} for s, v, seed in ((written, 0.4, 0), (by_hand, 0.5, 1))])
    merged = aggregate(rows)
    assert len(merged) == 1 and merged["seeds"].iloc[0] == 2 and merged["mean"].iloc[0] == pytest.approx(0.45)
    assert merged["setting"].iloc[0] == written


def test_setting_key_parses_only_non_integer_numbers():
    from licli.contract import setting, setting_key
    assert setting_key("attack=pgd;norm=linf;eps=0.031372549") == setting(attack="pgd", norm="linf", eps=8 / 255)
    assert setting_key("eps=inf;n=1234567;shard=1/2;split=test") == "eps=inf;n=1234567;shard=1/2;split=test"
    assert setting_key("eps=1e-1") == "eps=0.1" and setting_key("") == ""
