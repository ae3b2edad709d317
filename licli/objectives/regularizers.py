"""The regularizers Local Inhibition is compared with (local-inhibition thesis Table 1.1, §3.6.2).

Each is an ``Objective`` ``(model, x, y, indices) -> (loss, logits)`` registered in ``REGULARIZERS``:

- ``spectral-decoupling`` (Pezeshki et al. 2021): CE + λ · mean_i ‖logits_i‖² (the paper writes
  λ/2; here λ absorbs the 1/2).
- ``irm`` — IRMv1 (Arjovsky et al. 2019): mean_e R_e + λ · mean_e ‖∇_{w|w=1} R_e(w · logits)‖².
- ``vrex`` — V-REx (Krueger et al. 2021): mean_e R_e + β · Var_e(R_e) (population variance).
- ``fishr`` (Rame et al. 2022): CE + λ · mean_e ‖v_e − v̄‖²/P, v_e the per-environment variance of the
  per-sample gradients of the **last linear layer** (weights and bias, P values; as in the Fishr
  paper, which restricts the penalty to the classifier). Per-sample gradients of that layer are
  exact in closed form: (softmax(z) − onehot(y)) ⊗ [h, 1] for its input h. No moving average of
  v_e across steps (the paper's optional EMA), so each step's penalty uses its batch alone.
- ``mma`` — MMA (Wang et al. 2020): CE + λ · Σ_layers −mean_i arccos(max_{j≠i} cos(w_i, w_j)) over
  the weight vectors (rows, filters flattened) of every Linear and Conv2d layer.

Weight decay is not an objective: it is the optimizer's ``--weight-decay`` flag (``TrainConfig.weight_decay``).

Environments (IRM, V-REx, Fishr), first of these that applies (``bind_environments``, called by training):

1. ``environment_file=PATH``: the user's labels, one per training image in the training split's order
   (integers or names; the distinct values, sorted, are environments 0 … n−1);
2. the dataset's own environments (``Dataset.environments``, e.g. ``colored-mnist``'s two training
   environments, Arjovsky et al. 2019 §5.2);
3. otherwise ``environments`` random parts (default 2) by the sample indices: a sample's environment is a
   seeded integer hash of its index modulo n, fixed for a seed, independent of batch order and dataset
   size. Such i.i.d. parts share one distribution, so the penalties measure little beyond noise.

Per-batch risks average over the environments present in the batch (an absent one is skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from licli.errors import LicliError

_MASK31 = 0x7FFFFFFF


def environment_of(indices: torch.Tensor, environments: int, seed: int = 0) -> torch.Tensor:
    """The environment (0 … n−1) of each training-sample index: a seeded 31-bit multiplicative hash mod n."""
    h = (indices.long() ^ (seed * 0x9E3779B1 & _MASK31)) & _MASK31
    for multiplier in (0x45D9F3B, 0x2C1B3C6D):
        h = ((h >> 16) ^ h) * multiplier & _MASK31
    return ((h >> 16) ^ h) % environments


def environment_means(values: torch.Tensor, env: torch.Tensor, environments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-environment means of ``values`` (first dim = samples) and a mask of the environments present."""
    counts = torch.zeros(environments, device=values.device, dtype=values.dtype).index_add_(
        0, env, torch.ones_like(env, dtype=values.dtype))
    sums = torch.zeros((environments, *values.shape[1:]), device=values.device, dtype=values.dtype).index_add_(
        0, env, values)
    present = counts > 0
    shape = (environments,) + (1,) * (values.dim() - 1)
    return sums / counts.clamp_min(1).view(shape), present


