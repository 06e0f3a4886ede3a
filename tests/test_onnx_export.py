"""ONNX export: every exported model is run by onnxruntime and must give soma's outputs, on
the example input and on other inputs (other batch sizes where the batch axis is dynamic)."""

import io
import os
import sys

import numpy as np
import pytest

import soma
import soma.models
from soma.onnx import ExportError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

nn = soma.nn
F = soma.nn.functional
BATCH = {"input": {0: "batch"}}


def _export(model, args, **kwargs) -> bytes:
    buf = io.BytesIO()
    soma.onnx.export(model, args, buf, **kwargs)
    return buf.getvalue()


def _run(blob, *arrays):
    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, arrays)))


def assert_exports(
    model, example, *others, dynamic_axes=BATCH, opset_version=17, rtol=1e-5, atol=1e-5
):
    """Export ``model`` on ``example``; onnxruntime must match soma on it and on ``others``."""
    model.eval()
    blob = _export(model, example, dynamic_axes=dynamic_axes, opset_version=opset_version)
    for x in (example,) + others:
        got = _run(blob, x.numpy())[0]
        with soma.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return onnx.load_from_string(blob)


def _op_types(proto) -> set:
    return {node.op_type for node in proto.graph.node}


class _Wrapper(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _warm_up(model, *shape, steps=2):
    """A few training-mode passes so that batch-norm running statistics are not trivial."""
    model.train()
    for _ in range(steps):
        model(soma.randn(*shape))
    return model


# ---------------------------------------------------------------------- the lectures' models
class SinNet(nn.Module):  # the lecture's sin(3x) network, verbatim
    def __init__(self):
        super().__init__()
        self.hidden1 = nn.Linear(1, 64)
        self.hidden2 = nn.Linear(64, 128)
        self.output = nn.Linear(128, 1)

    def forward(self, x):
        x = soma.relu(self.hidden1(x))
        x = soma.relu(self.hidden2(x))
        x = self.output(x)
        return x


class LectureSimpleCNN(nn.Module):  # the lecture's SimpleCNN, verbatim (7×7 inputs)
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
        self.fc = nn.Linear(64 * 7 * 7, num_classes)

    def forward(self, x):
        x = self.dropout1(self.relu1(self.bn1(self.conv1(x))))
        x = self.dropout2(self.relu2(self.bn2(self.conv2(x))))
        x = x.view(x.size(0), -1)
        return self.fc(x)


def test_mlp_with_dynamic_batch_and_state_dict_names():
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2), nn.Softmax(dim=1))
    proto = assert_exports(model, soma.randn(4, 3), soma.randn(7, 3), soma.randn(1, 3))
    assert [i.name for i in proto.graph.initializer] == list(model.state_dict())
    assert _op_types(proto) == {"Gemm", "Relu", "Softmax"}
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_lecture_sin3x_net():
    x = soma.linspace(-1, 1, 11).reshape(-1, 1)
    assert_exports(SinNet(), x, soma.randn(3, 1))


@pytest.mark.parametrize(
    "activation,pooling", [("tanh", "avg"), ("scaled_tanh", "max"), ("relu", "max")]
)
def test_lenet5(activation, pooling):
    model = soma.models.LeNet5(activation=activation, pooling=pooling)
    assert_exports(model, soma.randn(2, 1, 32, 32), soma.randn(3, 1, 32, 32))


def test_lecture_simple_cnn_and_zoo_simple_cnn():
    lecture = _warm_up(LectureSimpleCNN(1, 10), 4, 1, 7, 7)
    proto = assert_exports(lecture, soma.randn(2, 1, 7, 7), soma.randn(5, 1, 7, 7))
    assert "BatchNormalization" in _op_types(proto) and "Dropout" not in _op_types(proto)
    zoo = _warm_up(soma.models.SimpleCNN(), 4, 1, 28, 28)
    assert_exports(zoo, soma.randn(2, 1, 28, 28), soma.randn(3, 1, 28, 28))


