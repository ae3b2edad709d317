"""Build licli/data/assets/mnist_mini.npz: a stratified, seeded sample of the original MNIST files.

    python scripts/build_mnist_mini.py --mnist-root ../shared/data [--seed 0]

Takes 1,000 images per class from the 60,000 training images and 200 per class from the 10,000 test
images, chosen by a seeded permutation, kept in their original order. The output is byte-identical
for the same inputs and seed (tests check the sample against the IDX files when they are present).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS = 1000
TEST_PER_CLASS = 200


def read_idx(path: Path) -> np.ndarray:
    data = path.read_bytes()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def stratified_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(10)]
    return np.sort(np.concatenate(chosen))


def build(mnist_root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    raw = mnist_root / "MNIST" / "raw"
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix, per_class in (("train", "train", TRAIN_PER_CLASS), ("test", "t10k", TEST_PER_CLASS)):
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
        index = stratified_indices(labels, per_class, rng)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[index])
        arrays[f"{split}_labels"] = np.ascontiguousarray(labels[index])
        arrays[f"{split}_source_index"] = index.astype(np.int32)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-root", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "licli" / "data" / "assets" / "mnist_mini.npz")
    args = parser.parse_args()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **build(args.mnist_root, args.seed))
    args.out.write_bytes(buffer.getvalue())
    print(f"wrote {args.out} ({len(buffer.getvalue()) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
