"""Reporting owns the terminal and the files: rich tables, CSV/JSON written atomically, plots."""
