"""Local Inhibition (local-inhibition thesis §3.3–3.5, Algorithm 1, §4.1.1) as a model-slot module.

The math (pure functions):

- proportional inhibition ι(x) = x⊙² / Σ x (eq. 3.3.5), with 0/0 = 0 (footnote 5);
- weighted inhibition ι(x, C) = x⊙² ⊘ (C x) (eq. 3.3.6); for a batch Z (rows = samples) the
  denominator is Z C, so activation i inhibits activation j by c_ij. ι(x, I) = x and
  ι(x, 11ᵀ) = ι(x). A zero denominator gives 0 (0/0 = 0; x/0 only arises for a unit that was silent
  throughout calibration, c_jj = 0, and then fires — it is silenced rather than made infinite).

``LocalInhibition`` applies ι(z, C) to its input with C = the correlation map of the layer's
pre-inhibition activations (``licli.mechanisms.correlation``). Reading of the thesis:

- **Calibration** (Algorithm 1 lines 28–34, §4.1.1): after an optimizer step, with probability
  ``p_update`` the map is refreshed; given a refresh, with probability ``p_eye`` every LI layer gets
  the identity instead ("flashing identity", §4.1.1: C = I "with probability p(Eye) every C was to be
  updated"), which lasts until the next refresh. The flash is a training device ("for brief moments, the
  network learns without inhibition", Fig. 4.3): it applies to training forwards only; ``correlation_map``
  keeps the last calibrated C, which eval mode (and the Fig. 4.4 heatmaps) use, so a model is never scored
  without inhibition because its last refresh happened to be a flash. Otherwise, with ``calibration="paper"`` a batch of
  ``calibration_batch`` training images goes through the whole model with inhibition switched off in
  every LI layer (the thesis: "there is no inhibition in the evaluation of locality") and each LI
  layer's C is recomputed from that batch. The forward runs in eval mode (no dropout, batch norm
  statistics untouched) and in chunks; the statistics are exact sums over all images.
  With ``calibration="online"`` (the future work of §5.1) each LI layer keeps running averages
  (``momentum``, like batch norm) of E[a] and E[a aᵀ] of the pre-inhibition activations of the
  training batches it sees, and a refresh computes C from them: no extra forward pass.
  One draw per step from the training generator decides for all LI layers of the model (the first LI
  layer in ``model.modules()`` order coordinates: its ``p_update``, ``p_eye`` and ``calibration_batch`` apply).
- **Before the first refresh** C = I (ι(z, I) = z: the network starts as the plain network). The
  thesis does not say how C is initialised.
- **Eval mode**: inhibition stays on with the last calibrated C. Inhibition is part of the forward function (§3.3:
  "a mechanism that is necessarily needed at inference time", Algorithm 1 lines 8–10); only the
  estimation of C (calibration, running statistics) is training-only.
- **Groups** (Fig. 4.5, "separate" inhibition): ``groups=[728, 100]`` splits the units into
  consecutive groups that inhibit only within themselves (C is made block-diagonal). Fig. 4.5's caption
  also reads as two stages, "inhibition separately to the oracle input layer and the image input layer
  before the two layers are then connected into the final layer with inhibition": ``then_whole=True``
  applies ι(ι(z, C_groups), C) — the block-diagonal map, then the full map of the same calibration
  (both from the pre-inhibition activations, Algorithm 1 line 28: no inhibition while calibrating).
- **Scoring without inhibition**: :func:`identity_maps` scores a model with C = I in every LI layer (the
  map a flash uses), so a benchmark can report both conventions side by side.
- **Shapes**: (N, F) activations have F units. (N, C, H, W) activations have C units (channels) and
  every position of every input is a sample: inhibition across channels, pixel by pixel.
- Activations must be non-negative (sigmoid is the thesis's default, §3.7); nothing else is assumed.

C (and the running statistics) are buffers, so a checkpoint rebuilds the layer exactly; they are
sized lazily on the first forward (torch's lazy-module mechanism), so the layer needs no unit count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedBuffer

from licli.errors import LicliError
from licli.mechanisms.correlation import CORRELATIONS, ActivationMoments, as_units, from_units, safe_divide
from licli.mechanisms.statistics import ActivationStatistics
from licli.registry import pick

if TYPE_CHECKING:
    from licli.hooks import StepContext

CALIBRATIONS = ("paper", "online")
CALIBRATION_CHUNK = 512
"""Images per forward pass of a calibration batch (memory bound only; the statistics are exact sums)."""


def proportional_inhibition(x: torch.Tensor) -> torch.Tensor:
    """ι(x) = x⊙² / Σx over the last dimension (eq. 3.3.5), 0/0 = 0."""
    return safe_divide(x.square(), x.sum(-1, keepdim=True))


def weighted_inhibition(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """ι(z, C) = z⊙² ⊘ (z C) for a batch z (samples × units); activation i inhibits j by c_ij (eq. 3.3.6)."""
    return safe_divide(z.square(), z @ c)


def group_mask(groups: list[int], device: torch.device | None = None) -> torch.Tensor:
    """Block-diagonal 0/1 matrix: units inhibit only units of their own group."""
    return torch.block_diag(*[torch.ones(g, g, device=device) for g in groups])


class LocalInhibition(LazyModuleMixin, nn.Module):
    """ι(z, C) with C calibrated as in Algorithm 1 (see the module docstring for every choice)."""

    def __init__(self, correlation: str = "cmap", calibration: str = "paper", p_update: float = 0.3,
                 p_eye: float = 0.3, calibration_batch: int = 2048, groups: list[int] | None = None,
                 momentum: float = 0.1, then_whole: bool = False) -> None:
        super().__init__()
        pick(CORRELATIONS, correlation, "correlation map")
        if calibration not in CALIBRATIONS:
            raise LicliError(f"unknown calibration {calibration!r}", f"choose one of: {', '.join(CALIBRATIONS)}")
        for name, p in (("p_update", p_update), ("p_eye", p_eye)):
            if not 0 <= p <= 1:
                raise LicliError(f"local-inhibition {name} must be in [0, 1] (got {p})", f"pass e.g. {name}=0.3")
        if not isinstance(calibration_batch, int) or calibration_batch < 1:
            raise LicliError(f"local-inhibition calibration_batch must be a positive integer (got {calibration_batch})",
                             "pass e.g. calibration_batch=2048")
        if groups is not None and (not groups or any(not isinstance(g, int) or g < 1 for g in groups)):
            raise LicliError(f"local-inhibition groups must be a list of positive unit counts (got {groups})",
                             "pass e.g. groups=[728, 100]")
        if not isinstance(then_whole, bool) or (then_whole and groups is None):
            raise LicliError(f"local-inhibition then_whole must be true or false and needs groups (got {then_whole!r}, "
                             f"groups {groups})", "pass e.g. groups=[728, 100], then_whole=true")
        if not 0 < momentum <= 1:
            raise LicliError(f"local-inhibition momentum must be in (0, 1] (got {momentum})", "pass e.g. momentum=0.1")
        self.correlation = correlation
        self.calibration = calibration
        self.p_update = float(p_update)
        self.p_eye = float(p_eye)
        self.calibration_batch = calibration_batch
        self.groups = list(groups) if groups is not None else None
        self.momentum = float(momentum)
        self.then_whole = then_whole
        self.slot_name = "local-inhibition"
        self.identity = False
        """Set by :func:`identity_maps`: forwards use C = I (no inhibition) while it is true."""
        self.register_buffer("correlation_map", UninitializedBuffer())
        if then_whole:
            self.register_buffer("whole_map", UninitializedBuffer())
        self.register_buffer("flashing", torch.zeros((), dtype=torch.bool))
        if calibration == "online":
            self.register_buffer("running_mean", UninitializedBuffer(dtype=torch.float64))
            self.register_buffer("running_outer", UninitializedBuffer(dtype=torch.float64))
            self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))
        self._recording: ActivationMoments | None = None
        self.statistics = ActivationStatistics()

    @property
    def units(self) -> int:
        return self.correlation_map.shape[0]

    def initialize_parameters(self, x: torch.Tensor) -> None:  # called by LazyModuleMixin on the first forward
        if not self.has_uninitialized_params():  # sized by a loaded checkpoint
            return
        units = as_units(x).shape[1]
        if self.groups is not None and sum(self.groups) != units:
            raise LicliError(f"local-inhibition groups {self.groups} sum to {sum(self.groups)} but the layer has "
                             f"{units} units", "make the group sizes add up to the layer width")
        with torch.no_grad():
            for name in ("correlation_map", "whole_map") if self.then_whole else ("correlation_map",):
                buffer = getattr(self, name)
                buffer.materialize((units, units), device=x.device, dtype=x.dtype)
                buffer.copy_(torch.eye(units, device=x.device, dtype=x.dtype))
            if self.calibration == "online":
                for name, shape in (("running_mean", (units,)), ("running_outer", (units, units))):
                    buffer = getattr(self, name)
                    buffer.materialize(shape, device=x.device)
                    buffer.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        units = as_units(x)
        if self._recording is not None:  # a calibration pass: record pre-inhibition activations, no inhibition
            self._recording.add(units)
            return x
        if self.identity:  # ι(z, I) = z for z ≥ 0
            return x
        if self.training and self.calibration == "online":
            self._track(units)
        inhibited = weighted_inhibition(units, self.correlation_map.to(units.dtype))
        if self.then_whole:
            inhibited = weighted_inhibition(inhibited, self.whole_map.to(units.dtype))
        out = from_units(torch.where(self.flashing, units, inhibited) if self.training else inhibited, x)
        if self.training:
            self.statistics.update(out)
        return out

    @torch.no_grad()
    def _track(self, units: torch.Tensor) -> None:
        """Running averages of E[a] and E[a aᵀ] (the first batch sets them), without host syncs."""
        a = units.detach().double()
        mean, outer = a.mean(0), a.T @ a / a.shape[0]
        first = self.num_batches_tracked == 0
        self.running_mean.copy_(torch.where(first, mean, torch.lerp(self.running_mean, mean, self.momentum)))
        self.running_outer.copy_(torch.where(first, outer, torch.lerp(self.running_outer, outer, self.momentum)))
        self.num_batches_tracked += 1

    @torch.no_grad()
    def set_map(self, mean: torch.Tensor | None, outer: torch.Tensor | None) -> None:
        """C ← the correlation map of (E[a], E[a aᵀ]) restricted to the groups; given None, a flash of
        the identity instead (training forwards use C = I until the next refresh; C itself is kept)."""
        if mean is None or outer is None:
            self.flashing.fill_(True)
            return
        new = pick(CORRELATIONS, self.correlation, "correlation map")(mean, outer)
        if self.then_whole:
            self.whole_map.copy_(new.to(self.whole_map.dtype))
        if self.groups is not None:
            new = new * group_mask(self.groups, new.device)
        self.correlation_map.copy_(new.to(self.correlation_map.dtype))
        self.flashing.fill_(False)

    def epoch_statistics(self) -> dict[str, float]:
        return self.statistics.summary(self.slot_name)

    def extra_repr(self) -> str:
        return (f"correlation={self.correlation!r}, calibration={self.calibration!r}, p_update={self.p_update}, "
                f"p_eye={self.p_eye}, calibration_batch={self.calibration_batch}, groups={self.groups}, "
                f"momentum={self.momentum}, then_whole={self.then_whole}")


class InhibitionCalibration:
    """Algorithm 1 lines 28–34 as a training hook: once per optimizer step, the model-wide refresh of every LI
    layer's C (see the module docstring), coordinated by the first layer's ``p_update``, ``p_eye`` and
    ``calibration_batch``. Built by ``calibration_hooks``; the training loop calls it after the step."""

    def __init__(self, layers: list[LocalInhibition]) -> None:
        self.layers = layers

    def after_optimizer_step(self, context: "StepContext") -> None:
        layers, first = self.layers, self.layers[0]
        if any(layer.has_uninitialized_params() for layer in layers):
            return
        update, identity = (torch.rand(2, generator=context.generator)
                            < torch.tensor([first.p_update, first.p_eye])).tolist()
        if not update:
            return
        if identity:
            for layer in layers:
                layer.set_map(None, None)
            return
        if any(layer.calibration == "paper" for layer in layers):
            moments = calibration_moments(context.model, layers, context.sample_images(first.calibration_batch))
        for index, layer in enumerate(layers):
            if layer.calibration == "paper":
                layer.set_map(*moments[index].means())
            else:
                layer.set_map(layer.running_mean, layer.running_outer)


def calibration_hooks(model: nn.Module) -> list[InhibitionCalibration]:
    """The training hook that calibrates ``model``'s LI layers (none without one), in ``model.modules()`` order."""
    layers = [m for m in model.modules() if isinstance(m, LocalInhibition)]
    return [InhibitionCalibration(layers)] if layers else []


@contextmanager
def identity_maps(model: nn.Module) -> Iterator[int]:
    """Within the block every LI layer of ``model`` forwards with C = I (no inhibition); yields how many
    layers that affects. The calibrated maps are untouched."""
    layers = [m for m in model.modules() if isinstance(m, LocalInhibition)]
    for layer in layers:
        layer.identity = True
    try:
        yield len(layers)
    finally:
        for layer in layers:
            layer.identity = False


@torch.no_grad()
def calibration_moments(model: nn.Module, layers: list[LocalInhibition],
                        images: torch.Tensor) -> list[ActivationMoments]:
    """Feed ``images`` through ``model`` (eval mode, in chunks) with every LI layer in ``layers`` recording
    its pre-inhibition activations instead of inhibiting; return each layer's moments."""
    was_training = model.training
    model.eval()
    moments = [ActivationMoments(layer.units, layer.correlation_map.device) for layer in layers]
    for layer, recording in zip(layers, moments):
        layer._recording = recording
    try:
        for chunk in images.split(CALIBRATION_CHUNK):
            model(chunk)
    finally:
        for layer in layers:
            layer._recording = None
        model.train(was_training)
    return moments
