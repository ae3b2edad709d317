"""Foreign models: user definitions, torchvision names, safe weights, key fixing, input conventions."""

import argparse
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from licli.checkpoints import load_checkpoint
from licli.models.weights import compact_keys
from licli.errors import LicliError
from licli.models.foreign import ForeignSpec, build_foreign, import_definition
from licli.sources import ModelSource, import_model, load_model, load_models

TINY = Path(__file__).parent / "assets" / "tiny_net.py"
CPU = torch.device("cpu")


def tiny_spec(name: str = "TinyNet", **kw) -> ForeignSpec:
    return ForeignSpec(kind="definition", target=f"{TINY.resolve()}:{name}", input_shape=(1, 28, 28), **kw)


def reference_net(**kw) -> torch.nn.Module:
    return import_definition(TINY, "TinyNet")(**kw).eval()


def images(n: int = 6) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))


SAVERS = {
    "plain.pt": lambda sd, path: torch.save(sd, path),
    "nested-state_dict.pt": lambda sd, path: torch.save({"state_dict": sd, "epoch": 3}, path),
    "nested-model.pth": lambda sd, path: torch.save({"model": sd, "optimizer": {"lr": 0.1}}, path),
    "dataparallel.pt": lambda sd, path: torch.save({f"module.{k}": v for k, v in sd.items()}, path),
    "compiled.safetensors": lambda sd, path: save_file({f"_orig_mod.{k}": v for k, v in sd.items()}, str(path)),
}


@pytest.mark.parametrize("name", SAVERS)
def test_weights_load_exactly_whatever_the_wrapping(tmp_path, name):
    net = reference_net()
    SAVERS[name](net.state_dict(), tmp_path / name)
    loaded = load_model(ModelSource(foreign=tiny_spec(), weights=str(tmp_path / name)), CPU)
    x = images()
    assert torch.equal(loaded.model(x), net(x))
    assert loaded.files == {"definition": str(TINY.resolve()), "weights": str(tmp_path / name)}


def test_rename_maps_key_prefixes(tmp_path):
    net = reference_net()
    torch.save({k.replace("fc.", "head."): v for k, v in net.state_dict().items()}, tmp_path / "w.pt")
    source = ModelSource(foreign=tiny_spec(), weights=str(tmp_path / "w.pt"), renames=(("head", "fc"),))
    assert torch.equal(load_model(source, CPU).model(images()), net(images()))
    with pytest.raises(LicliError, match="renames nope=fc matches no key"):
        load_model(ModelSource(foreign=tiny_spec(), weights=str(tmp_path / "w.pt"), renames=(("nope", "fc"),)), CPU)


def test_pickled_objects_are_refused_not_unpickled(tmp_path):
    torch.save({"state_dict": reference_net().state_dict(), "args": argparse.Namespace(lr=0.1)}, tmp_path / "w.pt")
    with pytest.raises(LicliError, match=r"needs unpickling arbitrary Python objects.*argparse\.Namespace"):
        load_model(ModelSource(foreign=tiny_spec(), weights=str(tmp_path / "w.pt")), CPU)


def test_mismatched_architecture_names_every_key(tmp_path):
    torch.save(reference_net(hidden=16).state_dict(), tmp_path / "w.pt")
    with pytest.raises(LicliError) as error:
        load_model(ModelSource(foreign=tiny_spec(args={"hidden": 8}), weights=str(tmp_path / "w.pt")), CPU)
    message = str(error.value)
    assert ("mis-shaped (3): body.1.weight (16, 784) vs model (8, 784), body.1.bias (16,) vs model (8,), "
            "fc.weight (10, 16) vs model (10, 8);") in message


def test_compact_keys_names_every_key():
    assert compact_keys(["a.w", "a.b", "c", "d.e.w"]) == "a.{w,b}, c, d.e.w"


