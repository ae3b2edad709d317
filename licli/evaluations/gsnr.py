"""Gradient signal-to-noise ratio r(θⱼ) = mean(gⱼ)² / var(gⱼ) over per-sample gradients (Gradient Mask
§3.3.3, Fig. 7; Liu et al. 2020), summarised per layer (mean and median over the layer's parameters).

The per-parameter sums Σᵢ gᵢ and Σᵢ gᵢ² are formed from each layer's inputs aᵢ and output gradients
δᵢ = ∂ℓᵢ/∂outᵢ, caught by hooks in one forward and one ``autograd.grad`` pass (parameter ``.grad`` is
never touched, so this can run inside a training loop). The hooks hand the network a copy of each
layer's output, so in-place operations after a layer (``nn.ReLU(inplace=True)`` in vgg16's classifier)
cannot overwrite the tensor δ is taken against:
- ``Linear`` on (B, in) inputs, closed form: Σ gᵢ = δᵀa, Σ gᵢ² = (δ²)ᵀ(a²); bias Σ δᵢ, Σ δᵢ².
- ``Conv2d`` (groups = 1, zero padding) and ``Linear`` on (B, …, in) inputs: gᵢ = δᵢ · unfold(aᵢ)ᵀ per
  sample for this one layer, in chunks of ``chunk`` samples, then summed and squared-summed.
- every other parameter (normalisation layers, mechanisms, grouped convolutions): per-sample
  gradients by ``torch.func.vmap(grad)``, only for those parameters (``method`` says which was used).
The sums accumulate in the parameters' dtype (float32: converting every batch to float64 cost a
third of the throughput); the variance is formed in float64 from them. Choices: ℓᵢ is each sample's
cross-entropy; the model is in eval mode (train-mode batch norm couples
the samples, so per-sample gradients would not be defined); var is the unbiased sample variance;
parameters with zero variance get r = NaN and are counted, not summarised.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from licli.data import Dataset, Split, batches
from licli.errors import LicliError
from licli.contract import setting
from licli.hooks import StepContext


@dataclass(frozen=True)
class GSNRConfig:
    n: int = 1000
    split: str = "train"
    batch_size: int = 250
    chunk: int = 64

    def __post_init__(self) -> None:
        if self.n < 2:
            raise LicliError(f"n must be ≥ 2 for a variance (got {self.n})", "pass e.g. n=1000", field="n")
        if self.batch_size <= 0:
            raise LicliError(f"batch_size must be > 0 (got {self.batch_size})", "pass e.g. batch_size=250",
                             field="batch_size")
        if self.chunk <= 0:
            raise LicliError(f"chunk must be > 0 (got {self.chunk})", "pass e.g. chunk=64", field="chunk")
        if self.split not in ("test", "train"):
            raise LicliError(f"unknown split {self.split!r}", "choose test or train")


def _closed_form(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    return isinstance(module, nn.Conv2d) and module.groups == 1 and module.padding_mode == "zeros" \
        and not isinstance(module.padding, str)


def linear_moments(a: torch.Tensor, delta: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Σᵢ gᵢ and Σᵢ gᵢ² of a Linear weight from inputs ``a`` (B, …, in) and output gradients (B, …, out)."""
    if a.dim() == 2:
        return delta.T @ a, delta.square().T @ a.square()
    return _summed(a.flatten(1, -2).transpose(1, 2), delta.flatten(1, -2).transpose(1, 2), chunk)


