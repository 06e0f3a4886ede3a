"""SimpleCNN, the small network of lecture 003 ("Neural nets in PyTorch").

The lecture prints two blocks of CONV → BatchNorm → ReLU → Dropout(0.5) (3×3 convolutions with
padding 1, 32 then 64 channels) followed by ``fc = Linear(64*7*7, num_classes)``. Those
convolutions keep the spatial size, so ``64*7*7`` only fits if something halves 28×28 twice:
the printed code omits the two 2×2 poolings it implies. ``SimpleCNN`` therefore adds a
``MaxPool2d(2)`` at the end of each block by default (``pool1``, ``pool2``), and then works on
28×28 inputs such as MNIST. ``pooling=False`` gives the printed code literally, which only
accepts 7×7 inputs.
"""

from soma import nn
from soma.models.registry import register_model


@register_model(
    "simplecnn",
    "lecture 003's SimpleCNN: 2x (conv3x3-BN-ReLU-dropout-pool), Linear",
    input_size=(28, 28),
)
class SimpleCNN(nn.Module):
    """The lecture's SimpleCNN, with the two poolings its ``fc`` layer implies.

    Args:
        in_channels: input channels (the lecture calls it ``input_channels``).
        num_classes: number of output classes.
        pooling: add the 2×2 max-poolings (default); False is the printed code verbatim.
        dropout: the dropout probability (0.5 in the lecture).

    Shape:
        input (N, in_channels, 28, 28) (7×7 without pooling); output (N, num_classes).

    Example:
        >>> import soma
        >>> SimpleCNN(1, 10)(soma.randn(2, 1, 28, 28)).shape
        soma.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        pooling: bool = True,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.pooling = pooling
        # First sequence: CONV -> BatchNorm -> ReLU -> Dropout (-> pool)
        self.conv1 = nn.Conv2d(
            in_channels=in_channels, out_channels=32, kernel_size=3, stride=1, padding=1
        )
        self.bn1 = nn.BatchNorm2d(32)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        # Second sequence: CONV -> BatchNorm -> ReLU -> Dropout (-> pool)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        if pooling:
            self.pool1 = nn.MaxPool2d(2)
            self.pool2 = nn.MaxPool2d(2)
        # Fully connected
        self.fc = nn.Linear(64 * 7 * 7, num_classes)

    def forward(self, x):
        # First sequence
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu1(x)
        x = self.dropout1(x)
        if self.pooling:
            x = self.pool1(x)
        # Second sequence
        x = self.conv2(x)
        x = self.bn2(x)
        x = self.relu2(x)
        x = self.dropout2(x)
        if self.pooling:
            x = self.pool2(x)
        # Flatten and pass through FC
        x = x.view(x.size(0), -1)
        x = self.fc(x)
        return x

    def extra_repr(self):
        return "" if self.pooling else "pooling=False"