def test_probabilities_are_detected():
    with pytest.raises(LicliError, match="returns probabilities"):
        load_model(ModelSource(foreign=tiny_spec("SoftmaxNet")), CPU)


def test_input_normalisation_keeps_pixel_units(tmp_path):
    net = reference_net()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    spec = tiny_spec(input_mean=(0.1307,), input_std=(0.3081,))
    loaded = load_model(ModelSource(foreign=spec, weights=str(tmp_path / "w.pt")), CPU)
    x = images()
    assert torch.allclose(loaded.model(x), net((x - 0.1307) / 0.3081), atol=1e-6)


def test_input_size_is_checked():
    model = build_foreign(tiny_spec())
    with pytest.raises(LicliError, match="takes 1×28×28 inputs but got 3×32×32"):
        model(torch.rand(2, 3, 32, 32))


def test_factory_function_and_model_args():
    model = build_foreign(tiny_spec("tiny_net", args={"hidden": 5}))
    assert model.net.fc.in_features == 5


def test_unknown_class_lists_the_file_contents():
    with pytest.raises(LicliError, match="defines no class or function 'Nope'.*SoftmaxNet, TinyNet, tiny_net"):
        build_foreign(tiny_spec("Nope"))


def test_torchvision_architecture_builds_like_torchvision():
    spec = ForeignSpec(kind="torchvision", target="resnet18", num_classes=10)
    loaded = load_model(ModelSource(foreign=spec), CPU)
    reference = torchvision.models.resnet18(num_classes=10)
    assert loaded.model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert {k: v.shape for k, v in loaded.model.net.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}


def test_import_round_trip_and_pinned_definition(tmp_path):
    definition = tmp_path / "net.py"
    definition.write_text(TINY.read_text())
    net = reference_net()
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, tmp_path / "w.pt")
    spec = ForeignSpec(kind="definition", target=f"{definition}:TinyNet", input_shape=(1, 28, 28),
                       input_mean=(0.5,), input_std=(0.25,))
    source = ModelSource(foreign=spec, weights=str(tmp_path / "w.pt"))
    checkpoint, direct = import_model(source, tmp_path / "m.safetensors", dataset="mnist-mini")
    imported, = load_models([ModelSource(checkpoint=str(checkpoint.weights), trust_definition=True)], CPU)
    for key, value in net.state_dict().items():
        assert torch.equal(imported.model.state_dict()[f"net.{key}"], value)
    x = images()
    assert torch.equal(imported.model(x), direct.model(x))
    assert imported.dataset == "mnist-mini"
    assert set(imported.files) == {"weights", "metadata", "definition"}
    copy = tmp_path / "m.def.py"
    assert imported.files["definition"] == str(copy) and copy.read_bytes() == definition.read_bytes()
    definition.unlink()  # the checkpoint no longer needs the original: it keeps its own copy
    assert torch.equal(load_checkpoint(checkpoint.weights, trust_definition=True)[0](x), direct.model(x))
    with pytest.raises(LicliError, match="runs the Python code in .*m.def.py; if you trust that file, pass trust_definition=True"):
        load_checkpoint(checkpoint.weights)
    copy.write_text(TINY.read_text() + "\n# edited\n")
    with pytest.raises(LicliError, match="changed since the checkpoint was imported"):
        load_checkpoint(checkpoint.weights, trust_definition=True)


def test_torchvision_weights_and_normalisation_match_torchvision(tmp_path):
    reference = torchvision.models.resnet18(num_classes=10).eval()
    save_file(reference.state_dict(), str(tmp_path / "r18.safetensors"))
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    spec = ForeignSpec(kind="torchvision", target="resnet18", num_classes=10, input_mean=mean, input_std=std)
    loaded = load_model(ModelSource(foreign=spec, weights=str(tmp_path / "r18.safetensors")), CPU)
    x = torch.rand(2, 3, 32, 32)
    normalised = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(loaded.model(x), reference(normalised), atol=1e-5)
