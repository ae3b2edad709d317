"""The package version (the bottom of the import layers: ``licli/__init__.py`` re-exports it)."""

__version__ = "0.1.0"
