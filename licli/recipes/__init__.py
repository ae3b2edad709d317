"""Reproduction recipes (TOML data files) and the train configs they use; read by ``licli.reproduction``."""
