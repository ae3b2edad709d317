"""``licli attack --shard i/k`` then ``licli merge-shards`` equals the unsharded attack (samples and summary)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.evaluations.robustness import Shard
from licli.models import ModelSpec, build_model

ATTACK = ["--attacks", "fgsm,pgd,pgd-t", "--steps", "2", "--n", "20", "--batch-size", "6", "--device", "cpu"]


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec("mlp", 10, 1, (28, 28), {"hidden": 16})
    path = tmp_path / "mlp.safetensors"
    save_checkpoint(path, build_model(spec), spec, extra={"dataset": "mnist-mini"})
    return path


def _attack(runner, checkpoint, run_dir, *extra):
    result = runner.invoke(app, ["attack", "-c", str(checkpoint), *ATTACK, "--run-dir", str(run_dir), *extra])
    assert result.exit_code == 0, result.output
    return run_dir


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["model", "eps", "attack", "index"], ignore_index=True)


def test_two_shards_merged_equal_the_unsharded_attack(runner, checkpoint, tmp_path):
    whole = _attack(runner, checkpoint, tmp_path / "whole")
    shards = [_attack(runner, checkpoint, tmp_path / f"shard{i}", "--shard", f"{i}/2") for i in (1, 0)]
    halves = [pd.read_csv(s / "samples.csv") for s in shards]
    assert sorted(len(h) for h in halves) == [3 * 8, 3 * 12]  # batches 0, 2 (12 images) and 1, 3 (8 images)
    assert set(halves[0]["index"]).isdisjoint(halves[1]["index"])
    assert all(";shard=" in s for s in pd.read_csv(shards[0] / "summary.csv")["setting"])  # partial: marked
    result = runner.invoke(app, ["merge-shards", *map(str, shards), "--run-dir", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = tmp_path / "merged"
    pd.testing.assert_frame_equal(_sorted(pd.read_csv(merged / "samples.csv")),
                                  _sorted(pd.read_csv(whole / "samples.csv")))
    pd.testing.assert_frame_equal(pd.read_csv(merged / "summary.csv"), pd.read_csv(whole / "summary.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(merged / "attacks.csv"), pd.read_csv(whole / "attacks.csv"),
                                  check_exact=False, rtol=1e-6)
    assert json.loads((merged / "manifest.json").read_text())["status"] == "ok"


def test_merge_refuses_an_incomplete_set_of_shards(runner, checkpoint, tmp_path):
    shard = _attack(runner, checkpoint, tmp_path / "shard0", "--shard", "0/3")
    result = runner.invoke(app, ["merge-shards", str(shard), "--run-dir", str(tmp_path / "merged")])
    assert result.exit_code == 2 and "not 0/k … k-1/k once each" in result.output
    assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize("text", ["2/2", "-1/2", "a/b", "1"])
def test_bad_shards_are_refused(text):
    from licli.errors import LicliError

    with pytest.raises(LicliError, match="^shard ") as error:
        Shard.parse(text)
    assert error.value.field == "shard"  # the CLI names it --shard


def test_the_seed_of_a_batch_is_its_global_position(monkeypatch):
    """Batch p of the selection uses seed + p, whatever the shard (the unsharded run's seeds)."""
    import licli.evaluations.robustness as robustness
    from licli.evaluations.robustness import AttackSettings, attack_samples

    seen = []

    def fake(name, view, x, y, *, seed, **kwargs):
        seen.append(seed)
        return type("Outcome", (), {
            "x_adv": x, "target": None, "norms": torch.zeros(len(x))})()

    monkeypatch.setattr(robustness, "run_attack", fake)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    images = torch.zeros(10, 1, 2, 2, dtype=torch.uint8)
    settings = AttackSettings(attacks=("fgsm",), batch_size=4, seed=7)
    attack_samples(model, images, torch.zeros(10, dtype=torch.long), torch.arange(10), settings, shard=Shard(1, 2))
    assert seen == [7 + 4]
    seen.clear()
    attack_samples(model, images, torch.zeros(10, dtype=torch.long), torch.arange(10), settings)
    assert seen == [7, 11, 15]
