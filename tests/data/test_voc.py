"""voc2007 on a synthetic VOC folder: filtering, labels, boxes after resizing, cache, missing and broken data."""

import os
import shutil
from fractions import Fraction
from math import floor

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import Resize

from licli.data import load_dataset, split_boxes, split_ids, voc
from licli.data.voc import VOC_CLASSES, read_voc2007, scale_box
from licli.errors import LicliError
from tests.data.synthetic_voc import EXPECTED, make_voc


@pytest.fixture
def voc_root(tmp_path, monkeypatch):
    monkeypatch.setenv("LICLI_CACHE_DIR", str(tmp_path / "cache"))
    make_voc(tmp_path / "data")
    return tmp_path / "data"


def _reference_edge(edge: int, extent: int, size: int) -> int:
    """Round edge · size / extent to the nearest integer, halves up (exact fractions)."""
    return floor(Fraction(edge * size, extent) + Fraction(1, 2))


@pytest.mark.parametrize("box,width,height,size,expected", [
    ((48, 240, 195, 371), 500, 375, 224, (21, 143, 86, 221)),  # 47·0.448 = 21.06, 195·0.448 = 87.36, …
    ((1, 1, 500, 375), 500, 375, 224, (0, 0, 223, 223)),       # the whole image
    ((5, 7, 9, 11), 224, 224, 224, (4, 6, 8, 10)),             # no scaling: only 1-based → 0-based
    ((2, 2, 3, 3), 448, 448, 224, (1, 1, 1, 1)),               # edges at 0.5 and 1.5 round up
    ((500, 10, 500, 10), 1000, 1000, 224, (112, 2, 112, 2)),    # a 1-pixel box keeps one pixel
    ((0, -3, 520, 400), 500, 375, 100, (0, 0, 99, 99)),         # clamped to the image
])
def test_scale_box_hand_computed(box, width, height, size, expected):
    assert scale_box(box, width, height, size) == expected


def test_scale_box_matches_exact_rounding_of_the_scaled_edges():
    g = np.random.default_rng(0)
    for _ in range(300):
        width, height, size = (int(v) for v in g.integers(1, 700, 3))
        x = sorted(int(v) for v in g.integers(1, width + 1, 2))
        y = sorted(int(v) for v in g.integers(1, height + 1, 2))
        x0, y0, x1, y1 = scale_box((x[0], y[0], x[1], y[1]), width, height, size)
        assert x0 == min(_reference_edge(x[0] - 1, width, size), size - 1)
        assert y0 == min(_reference_edge(y[0] - 1, height, size), size - 1)
        assert x1 == max(_reference_edge(x[1], width, size), x0 + 1) - 1
        assert y1 == max(_reference_edge(y[1], height, size), y0 + 1) - 1
        assert 0 <= x0 <= x1 < size and 0 <= y0 <= y1 < size


def test_single_object_images_with_labels_and_boxes(voc_root):
    data = load_dataset("voc2007", str(voc_root))
    assert data.name == "voc2007" and data.classes == VOC_CLASSES and data.num_classes == 20
    assert VOC_CLASSES[11] == "dog" and list(VOC_CLASSES) == sorted(VOC_CLASSES)
    for split, expected in EXPECTED.items():
        chosen = getattr(data, split)
        assert split_ids(data, split) == expected["ids"]  # 000002 (two objects) is dropped
        assert chosen.images.shape == (len(expected["ids"]), 3, 224, 224) and chosen.images.dtype == torch.uint8
        assert chosen.labels.tolist() == expected["labels"]
        boxes = split_boxes(data, split)
        assert boxes.dtype == torch.int64 and boxes.tolist() == expected["boxes"]
        for image, image_id in zip(chosen.images, expected["ids"]):  # torchvision's Resize((224, 224)) on the JPEG
            with Image.open(voc_root / "VOCdevkit" / "VOC2007" / "JPEGImages" / f"{image_id}.jpg") as jpeg:
                reference = np.asarray(Resize((224, 224))(jpeg.convert("RGB"))).transpose(2, 0, 1)
            assert np.array_equal(image.numpy(), reference)
    assert set(data.files) == {"voc2007/ImageSets/Main/test.txt", "voc2007/ImageSets/Main/trainval.txt"}
    assert data.details["images"] == {"train": 1, "test": 3} and "aspect ratio not kept" in data.details["resize"]


def test_boxes_cover_the_bright_object_after_resizing(voc_root):
    """Independent of scale_box: the drawn object's pixels, resized, lie inside the box (up to blur at its rim)."""
    data = read_voc2007(voc_root)
    for image, box in zip(data.test.images, data.test_boxes):
        bright = image.float().mean(0) > 150
        rows, cols = torch.nonzero(bright, as_tuple=True)
        x0, y0, x1, y1 = box.tolist()
        assert abs(cols.min().item() - x0) <= 1 and abs(cols.max().item() - x1) <= 1
        assert abs(rows.min().item() - y0) <= 1 and abs(rows.max().item() - y1) <= 1


