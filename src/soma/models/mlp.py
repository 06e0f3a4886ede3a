"""A multilayer perceptron: Flatten, then (Linear → activation → dropout) per hidden layer."""

from soma import nn
from soma.models.registry import register_model
from soma.nn.registry import ACTIVATIONS


def make_activation(name: str):
    """A fresh activation module from its registered name (``"relu"``, ``"tanh"`` …)."""
    return ACTIVATIONS.get(name).builder()


@register_model("mlp", "multilayer perceptron: flatten, hidden Linear+activation(+dropout) layers")
class MLP(nn.Module):
    """A fully connected network for inputs of any shape (they are flattened first).

    Args:
        num_classes: outputs of the last layer.
        in_channels: channels of image inputs (``in_features = in_channels * H * W``).
        input_size: ``(H, W)`` of image inputs, or ``(F,)`` for feature vectors.
        in_features: the flattened input size, overriding ``in_channels`` and ``input_size``.
        hidden_sizes: widths of the hidden layers.
        activation: name of the activation after each hidden layer.
        dropout: dropout probability after each hidden activation (0 for none).

    Example:
        >>> import soma
        >>> MLP(num_classes=3, in_features=4, hidden_sizes=(8,))(soma.randn(2, 4)).shape
        soma.Size([2, 3])
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size=(28, 28),
        in_features: int | None = None,
        hidden_sizes=(256, 128),
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if in_features is None:
            in_features = in_channels
            for s in input_size:
                in_features *= s
        layers = [nn.Flatten()]
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), make_activation(activation)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
