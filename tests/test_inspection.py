"""Model summaries (the lectures' parameter and operation counts) and gradient diagnostics."""

import pytest

import soma
from soma import nn
from soma.inspection import gradient_report


def test_summary_counts_for_a_dense_network():
    net = nn.Sequential(
        nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 1)
    )
    s = soma.summary(net, (1000, 1))
    assert s.total_params == 2 * 64 + 65 * 128 + 129
    assert s.total_mult_adds == 1000 * (64 + 64 * 128 + 128)
    assert [r[2] for r in s.rows()][1:] == [
        "[1000, 64]",
        "[1000, 64]",
        "[1000, 128]",
        "[1000, 128]",
        "[1000, 1]",
    ]
    text = str(s)
    assert "Total params: 8,577" in text and "Total mult-adds: 8,384,000" in text


def test_summary_folds_rows_below_depth_and_counts_reused_layers_once():
    shared = nn.Linear(4, 4)
    net = nn.Sequential(nn.Sequential(shared, nn.ReLU()), shared)
    s = soma.summary(net, (2, 4), depth=1)
    assert [r[0] for r in s.rows()] == ["Sequential", "└─0 (Sequential)", "└─1 (Linear)"]
    assert s.total_params == 20
    assert s.total_mult_adds == 2 * 2 * 16  # two calls of the shared layer


def test_summary_leaves_training_mode_as_it_was():
    net = nn.Sequential(nn.Linear(2, 2))
    net.train()
    soma.summary(net, (1, 2))
    assert net.training


def test_summary_of_a_custom_mult_adds_rule():
    class Scale(nn.Module):
        def forward(self, x):
            return x * 2

        def mult_adds(self, inputs, output):
            return output.numel()

    assert soma.summary(Scale(), (3, 5)).total_mult_adds == 15


def _deep_sigmoid_net(depth=12, width=16):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def test_gradient_report_names_the_layers_where_gradients_vanish():
    soma.manual_seed(0)
    net = _deep_sigmoid_net()
    loss = ((net(soma.randn(32, 16)) - 1) ** 2).mean()
    loss.backward()
    report = gradient_report(net)
    assert "0" in report.vanishing  # the first layer, farthest from the loss
    assert "24" not in report.vanishing  # the output layer gets the full signal
    norms = [r.grad_norm for r in report.rows]
    assert norms[0] < 1e-4 * norms[-1]
    assert "Vanishing gradients in: 0" in str(report)


def test_relu_network_of_the_same_depth_keeps_its_gradients():
    soma.manual_seed(0)
    layers = []
    for _ in range(12):
        layers += [nn.Linear(16, 16), nn.ReLU()]
        nn.init.kaiming_normal_(layers[-2].weight, nonlinearity="relu")
    net = nn.Sequential(*layers, nn.Linear(16, 1))
    ((net(soma.randn(32, 16)) - 1) ** 2).mean().backward()
    assert gradient_report(net).healthy


def test_gradient_report_flags_exploding_and_missing_gradients():
    net = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 1))
    with soma.no_grad():
        for layer in net:
            layer.weight.mul_(40.0)
    net[1].weight.requires_grad_(False)
    net[1].bias.requires_grad_(False)
    (net(soma.ones(4, 8)) ** 2).mean().backward()
    report = gradient_report(net)
    assert report.exploding == ["0", "2"]
    assert report.rows[1].status == "no gradient"
    assert "Exploding gradients in: 0, 2" in str(report)


def test_nonfinite_gradients_count_as_exploding():
    layer = nn.Linear(2, 1)
    layer.weight.grad = soma.tensor([[float("nan"), 0.0]])
    layer.bias.grad = soma.zeros(1)
    assert gradient_report(layer).exploding == ["Linear"]


def _image_model():
    return nn.Sequential(nn.Linear(4, 2 * 5 * 5), nn.Unflatten(1, (2, 5, 5)), nn.ReLU())


def test_feature_maps_capture_a_named_layer_and_errors_list_the_names():
    net = _image_model()
    maps = soma.inspection.feature_maps(net, soma.ones(3, 4), "1")
    assert tuple(maps.shape) == (3, 2, 5, 5)
    with pytest.raises(KeyError, match="layers are: 0, 1, 2"):
        soma.inspection.feature_maps(net, soma.ones(3, 4), "conv9")


def test_pictures_are_written_as_png(tmp_path):
    pytest.importorskip("matplotlib")
    net = _image_model()
    maps = soma.inspection.plot_feature_maps(
        net, soma.randn(1, 4), "2", str(tmp_path / "maps.png")
    )
    filters = soma.inspection.plot_filters(soma.randn(6, 3, 5, 5), str(tmp_path / "filters.png"))
    (net(soma.randn(2, 4)) ** 2).sum().backward()
    flow = soma.inspection.plot_gradient_flow(net, str(tmp_path / "flow.png"))
    for path in (maps, filters, flow):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filters.png", "flow.png", "maps.png"]


# The lectures' worked counts (shared/seeds/002_…: output size, parameters, 1×1 bottleneck cost)
def test_ten_5x5_filters_on_a_32x32x3_image_with_padding_2():
    s = soma.summary(nn.Conv2d(3, 10, kernel_size=5, stride=1, padding=2), (1, 3, 32, 32))
    assert s.rows()[0][2] == "[1, 10, 32, 32]"
    assert s.total_params == 760  # (5·5·3 + 1) · 10


def test_5x5_convolution_192_to_32_channels_costs_120_million_multiplications():
    s = soma.summary(nn.Conv2d(192, 32, kernel_size=5, padding=2, bias=False), (1, 192, 28, 28))
    assert s.total_params == 153_600
    assert s.total_mult_adds == 120_422_400
    assert "Total mult-adds: 120,422,400" in str(s)


def test_a_1x1_bottleneck_cuts_the_cost_tenfold():
    bottleneck = nn.Sequential(
        nn.Conv2d(192, 16, kernel_size=1, bias=False),
        nn.Conv2d(16, 32, kernel_size=5, padding=2, bias=False),
    )
    s = soma.summary(bottleneck, (1, 192, 28, 28))
    assert s.total_params == 15_872
    assert s.total_mult_adds == 12_443_648
    assert [r[2] for r in s.rows()] == ["[1, 32, 28, 28]", "[1, 16, 28, 28]", "[1, 32, 28, 28]"]


def test_summary_counts_batch_norm_statistics_as_buffers_not_parameters():
    s = soma.summary(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)), (2, 1, 8, 8))
    assert s.total_params == 4 * 9 + 4 + 8 and s.trainable_params == s.total_params
    assert s.buffer_elements == 4 + 4 + 1  # running mean, running var, num_batches_tracked
