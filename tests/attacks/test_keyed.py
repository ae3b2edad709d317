"""Per-image keyed draws: PGD's random start and random targets do not depend on the batch size or shard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from licli.attacks.keyed import START_STREAM, TARGET_STREAM, ImageKeys
from licli.evaluations.robustness import AttackSettings, Shard, attack_samples
from licli.models import ModelSpec, build_model
from tests.conftest import tiny_dataset

CPU = torch.device("cpu")
N = 40


def test_each_image_draws_from_numpys_philox_keyed_by_seed_and_index():
    keys = ImageKeys(seed=5, indices=(3, 17))
    start = keys.uniform((2, 2), -0.1, 0.1, CPU)
    for row, index in zip(start, keys.indices):
        reference = np.random.Generator(np.random.Philox(key=(START_STREAM << 96) | (5 << 64) | index))
        expected = reference.random((2, 2), dtype=np.float32) * np.float32(0.2) + np.float32(-0.1)
        assert torch.equal(row, torch.from_numpy(expected))
    target = np.random.Generator(np.random.Philox(key=(TARGET_STREAM << 96) | (5 << 64) | 17)).integers(1, 10)
    assert keys.integers(1, 10, CPU)[1].item() == target
    assert float(start.abs().max()) <= 0.1
    # the same image in another batch, or alone: the same draw; another seed: another draw
    assert torch.equal(ImageKeys(5, (17,)).uniform((2, 2), -0.1, 0.1, CPU)[0], start[1])
    assert not torch.equal(ImageKeys(6, (3,)).uniform((2, 2), -0.1, 0.1, CPU)[0], start[0])


@pytest.fixture(scope="module")
def problem():
    data = tiny_dataset(n_test=N, channels=3, size=8, num_classes=4)
    torch.manual_seed(2)
    model = build_model(ModelSpec(name="small-cnn", num_classes=4, in_channels=3, image_size=(8, 8),
                                  options={"filters": 4, "hidden": 16})).eval()
    return model, data.test.images, data.test.labels, torch.arange(100, 100 + N)


def _rows(problem, batch_size: int, seed: int = 3, shard: Shard = Shard()) -> pd.DataFrame:
    model, images, labels, indices = problem
    settings = AttackSettings(attacks=("pgd", "pgd-t"), eps=8 / 255, steps=3, batch_size=batch_size, seed=seed)
    rows = attack_samples(model, images, labels, indices, settings, shard=shard)
    return rows.sort_values(["attack", "index"], ignore_index=True)


def _same_outcomes(a: pd.DataFrame, b: pd.DataFrame) -> None:
    columns = ["attack", "index", "label", "clean_pred", "adv_pred", "target", "success", "robust"]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    np.testing.assert_allclose(a["perturbation_norm"], b["perturbation_norm"], rtol=1e-6, atol=1e-7)


def test_random_start_and_targets_give_the_same_rows_for_any_batch_size(problem):
    reference = _rows(problem, N)
    for batch_size in (7, 32):
        _same_outcomes(_rows(problem, batch_size), reference)
    assert not _rows(problem, N, seed=4)["target"].equals(reference["target"])  # the seed still matters


def test_shards_at_one_batch_size_merge_to_the_unsharded_run_at_another(problem):
    merged = pd.concat([_rows(problem, 7, shard=Shard(i, 3)) for i in range(3)])
    _same_outcomes(merged.sort_values(["attack", "index"], ignore_index=True), _rows(problem, 32))
