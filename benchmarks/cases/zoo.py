"""The model zoo (issue: the model zoo): VGG-11 and DenseNet-121 training steps at 3×32×32.

Both networks are written once from ``nn`` primitives with torchvision's layout and names, and
built with ``torch`` or ``soma``; they are the architectures of ``soma.models.vgg11`` and
``soma.models.densenet121`` with their CIFAR variants (``cifar_stem=True``): VGG-11's eight
3×3 convolutions with a 512-wide classifier, DenseNet-121's four dense blocks (6, 12, 24, 16
layers, growth 32) behind a 3×3 stride-1 stem. Batch 16, SGD with momentum. The goal is the
convolutional issue's: a training step within 1.5× of PyTorch's time.
"""

from collections import OrderedDict

from benchmarks.cases.conv import _training_step as _sgd_step
from benchmarks.harness import Case

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def _vgg11(torch, num_classes=10):
    nn = torch.nn
    layers, cin = [], 3
    for v in VGG11:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            cin = v

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Sequential(
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Dropout(0.5),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Dropout(0.5),
                nn.Linear(512, num_classes),
            )

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return VGG()


def _densenet121(torch, num_classes=10, growth=32, bn_size=4):
    nn = torch.nn
    F = torch.nn.functional

    class DenseLayer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.norm1 = nn.BatchNorm2d(cin)
            self.relu1 = nn.ReLU()
            self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth)
            self.relu2 = nn.ReLU()
            self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

        def forward(self, features):
            x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
            return self.conv2(self.relu2(self.norm2(x)))

    class DenseBlock(nn.Module):
        def __init__(self, n, cin):
            super().__init__()
            for i in range(n):
                self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth))

        def forward(self, x):
            features = [x]
            for layer in self.children():
                features.append(layer(features))
            return torch.cat(features, 1)

    def transition(cin, cout):
        return nn.Sequential(
            OrderedDict(
                [
                    ("norm", nn.BatchNorm2d(cin)),
                    ("relu", nn.ReLU()),
                    ("conv", nn.Conv2d(cin, cout, 1, bias=False)),
                    ("pool", nn.AvgPool2d(2, 2)),
                ]
            )
        )

    class DenseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                OrderedDict(
                    [
                        ("conv0", nn.Conv2d(3, 64, 3, 1, 1, bias=False)),
                        ("norm0", nn.BatchNorm2d(64)),
                        ("relu0", nn.ReLU()),
                    ]
                )
            )
            channels = 64
            for i, n in enumerate((6, 12, 24, 16)):
                self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, channels))
                channels += n * growth
                if i < 3:
                    self.features.add_module(
                        f"transition{i + 1}", transition(channels, channels // 2)
                    )
                    channels //= 2
            self.features.add_module("norm5", nn.BatchNorm2d(channels))
            self.classifier = nn.Linear(channels, num_classes)

        def forward(self, x):
            x = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    return DenseNet()


def _training_step(make_net):
    def build(torch):
        net = make_net(torch)
        x, t = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        return _sgd_step(torch, net, x, t, optimizer)

    build.__doc__ = make_net.__doc__
    return build


CASES = [
    Case(
        "vgg11_train",
        "zoo",
        "VGG-11 (CIFAR head), 3x32x32, batch 16, SGD-momentum",
        _training_step(_vgg11),
    ),
    Case(
        "densenet121_train",
        "zoo",
        "DenseNet-121 (CIFAR stem), 3x32x32, batch 16, SGD-momentum",
        _training_step(_densenet121),
    ),
]
