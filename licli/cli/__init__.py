"""The ``licli`` command line. Command modules are imported when their command is used (``licli.cli.lazy``)."""

from licli.cli.app import app
from licli.runtime import tune_cpu_allocator


def main() -> None:
    tune_cpu_allocator()
    app()


__all__ = ["app", "main"]
