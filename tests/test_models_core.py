"""The registry and the first models (MLP, LeNet-5, SimpleCNN), checked against PyTorch twins
with copied weights."""

import numpy as np
import pytest

import soma
from soma.models import LeNet5, SimpleCNN, get_model, list_models, model_info, register_model
from tests.conftest import copy_weights, to_torch


def _compare(model, twin, x, atol=1e-5):
    copy_weights(model, twin)
    model.eval()
    twin.eval()
    expected = twin(to_torch(x)).detach().numpy()
    with soma.no_grad():
        np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=atol)


def _torch_lenet(torch, activation, pool):
    nn = torch.nn
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    pool = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[pool]

    class TorchLeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 6, 5),
                act(),
                pool(2),
                nn.Conv2d(6, 16, 5),
                act(),
                pool(2),
                nn.Conv2d(16, 120, 5),
                act(),
            )
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(120, 84), act(), nn.Linear(84, 10)
            )

        def forward(self, x):
            return self.classifier(self.features(x))

    return TorchLeNet()


@pytest.mark.parametrize("activation, pooling", [("tanh", "avg"), ("relu", "max")])
def test_lenet5_matches_torch(torch_or_skip, activation, pooling):
    model = LeNet5(activation=activation, pooling=pooling)
    assert sum(p.numel() for p in model.parameters()) == 61_706  # the paper's 60k, with full C3
    _compare(model, _torch_lenet(torch_or_skip, activation, pooling), soma.randn(3, 1, 32, 32))


def test_lenet5_options_and_input_check():
    model = LeNet5(num_classes=5, in_channels=3, activation="scaled_tanh")
    x = soma.randn(2, 3, 32, 32)
    assert tuple(model(x).shape) == (2, 5)
    assert float(model.features[1](soma.tensor(1.0))) == pytest.approx(1.0, abs=1e-4)  # f(1) = 1
    with pytest.raises(
        ValueError, match=r"LeNet5 expects inputs of shape \(N, C, 32, 32\), got \(2, 1, 28, 28\)"
    ):
        LeNet5()(soma.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="pooling must be 'avg' or 'max'"):
        LeNet5(pooling="sum")


def _torch_simplecnn(torch):
    """The lecture's code, with the two poolings its Linear(64*7*7, ...) needs."""
    nn = torch.nn

    class TorchSimpleCNN(nn.Module):
        def __init__(self, input_channels, num_classes):
            super().__init__()
            self.conv1 = nn.Conv2d(
                in_channels=input_channels, out_channels=32, kernel_size=3, stride=1, padding=1
            )
            self.bn1 = nn.BatchNorm2d(32)
            self.relu1 = nn.ReLU()
            self.dropout1 = nn.Dropout(0.5)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
            self.bn2 = nn.BatchNorm2d(64)
            self.relu2 = nn.ReLU()
            self.dropout2 = nn.Dropout(0.5)
            self.pool1 = nn.MaxPool2d(2)
            self.pool2 = nn.MaxPool2d(2)
            self.fc = nn.Linear(64 * 7 * 7, num_classes)

        def forward(self, x):
            x = self.pool1(self.dropout1(self.relu1(self.bn1(self.conv1(x)))))
            x = self.pool2(self.dropout2(self.relu2(self.bn2(self.conv2(x)))))
            return self.fc(x.view(x.size(0), -1))

    return TorchSimpleCNN(1, 10)


def test_simplecnn_matches_torch(torch_or_skip):
    twin = _torch_simplecnn(torch_or_skip)
    with torch_or_skip.no_grad():  # non-trivial running statistics for eval mode
        twin.bn1.running_mean.uniform_(-0.5, 0.5)
        twin.bn2.running_var.uniform_(0.5, 2.0)
    model = SimpleCNN(1, 10)
    assert [n for n, _ in model.named_children()] == [
        "conv1",
        "bn1",
        "relu1",
        "dropout1",
        "conv2",
        "bn2",
        "relu2",
        "dropout2",
        "pool1",
        "pool2",
        "fc",
    ]
    _compare(model, twin, soma.randn(2, 1, 28, 28), atol=1e-4)


def test_simplecnn_as_printed_only_fits_7x7_inputs():
    model = SimpleCNN(3, 4, pooling=False).eval()
    assert tuple(model(soma.randn(2, 3, 7, 7)).shape) == (2, 4)
    with pytest.raises(ValueError, match="fc"):
        model(soma.randn(2, 3, 28, 28))
    assert "pooling=False" in repr(model)


def test_mlp_matches_torch(torch_or_skip):
    nn = torch_or_skip.nn
    twin = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 3)
    )
    model = get_model(
        "mlp",
        num_classes=3,
        in_channels=1,
        input_size=(8, 8),
        hidden_sizes=(32, 16),
        activation="tanh",
    )
    copy_weights(model.layers, twin)
    with soma.no_grad():
        x = soma.randn(4, 1, 8, 8)
        np.testing.assert_allclose(
            model(x).numpy(), twin(to_torch(x)).detach().numpy(), rtol=1e-5, atol=1e-6
        )


def test_mlp_dropout_and_features():
    model = get_model("mlp", num_classes=2, in_features=5, hidden_sizes=(8,), dropout=0.5)
    assert [type(m).__name__ for m in model.layers] == [
        "Flatten",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        get_model("mlp", activation="swishy")


def test_registry(monkeypatch):
    from soma.models import registry

    monkeypatch.setattr(
        registry.MODELS, "_entries", dict(registry.MODELS._entries)
    )  # undone after the test
    models = list_models()
    assert {"mlp", "lenet5", "simplecnn"} <= set(models)
    assert all(isinstance(d, str) and d for d in models.values())
    assert model_info("lenet5").input_size == (32, 32) and model_info("mlp").input_size is None
    with pytest.raises(ValueError, match="unknown model 'vgg99'; available models: .*lenet5, mlp"):
        get_model("vgg99")

    @register_model("test_registry_tiny")
    def tiny(num_classes=10, in_channels=1):
        """A linear layer (test model)."""
        return soma.nn.Linear(in_channels, num_classes)

    assert list_models()["test_registry_tiny"] == "A linear layer (test model)."
    with pytest.raises(ValueError, match="already registered"):
        register_model("test_registry_tiny")(lambda **kw: None)
