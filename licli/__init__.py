"""licli: does a lateral-inhibition mechanism really make a network more robust?

The Python API (docs/python-api.md) is importable from here: ``licli.attack(model, images, labels)``,
``licli.load_model(path)``, ``licli.train(...)``, the evaluations and ``licli.saliency_maps``. They live in
``licli.api`` and are imported on first use, so ``import licli`` (and the CLI's start-up) stays cheap.
"""

from licli.version import __version__

API = ("Trained", "accuracy", "activations", "adversarial_examples", "as_dataset", "attack", "dataset", "dataset_from_torch",
       "fisher_rao", "gsnr", "hessian_trace", "load_model", "masking_checks", "prune", "saliency_maps", "train")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from licli import api  # deferred: `import licli` and the CLI's start-up stay without torch

        return getattr(api, name)
    raise AttributeError(f"module 'licli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
