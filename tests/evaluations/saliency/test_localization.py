"""Top-k boxes and IoU against hand computations."""

import torch

from licli.evaluations.saliency.localization import (box_iou, largest_component, mask_boxes, saliency_boxes,
                                                      top_pixels)


def test_iou_of_hand_computed_boxes():
    a = torch.tensor([[0, 0, 9, 9], [0, 0, 9, 9], [0, 0, 4, 4], [2, 3, 5, 7]])
    b = torch.tensor([[0, 0, 9, 9], [5, 0, 14, 9], [10, 10, 12, 12], [4, 5, 8, 9]])
    # pixels: 100∩100; 50 of 150; disjoint; (2 cols × 3 rows)=6 of 20 + 25 − 6
    expected = torch.tensor([1.0, 50 / 150, 0.0, 6 / 39])
    assert torch.allclose(box_iou(a, b), expected)


def test_top_percent_box_on_a_synthetic_map():
    maps = torch.zeros(2, 20, 20)
    maps[0, 5:9, 2:12] = torch.linspace(1, 2, 40).view(4, 10)  # 40 pixels = 10% of 400
    maps[1] = torch.arange(400.0).view(20, 20)                    # top 15% = the last 60 pixels = rows 17–19
    masks = top_pixels(maps, 0.10)
    assert masks[0].sum() == 40 and masks[0, 5:9, 2:12].all()
    boxes = saliency_boxes(maps, 0.15)
    assert boxes.tolist() == [[2, 5, 11, 8], [0, 17, 19, 19]]


def test_floor_ties_are_not_salient_and_a_constant_map_boxes_everything():
    maps = torch.zeros(2, 10, 10)
    maps[0, 2, 3] = 1.0  # 1 pixel above a flat floor: the box is that pixel, not the image
    assert saliency_boxes(maps, 0.15).tolist() == [[3, 2, 3, 2], [0, 0, 9, 9]]


def test_largest_component_box():
    maps = torch.zeros(1, 12, 12)
    maps[0, 1:3, 1:3] = 5.0      # 4 pixels
    maps[0, 6:10, 6:9] = 4.0     # 12 pixels, diagonal neighbours included
    maps[0, 10, 9] = 4.0
    mask = maps > 0
    kept = largest_component(mask)
    assert kept.sum() == 13 and not kept[0, 1, 1]
    assert mask_boxes(kept).tolist() == [[6, 6, 9, 10]]
    assert saliency_boxes(maps, 17 / 144, "all").tolist() == [[1, 1, 9, 10]]
    assert saliency_boxes(maps, 17 / 144, "largest-component").tolist() == [[6, 6, 9, 10]]
