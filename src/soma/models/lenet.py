"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998), on 32×32 inputs.

The 1998 layout, with the paper's layer names:

    input 1×32×32
    C1  convolution 6 × 5×5          → 6×28×28
    S2  2×2 subsampling              → 6×14×14
    C3  convolution 16 × 5×5         → 16×10×10
    S4  2×2 subsampling              → 16×5×5
    C5  convolution 120 × 5×5        → 120×1×1  (a full connection on 32×32 inputs)
    F6  full connection 84
    output: one unit per class

The default is the common modern reading of it: tanh activations, average pooling for the
subsampling layers, every C3 map connected to every S2 map, and a linear output layer trained
with cross-entropy. What the paper did differently, and the options that come closer:

* activation: the paper squashes with a scaled tanh, 1.7159·tanh(2a/3):
  ``activation="scaled_tanh"``
  (``"relu"`` gives today's usual choice);
* S2/S4: the paper's subsampling sums each 2×2 block, multiplies by a trainable coefficient,
  adds a trainable bias and applies the squashing function; ``pooling="avg"`` (default) is that
  without the per-map coefficient and bias, ``pooling="max"`` is the modern alternative;
* C3: the paper connects each of the 16 maps to only 3, 4 or 6 of the S2 maps (its Table I), to
  break symmetry and save computation; here C3 is fully connected;
* output: the paper uses Euclidean radial-basis-function units against fixed 7×12 bitmaps of
  the characters; here it is a Linear layer whose outputs are logits for cross-entropy.
"""

from soma import functional as F
from soma import nn
from soma.models.mlp import make_activation
from soma.models.registry import register_model


class ScaledTanh(nn.Module):
    """LeCun's squashing function f(a) = 1.7159·tanh(2a/3) (so that f(±1) = ±1)."""

    def forward(self, x):
        return F.tanh(x * (2.0 / 3.0)) * 1.7159


def _activation(name):
    return ScaledTanh() if name == "scaled_tanh" else make_activation(name)


def _pool(kind):
    if kind == "avg":
        return nn.AvgPool2d(2)
    if kind == "max":
        return nn.MaxPool2d(2)
    raise ValueError(f"LeNet5: pooling must be 'avg' or 'max', got {kind!r}")


@register_model(
    "lenet5",
    "LeNet-5 (LeCun et al. 1998): 3 convolutions, 2 average poolings, tanh",
    input_size=(32, 32),
)
class LeNet5(nn.Module):
    """LeNet-5: C1-S2-C3-S4-C5 convolutions and pooling, then F6 and the output layer.

    Args:
        num_classes: number of output classes (10 for digits).
        in_channels: input channels (1 for grey images).
        activation: ``"tanh"`` (default), ``"scaled_tanh"`` (the paper's), ``"relu"`` …
        pooling: ``"avg"`` (default, close to the paper's subsampling) or ``"max"``.

    Shape:
        input (N, in_channels, 32, 32); output (N, num_classes).

    Example:
        >>> import soma
        >>> LeNet5()(soma.randn(2, 1, 32, 32)).shape
        soma.Size([2, 10])
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: str = "tanh",
        pooling: str = "avg",
    ):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),  # C1
            _activation(activation),
            _pool(pooling),  # S2
            nn.Conv2d(6, 16, kernel_size=5),  # C3
            _activation(activation),
            _pool(pooling),  # S4
            nn.Conv2d(16, 120, kernel_size=5),  # C5
            _activation(activation),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 84),  # F6
            _activation(activation),
            nn.Linear(84, num_classes),  # output
        )

    def forward(self, x):
        if x.ndim != 4 or tuple(x.shape[2:]) != (32, 32):
            raise ValueError(
                f"LeNet5 expects inputs of shape (N, C, 32, 32), got "
                f"{tuple(x.shape)}; resize or pad smaller images (MNIST's 28×28 "
                "are padded by 2)"
            )
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, in_channels: int = 1, **kwargs) -> LeNet5:
    """LeNet-5 (see ``LeNet5``), the constructor by its registered name like ``resnet18``.

    Example:
        >>> import soma
        >>> soma.models.lenet5()(soma.randn(1, 1, 32, 32)).shape
        soma.Size([1, 10])
    """
    return LeNet5(num_classes=num_classes, in_channels=in_channels, **kwargs)
