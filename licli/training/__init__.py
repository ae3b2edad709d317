"""Training: ``config`` (``TrainConfig``, cheap to import), ``optimizers`` (``OPTIMIZERS``) and ``loop``
(``train``/``fit``: on-device batches, hooks, exact resume)."""