# ---------------------------------------------------------------------- convolutional blocks
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
        )

    def forward(self, x):
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


def test_resnet_style_block_with_batch_norm_in_eval_mode():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        BasicBlock(8, 16, 2),
        BasicBlock(16, 16, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    )
    _warm_up(model, 4, 3, 16, 16)
    proto = assert_exports(model, soma.randn(2, 3, 16, 16), soma.randn(3, 3, 16, 16))
    assert {"GlobalAveragePool", "BatchNormalization", "Add", "MaxPool"} <= _op_types(proto)
    assert "4.downsample.1.running_var" in {i.name for i in proto.graph.initializer}


class SqueezeExcite(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, 4, 1)
        self.fc2 = nn.Conv2d(4, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(F.relu(self.fc1(self.pool(x)))))


def test_mobilenet_style_depthwise_blocks():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1),
        nn.BatchNorm2d(8),
        nn.ReLU6(),
        nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False),
        nn.BatchNorm2d(8),
        nn.Hardswish(),
        SqueezeExcite(8),
        nn.Conv2d(8, 16, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU6(),
        nn.Conv2d(16, 16, 3, 2, 1, groups=16),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(16, 4),
    )
    _warm_up(model, 4, 3, 16, 16)
    proto = assert_exports(model, soma.randn(2, 3, 16, 16), soma.randn(3, 3, 16, 16))
    groups = [
        a.i
        for n in proto.graph.node
        if n.op_type == "Conv"
        for a in n.attribute
        if a.name == "group"
    ]
    assert groups == [1, 8, 1, 1, 1, 16]  # stem, depthwise, SE (2), pointwise, depthwise


@pytest.mark.parametrize(
    "batch_first,norm_first,activation", [(True, False, "relu"), (False, True, "gelu")]
)
def test_transformer_encoder_layer_with_dynamic_batch_and_length(
    batch_first, norm_first, activation
):
    layer = nn.TransformerEncoderLayer(
        16,
        4,
        32,
        dropout=0.1,
        activation=activation,
        batch_first=batch_first,
        norm_first=norm_first,
    )
    axes = {0: "batch", 1: "seq"} if batch_first else {0: "seq", 1: "batch"}
    shape = (lambda b, t: (b, t, 16)) if batch_first else (lambda b, t: (t, b, 16))
    proto = assert_exports(
        layer,
        soma.randn(*shape(2, 5)),
        soma.randn(*shape(3, 7)),
        soma.randn(*shape(1, 2)),
        dynamic_axes={"input": axes},
        atol=2e-5,
    )
    assert "LayerNormalization" in _op_types(proto)


class CausalEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.encoder(x, mask=mask, is_causal=True)


def test_transformer_encoder_stack_with_a_causal_mask():
    assert_exports(CausalEncoder(), soma.randn(2, 6, 16), soma.randn(3, 6, 16), atol=2e-5)


class EncoderDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.Transformer(16, 2, 1, 1, 32, batch_first=True)

    def forward(self, x):
        return self.transformer(x, x[:, :3])


def test_full_transformer_encoder_decoder():
    assert_exports(EncoderDecoder(), soma.randn(2, 6, 16), soma.randn(3, 6, 16), atol=2e-5)


def test_vision_transformer_from_the_zoo():
    model = soma.models.VisionTransformer(
        image_size=16, patch_size=4, depth=2, heads=2, dim=16, mlp_dim=32, num_classes=5
    )
    with soma.no_grad():  # the head starts at zero; random weights make the check meaningful
        for p in model.parameters():
            p.array[...] = np.random.randn(*p.shape) * 0.2
    assert_exports(model, soma.randn(2, 3, 16, 16), soma.randn(3, 3, 16, 16))


