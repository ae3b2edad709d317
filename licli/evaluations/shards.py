"""Merge the runs of ``licli attack --shard i/k``: their per-image rows together are the unsharded run's.

Each shard attacked the global batches ``b ≡ i (mod k)`` with the seed of the unsharded run (``seed + p``
for the batch starting at image p), so the union of the shards' samples is exactly the unsharded samples,
and ``summarise`` of it (robust accuracy, worst case per image) equals the unsharded summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from licli.errors import LicliError
from licli.evaluations.robustness import summarise


def check_shards(manifests: Sequence[Mapping[str, Any]], where: Sequence[str]) -> int:
    """The shard count k, after checking the runs are the k shards 0…k-1 of one attack configuration."""
    shards = []
    for manifest, path in zip(manifests, where):
        shard = (manifest.get("attack") or {}).get("shard")
        if manifest.get("command") != "attack" or manifest.get("status") != "ok" or not shard:
            raise LicliError(f"{path} is not a finished `licli attack --shard i/k` run",
                             "pass the run folders of the finished shards")
        shards.append(tuple(shard))
    counts = {k for _, k in shards}
    if len(counts) != 1 or sorted(i for i, _ in shards) != list(range(next(iter(counts)))):
        raise LicliError(f"the runs are shards {', '.join(f'{i}/{k}' for i, k in shards)}, not 0/k … k-1/k once each",
                         "pass every shard of one sharded attack exactly once")

    def unsharded(config: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in config.items() if key != "shard"}

    if any(unsharded(m.get("config") or {}) != unsharded(manifests[0].get("config") or {}) for m in manifests):
        raise LicliError("the shards were run with different attack settings or models",
                         "merge only the shards of one `licli attack` command")
    return next(iter(counts))


def merge_samples(samples: Sequence[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(merged per-image rows, their summary) of the shards' ``samples.csv`` frames, shard 0 first."""
    merged = pd.concat(samples, ignore_index=True)
    return merged, summarise(merged)