def conv2d_moments(module: nn.Conv2d, a: torch.Tensor, delta: torch.Tensor, chunk: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Σᵢ gᵢ and Σᵢ gᵢ² of a Conv2d weight (shaped like it) from its inputs and output gradients."""
    columns = F.unfold(a, module.kernel_size, dilation=module.dilation, padding=module.padding,
                       stride=module.stride)
    first, second = _summed(columns, delta.flatten(2), chunk)
    return first.view_as(module.weight), second.view_as(module.weight)


def _summed(columns: torch.Tensor, delta: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``columns`` (B, in, L), ``delta`` (B, out, L): sums of gᵢ = δᵢ columnsᵢᵀ and of gᵢ², chunk by chunk."""
    first = second = None
    for start in range(0, columns.shape[0], chunk):
        g = torch.bmm(delta[start:start + chunk], columns[start:start + chunk].transpose(1, 2))
        first = g.sum(0) if first is None else first + g.sum(0)
        second = g.square().sum(0) if second is None else second + g.square().sum(0)
    return first, second


@dataclass
class Moments:
    """Running per-parameter Σ gᵢ and Σ gᵢ² over ``count`` samples, and how each was computed."""

    count: int = 0
    first: dict[str, torch.Tensor] = field(default_factory=dict)
    second: dict[str, torch.Tensor] = field(default_factory=dict)
    method: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, first: torch.Tensor, second: torch.Tensor, method: str) -> None:
        if name in self.first:
            self.first[name] += first
            self.second[name] += second
        else:
            self.first[name], self.second[name], self.method[name] = first, second, method


@contextmanager
def _captured(modules: dict[str, nn.Module]) -> Iterator[dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Record (input, output) of each module's forward; a module called twice is an error.

    The rest of the network receives a copy of the output, so an in-place operation that follows
    the layer (``nn.ReLU(inplace=True)``, ``out += identity``) changes the copy and not the recorded
    tensor: the gradient taken with respect to the recorded one is ∂ℓ/∂(layer output), not ∂ℓ/∂(the
    activation after it). The input is copied too, in case a later operation overwrites it.
    """
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            if name in seen:
                raise LicliError(f"layer {name!r} is called more than once per forward",
                                 "GSNR hooks need each Linear/Conv2d used once")
            seen[name] = (inputs[0].detach().clone(), output)
            return output.clone()
        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def accumulate_moments(model: nn.Module, x: torch.Tensor, y: torch.Tensor, moments: Moments, chunk: int) -> None:
    """Add this batch's per-parameter Σ gᵢ and Σ gᵢ² (per-sample cross-entropy) to ``moments``."""
    hooked = {name: m for name, m in model.named_modules() if _closed_form(m)}
    covered = {f"{name}.{p}" if name else p for name, m in hooked.items()
               for p, param in m.named_parameters(recurse=False) if param.requires_grad}
    rest = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad and name not in covered}
    with torch.enable_grad(), _captured(hooked) as seen:
        losses = F.cross_entropy(model(x), y, reduction="none")
        names = [name for name in hooked if name in seen and seen[name][1].requires_grad]
        deltas = torch.autograd.grad(losses.sum(), [seen[name][1] for name in names], allow_unused=True)
    for name, delta in zip(names, deltas):
        module, a = hooked[name], seen[name][0]
        prefix = f"{name}." if name else ""
        if delta is None:
            delta = torch.zeros_like(seen[name][1])
        if isinstance(module, nn.Linear):
            first, second = linear_moments(a, delta, chunk)
            method = "closed-form linear"
            bias_delta = delta.flatten(1, -2).sum(1) if delta.dim() > 2 else delta
        else:
            first, second = conv2d_moments(module, a, delta, chunk)
            method = "closed-form conv2d"
            bias_delta = delta.sum((2, 3))
        if module.weight.requires_grad:
            moments.add(prefix + "weight", first, second, method)
        if module.bias is not None and module.bias.requires_grad:
            moments.add(prefix + "bias", bias_delta.sum(0), bias_delta.square().sum(0), method)
    if rest:
        per_sample = _vmap_gradients(model, rest, x, y)
        for name, g in per_sample.items():
            moments.add(name, g.sum(0), g.square().sum(0), "vmap")
    moments.count += x.shape[0]


def _vmap_gradients(model: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
                    ) -> dict[str, torch.Tensor]:
    """Per-sample gradients of the cross-entropy with respect to ``params`` (the reference and fallback)."""

    def loss(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    return vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)


def layer_of(parameter: str) -> str:
    return parameter.rpartition(".")[0] or "(model)"


