"""The Oracle-MNIST packing: the wrong test oracle, the encoding, the majority baseline (LI thesis §1.3)."""

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from licli.data import Split, load_dataset
from licli.data.oracle import (majority_baseline, oracle_code, oracle_test_splits, pack, unpack, with_oracle,
                               wrong_labels)
from licli.errors import LicliError


def test_wrong_labels_never_true_and_uniform_over_the_others():
    labels = torch.arange(10).repeat(4500)
    wrong = wrong_labels(labels, 10, torch.Generator().manual_seed(0))
    assert not (wrong == labels).any()
    for true in range(10):
        counts = np.bincount(wrong[labels == true].numpy(), minlength=10)
        others = np.delete(counts, true)
        assert counts[true] == 0 and others.sum() == 4500
        assert chisquare(others).pvalue > 1e-3  # H0: uniform over the nine other classes


def test_wrong_labels_are_seeded():
    labels = torch.arange(10).repeat(10)
    first = wrong_labels(labels, 10, torch.Generator().manual_seed(3))
    assert torch.equal(first, wrong_labels(labels, 10, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, wrong_labels(labels, 10, torch.Generator().manual_seed(4)))


@pytest.mark.parametrize("copies", [1, 10, 16])
def test_packed_oracle_is_the_repeated_one_hot_label(copies):
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (50, 1, 28, 28), generator=g, dtype=torch.uint8),
                  torch.randint(0, 10, (50,), generator=g))
    packed = pack(split, split.labels, 10, copies)
    assert packed.images.shape == (50, 2, 28, 28) and torch.equal(packed.labels, split.labels)
    image, oracle = unpack(packed.images.float() / 255, 10, copies)
    assert torch.equal(image, split.images.float() / 255)
    for n in range(50):  # every copy is the one-hot label, explicitly
        expected = [1.0 if k == int(split.labels[n]) else 0.0 for k in range(10)] * copies
        assert oracle[n].tolist() == expected
    assert packed.images[:, 1].flatten(1)[:, copies * 10:].eq(0).all()  # the rest of the plane is empty
    assert torch.equal(oracle, oracle_code(split.labels, 10, copies))


def test_test_splits_show_wrong_true_and_no_oracle():
    data = load_dataset("mnist-mini")
    splits = oracle_test_splits(data.test, 10, 10, seed=0)
    shown = {name: unpack(s.images.float() / 255, 10, 10)[1][:, :10] for name, s in splits.items()}
    assert (shown["permuted"].argmax(1) != data.test.labels).all()
    assert torch.equal(shown["true"].argmax(1), data.test.labels)
    assert shown["zeroed"].eq(0).all()
    oracle = with_oracle(data)
    assert oracle.name == "oracle-mnist-mini" and torch.equal(oracle.test.images, splits["permuted"].images)
    assert torch.equal(unpack(oracle.train.images.float() / 255, 10, 10)[1][:, :10].argmax(1), data.train.labels)


def test_too_many_copies_for_the_plane_is_a_clear_error():
    split = Split(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1]))
    with pytest.raises(LicliError, match="do not fit"):
        pack(split, split.labels, 10, 7)


def test_majority_baseline_is_the_largest_label_share():
    labels = torch.tensor([3, 3, 1, 3, 2, 1, 0, 3])
    assert majority_baseline(labels, 5) == (3, 4 / 8)
    data = load_dataset("mnist-mini")
    counts = np.bincount(data.test.labels.numpy(), minlength=10)
    assert majority_baseline(data.test.labels, 10)[1] == pytest.approx(counts.max() / counts.sum())


def test_majority_baseline_on_full_mnist_is_the_papers_1_star_row(data_root):
    data = load_dataset("mnist", str(data_root))
    cls, share = majority_baseline(data.test.labels, 10)
    assert (cls, share) == (1, 0.1135)  # 1,135 ones among 10,000 test images (the thesis prints 11.5%)
