"""CIFAR-10 load time: cold (decode the archive, write the cache) against warm (read the cached arrays).

    OMP_NUM_THREADS=1 LICLI_DATA_DIR=../shared/data python benchmarks/cifar10_load.py

Uses a fresh temporary cache folder, so the user's cache is neither used nor touched.
"""

from __future__ import annotations

import os
import tempfile
import time

from licli.data import load_dataset
from licli.runtime import tune_cpu_allocator


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="licli-bench-cache-") as cache:
        os.environ["LICLI_CACHE_DIR"] = cache
        print(f"{'dataset':<14}{'cold s':>9}{'warm s':>9}{'cold/warm':>11}{'images':>9}")
        for name in ("cifar10-mini", "cifar10"):
            times = []
            for _ in range(2):
                start = time.perf_counter()
                data = load_dataset(name)
                times.append(time.perf_counter() - start)
            images = len(data.train) + len(data.test)
            print(f"{name:<14}{times[0]:>9.2f}{times[1]:>9.2f}{times[0] / times[1]:>11.1f}{images:>9}")


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