# ---------------------------------------------------------------------- op families
ACTIVATIONS = [
    nn.ReLU(),
    nn.LeakyReLU(0.2),
    nn.ELU(0.7),
    nn.SELU(),
    nn.CELU(1.3),
    nn.GELU(),
    nn.GELU(approximate="tanh"),
    nn.SiLU(),
    nn.Mish(),
    nn.Softplus(),
    nn.Softplus(2, 3),
    nn.Hardtanh(-0.5, 0.8),
    nn.ReLU6(),
    nn.Hardsigmoid(),
    nn.Hardswish(),
    nn.Softsign(),
    nn.Tanhshrink(),
    nn.Hardshrink(0.3),
    nn.Softshrink(0.2),
    nn.LogSigmoid(),
    nn.Sigmoid(),
    nn.Tanh(),
    nn.Threshold(0.1, -2.0),
    nn.PReLU(),
    nn.PReLU(6),
    nn.Softmax(dim=-1),
    nn.LogSoftmax(dim=1),
    nn.Softmin(dim=1),
    nn.Step(0.1),
]


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=repr)
def test_activations(layer):
    x = soma.randn(3, 6) * 3
    x.array[0, :3] = [30.0, -30.0, 0.0]  # far tails and the kink
    assert_exports(layer, x, soma.randn(5, 6) * 3)


@pytest.mark.parametrize("opset", [17, 20])
def test_gelu_is_decomposed_before_opset_20(opset):
    for approximate in ("none", "tanh"):
        proto = assert_exports(
            nn.GELU(approximate=approximate), soma.randn(4, 5) * 3, opset_version=opset
        )
        assert ("Gelu" in _op_types(proto)) == (opset >= 20)


