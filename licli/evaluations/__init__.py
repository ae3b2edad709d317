"""Evaluations: ``run(model, data, *, …) -> pandas.DataFrame`` in long, tidy form. They never print.

``TRACKERS`` maps a quantity recorded during training (``licli train --track NAME``) to an observer
class ``(data, *, every, device)`` with ``after_optimizer_step(StepContext)`` and ``frame()``; its figure is
``licli.reporting.plots.TRACK_PLOTS[NAME]``.
"""

from licli.evaluations.gsnr import GSNRTracker

TRACKERS = {"gsnr": GSNRTracker}
