"""Evaluations: ``run(model, data, *, …) -> pandas.DataFrame`` in long, tidy form. They never print.

``TRACKERS`` maps a quantity recorded during training (``licli train --track NAME``) to a callback
class ``(data, *, every, device)`` with ``__call__(StepContext)``, ``frame()`` and ``plot(path, title=)``.
"""

from licli.evaluations.gsnr import GSNRTracker

TRACKERS = {"gsnr": GSNRTracker}
