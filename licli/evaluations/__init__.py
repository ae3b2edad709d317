"""Evaluations: ``run(model, data, *, …) -> pandas.DataFrame`` in long, tidy form. They never print."""
