"""The ``licli`` command line. Importing this package registers every command module."""

from licli.cli import attack  # noqa: F401  (each import registers its commands)
from licli.cli import demo  # noqa: F401
from licli.cli import evaluate_accuracy  # noqa: F401
from licli.cli import evaluate_activations  # noqa: F401
from licli.cli import evaluate_fisher_rao  # noqa: F401
from licli.cli import evaluate_gsnr  # noqa: F401
from licli.cli import evaluate_hessian  # noqa: F401
from licli.cli import evaluate_oracle  # noqa: F401
from licli.cli import evaluate_prune  # noqa: F401
from licli.cli import evaluate_saliency  # noqa: F401
from licli.cli import import_model  # noqa: F401
from licli.cli import report  # noqa: F401
from licli.cli import reproduce  # noqa: F401
from licli.cli import train  # noqa: F401
from licli.cli import verdict  # noqa: F401
from licli.cli.app import app
from licli.runtime import tune_cpu_allocator


def main() -> None:
    tune_cpu_allocator()
    app()


__all__ = ["app", "main"]
