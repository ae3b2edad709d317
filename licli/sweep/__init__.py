"""``licli sweep``: a grid file or a recipe planned into tasks (exact run folders, dependencies), run by an
executor (local workers or submitit), then followed (status) and merged (collect).

- ``plan``: grid/recipe → ``Plan`` of ``Task``s with stable ids (``licli.sweep.plan``);
- ``state``: what a task's run folder says (done/failed/interrupted/pending) (``licli.sweep.state``);
- ``executors``: ``LocalExecutor`` and ``SubmititExecutor`` behind ``Executor.run(tasks, extra_args)``;
- ``run``: the scheduler (waves of ready tasks) and ``collect``.
"""
