"""Layers (issue: pooling, normalization, dropout, resampling): one layer's forward + backward.

Each step runs the layer in training mode on a fixed batch and backpropagates a fixed
gradient, at the activation shapes of the small CNN benchmarks: (64, 32, 28, 28) after a first
MNIST convolution and (32, 128, 16, 16) deeper in a CIFAR network.
"""

from benchmarks.harness import Case

SHAPES = {"64x32x28": (64, 32, 28, 28), "32x128x16": (32, 128, 16, 16)}


def _layer_step(make_layer, shape):
    def build(torch):
        layer = make_layer(torch.nn, shape).train()
        x = torch.randn(*shape, requires_grad=True)
        with torch.no_grad():
            g = torch.randn(*layer(x).shape)

        def step():
            x.grad = None
            layer(x).backward(g)

        return step

    return build


LAYERS = {
    "batchnorm2d": ("BatchNorm2d", lambda nn, s: nn.BatchNorm2d(s[1])),
    "maxpool2x2": ("MaxPool2d(2)", lambda nn, s: nn.MaxPool2d(2)),
    "avgpool2x2": ("AvgPool2d(2)", lambda nn, s: nn.AvgPool2d(2)),
    "maxpool3x3s2": ("MaxPool2d(3, 2, padding=1)", lambda nn, s: nn.MaxPool2d(3, 2, 1)),
    "gap": ("AdaptiveAvgPool2d(1)", lambda nn, s: nn.AdaptiveAvgPool2d(1)),
    "dropout": ("Dropout(0.5)", lambda nn, s: nn.Dropout(0.5)),
    "nearest2x": ("Upsample(scale_factor=2)", lambda nn, s: nn.Upsample(scale_factor=2)),
    "bilinear2x": (
        "Upsample(scale_factor=2, bilinear)",
        lambda nn, s: nn.Upsample(scale_factor=2, mode="bilinear"),
    ),
}

CASES = [
    Case(f"{name}_{tag}", "layers", f"{title} fwd+bwd on {shape}", _layer_step(make, shape))
    for name, (title, make) in LAYERS.items()
    for tag, shape in SHAPES.items()
]
