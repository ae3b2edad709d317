"""mnist-loc is deterministic and its boxes are the tight boxes of the pasted digits."""

import torch

from licli.data import DATASETS, split_boxes
from licli.data.mnist import load_mnist_mini
from licli.data.mnist_loc import render_mnist_loc


def _render(seed):
    mini = load_mnist_mini()
    return render_mnist_loc(mini.test.images[:200, 0], mini.test.labels[:200], seed)


def test_rendering_is_deterministic_and_seeded():
    a, b, c = _render(3), _render(3), _render(4)
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.images, c.images)


def test_boxes_are_the_tight_boxes_of_every_digit_pixel():
    rendered = _render(0)
    n, h, w = rendered.digits.shape
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    x0, y0, x1, y1 = (rendered.boxes[:, i].view(-1, 1, 1) for i in range(4))
    inside = (rows >= y0) & (rows <= y1) & (cols >= x0) & (cols <= x1)
    ink = rendered.digits > 0
    assert not (ink & ~inside).any()
    for i in range(n):  # tight: every edge of the box touches ink
        x0, y0, x1, y1 = rendered.boxes[i].tolist()
        assert ink[i, y0, x0:x1 + 1].any() and ink[i, y1, x0:x1 + 1].any()
        assert ink[i, y0:y1 + 1, x0].any() and ink[i, y0:y1 + 1, x1].any()
    sizes = rendered.boxes[:, 2:] - rendered.boxes[:, :2] + 1
    assert sizes.min() >= 2 and sizes.max() <= 40
    assert (rendered.images[:, 0] >= rendered.digits).all()  # clutter and noise never hide the digit


def test_dataset_entry_has_boxes_for_both_splits():
    data = DATASETS["mnist-loc"](None, False)
    assert data.image_size == (64, 64) and len(data.train) == 10_000 and len(data.test) == 2_000
    assert split_boxes(data, "test").shape == (2_000, 4)
    assert torch.equal(data.test.labels, load_mnist_mini().test.labels)
