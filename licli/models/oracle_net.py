"""``oracle-net``: the Oracle-MNIST network of the Local Inhibition thesis (§4.1.1).

"A CNN layer with 32 filters and a single hidden fully connected layer of 728 neurons" for the image;
"an oracle of size 10 × 10 connected to 100 neurons concatenated to the 728 digit neurons. After which
inhibition is applied" — then the final layer. The input is a packed Oracle-MNIST tensor
(:mod:`licli.data.oracle`): image channels plus one oracle plane.

Choices the paper leaves open, exposed as options because they decide the benchmark's verdict:
- ``activation``: sigmoid everywhere by default (§3.7: "we will only use sigmoid in all our
  experiments"; conv, 728-unit and oracle layers); ``relu`` for the ablation.
- ``oracle_path``: ``layer`` (the oracle's own fully connected layer of ``oracle_hidden`` units, the
  paper) or ``raw`` (the ``copies · K`` oracle inputs concatenated directly, no layer).
- The conv kernel is 3×3, no padding (the paper gives only the filter count). ``pool`` adds a
  ``pool``×``pool`` max-pool after it: 1 (default) = none, as the paper describes the network, so the
  728-unit layer sees 32·26·26 = 21,632 inputs; 2 gives 32·13·13 = 5,408 and an epoch about 2× faster, but
  it changes the verdict: after one full-MNIST epoch, sigmoid ERM follows the wrong oracle on every test
  image without pooling (0% permuted-oracle accuracy, the paper's Table 1.1 row) and on only 54% with it
  (42%). The pool comes before the activation, the same function (sigmoid and ReLU are monotone) on a
  quarter of the values.

Slot ``inhibition`` sits on the concatenation ``[image units | oracle units]`` (in that order), so a
mechanism there sees ``image_units + oracle_units`` features; :attr:`OracleNet.groups` gives the two
group sizes for per-group ("separate") inhibition (Fig. 4.5).
"""

from __future__ import annotations

import torch
from torch import nn

from licli.data.oracle import DEFAULT_COPIES, check_capacity, unpack
from licli.errors import LicliError
from licli.models.normalize import default_normalize
from licli.models.slots import Slot
from licli.models.zoo import ACTIVATIONS
from licli.registry import pick

ORACLE_PATHS = ("layer", "raw")
"""``layer``: the oracle's own fully connected layer (the paper); ``raw``: its inputs concatenated directly."""


def feature_groups(num_classes: int, *, oracle_copies: int = DEFAULT_COPIES, oracle_path: str = "layer",
                   hidden: int = 728, oracle_hidden: int = 100, **_: object) -> list[int]:
    """Sizes of ``[image units, oracle units]`` in the concatenation the ``inhibition`` slot sees."""
    oracle_units = {"layer": oracle_hidden, "raw": oracle_copies * num_classes}
    return [hidden, pick(oracle_units, oracle_path, "oracle path")]


class ChannelsLastMaxPool(nn.MaxPool2d):
    """``nn.MaxPool2d(k)`` computed on a channels-last copy: the same values and gradients, but torch's CPU
    kernel for NCHW maps is about 3× slower on 32-channel maps (forward and backward)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous(memory_format=torch.channels_last))


class OracleNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, image_size: tuple[int, int], *,
                 oracle_copies: int = DEFAULT_COPIES, activation: str = "sigmoid", oracle_path: str = "layer",
                 filters: int = 32, hidden: int = 728, oracle_hidden: int = 100, pool: int = 1) -> None:
        super().__init__()
        if in_channels < 2:
            raise LicliError(f"oracle-net needs a packed Oracle dataset (image + oracle plane), got {in_channels} "
                             "input channel(s)", "pass dataset=oracle-mnist or dataset=oracle-mnist-mini", field="dataset")
        self.groups = feature_groups(num_classes, oracle_copies=oracle_copies, oracle_path=oracle_path,
                                     hidden=hidden, oracle_hidden=oracle_hidden)
        check_capacity(image_size, num_classes, oracle_copies)
        act = pick(ACTIVATIONS, activation, "activation")
        self.num_classes, self.copies = num_classes, oracle_copies
        if not isinstance(pool, int) or not 1 <= pool <= min(image_size) - 2:
            raise LicliError(f"pool must be an integer from 1 to {min(image_size) - 2} for oracle-net (got {pool!r})",
                             "pass e.g. pool=2 (1 = no pooling)", field="pool")
        image_channels = in_channels - 1
        flat = filters * ((image_size[0] - 2) // pool) * ((image_size[1] - 2) // pool)
        self.image = nn.Sequential(default_normalize(image_channels), nn.Conv2d(image_channels, filters, 3),
                                   ChannelsLastMaxPool(pool) if pool > 1 else nn.Identity(), act(),
                                   nn.Flatten(), nn.Linear(flat, hidden), act())
        oracle_inputs = oracle_copies * num_classes
        layers = {"layer": lambda: nn.Sequential(nn.Linear(oracle_inputs, oracle_hidden), act()),
                  "raw": nn.Identity}
        self.oracle = layers[oracle_path]()
        self.inhibition = Slot("inhibition")
        self.classifier = nn.Linear(sum(self.groups), num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The concatenated ``[image units | oracle units]`` before the slot."""
        image, oracle = unpack(x, self.num_classes, self.copies)
        return torch.cat([self.image(image), self.oracle(oracle)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.inhibition(self.features(x)))

    def oracle_weight_share(self) -> float:
        """Share of the final layer's weight mass ``Σ|w|`` that is fed by oracle units (§4.1.1)."""
        weight = self.classifier.weight.detach().abs()
        return float(weight[:, self.groups[0]:].sum() / weight.sum())