LAYERS = {
    "avg_pool_padded": (nn.AvgPool2d(3, 2, 1), (3, 9, 9)),
    "avg_pool_exclude_pad": (nn.AvgPool2d(3, 2, 1, count_include_pad=False), (3, 9, 9)),
    "avg_pool_ceil": (nn.AvgPool2d(2, 2, ceil_mode=True), (3, 9, 9)),
    "avg_pool_divisor": (nn.AvgPool2d(2, divisor_override=3), (3, 8, 8)),
    "max_pool_ceil": (nn.MaxPool2d(2, 2, ceil_mode=True), (3, 9, 9)),
    "max_pool_dilated": (nn.MaxPool2d(3, 1, 1, dilation=2), (3, 9, 9)),
    "max_pool1d": (nn.MaxPool1d(3, 2), (3, 10)),
    "avg_pool1d": (nn.AvgPool1d(3, 2, 1), (3, 10)),
    "max_pool3d": (nn.MaxPool3d(2), (2, 4, 4, 4)),
    "adaptive_avg_uneven": (nn.AdaptiveAvgPool2d((3, 4)), (3, 9, 9)),
    "adaptive_avg1d": (nn.AdaptiveAvgPool1d(4), (3, 10)),
    "upsample_nearest": (nn.Upsample(scale_factor=2), (3, 5, 5)),
    "upsample_nearest_size": (nn.Upsample(size=(4, 14)), (3, 5, 5)),
    "upsample_bilinear": (nn.Upsample(scale_factor=2, mode="bilinear"), (3, 5, 5)),
    "upsample_bilinear_corners": (
        nn.Upsample(size=(5, 13), mode="bilinear", align_corners=True),
        (3, 5, 5),
    ),
    "upsample_bicubic": (nn.Upsample(scale_factor=1.5, mode="bicubic"), (3, 6, 6)),
    "upsample_linear1d": (nn.Upsample(scale_factor=3, mode="linear"), (3, 5)),
    "conv_transpose": (
        nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
        (3, 5, 5),
    ),
    "conv_transpose_groups": (nn.ConvTranspose2d(3, 6, 2, stride=2, groups=3), (3, 5, 5)),
    "conv_same_dilated": (nn.Conv2d(3, 4, 3, padding="same", dilation=2), (3, 9, 9)),
    "conv_strided_grouped": (nn.Conv2d(3, 6, (3, 2), stride=(2, 1), groups=3), (3, 9, 9)),
    "conv1d": (nn.Conv1d(3, 5, 3, padding=2), (3, 10)),
    "conv3d": (nn.Conv3d(2, 3, 3, padding=1), (2, 4, 5, 5)),
    "reflection_pad": (nn.ReflectionPad2d((1, 2, 0, 3)), (3, 5, 5)),
    "replication_pad": (nn.ReplicationPad2d(2), (3, 5, 5)),
    "zero_pad": (nn.ZeroPad2d((1, 0, 2, 1)), (3, 5, 5)),
    "constant_pad": (nn.ConstantPad1d((2, 1), 3.5), (3, 5)),
    "layer_norm_2d": (nn.LayerNorm((5, 5)), (3, 5, 5)),
    "layer_norm_plain": (nn.LayerNorm(5, elementwise_affine=False), (3, 5)),
    "group_norm": (nn.GroupNorm(2, 4), (4, 5, 5)),
    "instance_norm": (nn.InstanceNorm2d(3, affine=True), (3, 5, 5)),
    "batch_norm1d": (nn.BatchNorm1d(5), (5,)),
    "local_response_norm_odd": (nn.LocalResponseNorm(3), (5, 4, 4)),
    "local_response_norm_even": (nn.LocalResponseNorm(2, alpha=0.3, beta=0.6, k=1.5), (5, 4, 4)),
    "unflatten": (nn.Sequential(nn.Flatten(), nn.Unflatten(1, (5, 5))), (5, 5)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers(name):
    layer, shape = LAYERS[name]
    if isinstance(layer, nn.BatchNorm1d):
        _warm_up(layer, 8, *shape)
    assert_exports(layer, soma.randn(2, *shape), soma.randn(3, *shape))


class TensorOps(nn.Module):
    """Indexing, joining, reductions, products and arithmetic written in a forward."""

    def __init__(self):
        super().__init__()
        self.cls = nn.Parameter(soma.randn(1, 1, 6))
        self.lin = nn.Linear(6, 6)

    def forward(self, x):  # (B, T, 6)
        t = soma.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        a, c = t.chunk(2, dim=-1)
        y = soma.cat([c, a], -1) * 2.0 - 1 + t**2 / 3
        y = y[:, 1:, :] + y[:, :-1].flip(1)
        flat = y.transpose(1, 2).reshape(x.shape[0], -1)
        stats = (
            y.mean(dim=1, keepdim=True)
            + y.sum(-1, keepdim=True)
            + y.amax(dim=2, keepdim=True)
            - y.var(dim=1, keepdim=True)
        )
        w = soma.sqrt(soma.exp(-y.abs())) + soma.clamp(y, -0.5, 0.5) + stats
        w = w + y.logsumexp(-1, keepdim=True)
        q = soma.matmul(w, self.lin.weight) + soma.einsum("btd,de->bte", y, self.lin.weight)
        r = q[..., 0] + q[:, None, :, 2].squeeze(1)
        return soma.cat(
            [
                r,
                flat[:, :3],
                y.roll(1, 2)[:, 0, :2],
                q[:, [0, 2]][:, :, 1],
                y.permute(0, 2, 1)[:, 0, 1:2],
            ],
            dim=1,
        )


def test_tensor_ops_in_a_forward():
    assert_exports(
        TensorOps(), soma.randn(2, 4, 6), soma.randn(3, 4, 6), soma.randn(1, 4, 6), atol=1e-4
    )


def test_fully_convolutional_model_with_dynamic_height_and_width():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
        nn.LeakyReLU(0.1),
        nn.Conv2d(4, 2, 1),
    )
    _warm_up(model, 4, 3, 16, 16)
    axes = {"input": {0: "batch", 2: "height", 3: "width"}}
    proto = assert_exports(
        model,
        soma.randn(2, 3, 16, 16),
        soma.randn(1, 3, 20, 27),
        soma.randn(3, 3, 13, 9),
        dynamic_axes=axes,
    )
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 2
    assert dims[2].dim_param and dims[3].dim_param  # sizes that follow height and width


class Selections(nn.Module):
    def forward(self, x):  # (B, 3, 4)
        largest, _ = x.max(dim=1)
        smallest, _ = x.min(dim=2, keepdim=True)
        top, _ = x.topk(2, dim=-1)
        ordered, _ = soma.sort(x, dim=1)
        parts = [largest, smallest, top, ordered]
        return soma.cat([p.reshape(x.shape[0], -1) for p in parts], 1)


def test_max_min_topk_sort_values():
    proto = assert_exports(Selections(), soma.randn(2, 3, 4), soma.randn(5, 3, 4))
    assert {"ReduceMax", "ReduceMin", "TopK"} <= _op_types(proto)


MASK = np.array([[True, False, True, False]])
INDEX = np.array([[3, 0, 1, 1], [2, 2, 0, 3]])


class ElementwiseOps(nn.Module):
    def forward(self, x):  # (B, 4)
        a = soma.remainder(x, 0.7) + soma.sin(x) * soma.cos(x) + soma.round(x) + soma.floor(x)
        a = a + soma.ceil(x) + soma.sign(x) + soma.expm1(x) + soma.log1p(x.abs())
        b = soma.cumsum(x, 1) + x.prod(dim=1, keepdim=True) + x.norm(dim=1, keepdim=True)
        c = soma.maximum(x, x * 0.5) - soma.minimum(x, 0.1 * x) + x.clone()
        c = c + soma.where(soma.tensor(MASK), x, -x) + x.double().float()
        d = x.repeat(1, 2)[:, :4] + x.mean() + x.sum() * x.var() - x.var(1, keepdim=True)
        return a + b + c + d


def test_elementwise_and_reduction_ops():
    assert_exports(
        ElementwiseOps(), soma.randn(2, 4), soma.randn(3, 4), soma.randn(1, 4), atol=1e-4
    )
    gather = _Wrapper(lambda x: x.gather(1, soma.tensor(INDEX)) * 2)
    proto = assert_exports(gather, soma.randn(2, 4), soma.randn(2, 4), dynamic_axes=None)
    assert "GatherElements" in _op_types(proto)


def test_embedding_with_integer_input():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    blob = _export(model.eval(), soma.tensor([[1, 2, 3], [4, 5, 9]]), dynamic_axes=BATCH)
    ids = soma.tensor([[0, 7, 3], [9, 9, 1], [2, 2, 2]])
    with soma.no_grad():
        want = model(ids).numpy()
    np.testing.assert_allclose(_run(blob, ids.numpy())[0], want, rtol=1e-6, atol=1e-6)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, a, b):
        return self.fc(a) + b, a.sum(1), a


