"""What evaluations and reports agree on (docs/report-contract.md): the canonical ``setting`` string,
the direction in which each shared metric is better, and a model's label. Evaluations write rows with
these; ``licli.reporting`` reads them back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DIRECTIONS = ("higher", "lower")

METRIC_DIRECTIONS: dict[str, str] = {
    "clean_accuracy": "higher",
    "train_accuracy": "higher",
    "test_loss": "lower",
    "robust_accuracy": "higher",
    "attack_success_rate": "lower",
    "pruning_auc": "higher",
    "pruned_accuracy": "higher",
    "fisher_rao_norm": "lower",
    "hessian_trace": "lower",
    "hessian_top_eigenvalue": "lower",
    "gsnr": "higher",
    "mean_iou": "higher",
    "oracle_train_accuracy": "higher",
    "oracle_test_accuracy": "higher",
    "degenerate": "lower",
    "top_class_share": "lower",
    "prediction_entropy": "higher",
}
"""The metric names the evaluations share, with the direction in which a number is better. A
``direction`` column in ``summary.csv`` overrides this; metrics not listed default to ``higher``."""


def setting(**values: Any) -> str:
    """The canonical ``setting`` string: ``key=value`` pairs joined by ``;`` in the order given.

    Floats are written with 6 significant digits so the same budget always gives the same string
    (``setting(attack="fgsm", eps=8/255)`` → ``attack=fgsm;eps=0.0313725``).
    """
    def text(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    return ";".join(f"{key}={text(value)}" for key, value in values.items() if value is not None)


def setting_key(text: str) -> str:
    """``text`` with every non-integer number parsed and written as ``setting`` writes it, so reports match
    settings by value, not by spelling: ``eps=0.031372549`` (8/255 written by hand) and ``eps=0.0313725``
    give the same key. Integers and words are kept as written."""
    def canonical(pair: str) -> str:
        key, sep, value = pair.partition("=")
        try:
            int(value)
            return pair
        except ValueError:
            pass
        try:
            return f"{key}{sep}{float(value):.6g}"
        except ValueError:
            return pair

    return ";".join(canonical(pair) for pair in str(text).split(";")) if text else ""


def model_label(spec: Mapping[str, Any]) -> str:
    """A model's identity in reports: the architecture plus each mechanism and the slot it fills.

    ``{"name": "vgg16", "mechanisms": {"fc1": {"name": "normout", "params": {"temperature": 100}}}}``
    → ``vgg16+normout@fc1(temperature=100)``. Seeds are not part of it, so runs of one model with
    different seeds aggregate into one row.
    """
    label = str(spec.get("name", "?"))
    for slot, mechanism in sorted((spec.get("mechanisms") or {}).items()):
        params = ",".join(f"{k}={v}" for k, v in sorted((mechanism.get("params") or {}).items()))
        label += f"+{mechanism.get('name', '?')}@{slot}" + (f"({params})" if params else "")
    return label
