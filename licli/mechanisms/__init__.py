"""Mechanism and regularizer registries.

``MECHANISMS`` maps a name to a factory ``(**params) -> nn.Module`` inserted into a model slot.
``REGULARIZERS`` maps a name to a factory ``(**params) -> Objective`` used by training.
"""

from __future__ import annotations

MECHANISMS: dict = {}
REGULARIZERS: dict = {}
