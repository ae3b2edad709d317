"""Background blur keeps the box and blurs the rest."""

import torch

from licli.evaluations.saliency.blur import blur_robustness, box_masks


def test_box_masks_are_inclusive():
    mask = box_masks(torch.tensor([[1, 2, 3, 4]]), 6, 6)[0]
    assert mask.sum() == 3 * 3 and mask[2, 1] and mask[4, 3] and not mask[5, 3] and not mask[2, 0]


def test_accuracy_of_a_model_reading_only_the_background_drops_with_blur():
    class Background(torch.nn.Module):
        def forward(self, x):
            pixel = x[:, 0, 0, 0]  # outside every box
            return torch.stack([pixel - 0.5, 0.5 - pixel], 1)

    x = torch.zeros(4, 1, 16, 16)
    x[:, :, 0, 0] = 1.0
    labels = torch.zeros(4, dtype=torch.long)
    boxes = torch.tensor([[8, 8, 12, 12]] * 4)
    result = blur_robustness(Background(), x, labels, boxes, [0, 1, 3])
    assert result["accuracy"].tolist() == [1.0, 0.0, 0.0]
