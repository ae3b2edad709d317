"""``voc2007``: the single-object images of the user's PASCAL VOC 2007 with their boxes (Gradient Mask Table 3).

- **Where.** ``<data root>/VOCdevkit/VOC2007/{Annotations,JPEGImages,ImageSets/Main}``, else the same
  under ``<data root>/voc/`` (the first that exists), as the official archives extract. licli never
  downloads VOC. The file lists come from torchvision's ``VOCDetection`` (``year="2007"``,
  ``download=False``) and each annotation is parsed with its ``parse_voc_xml``.
- **Splits.** ``test`` = VOC's ``test`` image set (``VOCtest_06-Nov-2007.tar``), ``train`` = ``trainval``
  (``VOCtrainval_06-Nov-2007.tar``). A copy with only one of them loads; asking for the other split is
  an error that says which archive is missing.
- **Single-object images.** Every ``<object>`` counts, ``difficult`` and ``truncated`` ones included;
  an image is kept only if it has exactly one, whatever that object's flags. Images stay in the order
  of the image-set file. The label is the object's index in ``VOC_CLASSES`` (the 20 classes,
  alphabetical: the standard order).
- **Resizing** (the released code's choice): every image to ``size``×``size`` (224 by default) with
  Pillow's bilinear filter (antialiased when shrinking, as torchvision's ``Resize``), aspect ratio
  *not* kept; the box is scaled by the same two factors (``scale_box``).
- **Boxes.** VOC's ``bndbox`` is 1-based and inclusive; licli's boxes are 0-based inclusive pixel
  boxes (area counts pixels, +1; the released code used no +1). Coordinates are clamped to the image.
- **Cache.** Decoding thousands of JPEGs is slow, so each split's decoded arrays are cached
  (``licli.data.cache``), keyed by the size, the image set, the folder and the size and modification
  time of the image-set file and of every annotation and JPEG it lists: a changed file or size is a new
  entry. The run manifest records the sha256 of the image-set files.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from licli.data.boxes import BoxedDataset
from licli.data.cache import cached_arrays
from licli.data.core import Split
from licli.errors import LicliError

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")
DEVKIT = Path("VOCdevkit") / "VOC2007"
ROOTS = (".", "voc")
"""Where VOCdevkit/VOC2007 is looked for, relative to the data root, in this order."""
IMAGE_SETS = {"train": "trainval", "test": "test"}
ARCHIVES = {"trainval": "VOCtrainval_06-Nov-2007.tar", "test": "VOCtest_06-Nov-2007.tar"}
IMAGE_SIZE = 224
CACHE_VERSION = 1
CACHE_ARRAYS = ("images", "labels", "boxes", "ids")


def scale_box(box: tuple[int, int, int, int], width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """A VOC ``bndbox`` (xmin, ymin, xmax, ymax; 1-based, inclusive) of a ``width``×``height`` image →
    the 0-based inclusive box of the same object on the image resized to ``size``×``size``.

    Pixel i covers [i, i + 1), so the box covers [xmin − 1, xmax) × [ymin − 1, ymax). Its edges are
    clamped to the image, multiplied by size/width (size/height) and rounded to the nearest pixel edge
    (halves up, in exact integer arithmetic); the box keeps at least one pixel.
    """
    def axis(low: int, high: int, extent: int) -> tuple[int, int]:
        low, high = min(max(low, 1), extent), min(max(high, 1), extent)
        start = (2 * (low - 1) * size + extent) // (2 * extent)
        stop = (2 * high * size + extent) // (2 * extent)
        start = min(start, size - 1)
        return start, max(stop, start + 1) - 1

    x0, x1 = axis(box[0], box[2], width)
    y0, y1 = axis(box[1], box[3], height)
    return x0, y0, x1, y1


@dataclass(frozen=True)
class Annotation:
    """What licli reads from one VOC annotation: the class names and 1-based boxes of all its objects."""

    names: tuple[str, ...]
    boxes: tuple[tuple[int, int, int, int], ...]


def read_annotation(path: Path) -> Annotation:
    """Parse one annotation XML with torchvision's ``VOCDetection.parse_voc_xml``."""
    from torchvision.datasets import VOCDetection

    try:
        tree = VOCDetection.parse_voc_xml(ET.parse(path).getroot())
        objects = tree["annotation"]["object"]
        names = tuple(str(item["name"]) for item in objects)
        boxes = tuple(tuple(int(round(float(item["bndbox"][k]))) for k in ("xmin", "ymin", "xmax", "ymax"))
                      for item in objects)
    except (ET.ParseError, OSError, KeyError, TypeError, ValueError) as error:
        raise LicliError(f"cannot read the VOC 2007 annotation {path} ({type(error).__name__}: {error})",
                         "the file is corrupt: restore it from the VOC archive") from None
    for box in boxes:
        if box[0] > box[2] or box[1] > box[3]:
            raise LicliError(f"VOC 2007 annotation {path} has an empty box {box}",
                             "the file is corrupt: restore it from the VOC archive")
    return Annotation(names, boxes)  # type: ignore[arg-type]


