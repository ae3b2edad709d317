"""A tiny PASCAL VOC 2007 folder (JPEGs written with Pillow, VOC-style XML) and what licli must read from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# id → (width, height, [(class, 1-based inclusive bndbox, truncated, difficult)], image set)
IMAGES = {
    "000001": (100, 80, [("dog", (11, 21, 60, 70), 0, 0)], "test"),
    "000002": (64, 48, [("cat", (5, 5, 30, 40), 0, 0), ("person", (20, 10, 60, 45), 0, 1)], "test"),
    "000003": (50, 120, [("aeroplane", (1, 1, 50, 120), 1, 1)], "test"),
    "000004": (224, 224, [("tvmonitor", (100, 50, 180, 200), 0, 0)], "test"),
    "000005": (30, 40, [("bird", (4, 5, 20, 33), 0, 0)], "trainval"),
}

# Hand-computed at 224×224: edges (xmin − 1, xmax) scaled by 224/width and rounded, minus 1 at the end.
# 000001: x 10·2.24 = 22.4 → 22, 60·2.24 = 134.4 → 134 − 1; y 20·2.8 = 56, 70·2.8 = 196 → 196 − 1
# 000003: the whole image; 000004: no scaling, only 1-based → 0-based
# 000005: x 3·7.467 = 22.4 → 22, 20·7.467 = 149.3 → 149 − 1;
#         y 4·5.6 = 22.4 → 22, 33·5.6 = 184.8 → 185 − 1
EXPECTED = {
    "test": {"ids": ("000001", "000003", "000004"), "labels": [11, 0, 19],
             "boxes": [[22, 56, 133, 195], [0, 0, 223, 223], [99, 49, 179, 199]]},
    "train": {"ids": ("000005",), "labels": [2], "boxes": [[22, 22, 148, 184]]},
}


def annotation_xml(image_id: str, width: int, height: int, objects) -> str:
    parts = [f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>",
             f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"]
    for name, (xmin, ymin, xmax, ymax), truncated, difficult in objects:
        parts.append(f"<object><name>{name}</name><pose>Unspecified</pose><truncated>{truncated}</truncated>"
                     f"<difficult>{difficult}</difficult><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
                     f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>")
    return "\n".join(parts + ["</annotation>"])


def picture(image_id: str, width: int, height: int, objects) -> np.ndarray:
    """Seeded dark noise with each object's box filled bright (so a model has something to look at)."""
    g = np.random.default_rng(int(image_id))
    pixels = g.integers(0, 60, (height, width, 3), dtype=np.uint8)
    for _, (xmin, ymin, xmax, ymax), _, _ in objects:
        pixels[ymin - 1:ymax, xmin - 1:xmax] = g.integers(180, 256, 3, dtype=np.uint8)
    return pixels


def make_voc(root: Path, sets: tuple[str, ...] = ("test", "trainval")) -> Path:
    """Write the VOC folder under ``root`` (``root/VOCdevkit/VOC2007``) with the image-set files ``sets``."""
    voc = root / "VOCdevkit" / "VOC2007"
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (voc / folder).mkdir(parents=True, exist_ok=True)
    for image_id, (width, height, objects, _) in IMAGES.items():
        (voc / "Annotations" / f"{image_id}.xml").write_text(annotation_xml(image_id, width, height, objects))
        Image.fromarray(picture(image_id, width, height, objects)).save(voc / "JPEGImages" / f"{image_id}.jpg",
                                                                        quality=95)
    for image_set in sets:
        ids = [image_id for image_id, entry in IMAGES.items() if entry[3] == image_set]
        (voc / "ImageSets" / "Main" / f"{image_set}.txt").write_text("".join(f"{i}\n" for i in ids))
    return voc
