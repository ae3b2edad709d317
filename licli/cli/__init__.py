"""The ``licli`` command line. Importing this package registers every command module."""

from licli.cli import evaluate_accuracy, evaluate_oracle, train  # noqa: F401  (registers the commands)
from licli.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
