"""Names the options offer as choices, kept here so a command's ``--help`` lists them without importing torch.

Each tuple equals its registry's names (checked by ``tests/cli/test_startup.py``); the registries stay the
source of what a name does.
"""

from __future__ import annotations

from enum import Enum

MODEL_NAMES = ("mlp", "small-cnn", "vgg16", "resnet18", "gap-cnn", "oracle-net")  # licli.models.MODELS
DATASET_NAMES = ("mnist", "mnist-mini", "cifar10", "cifar10-mini", "mnist-loc", "voc2007", "colored-mnist",
                 "colored-mnist-mini", "oracle-mnist",
                 "oracle-mnist-mini")  # licli.data.DATASETS
OPTIMIZER_NAMES = ("sgd", "adam")  # licli.training.optimizers.OPTIMIZERS
MECHANISM_NAMES = ("local-inhibition", "normout", "dropout", "gradient-mask",
                   "activation-statistics")  # licli.mechanisms.MECHANISMS
REGULARIZER_NAMES = ("spectral-decoupling", "irm", "vrex", "fishr", "mma")  # licli.objectives.REGULARIZERS
TRACKER_NAMES = ("gsnr",)  # licli.evaluations.TRACKERS
ENHANCE_NAMES = ("li-blur",)  # licli.objectives.enhancement.ENHANCEMENTS
PRECISION_NAMES = ("fp32", "tf32", "bf16")  # licli.runtime.PRECISIONS
SPLIT_NAMES = ("test", "train")  # licli.evaluations.accuracy (Dataset.test / Dataset.train)
NORM_NAMES = ("linf", "l2")  # licli.attacks.threat.NORMS (typed case-insensitively: RobustBench's Linf, L2)
ATTACK_BACKEND_NAMES = ("native", "cleverhans")  # licli.attacks.BACKENDS
TARGET_RULE_NAMES = ("random", "least-likely")  # licli.attacks.targets.TARGETS
SUBSET_NAMES = ("all", "correct")  # licli.evaluations.robustness.SUBSETS
PRUNE_SCOPE_NAMES = ("layerwise", "global")  # licli.evaluations.pruning.SCOPES
FISHER_NAMES = ("empirical", "model")  # licli.evaluations.fisher_rao.FISHER_LABELS
PARAMETER_SET_NAMES = ("all", "weights")  # licli.evaluations.functional.PARAMETER_SETS
SALIENCY_TARGET_NAMES = ("label", "pred")  # licli.evaluations.saliency.scoring.TARGETS
SALIENCY_BACKEND_NAMES = ("native", "pytorch-grad-cam")  # licli.evaluations.saliency.BACKENDS
LI_MAP_RESPONSE_NAMES = ("centre", "abs", "signed")  # licli.saliency.li_map.LI_MAP_RESPONSES
LOG_PADDING_NAMES = ("replicate", "zeros")  # licli.saliency.li_map.LOG_PADDINGS
DECISION_NAMES = ("more-robust", "no-measurable-difference", "less-robust", "gradient-masking", "degenerate-model",
                  "inconclusive")  # licli.evaluations.verdict.DECISIONS
ORACLE_DATASET_NAMES = ("oracle-mnist", "oracle-mnist-mini")  # licli.data.oracle.ORACLE_BASES
ACTIVATION_NAMES = ("relu", "sigmoid", "tanh")  # licli.models.zoo.ACTIVATIONS
ORACLE_PATH_NAMES = ("layer", "raw")  # licli.models.oracle_net.ORACLE_PATHS
CALIBRATION_NAMES = ("paper", "online")  # licli.mechanisms.inhibition.CALIBRATIONS
SCALE_NAMES = ("smoke", "full")  # licli.reproduction.SCALES
EXECUTOR_NAMES = ("local", "submitit")  # licli.sweep.executors: LocalExecutor, SubmititExecutor
SUBMITIT_CLUSTER_NAMES = ("slurm", "local", "debug")  # submitit.AutoExecutor's clusters


def choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A ``str`` Enum of ``values`` (member value = the name typed), so typer shows and checks the choices."""
    return Enum(name, [(value, value) for value in values], type=str)  # type: ignore[return-value]


def value(member: Enum | str | None) -> str | None:
    """The typed name behind an Enum option (a plain ``str`` option as it is; None when not given)."""
    return member.value if isinstance(member, Enum) else member


EVALUATION_DATASET_HELP = (f"Dataset: {', '.join(DATASET_NAMES)}, or your own images as imagefolder:PATH "
                           "(docs/foreign-models.md)")
"""Evaluation commands take a registry name or ``imagefolder:PATH`` (``licli.data.load_dataset`` checks it)."""


def complete_dataset(incomplete: str) -> list[str]:
    """Shell completion of an evaluation's ``--dataset``: the registry's names and the ``imagefolder:`` prefix."""
    return [name for name in (*DATASET_NAMES, "imagefolder:") if name.startswith(incomplete)]


Model = choice("Model", MODEL_NAMES)
DatasetName = choice("DatasetName", DATASET_NAMES)
Optimizer = choice("Optimizer", OPTIMIZER_NAMES)
Regularizer = choice("Regularizer", REGULARIZER_NAMES)
Tracker = choice("Tracker", TRACKER_NAMES)
Enhance = choice("Enhance", ENHANCE_NAMES)
Precision = choice("Precision", PRECISION_NAMES)
SplitName = choice("SplitName", SPLIT_NAMES)
Norm = choice("Norm", NORM_NAMES)
AttackBackend = choice("AttackBackend", ATTACK_BACKEND_NAMES)
TargetRule = choice("TargetRule", TARGET_RULE_NAMES)
Subset = choice("Subset", SUBSET_NAMES)
PruneScope = choice("PruneScope", PRUNE_SCOPE_NAMES)
Fisher = choice("Fisher", FISHER_NAMES)
ParameterSet = choice("ParameterSet", PARAMETER_SET_NAMES)
SaliencyTarget = choice("SaliencyTarget", SALIENCY_TARGET_NAMES)
SaliencyBackend = choice("SaliencyBackend", SALIENCY_BACKEND_NAMES)
LiMapResponse = choice("LiMapResponse", LI_MAP_RESPONSE_NAMES)
LogPadding = choice("LogPadding", LOG_PADDING_NAMES)
Decision = choice("Decision", DECISION_NAMES)
OracleDataset = choice("OracleDataset", ORACLE_DATASET_NAMES)
Activation = choice("Activation", ACTIVATION_NAMES)
OraclePath = choice("OraclePath", ORACLE_PATH_NAMES)
Calibration = choice("Calibration", CALIBRATION_NAMES)
Scale = choice("Scale", SCALE_NAMES)
Executor = choice("Executor", EXECUTOR_NAMES)
SubmititCluster = choice("SubmititCluster", SUBMITIT_CLUSTER_NAMES)
