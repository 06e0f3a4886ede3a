"""Convolutional networks (issue: convolutions): the lecture CNNs, CIFAR ResNet-18, MobileNet v1.

Each model is written once against PyTorch's API from ``nn`` primitives (torchvision-style names
for ResNet) and built with ``torch`` or ``soma``. The issue's goal is a training step within
1.5× of PyTorch's time.
"""

from benchmarks.harness import Case


def _training_step(torch, net, x, t, optimizer):
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        criterion(net(x), t).backward()
        optimizer.step()

    return step


def lenet5_training_step(torch):
    """LeNet-5: 1×32×32, 5×5 convolutions to 6 and 16 channels, tanh, 2×2 average pooling."""
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )
    x, t = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    return _training_step(torch, net, x, t, optimizer)


def simple_cnn_training_step(torch):
    """The PyTorch lecture's SimpleCNN (conv 3×3 - BN - ReLU - Dropout, twice, each followed by
    2×2 max pooling so the classifier sees 64·7·7 features), 1×28×28, batch 64, Adam."""
    nn = torch.nn

    class SimpleCNN(nn.Module):
        def __init__(self, input_channels, num_classes):
            super().__init__()
            self.conv1 = nn.Conv2d(input_channels, 32, kernel_size=3, stride=1, padding=1)
            self.bn1 = nn.BatchNorm2d(32)
            self.relu1 = nn.ReLU()
            self.dropout1 = nn.Dropout(0.5)
            self.pool1 = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
            self.bn2 = nn.BatchNorm2d(64)
            self.relu2 = nn.ReLU()
            self.dropout2 = nn.Dropout(0.5)
            self.pool2 = nn.MaxPool2d(2)
            self.fc = nn.Linear(64 * 7 * 7, num_classes)

        def forward(self, x):
            x = self.pool1(self.dropout1(self.relu1(self.bn1(self.conv1(x)))))
            x = self.pool2(self.dropout2(self.relu2(self.bn2(self.conv2(x)))))
            return self.fc(x.view(x.size(0), -1))

    net = SimpleCNN(1, 10)
    x, t = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    return _training_step(torch, net, x, t, optimizer)


def _resnet18(torch, num_classes=10):
    """CIFAR-style ResNet-18: 3×3 stem without max pooling, four stages of two BasicBlocks."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(
                    nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes),
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
            self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
            self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
            self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet18()


def resnet18_training_step(torch):
    """CIFAR ResNet-18, 3×32×32, batch 32, SGD with momentum and weight decay."""
    net = _resnet18(torch)
    x, t = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    return _training_step(torch, net, x, t, optimizer)


def resnet18_inference(torch):
    """CIFAR ResNet-18 in eval mode under no_grad, batch 64."""
    net = _resnet18(torch).eval()
    x = torch.randn(64, 3, 32, 32)

    def step():
        with torch.no_grad():
            net(x)

    return step


def _mobilenet_v1(torch, width=0.5, num_classes=10):
    """MobileNet v1 (the layers lecture's table) with every channel count scaled by ``width``."""
    nn = torch.nn

    def conv_bn(cin, cout, stride):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
        )

    def separable(cin, cout, stride):
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )

    plan = (
        [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
        + [(512, 1)] * 5
        + [(1024, 2), (1024, 1)]
    )
    channels = int(32 * width)
    layers = [conv_bn(3, channels, 2)]
    for cout, stride in plan:
        layers.append(separable(channels, int(cout * width), stride))
        channels = int(cout * width)
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)
    )


def mobilenet_training_step(torch):
    """MobileNet v1 at width 0.5 on 3×64×64, batch 32, SGD with momentum."""
    net = _mobilenet_v1(torch)
    x, t = torch.randn(32, 3, 64, 64), torch.randint(0, 10, (32,))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return _training_step(torch, net, x, t, optimizer)


CASES = [
    Case(
        "lenet5_train",
        "conv",
        "LeNet-5, 1x32x32, batch 64, tanh, avg pool, SGD-momentum",
        lenet5_training_step,
        goal=0.7,  # the goal for small networks
    ),
    Case(
        "simple_cnn_train",
        "conv",
        "lecture SimpleCNN, 1x28x28, batch 64, BN, dropout, Adam",
        simple_cnn_training_step,
    ),
    Case(
        "resnet18_train",
        "conv",
        "CIFAR ResNet-18, 3x32x32, batch 32, SGD-momentum",
        resnet18_training_step,
    ),
    Case(
        "mobilenet_train",
        "conv",
        "MobileNet v1 x0.5, 3x64x64, batch 32, SGD-momentum",
        mobilenet_training_step,
    ),
    Case(
        "resnet18_infer",
        "conv",
        "CIFAR ResNet-18 inference, batch 64",
        resnet18_inference,
    ),
]
