"""Cascading model-parameter randomisation (Adebayo et al. 2018; Gradient Mask Appendix A).

Layers with parameters are re-initialised from the output layer downwards, cumulatively; after each
step the maps of the same images for the same classes are recomputed and compared with the original
maps by Spearman rank correlation (scipy.stats.spearmanr over the pixels of each image). A method
whose maps survive randomising the whole network (mean ρ ≥ ``max_correlation`` at the last step)
does not depend on what the model learnt and fails the check. Images whose map is constant (ρ
undefined) are left out of the mean; if every map became constant, the maps did change and it passes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

MAX_CORRELATION = 0.5


def randomizable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules holding their own parameters and a ``reset_parameters``, from the output to the input."""
    layers = [(name, module) for name, module in model.named_modules()
              if hasattr(module, "reset_parameters") and any(True for _ in module.parameters(recurse=False))]
    return layers[::-1]


def rank_correlations(original: torch.Tensor, changed: torch.Tensor) -> np.ndarray:
    """Spearman ρ per image between two map batches (N, H, W); NaN where a map is constant."""
    a, b = original.flatten(1).cpu().double().numpy(), changed.flatten(1).cpu().double().numpy()
    values = []
    for x, y in zip(a, b):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            values.append(np.nan)
        else:
            values.append(spearmanr(x, y).statistic)
    return np.asarray(values)


def cascading_randomization(model: nn.Module, maps_of: Callable[[nn.Module], torch.Tensor], *, seed: int = 0,
                            max_correlation: float = MAX_CORRELATION) -> pd.DataFrame:
    """One row per step: the layer just randomised, mean/std ρ with the original maps, and ``passed``.

    ``maps_of(model)`` computes the maps of the fixed images and classes with a given model; the
    original model is never modified (each cascade works on a copy).
    """
    original = maps_of(model)
    randomized = copy.deepcopy(model)
    modules = dict(randomized.named_modules())
    torch.manual_seed(seed)
    rows = []
    for step, (name, _) in enumerate(randomizable_layers(model), start=1):
        modules[name].reset_parameters()
        rho = rank_correlations(original, maps_of(randomized))
        finite = rho[np.isfinite(rho)]
        rows.append({"step": step, "layer": name, "n": len(finite),
                     "mean_spearman": float(finite.mean()) if len(finite) else float("nan"),
                     "std_spearman": float(finite.std()) if len(finite) else float("nan")})
    frame = pd.DataFrame(rows)
    final = frame["mean_spearman"].iloc[-1] if len(frame) else float("nan")
    return frame.assign(passed=bool(np.isnan(final) or final < max_correlation))
