"""Host syncs per step, counted on the CPU by licli.host_syncs and pinned: the training step (with
augmentation, with Gradient Mask) and the native PGD step make none; cleverhans's PGD step makes some."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from licli.attacks.runner import run_attack
from licli.attacks.threat import Threat
from licli.training.config import TrainConfig
from licli.host_syncs import HostSyncCounter
from licli.models import ModelSpec, build_model
from licli.training.loop import fit
from tests.conftest import tiny_dataset


def test_counter_sees_reads_data_dependent_shapes_and_blocking_copies():
    x = torch.rand(6)
    with HostSyncCounter() as counter:
        x[0].item()
        if x.sum() > 0:
            x.tolist()
        x.nonzero()
        x[x > 0.5]
        torch.tensor(1.0, device=x.device)
        x.to(x.device)
        x.to(x.device, non_blocking=True)  # not counted
        x.cpu()
        x.add(1).mul_(2).sum(0)  # not counted
    assert counter.counts == Counter({"item": 1, "bool": 1, "tolist": 1, "nonzero": 1, "boolean_mask_index": 1,
                                      "tensor_to_device": 1, "blocking_to": 1, "cpu": 1})


class StepProbe:
    """A training Progress that snapshots the counter after every optimizer step."""

    def __init__(self, counter: HostSyncCounter) -> None:
        self.counter, self.after_step = counter, []

    def start_epoch(self, epoch, epochs, steps):
        self.after_step.append([self.counter.snapshot()])

    def advance(self):
        self.after_step[-1].append(self.counter.snapshot())

    def end_epoch(self, row):
        pass

    def per_step(self) -> list[Counter]:
        """Counts of each step but an epoch's first (which draws the epoch's order)."""
        return [after - before for epoch in self.after_step for before, after in zip(epoch[1:], epoch[2:])]


def train_and_probe(config: TrainConfig, data) -> list[Counter]:
    with HostSyncCounter() as counter:
        probe = StepProbe(counter)
        fit(config, data, device=torch.device("cpu"), progress=probe)
    return probe.per_step()


@pytest.mark.parametrize("mechanisms", [{}, {"conv2": {"name": "gradient-mask", "params": {"sigma": 0.5, "sets": 4}},
                                             "conv3": {"name": "gradient-mask", "params": {"sigma": 0.5, "sets": 4}}}])
def test_a_training_step_with_augmentation_makes_no_host_sync(mechanisms):
    data = tiny_dataset(n_train=48, n_test=8, channels=3, size=8, num_classes=3)
    config = TrainConfig(model="gap-cnn", dataset="mnist-mini", epochs=2, batch_size=8, augment=True,
                         model_options={"filters": 4}, mechanisms=mechanisms)
    steps = train_and_probe(config, data)
    assert len(steps) == 2 * 5  # 6 steps per epoch, the first of each not counted
    assert all(step == Counter() for step in steps), steps


def _pgd_syncs(backend: str, norm: str, steps: int) -> Counter:
    torch.manual_seed(0)
    model = build_model(ModelSpec(name="small-cnn", num_classes=3, in_channels=3, image_size=(8, 8),
                                  options={"filters": 4, "hidden": 8})).eval()
    data = tiny_dataset(n_test=8, channels=3, size=8)
    x, y = data.test.images.float() / 255, data.test.labels
    eps = 0.03 if norm == "linf" else 0.5
    with HostSyncCounter() as counter:
        run_attack("pgd", model, x, y, threat=Threat(norm, eps), seed=0, backend=backend, steps=steps, step_size=eps / 4)
    return counter.counts


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_native_pgd_steps_make_no_host_sync_and_cleverhans_steps_do(norm):
    native = _pgd_syncs("native", norm, 6) - _pgd_syncs("native", norm, 3)
    assert native == Counter()
    reference = _pgd_syncs("cleverhans", norm, 6) - _pgd_syncs("cleverhans", norm, 3)
    per_step = {kind: count / 3 for kind, count in reference.items()}
    # cleverhans 4.0.0 per step: two 0-d device tensors for range checks it skips, one in optimize_linear,
    # one in clip_eta (two for L2), and for L2 the read-back of optimize_linear's allclose assert.
    assert per_step == ({"tensor_to_device": 4.0} if norm == "linf" else {"tensor_to_device": 5.0, "allclose": 1.0})
