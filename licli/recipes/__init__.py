"""Reproduction recipes as data files (the papers' numbers and protocols)."""