def _decode(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """One JPEG → (uint8 (3, size, size) resized with Pillow's bilinear filter, its original (width, height))."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise LicliError(f"cannot decode the VOC 2007 image {path} ({error})",
                         "the file is corrupt: restore it from the VOC archive") from None
    resized = np.asarray(rgb.resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)
    return np.ascontiguousarray(resized), rgb.size


def find_voc(root: Path) -> Path | None:
    """The folder that holds ``VOCdevkit/VOC2007`` (``root`` or ``root/voc``), or None."""
    return next((root / where for where in ROOTS if (root / where / DEVKIT).is_dir()), None)


def _image_set_file(base: Path, image_set: str) -> Path:
    return base / DEVKIT / "ImageSets" / "Main" / f"{image_set}.txt"


def _listing(base: Path, image_set: str) -> list[tuple[str, Path, Path]]:
    """(id, annotation, JPEG) of every image the image-set file lists, from ``VOCDetection``."""
    from torchvision.datasets import VOCDetection

    try:
        voc = VOCDetection(str(base), year="2007", image_set=image_set, download=False)
    except (OSError, RuntimeError, UnicodeDecodeError) as error:
        raise LicliError(f"cannot read the VOC 2007 image set {_image_set_file(base, image_set)} ({error})",
                         "restore it from the VOC archive") from None
    return [(Path(image).stem, Path(annotation), Path(image)) for image, annotation in zip(voc.images, voc.annotations)]


def _digest(split_file: Path, entries: list[tuple[str, Path, Path]], size: int, image_set: str) -> str:
    """The cache key: version, size, image set, folder, and the size and mtime of every listed file."""
    digest = hashlib.sha256(f"voc2007:{CACHE_VERSION}:{size}:{image_set}:{split_file.resolve()}\n".encode())
    for path in [split_file] + [path for _, annotation, image in entries for path in (annotation, image)]:
        try:
            stat = path.stat()
        except OSError as error:
            raise LicliError(f"VOC 2007 file {path} is missing or unreadable ({error.strerror}; "
                             f"listed in {split_file})",
                             "the copy is incomplete: extract the VOC archives again") from None
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _decode_split(entries: list[tuple[str, Path, Path]], size: int, where: Path) -> dict[str, np.ndarray]:
    """Parse every annotation, keep the single-object images, decode and resize them, scale their boxes."""
    images, labels, boxes, ids = [], [], [], []
    for image_id, annotation_path, image_path in entries:
        annotation = read_annotation(annotation_path)
        if len(annotation.names) != 1:
            continue
        name = annotation.names[0]
        if name not in VOC_CLASSES:
            raise LicliError(f"VOC 2007 annotation {annotation_path} names an unknown class {name!r}",
                             f"VOC classes are {', '.join(VOC_CLASSES)}; restore the file")
        pixels, (width, height) = _decode(image_path, size)
        images.append(pixels)
        labels.append(VOC_CLASSES.index(name))
        boxes.append(scale_box(annotation.boxes[0], width, height, size))
        ids.append(image_id)
    if not images:
        raise LicliError(f"no single-object image among the {len(entries)} images listed in {where}",
                         "check that Annotations/ holds the VOC 2007 annotations")
    return {"images": np.stack(images), "labels": np.array(labels, dtype=np.int64),
            "boxes": np.array(boxes, dtype=np.int64), "ids": np.array(ids, dtype=str)}


def _missing(root: Path) -> LicliError:
    places = " or ".join(str(root / where / DEVKIT) for where in ROOTS)
    return LicliError(
        f"PASCAL VOC 2007 not found: looked for {places} (Annotations, JPEGImages, ImageSets/Main)",
        f"extract {ARCHIVES['test']} (and {ARCHIVES['trainval']}) into {root} or {root / 'voc'}, or point "
        "data_dir=… or LICLI_DATA_DIR at the folder that holds VOCdevkit; licli never downloads VOC", field="data_dir")


def _absent(split: str, base: Path, split_file: Path) -> tuple[str, str]:
    image_set = IMAGE_SETS[split]
    other = next(s for s in IMAGE_SETS if s != split)
    return (f"the VOC 2007 {image_set} images (split={split}) are not in {base / DEVKIT} ({split_file} is missing)",
            f"extract {ARCHIVES[image_set]} into {base}, or pass split={other} ({IMAGE_SETS[other]})")


def read_voc2007(root: Path, size: int = IMAGE_SIZE) -> BoxedDataset:
    """The single-object images of VOC 2007 under ``root`` (see the module notes), resized to ``size``²."""
    base = find_voc(root)
    if base is None:
        raise _missing(root)
    splits, boxes, ids, unavailable, files = {}, {}, {}, {}, {}
    for split, image_set in IMAGE_SETS.items():
        split_file = _image_set_file(base, image_set)
        if not split_file.is_file():
            unavailable[split] = _absent(split, base, split_file)
            arrays = {"images": np.zeros((0, 3, size, size), np.uint8), "labels": np.zeros(0, np.int64),
                      "boxes": np.zeros((0, 4), np.int64), "ids": np.zeros(0, str)}
        else:
            entries = _listing(base, image_set)
            key = f"{image_set}-{size}-{_digest(split_file, entries, size, image_set)[:32]}"
            arrays = cached_arrays("voc2007", key, CACHE_ARRAYS, lambda: _decode_split(entries, size, split_file),
                                   mmap=True)
            files[f"voc2007/ImageSets/Main/{image_set}.txt"] = str(split_file)
        splits[split] = Split(torch.from_numpy(arrays["images"]), torch.from_numpy(np.asarray(arrays["labels"])))
        boxes[split] = torch.from_numpy(np.asarray(arrays["boxes"]))
        ids[split] = tuple(str(i) for i in arrays["ids"])
    if len(unavailable) == len(IMAGE_SETS):
        raise LicliError(f"no VOC 2007 image set in {base / DEVKIT / 'ImageSets' / 'Main'} "
                         f"(expected {', '.join(f'{s}.txt' for s in IMAGE_SETS.values())})",
                         f"extract {ARCHIVES['test']} and/or {ARCHIVES['trainval']} into {base}")
    details = {"source": str(base / DEVKIT), "image_sets": dict(IMAGE_SETS), "size": [size, size],
               "resize": "Pillow bilinear to size×size, aspect ratio not kept",
               "objects": "images with exactly one <object> (difficult and truncated ones counted)",
               "box": "VOC 1-based inclusive bndbox → 0-based inclusive pixels; edges scaled by size/width, "
                      "size/height and rounded to the nearest pixel edge",
               "images": {split: len(splits[split]) for split in IMAGE_SETS}}
    return BoxedDataset(name="voc2007", train=splits["train"], test=splits["test"], num_classes=len(VOC_CLASSES),
                        classes=VOC_CLASSES, files=files, train_boxes=boxes["train"], test_boxes=boxes["test"],
                        train_ids=ids["train"], test_ids=ids["test"], details=details, unavailable=unavailable)


def load_voc2007(root: Path, download: bool = False) -> BoxedDataset:
    """VOC 2007 single-object images at 224×224 (the released code's size); ``download`` has no effect."""
    return read_voc2007(root)
