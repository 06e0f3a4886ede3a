"""Segmentation (issue 13): a U-Net training step at 1×64×64, batch 8.

The network is ``soma.models.UNet(1, 4, depth=4, width=16, batch_norm=True)`` written once from
``nn`` primitives (the same layout and names): four conv-conv-pool stages of 16 … 256 channels,
a 256-channel bottom, transposed-convolution up-sampling with skip concatenation, a 1×1 head to
4 classes. Loss: per-pixel cross-entropy; optimizer: Adam.
"""

from benchmarks.harness import Case


def _unet(torch, cin=1, classes=4, depth=4, width=16):
    nn = torch.nn

    def double_conv(a, b):
        return nn.Sequential(
            nn.Conv2d(a, b, 3, padding=1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(),
            nn.Conv2d(b, b, 3, padding=1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(),
        )

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [width * 2**i for i in range(depth + 1)]
            self.inc = double_conv(cin, width)
            self.pool = nn.MaxPool2d(2)
            self.down = nn.ModuleList(double_conv(widths[i], widths[i + 1]) for i in range(depth))
            self.ups = nn.ModuleList(
                nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                for i in reversed(range(depth))
            )
            self.up_convs = nn.ModuleList(
                double_conv(widths[i + 1], widths[i]) for i in reversed(range(depth))
            )
            self.head = nn.Conv2d(width, classes, 1)

        def forward(self, x):
            skips = [self.inc(x)]
            for conv in self.down:
                skips.append(conv(self.pool(skips[-1])))
            x = skips.pop()
            for up, conv in zip(self.ups, self.up_convs):
                x = conv(torch.cat([skips.pop(), up(x)], 1))
            return self.head(x)

    return UNet()


def unet_training_step(torch):
    """U-Net (depth 4, width 16, batch norm), 1×64×64 → 4 classes per pixel, batch 8, Adam."""
    torch.manual_seed(0)
    net = _unet(torch)
    x, t = torch.randn(8, 1, 64, 64), torch.randint(0, 4, (8, 64, 64))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        criterion(net(x), t).backward()
        optimizer.step()

    return step


CASES = [
    Case(
        "unet_train",
        "segmentation",
        "U-Net (depth 4, width 16, BN), 1x64x64 -> 4 classes/pixel, batch 8, Adam",
        unet_training_step,
    ),
]