def test_reading_is_deterministic_and_cached(voc_root, monkeypatch, tmp_path):
    first = read_voc2007(voc_root)
    entries = sorted(p.name for p in (tmp_path / "cache" / "voc2007").iterdir())
    assert len(entries) == 2 and not any(name.startswith(".") for name in entries)  # one per image set
    with monkeypatch.context() as patch:
        patch.setattr(voc, "_decode_split", lambda *a: pytest.fail("the images were decoded again"))
        cached = read_voc2007(voc_root)
    monkeypatch.setenv("LICLI_CACHE_DIR", str(tmp_path / "fresh"))
    fresh = read_voc2007(voc_root)
    for other in (cached, fresh):
        for split in ("train", "test"):
            assert torch.equal(getattr(other, split).images, getattr(first, split).images)
            assert torch.equal(getattr(other, split).labels, getattr(first, split).labels)
            assert torch.equal(split_boxes(other, split), split_boxes(first, split))
            assert split_ids(other, split) == split_ids(first, split)
    monkeypatch.setenv("LICLI_CACHE_DIR", str(tmp_path / "cache"))
    os.utime(voc_root / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000003.jpg", ns=(0, 0))
    read_voc2007(voc_root)
    small = read_voc2007(voc_root, size=32)
    assert small.test.images.shape == (3, 3, 32, 32)
    entries = sorted(p.name for p in (tmp_path / "cache" / "voc2007").iterdir())
    assert len(entries) == 5  # the changed JPEG: a new test entry; size 32: one more per image set
    assert sum(name.startswith("test-224-") for name in entries) == 2 and sum("-32-" in name for name in entries) == 2


def test_the_voc_subfolder_of_the_data_root_is_found(voc_root, tmp_path):
    shutil.move(voc_root / "VOCdevkit", tmp_path / "elsewhere" / "voc" / "VOCdevkit")
    data = read_voc2007(tmp_path / "elsewhere")
    assert split_ids(data, "test") == EXPECTED["test"]["ids"]


def test_missing_voc_names_both_places_and_the_fix(tmp_path):
    with pytest.raises(LicliError) as caught:
        load_dataset("voc2007", str(tmp_path))
    message = str(caught.value)
    assert f"{tmp_path}/VOCdevkit/VOC2007 or {tmp_path}/voc/VOCdevkit/VOC2007" in message
    assert "VOCtest_06-Nov-2007.tar" in message and "LICLI_DATA_DIR" in message and "never downloads" in message


def test_a_trainval_only_copy_loads_and_refuses_the_test_split(tmp_path, monkeypatch):
    monkeypatch.setenv("LICLI_CACHE_DIR", str(tmp_path / "cache"))
    make_voc(tmp_path, sets=("trainval",))
    data = read_voc2007(tmp_path)
    assert split_boxes(data, "train").tolist() == EXPECTED["train"]["boxes"] and len(data.test) == 0
    with pytest.raises(LicliError, match=r"test images \(split=test\) are not in .*test\.txt is missing.*"
                                         r"extract VOCtest_06-Nov-2007\.tar .*or pass split=train"):
        split_boxes(data, "test")
    (tmp_path / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "trainval.txt").unlink()
    with pytest.raises(LicliError, match="no VOC 2007 image set"):
        read_voc2007(tmp_path)


def _edit(path, old, new):
    path.write_text(path.read_text().replace(old, new))


BREAKS = {
    "xml": lambda voc: (voc / "Annotations" / "000003.xml").write_text("<annotation><object><name>dog</name>"),
    "jpeg": lambda voc: (voc / "JPEGImages" / "000004.jpg").unlink(),
    "annotation": lambda voc: (voc / "Annotations" / "000001.xml").unlink(),
    "class": lambda voc: _edit(voc / "Annotations" / "000001.xml", "<name>dog</name>", "<name>wolf</name>"),
    "bad jpeg": lambda voc: (voc / "JPEGImages" / "000001.jpg").write_bytes(b"not a jpeg"),
    "bndbox": lambda voc: _edit(voc / "Annotations" / "000001.xml", "<xmin>11</xmin>", "<xmin>eleven</xmin>"),
}


@pytest.mark.parametrize("what,message", [
    ("xml", r"cannot read the VOC 2007 annotation .*000003\.xml \(ParseError"),
    ("jpeg", r"VOC 2007 file .*000004\.jpg is missing or unreadable \(No such file .*; listed in .*test\.txt\)"),
    ("annotation", r"VOC 2007 file .*000001\.xml is missing"),
    ("class", r"000001\.xml names an unknown class 'wolf'"),
    ("bad jpeg", r"cannot decode the VOC 2007 image .*000001\.jpg"),
    ("bndbox", r"cannot read the VOC 2007 annotation .*000001\.xml \(ValueError"),
])
def test_broken_files_are_named(voc_root, what, message):
    BREAKS[what](voc_root / "VOCdevkit" / "VOC2007")
    with pytest.raises(LicliError, match=message):
        read_voc2007(voc_root)

