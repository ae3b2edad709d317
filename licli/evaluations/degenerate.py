"""Is a model degenerate? A collapsed or chance-level classifier looks "robust" under attack because
there is almost nothing left to attack; its robustness numbers must never be presented as a win.

``degeneracy(predictions, labels, num_classes)`` is a pure function of the clean predictions on an
image set. A model is degenerate when any of three criteria holds (``reasons`` names which):

- **collapsed**: one class takes ≥ ``TOP_CLASS_SHARE`` = 80% of all predictions. On K ≥ 3 balanced
  classes a model that does this can be right on at most ≈ 1/K + 20% of the images and is answering
  "the same thing" regardless of the input; attacks then fail trivially on the images of that class.
- **at chance**: clean accuracy is not significantly above chance. ``chance`` is the accuracy of the
  best constant answer (the share of the most frequent label, ≥ 1/K); the criterion is that the lower
  end of the 99% Wilson interval of the accuracy (``licli.statistics.wilson_interval``) does not
  exceed it. At 99%, a model that is truly at chance is flagged except about once in 200 evaluations
  (one-sided), and a model that is really better is spared once n is large enough to tell (with
  n = 200 on 10 balanced classes, accuracies from 16% up are spared).
- **low entropy**: the entropy of the predicted-class histogram, divided by log K (so 0 = one class,
  1 = all classes equally often), is below ``ENTROPY_FLOOR`` = 0.5. Normalised entropy 0.5 is what
  √K classes used equally give (≈ 3 of 10); a model that spreads its answers over fewer classes
  than that ignores most of the label space even if no single class reaches 80%.

Thresholds apply to the clean predictions on the images the model is scored on (for ``licli
attack``, every image of the split, not only the attacked subset). With fewer than ``MIN_IMAGES``
images the criteria are not applied (too few to tell) and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from licli.errors import LicliError
from licli.statistics import wilson_interval

TOP_CLASS_SHARE = 0.8
"""A model answering one class for at least this share of the images is collapsed."""
CHANCE_CONFIDENCE = 0.99
"""Confidence of the Wilson interval whose lower end must exceed chance."""
ENTROPY_FLOOR = 0.5
"""Normalised prediction entropy below this is degenerate (≈ √K classes used equally)."""
MIN_IMAGES = 20
"""Fewer images than this: no verdict (``degenerate`` is False and ``reasons`` says why)."""
TOO_FEW = "too few images to judge"


@dataclass(frozen=True)
class Degeneracy:
    """The evidence and verdict of :func:`degeneracy`."""

    clean_accuracy: float
    chance: float
    """Accuracy of always answering the most frequent label."""
    top_class: int
    """The class predicted most often."""
    top_class_share: float
    """Share of the images predicted as ``top_class``."""
    prediction_entropy: float
    """Entropy of the predicted-class histogram / log K, in [0, 1]."""
    n: int
    num_classes: int
    degenerate: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        values = asdict(self)
        values["reasons"] = list(self.reasons)
        return values

    def describe(self) -> str:
        """One line of evidence: ``accuracy 16.0% (chance 11.5%), class 6 takes 94.5%, entropy 0.12``."""
        text = (f"accuracy {self.clean_accuracy:.1%} (chance {self.chance:.1%}), class {self.top_class} takes "
                f"{self.top_class_share:.1%} of predictions, entropy {self.prediction_entropy:.2f}")
        return f"DEGENERATE ({'; '.join(self.reasons)}): {text}" if self.degenerate else text


def degeneracy(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> Degeneracy:
    """Judge clean ``predictions`` (class indices) against ``labels`` over ``num_classes`` ≥ 2 classes."""
    predictions, labels = torch.as_tensor(predictions).flatten().cpu(), torch.as_tensor(labels).flatten().cpu()
    if predictions.shape != labels.shape:
        raise LicliError(f"{predictions.numel()} predictions for {labels.numel()} labels",
                         "pass one prediction per labelled image")
    if num_classes < 2:
        raise LicliError(f"num_classes must be ≥ 2 (got {num_classes})", "pass the model's number of classes")
    n = predictions.numel()
    if n == 0:
        raise LicliError("no predictions to judge", "pass at least one image")
    if int(predictions.max()) >= num_classes or int(predictions.min()) < 0:
        raise LicliError(f"a prediction lies outside 0..{num_classes - 1}", "pass the model's number of classes")
    counts = torch.bincount(predictions.long(), minlength=num_classes).double()
    label_counts = torch.bincount(labels.long(), minlength=num_classes)
    correct = int((predictions == labels).sum())
    accuracy, chance = correct / n, int(label_counts.max()) / n
    shares = counts / n
    top_class = int(counts.argmax())
    used = shares[shares > 0]
    entropy = float(-(used * used.log()).sum() / math.log(num_classes))
    reasons = []
    if n < MIN_IMAGES:
        reasons.append(TOO_FEW)
    else:
        if shares[top_class] >= TOP_CLASS_SHARE:
            reasons.append(f"one class takes ≥ {TOP_CLASS_SHARE:.0%} of predictions")
        if wilson_interval(correct, n, CHANCE_CONFIDENCE)[0] <= chance:
            reasons.append(f"accuracy not above chance ({CHANCE_CONFIDENCE:.0%} Wilson interval)")
        if entropy < ENTROPY_FLOOR:
            reasons.append(f"prediction entropy < {ENTROPY_FLOOR}")
    degenerate = bool(reasons) and reasons != [TOO_FEW]
    return Degeneracy(accuracy, chance, top_class, float(shares[top_class]), max(0.0, entropy), n, num_classes,
                      degenerate, tuple(reasons))