def masked_mean(values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    return (values * present).sum() / present.sum().clamp_min(1)


def read_environment_labels(path: str | Path) -> torch.Tensor:
    """One environment label per line of ``path`` (blank lines skipped) → int64 environments 0 … n−1, the
    distinct labels in sorted order (numerically when all are integers)."""
    file = Path(path).expanduser()
    try:
        lines = [line.strip() for line in file.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise LicliError(f"cannot read the environment labels {file} ({error})",
                         "pass a text file with one environment label per training image") from None
    labels = [line for line in lines if line]
    if not labels:
        raise LicliError(f"the environment labels file {file} is empty",
                         "write one environment label per training image, one per line")
    try:
        values: list = [int(label) for label in labels]
    except ValueError:
        values = labels
    _, inverse = np.unique(np.asarray(values), return_inverse=True)
    return torch.from_numpy(inverse.astype(np.int64).reshape(-1))


class _EnvironmentObjective:
    def __init__(self, environments: int | None = None, seed: int = 0,
                 environment_file: str | None = None) -> None:
        if environments is not None and (not isinstance(environments, int) or environments < 1):
            raise LicliError(f"environments must be a positive integer (got {environments})",
                             "pass e.g. environments=2")
        self.requested = environments
        self.environments = environments or 2
        self.seed = seed
        self.environment_file = environment_file
        self.labels: torch.Tensor | None = None if environment_file is None \
            else read_environment_labels(environment_file)
        if self.labels is not None:
            self._use(self.labels, f"the environment file {environment_file}")

    def _use(self, labels: torch.Tensor, where: str) -> None:
        count = int(labels.max()) + 1
        if self.requested is not None and self.requested != count:
            raise LicliError(f"environments={self.requested} but {where} holds {count} environments",
                             "drop the environments parameter (it is taken from the labels)")
        self.labels, self.environments = labels.long(), count

    def bind_environments(self, dataset_environments: torch.Tensor | None, n_train: int) -> None:
        """Use the training set's environments (training calls this before the first step): the user's file,
        else ``dataset_environments``, else the seeded hash of the sample index. Labels must cover the
        ``n_train`` training images one to one."""
        if self.labels is None and dataset_environments is not None:
            self._use(dataset_environments, "the dataset")
        if self.labels is not None and len(self.labels) != n_train:
            where = f"the environment file {self.environment_file}" if self.environment_file else "the dataset"
            raise LicliError(f"{where} gives {len(self.labels)} environment labels for {n_train} training images",
                             "give one label per training image, in the training split's order")

    def split(self, indices: torch.Tensor) -> torch.Tensor:
        """The environment of each training-sample index."""
        if self.labels is None:
            return environment_of(indices, self.environments, self.seed)
        if self.labels.device != indices.device:
            self.labels = self.labels.to(indices.device)
        return self.labels[indices]


def _weight(value: float, name: str) -> float:
    if not float(value) >= 0:
        raise LicliError(f"regularizer weight {name} must be ≥ 0 (got {value})", f"pass e.g. {name}=1.0")
    return float(value)


class SpectralDecoupling:
    def __init__(self, weight: float = 0.01) -> None:
        self.weight = _weight(weight, "weight")

    def penalty(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.square().sum(1).mean()

    def __call__(self, model, x, y, indices):
        logits = model(x)
        return F.cross_entropy(logits, y) + self.weight * self.penalty(logits), logits


class IRM(_EnvironmentObjective):
    def __init__(self, weight: float = 1.0, environments: int | None = None, seed: int = 0,
                 environment_file: str | None = None) -> None:
        super().__init__(environments, seed, environment_file)
        self.weight = _weight(weight, "weight")

    def risks_and_penalties(self, logits, y, env) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = torch.ones((), device=logits.device, requires_grad=True)
        losses = F.cross_entropy(logits * scale, y, reduction="none")
        risks, present = environment_means(losses, env, self.environments)
        grads = torch.stack([torch.autograd.grad(risks[e], scale, create_graph=True)[0]
                             for e in range(self.environments)])
        return risks, grads.square(), present

    def __call__(self, model, x, y, indices):
        logits = model(x)
        risks, penalties, present = self.risks_and_penalties(logits, y, self.split(indices))
        return masked_mean(risks, present) + self.weight * masked_mean(penalties, present), logits


class VREx(_EnvironmentObjective):
    def __init__(self, weight: float = 1.0, environments: int | None = None, seed: int = 0,
                 environment_file: str | None = None) -> None:
        super().__init__(environments, seed, environment_file)
        self.weight = _weight(weight, "weight")

    def __call__(self, model, x, y, indices):
        logits = model(x)
        risks, present = environment_means(F.cross_entropy(logits, y, reduction="none"), self.split(indices),
                                           self.environments)
        mean = masked_mean(risks, present)
        return mean + self.weight * masked_mean((risks - mean).square(), present), logits


def last_linear(model: nn.Module) -> nn.Linear:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise LicliError("fishr needs a model whose classifier is an nn.Linear layer", "use another regularizer")
    return layers[-1]


@contextmanager
def captured_input(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect the input of ``module`` during the block (hook removed afterwards)."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda m, inputs, output: seen.append(inputs[0]))
    try:
        yield seen
    finally:
        handle.remove()


def per_sample_linear_gradients(features: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂CE_i/∂(W, b) of a final linear layer for every sample i, flattened: (N, classes·(features+1))."""
    error = logits.softmax(1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)
    inputs = torch.cat([features, torch.ones_like(features[:, :1])], 1)
    return (error.unsqueeze(2) * inputs.unsqueeze(1)).flatten(1)


class Fishr(_EnvironmentObjective):
    def __init__(self, weight: float = 1.0, environments: int | None = None, seed: int = 0,
                 environment_file: str | None = None) -> None:
        super().__init__(environments, seed, environment_file)
        self.weight = _weight(weight, "weight")

    def penalty(self, features, logits, y, env) -> torch.Tensor:
        grads = per_sample_linear_gradients(features, logits, y)
        means, present = environment_means(grads, env, self.environments)
        variances, _ = environment_means((grads - means[env]).square(), env, self.environments)
        centre = (variances * present.unsqueeze(1)).sum(0) / present.sum().clamp_min(1)
        return masked_mean((variances - centre).square().mean(1), present)

    def __call__(self, model, x, y, indices):
        with captured_input(last_linear(model)) as seen:
            logits = model(x)
        features = seen[-1].flatten(1)
        penalty = self.penalty(features, logits, y, self.split(indices))
        return F.cross_entropy(logits, y) + self.weight * penalty, logits


def mma_loss(weight: torch.Tensor) -> torch.Tensor:
    """−mean_i arccos(max_{j≠i} cos(w_i, w_j)) for the rows of ``weight`` (MMA's layer loss)."""
    w = F.normalize(weight.flatten(1), dim=1)
    cosine = w @ w.T
    cosine = cosine - 2 * torch.diag(cosine.diagonal())
    return -torch.acos(cosine.amax(1).clamp(-1 + 1e-5, 1 - 1e-5)).mean()


class MMA:
    def __init__(self, weight: float = 0.1) -> None:
        self.weight = _weight(weight, "weight")

    def penalty(self, model: nn.Module) -> torch.Tensor:
        layers = [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)) and m.weight.shape[0] > 1]
        return torch.stack([mma_loss(w) for w in layers]).sum()

    def __call__(self, model, x, y, indices):
        logits = model(x)
        return F.cross_entropy(logits, y) + self.weight * self.penalty(model), logits


FLAG_NOT_OBJECTIVE = {"weight-decay": ("weight decay is the optimizer's setting, not a regularizer objective",
                                       "pass weight_decay=5e-4 (TrainConfig.weight_decay) instead")}