def test_several_inputs_and_outputs_with_names():
    model = TwoInputs()
    a, b = soma.randn(2, 3), soma.randn(2, 2)
    blob = _export(
        model,
        (a, b),
        input_names=["a", "b"],
        output_names=["y", "s", "echo"],
        dynamic_axes={"a": {0: "n"}, "b": {0: "n"}, "y": {0: "n"}},
    )
    proto = onnx.load_from_string(blob)
    assert [o.name for o in proto.graph.output] == ["y", "s", "echo"]
    assert proto.graph.output[1].type.tensor_type.shape.dim[0].dim_param == "n"
    a2, b2 = soma.randn(4, 3), soma.randn(4, 2)
    got = _run(blob, a2.numpy(), b2.numpy())
    with soma.no_grad():
        want = model(a2, b2)
    for g_, w in zip(got, want):
        np.testing.assert_allclose(g_, w.numpy(), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------- files and modes
def test_export_is_deterministic_and_atomic(tmp_path):
    model = _warm_up(soma.models.SimpleCNN(), 4, 1, 28, 28).eval()
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    soma.onnx.export(model, soma.randn(1, 1, 28, 28), path, dynamic_axes=BATCH)
    first = path.read_bytes()
    soma.onnx.export(model, soma.randn(1, 1, 28, 28), str(path), dynamic_axes=BATCH)
    assert path.read_bytes() == first
    assert os.listdir(tmp_path) == ["model.onnx"]
    onnx.checker.check_model(onnx.load(str(path)))
    with pytest.raises(ExportError):
        soma.onnx.export(nn.LSTM(3, 2), soma.randn(2, 4, 3), path)
    assert path.read_bytes() == first and os.listdir(tmp_path) == ["model.onnx"]


def test_modes_are_restored_and_statistics_untouched():
    model = _warm_up(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)), 8, 4)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    blob = _export(model, soma.randn(3, 4))
    assert all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    model.eval()
    x = soma.randn(3, 4)
    with soma.no_grad():
        np.testing.assert_allclose(
            _run(blob, x.numpy())[0], model(x).numpy(), rtol=1e-6, atol=1e-6
        )


