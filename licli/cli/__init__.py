"""The ``licli`` command line. Importing this package registers every command module."""

from licli.cli import (evaluate_accuracy, evaluate_activations, evaluate_fisher_rao, evaluate_gsnr,  # noqa: F401
                       evaluate_hessian, evaluate_prune, train)
from licli.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
