"""Models by name with their weights from local files only: torchvision's hub cache, timm, RobustBench's model
folder. Every test builds the files it reads; a download attempt fails the test."""

import importlib.util

import pytest
import torch
from safetensors.torch import save_file

from licli.errors import LicliError
from licli.models.foreign import ForeignSpec
from licli.sources import ModelSource, load_model

CPU = torch.device("cpu")


def _load(kind: str, target: str, shape=(3, 32, 32), weights_file=None, **args):
    spec = ForeignSpec(kind=kind, target=target, args=args, input_shape=shape)
    return load_model(ModelSource(foreign=spec, weights=weights_file), CPU)


def _same_outputs(loaded, reference, shape) -> None:
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded.model(x), reference.eval()(x))


def test_torchvision_pretrained_weights_come_from_the_local_hub_cache(tmp_path, monkeypatch):
    import torchvision.models as tv

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(LicliError, match="not in the local torch hub cache"):
        _load("torchvision", "squeezenet1_1", (3, 64, 64), weights="DEFAULT")
    torch.manual_seed(3)
    reference = tv.squeezenet1_1()
    cached = tmp_path / "hub" / "checkpoints" / tv.SqueezeNet1_1_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    loaded = _load("torchvision", "squeezenet1_1", (3, 64, 64), weights="DEFAULT")
    _same_outputs(loaded, reference, (3, 64, 64))
    assert loaded.files == {"weights": str(cached)}  # hashed into the manifest


def test_timm_models_with_local_weights_only(tmp_path, monkeypatch):
    timm = pytest.importorskip("timm")
    import huggingface_hub

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    torch.manual_seed(4)
    reference = timm.create_model("test_efficientnet", num_classes=10)
    save_file(reference.state_dict(), tmp_path / "r.safetensors")
    _same_outputs(_load("timm", "test_efficientnet", weights_file=str(tmp_path / "r.safetensors"), num_classes=10),
                  reference, (3, 32, 32))
    imagenet = timm.create_model("test_efficientnet")  # timm keeps a pretrained classifier only at its own 1000 classes
    save_file(imagenet.state_dict(), tmp_path / "in1k.safetensors")
    pretrained = _load("timm", "test_efficientnet", pretrained=True,
                       pretrained_cfg_overlay={"file": str(tmp_path / "in1k.safetensors")})  # timm's local-file route
    _same_outputs(pretrained, imagenet, (3, 32, 32))
    monkeypatch.setattr(huggingface_hub.file_download, "_download_to_tmp_and_move",
                        lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(LicliError, match="not in the local cache"):
        _load("timm", "test_efficientnet", pretrained=True)
    with pytest.raises(LicliError, match="timm has no model"):
        _load("timm", "no_such_net")


needs_robustbench = pytest.mark.skipif(importlib.util.find_spec("robustbench") is None,
                                       reason="robustbench is not installed (docs/foreign-models.md)")


@needs_robustbench
def test_robustbench_model_from_the_local_model_folder(tmp_path, monkeypatch):
    from licli.models.foreign import _robustbench_utils

    utils = _robustbench_utils()
    monkeypatch.setattr(utils, "download_gdrive_new", lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(LicliError, match="not in the local model folder"):
        _load("robustbench", "Ding2020MMA", model_dir=str(tmp_path))
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    torch.manual_seed(5)
    reference = utils.all_models[BenchmarkDataset.cifar_10][ThreatModel.Linf]["Ding2020MMA"]["model"]()
    path = tmp_path / "cifar10" / "Linf" / "Ding2020MMA.pt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, path)  # as released
    loaded = _load("robustbench", "Ding2020MMA", model_dir=str(tmp_path))
    _same_outputs(loaded, reference, (3, 32, 32))
    assert loaded.files == {"weights": str(path)}
    with pytest.raises(LicliError, match="unknown robustbench cifar10 Linf model"):
        _load("robustbench", "NoSuchModel2099", model_dir=str(tmp_path))