def summarise(moments: Moments) -> pd.DataFrame:
    """One row per layer: parameters, GSNR mean and median, parameters with zero variance, method."""
    n, rows = moments.count, {}
    for name, first in moments.first.items():
        mean = first.double() / n
        variance = (moments.second[name].double() - n * mean.square()).clamp_min(0) / (n - 1)
        ratio = mean.square() / variance
        ratio[variance <= 1e-30] = float("nan")
        entry = rows.setdefault(layer_of(name), {"ratios": [], "methods": set()})
        entry["ratios"].append(ratio.flatten())
        entry["methods"].add(moments.method[name])
    out = []
    for layer, entry in rows.items():
        ratios = torch.cat(entry["ratios"])
        finite = ratios[~ratios.isnan()]
        out.append({"layer": layer, "parameters": ratios.numel(),
                    "gsnr_mean": finite.mean().item() if finite.numel() else float("nan"),
                    "gsnr_median": finite.median().item() if finite.numel() else float("nan"),
                    "zero_variance": int(ratios.numel() - finite.numel()),
                    "method": ", ".join(sorted(entry["methods"]))})
    return pd.DataFrame(out)


def layer_gsnr(model: nn.Module, split: Split, *, device: torch.device, batch_size: int = 250,
               chunk: int = 64) -> pd.DataFrame:
    """Per-layer GSNR of ``model`` (eval mode) over all samples of ``split`` (see :func:`summarise`)."""
    was_training = model.training
    model.eval()
    moments = Moments()
    for x, y, _ in batches(split.to(device), batch_size, device=device):
        accumulate_moments(model, x, y, moments, chunk)
    model.train(was_training)
    return summarise(moments)


def run(model: nn.Module, data: Dataset, *, device: torch.device, config: GSNRConfig = GSNRConfig()) -> pd.DataFrame:
    """Per-layer GSNR over the first ``config.n`` images of ``config.split``."""
    split = data.train if config.split == "train" else data.test
    n = min(config.n, len(split))
    frame = layer_gsnr(model, split.subset(torch.arange(n)), device=device, batch_size=config.batch_size,
                       chunk=config.chunk)
    return frame.assign(dataset=data.name, split=config.split, n=n)


def summary_rows(result: pd.DataFrame) -> pd.DataFrame:
    """The report contract's rows of ``run`` frames stacked over models (column ``model``).

    Per model: ``gsnr`` in setting ``layer=all``, the mean GSNR over every parameter with non-zero
    gradient variance (the layers' means weighted by those parameters' counts), then one row per layer
    (``layer=<name>``, the layer's ``gsnr_mean``).
    """
    rows = []
    for model, part in result.groupby("model", sort=False):
        finite = part["parameters"] - part["zero_variance"]
        kept = finite > 0
        overall = float((part["gsnr_mean"][kept] * finite[kept]).sum() / finite[kept].sum()) if kept.any() \
            else float("nan")
        rows.append({"model": model, "metric": "gsnr", "setting": setting(layer="all"), "value": overall})
        rows += [{"model": model, "metric": "gsnr", "setting": setting(layer=r["layer"]), "value": r["gsnr_mean"]}
                 for r in part.to_dict(orient="records")]
    return pd.DataFrame(rows)


class GSNRTracker:
    """A training observer (``licli train --track gsnr``): every ``every`` optimizer steps, the per-layer
    GSNR over a fixed probe set (the first ``n`` training images; no training randomness is consumed)."""

    def __init__(self, data: Dataset, *, every: int, n: int = 256, device: torch.device) -> None:
        if every <= 0:
            raise LicliError(f"every must be > 0 optimizer steps (got {every})", "pass e.g. every=50", field="every")
        self.every, self.device = every, device
        self.probe = data.train.subset(torch.arange(min(n, len(data.train)))).to(device)
        self.frames: list[pd.DataFrame] = []

    def after_optimizer_step(self, context: StepContext) -> None:
        if context.step % self.every == 0:
            frame = layer_gsnr(context.model, self.probe, device=self.device)
            self.frames.append(frame.assign(step=context.step, epoch=context.epoch + 1))

    def frame(self) -> pd.DataFrame:
        return pd.concat(self.frames, ignore_index=True) if self.frames else pd.DataFrame()
