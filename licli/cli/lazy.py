"""Commands imported on first use, so ``licli --help`` starts without importing torch or any command module.

A group lists every command of :data:`COMMANDS` from the one-line help kept here; a command's module (which
registers it with ``@app.command``) is imported only when that command is run, completed or asked for help.
``tests/cli/test_startup.py`` checks this table against the commands the modules register.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from licli.cli.config_file import add_config_option

COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "": {  # the root group: name → (module registering it, first paragraph of its help)
        "train": ("licli.cli.train",
                  "Train a model and write a safetensors checkpoint, per-epoch metrics and a manifest."),
        "attack": ("licli.cli.attack",
                   "Robust accuracy of one or more models under attack, like NormOut Table 3.4 (rows = models)."),
        "demo": ("licli.cli.demo",
                 "Offline demo: train the LI paper's small CNN on mnist-mini (embedded), measure its clean accuracy, "
                 "FGSM / PGD-10 robust accuracy (L∞, ε = 0.1, 200 test images) and the cheap gradient-masking "
                 "checks."),
        "import": ("licli.cli.import_model", "Convert --model-def FILE.py:NAME (or --model torchvision:NAME) with "
                                             "--weights into a licli checkpoint."),
        "report": ("licli.cli.report", "Compare runs: models × metrics tables (mean ± std over seeds), "
                                       "Markdown/HTML/CSV, baseline checks."),
        "check": ("licli.cli.report", "Check runs against a baseline: exit 0 if within tolerance, 1 on a "
                                      "regression, 2 on bad input."),
        "reproduce": ("licli.cli.reproduce", "Run a reproduction recipe and compare licli's numbers with the "
                                             "paper's (tables/figures cited)."),
        "verdict": ("licli.cli.verdict", "One verdict: more robust, no measurable difference, less robust, gradient "
                                         "masking, degenerate or inconclusive — with the evidence, per-seed table and "
                                         "statistics (docs/verdict.md)."),
        "merge-shards": ("licli.cli.merge_shards", "Merge sharded attack runs into one attack run: samples.csv, "
                                                   "attacks.csv and summary.csv as unsharded."),
    },
    "sweep": {
        "plan": ("licli.cli.sweep", "List the tasks a sweep would run (ids, dependencies, exact commands) without "
                                    "running anything."),
        "run": ("licli.cli.sweep", "Run a sweep's tasks not yet done (finished ones are skipped; failed ones cleaned "
                                   "and rerun)."),
        "status": ("licli.cli.sweep", "Done / failed / interrupted / pending per task, with exit code, seconds and "
                                      "device."),
        "collect": ("licli.cli.sweep", "Merge a sweep: tasks.csv (one row per task), metrics.csv and aggregated.csv "
                                       "(as `licli report`), and for a recipe paper-comparison.csv and claims.csv (as "
                                       "`licli reproduce`)."),
    },
    "export": {
        "tensorboard": ("licli.cli.export", "Write runs' metrics as TensorBoard event files (one TensorBoard run "
                                            "per run folder), offline."),
    },
    "evaluate": {
        "accuracy": ("licli.cli.evaluate_accuracy",
                     "Report clean accuracy and mean cross-entropy of one or more models on a dataset split."),
        "activations": ("licli.cli.evaluate_activations",
                        "Mean, max, standard deviation, variance and sparsity of each slot's output (eval mode)."),
        "fisher-rao": ("licli.cli.evaluate_fisher_rao", "Fisher-Rao norm ‖θ‖²_fr = E[(θ·∇θℓ)²] with its standard "
                                                        "error, by forward-mode AD (NormOut §1.4.1)."),
        "gsnr": ("licli.cli.evaluate_gsnr",
                 "GSNR r(θⱼ) = mean(gⱼ)²/var(gⱼ) over per-sample gradients, mean and median per layer."),
        "hessian-trace": ("licli.cli.evaluate_hessian", "Trace of the Hessian of the mean cross-entropy "
                                                        "(Hutchinson), with standard error; optional top eigenvalue."),
        "oracle": ("licli.cli.evaluate_oracle", "Train each method on Oracle-MNIST and report train, permuted-, "
                                                "true- and zeroed-oracle accuracy."),
        "prune": ("licli.cli.evaluate_prune", "Prune the smallest-magnitude conv/linear weights at each level and "
                                              "report accuracy and loss (Gradient Mask §3.3.1, Fig. 5). Writes "
                                              "pruning.csv (per level and layer), curve.png and auc.csv."),
        "saliency": ("licli.cli.evaluate_saliency", "Score saliency maps by IoU with true boxes (or run the sanity "
                                                    "check or the blur test)."),
    },
}


def load_all() -> None:
    """Import every command module (registering every command), e.g. to walk the whole command tree."""
    for group in COMMANDS.values():
        for module, _ in group.values():
            importlib.import_module(module)


class LazyCommands(dict):
    """A group's ``commands`` mapping that imports a listed command's module when the command is looked up.

    While the group prints its help (``listing``), a command not imported yet is a placeholder carrying its
    one-line help, so listing the commands imports nothing.
    """

    def __init__(self, group: str, registered: dict[str, Any], root: Callable[[], Any]) -> None:
        super().__init__({name: add_config_option(command) for name, command in registered.items()})
        self.group = group
        self.listed = COMMANDS.get(group, {})
        self.listing = False
        self.root = root

    def _load(self, name: str) -> Any:
        import typer

        importlib.import_module(self.listed[name][0])
        group = typer.main.get_command(self.root())
        if self.group:
            group = group.commands[self.group]
        command = dict.__getitem__(group.commands, name)  # every command gets --config (licli.cli.options)
        dict.__setitem__(self, name, command)
        return command

    def __missing__(self, name: str) -> Any:
        if name not in self.listed:
            raise KeyError(name)
        if self.listing:
            from typer.core import TyperCommand

            return TyperCommand(name, help=self.listed[name][1])
        return self._load(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self.listed

    def __iter__(self):  # type: ignore[override]
        yield from self.listed
        yield from (name for name in dict.__iter__(self) if name not in self.listed)

    def keys(self):  # type: ignore[override]
        return list(self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LazyGroup:
    """Mixin for a typer group whose commands come from :data:`COMMANDS` on first use."""

    root: Any = None
    """The root typer app, whose command tree holds an imported command (``licli.cli.app`` sets it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.name or "", self.commands, lambda: type(self).root)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.commands.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.commands.listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """Completing a command name lists the commands (with their help) without importing them."""
        self.commands.listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self.commands.listing = False