# ---------------------------------------------------------------------- refusals
def test_unsupported_op_names_the_op_and_the_layer():
    model = nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, 2, batch_first=True))
    with pytest.raises(ExportError, match=r"LSTMLayer \(in '1' \(LSTM\)\) has no ONNX converter"):
        _export(model, soma.randn(2, 4, 3))


def test_constants_computed_from_the_input_are_refused():
    masked = _Wrapper(lambda x: x * (x > 0).float())
    with pytest.raises(ExportError, match="values change with the input's values"):
        _export(masked, soma.randn(2, 4))
    scaled = _Wrapper(lambda x: x / float(x.abs().max()))
    with pytest.raises(ExportError, match="change with the input's size or values"):
        _export(scaled, soma.randn(2, 4))


class Positions(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Embedding(10, 4)

    def forward(self, x):
        return x + self.pos(soma.arange(x.shape[1]))


def test_constants_following_a_dynamic_axis_are_refused():
    assert_exports(Positions(), soma.randn(2, 5, 4), soma.randn(3, 5, 4))
    with pytest.raises(
        ExportError,
        match=r"Embedding \(in 'pos' \(Embedding\)\) .*follows the "
        "input's size",
    ):
        _export(Positions(), soma.randn(2, 3, 4), dynamic_axes={"input": [0, 1]})
    with pytest.raises(ExportError, match=r"second time.*shapes \[\(5, 11, 4\)\].*failed"):
        _export(Positions(), soma.randn(2, 5, 4), dynamic_axes={"input": [0, 1]})


def test_control_flow_on_sizes_is_refused_with_dynamic_axes():
    model = _Wrapper(lambda x: x * 2 if x.shape[0] > 2 else x + 1)
    with pytest.raises(ExportError, match="different graph"):
        _export(model, soma.randn(2, 2), dynamic_axes=BATCH)


def test_training_only_ops_are_refused():
    with pytest.raises(ExportError, match=r"Dropout .*call model.eval\(\)"):
        _export(_Wrapper(lambda x: F.dropout(x, 0.5, training=True)), soma.randn(2, 3))
    bn = _Wrapper(lambda x: F.batch_norm(x, None, None, training=True))
    with pytest.raises(ExportError, match=r"BatchNormTrain .*training mode"):
        _export(bn, soma.randn(4, 3))


def test_bad_arguments():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="opset_version must be 17 to 21"):
        _export(model, soma.randn(1, 3), opset_version=13)
    with pytest.raises(ValueError, match=r"dynamic_axes names \['x'\]"):
        _export(model, soma.randn(1, 3), dynamic_axes={"x": [0]})
    with pytest.raises(ValueError, match="out of range"):
        _export(model, soma.randn(1, 3), dynamic_axes={"input": [2]})
    with pytest.raises(ValueError, match="2 distinct input names"):
        _export(TwoInputs(), (soma.randn(1, 3), soma.randn(1, 2)), input_names=["a"])


def test_missing_onnx_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install soma\[onnx\]"):
        _export(nn.Linear(2, 2), soma.randn(1, 2))
