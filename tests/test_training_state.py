"""The resumable training state: its schedule, the background writer, torn-file detection, device RNG."""

from __future__ import annotations

import json
import time

import pytest
import torch
import torch.nn.functional as F

from licli import runtime
from licli.training import loop as training
from licli.training.config import TrainConfig
from licli.errors import LicliError
from licli.models import build_model
from licli.training.loop import STATE_META, STATE_WEIGHTS, StateSchedule, fit, model_spec_for, random_crop_flip, train
from tests.conftest import tiny_dataset

CONFIG = TrainConfig(model="mlp", dataset="mnist-mini", epochs=4, batch_size=16, lr=0.05,
                     model_options={"hidden": 16})
CPU = torch.device("cpu")


def fresh_model(config: TrainConfig, data):
    torch.manual_seed(config.seed)
    return build_model(model_spec_for(config, data))


def comparable(history):
    return history.drop(columns=["seconds", "images_per_second"])


class InterruptAt:
    """An observer that raises KeyboardInterrupt when the history row of ``epoch`` is being built."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.seen = epoch, 0

    def epoch_statistics(self) -> dict:
        self.seen += 1
        if self.seen == self.epoch:
            raise KeyboardInterrupt
        return {}


@pytest.mark.parametrize("text, expected", [("1", StateSchedule(1)), ("5", StateSchedule(5)),
                                            ("10min", StateSchedule(None, 10.0)), ("2.5m", StateSchedule(None, 2.5)),
                                            ("final", StateSchedule(None, None))])
def test_state_schedule_parses_epochs_minutes_and_final(text, expected):
    assert StateSchedule.parse(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "ten", "0min"])
def test_bad_state_schedules_are_one_line_errors(text):
    with pytest.raises(LicliError, match="--state-every"):
        StateSchedule.parse(text)


def test_states_are_saved_on_the_schedule_and_after_the_last_epoch(monkeypatch, tmp_path):
    saved: list[int] = []
    monkeypatch.setattr(training, "write_state", lambda folder, tensors, meta: saved.append(meta["epoch"]))
    data = tiny_dataset()
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": 5})
    train(fresh_model(config, data), data, config, device=CPU, state_dir=tmp_path, schedule=StateSchedule(2))
    assert saved == [2, 4, 5]
    saved.clear()
    train(fresh_model(config, data), data, config, device=CPU, state_dir=tmp_path, schedule=StateSchedule(None))
    assert saved == [5]
    saved.clear()
    clock = iter(range(0, 10_000, 50))  # each call to the clock is 50 s later: 1-minute saves every other epoch
    monkeypatch.setattr(training.time, "monotonic", lambda: next(clock))
    train(fresh_model(config, data), data, config, device=CPU, state_dir=tmp_path,
          schedule=StateSchedule(None, 1.0))
    assert saved == [2, 4, 5]


def test_resume_after_an_interruption_between_sparse_saves_is_bit_exact(monkeypatch, tmp_path):
    """States every 2 epochs, written slowly in the background while training goes on; a run killed in
    epoch 3 resumes from epoch 2 and ends with the weights and metrics of an uninterrupted run."""
    data = tiny_dataset()
    full_model = fresh_model(CONFIG, data)
    full = train(full_model, data, CONFIG, device=CPU)

    slow_write = training.write_state

    def slow(folder, tensors, meta):
        time.sleep(0.3)
        slow_write(folder, tensors, meta)

    monkeypatch.setattr(training, "write_state", slow)
    with pytest.raises(KeyboardInterrupt):
        train(fresh_model(CONFIG, data), data, CONFIG, device=CPU, state_dir=tmp_path, schedule=StateSchedule(2),
              observers=[InterruptAt(3)])
    assert json.loads((tmp_path / STATE_META).read_text())["epoch"] == 2
    torch.manual_seed(1234)  # disturb the global RNG: resume must restore it
    resumed_model = fresh_model(CONFIG, data)
    resumed = train(resumed_model, data, CONFIG, device=CPU, state_dir=tmp_path, resume=True,
                    schedule=StateSchedule(2))
    assert comparable(resumed).equals(comparable(full))
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_failed_background_write_stops_training_with_one_line(monkeypatch, tmp_path):
    def broken(folder, tensors, meta):
        raise OSError("No space left on device")

    monkeypatch.setattr(training, "write_state", broken)
    data = tiny_dataset()
    with pytest.raises(LicliError, match="could not write the training state .*No space left"):
        train(fresh_model(CONFIG, data), data, CONFIG, device=CPU, state_dir=tmp_path)


def test_a_torn_state_is_refused(tmp_path):
    data = tiny_dataset()
    train(fresh_model(CONFIG, data), data, CONFIG, device=CPU, state_dir=tmp_path, stop_after_epoch=2)
    meta = json.loads((tmp_path / STATE_META).read_text())
    (tmp_path / STATE_META).write_text(json.dumps({**meta, "epoch": 1}))  # weights of epoch 2, metadata of 1
    with pytest.raises(LicliError, match="torn"):
        train(fresh_model(CONFIG, data), data, CONFIG, device=CPU, state_dir=tmp_path, resume=True)
    assert (tmp_path / STATE_WEIGHTS).exists()


def test_device_rng_of_another_device_kind_warns_and_is_not_restored():
    with pytest.warns(UserWarning, match="saved on cuda:0 and resumes on cpu"):
        assert runtime.restore_cuda_rng_state(CPU, torch.zeros(16, dtype=torch.uint8), "cuda:0") is False
    assert runtime.restore_cuda_rng_state(CPU, None, "cpu") is False


def _reference_crop_flip(x, generator, padding=4):
    """The augmentation as first written (three pageable copies): the random stream must not change."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


def test_augmentation_keeps_its_random_stream_and_equals_a_per_image_crop_and_flip():
    x = torch.rand(12, 3, 8, 8)
    ours = random_crop_flip()(x, torch.Generator().manual_seed(5))
    theirs = _reference_crop_flip(x, torch.Generator().manual_seed(5))
    assert torch.equal(ours, theirs)


def test_bf16_training_runs_autocast_and_keeps_float32_weights():
    data = tiny_dataset()
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": 2, "precision": "bf16"})
    model, _, history = fit(config, data, device=CPU)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    reference = fit(TrainConfig(**{**CONFIG.__dict__, "epochs": 2}), data, device=CPU)[2]
    # bf16 forwards change the numbers, not the outcome on this learnable toy set
    assert not comparable(history).equals(comparable(reference))
    assert history["train_loss"].iloc[-1] == pytest.approx(reference["train_loss"].iloc[-1], rel=0.1)


def test_unknown_precision_is_a_one_line_error():
    with pytest.raises(LicliError, match="unknown precision 'fp16'"):
        TrainConfig(precision="fp16")


def test_train_command_records_precision_determinism_and_schedule_and_restores_the_flags(runner, tmp_path):
    from licli.cli import app

    result = runner.invoke(app, ["train", "--model", "mlp", "--model-options", '{"hidden": 8}', "--epochs", "1",
                                 "--precision", "bf16", "--deterministic", "--state-every", "final", "--device", "cpu",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "train").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["numerics"]["precision"] == "bf16" and manifest["numerics"]["autocast"] == "bfloat16"
    assert manifest["numerics"]["deterministic_algorithms"] is True
    assert manifest["run_options"]["deterministic"] is True and manifest["config"]["precision"] == "bf16"
    assert manifest["state_schedule"] == {"every_epochs": None, "every_minutes": None}
    assert not (folder / STATE_WEIGHTS).exists()  # discarded once the checkpoint is written
    assert not torch.are_deterministic_algorithms_enabled()
