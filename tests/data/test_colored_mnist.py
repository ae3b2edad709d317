"""Colored MNIST against its definition (Arjovsky et al. 2019 §5.2): every rate inside its binomial bounds."""

import pytest
import torch
from scipy.stats import binomtest

from licli.data import load_dataset
from licli.data.colored_mnist import LABEL_NOISE, TEST_COLOUR_FLIP, TRAIN_COLOUR_FLIPS


def _within(successes: int, trials: int, rate: float) -> None:
    """``successes`` of ``trials`` is consistent with ``rate`` (two-sided exact binomial test, 0.1%)."""
    assert binomtest(successes, trials, rate).pvalue > 1e-3, (successes, trials, rate)


@pytest.fixture(scope="module")
def pair():
    return load_dataset("mnist-mini"), load_dataset("colored-mnist-mini")


def test_images_are_the_digits_in_the_channel_of_their_colour(pair):
    base, coloured = pair
    assert coloured.train.images.shape == (len(base.train), 2, 28, 28) and coloured.num_classes == 2
    for plain, split in ((base.train, coloured.train), (base.test, coloured.test)):
        colours = (split.images[:, 1].flatten(1).sum(1) > 0).long()  # green channel lit → colour 1
        assert torch.equal(split.images[torch.arange(len(split)), colours], plain.images[:, 0])
        assert not split.images[torch.arange(len(split)), 1 - colours].any()


def test_label_noise_and_colour_flips_are_the_papers_rates(pair):
    base, coloured = pair
    env = coloured.environments
    assert torch.equal(env, torch.arange(len(base.train)) % 2)  # even images environment 0, odd 1
    for plain, split, environment_of, flips in ((base.train, coloured.train, env, TRAIN_COLOUR_FLIPS),
                                                (base.test, coloured.test, torch.zeros(len(base.test)).long(),
                                                 (TEST_COLOUR_FLIP,))):
        clean = (plain.labels < 5).long()
        colours = (split.images[:, 1].flatten(1).sum(1) > 0).long()
        for e, flip in enumerate(flips):
            members = environment_of == e
            n = int(members.sum())
            _within(int((split.labels[members] != clean[members]).sum()), n, LABEL_NOISE)
            _within(int((colours[members] != split.labels[members]).sum()), n, flip)


def test_colored_mnist_from_the_local_files(data_root):
    full = load_dataset("colored-mnist", str(data_root))
    assert len(full.train) == 60000 and len(full.test) == 10000 and torch.bincount(full.environments).tolist() == [30000] * 2
    colours = (full.test.images[:, 1].flatten(1).sum(1) > 0).long()
    _within(int((colours != full.test.labels).sum()), 10000, TEST_COLOUR_FLIP)
