"""``print(model)`` prints what PyTorch prints (``Module.__repr__``, ``ModuleList``'s runs)."""

import pytest

import soma
from soma import nn


def test_a_leaf_prints_its_arguments_on_one_line():
    assert repr(nn.Linear(2, 3)) == "Linear(in_features=2, out_features=3, bias=True)"
    assert repr(nn.ReLU()) == "ReLU()"


def test_children_are_indented_and_repeated_layers_grouped():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Sequential(nn.Tanh())])
    assert repr(layers) == (
        "ModuleList(\n"
        "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (3): Sequential(\n"
        "    (0): Tanh()\n"
        "  )\n"
        ")"
    )
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_parameter_containers_list_their_parameters():
    params = nn.ParameterList([nn.Parameter(soma.zeros(2, 3))])
    assert repr(params) == "ParameterList(  (0): Parameter containing: [soma.float32 of size 2x3])"


def test_printed_losses_name_pytorchs_graph_nodes():
    x = soma.tensor([[1.0, 2.0]], requires_grad=True)
    assert repr(soma.nn.functional.mse_loss(x, soma.zeros(1, 2))) == (
        "tensor(2.5000, grad_fn=<MseLossBackward0>)"
    )
    assert repr(soma.nn.Linear(2, 1)(x)).endswith("grad_fn=<AddmmBackward0>)")


torch = pytest.importorskip("torch")

MODULES = [
    "nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)",
    "nn.Conv1d(3, 8, 5, dilation=2, padding='same')",
    "nn.ConvTranspose2d(8, 4, 2, stride=2)",
    "nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)",
    "nn.AdaptiveAvgPool2d((1, 1))",
    "nn.BatchNorm1d(10)",
    "nn.LayerNorm([4, 5], elementwise_affine=False)",
    "nn.GroupNorm(2, 8)",
    "nn.Embedding(10, 3, padding_idx=0)",
    "nn.GRU(3, 4, num_layers=2, dropout=0.1)",
    "nn.RNN(3, 4, nonlinearity='relu', batch_first=True)",
    "nn.LSTM(3, 4, bidirectional=True, proj_size=2)",
    "nn.LSTMCell(3, 4)",
    "nn.GELU(approximate='tanh')",
    "nn.Upsample(scale_factor=2, mode='bilinear')",
    "nn.CrossEntropyLoss(label_smoothing=0.1)",
    "nn.MSELoss(reduction='sum')",
    "nn.SmoothL1Loss(beta=0.5)",
    "nn.KLDivLoss(reduction='batchmean')",
    "nn.CosineSimilarity()",
    "nn.PairwiseDistance(p=3)",
    "nn.MultiheadAttention(8, 2, kdim=4, vdim=4, batch_first=True)",
    "nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 3)",
    "nn.Transformer(8, 2, 1, 1, 16, batch_first=True)",
    "nn.ParameterList([nn.Parameter(torch.zeros(2, 3)), nn.Parameter(torch.zeros(1, dtype=torch.float64))])",
    "nn.ParameterDict({'a': nn.Parameter(torch.zeros(2))})",
    "nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 4))",
]


@pytest.mark.parametrize("expression", MODULES)
def test_modules_print_as_pytorch(expression):
    expected = repr(eval(expression, {"nn": torch.nn, "torch": torch}))
    got = repr(eval(expression, {"nn": soma.nn, "torch": soma}))
    assert got.replace("soma.", "torch.") == expected


OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Rprop", "Adadelta", "Adamax"]
OPTIMIZERS += ["NAdam", "RAdam", "ASGD"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_print_as_pytorch(name):
    # every param-group key PyTorch keeps (foreach, capturable, ... too), with its default
    def printed(fw):
        return repr(getattr(fw.optim, name)([fw.nn.Parameter(fw.zeros(2))], lr=0.1))

    assert printed(soma) == printed(torch)


# ``grad_fn`` names: soma's Functions carry PyTorch's node names, set per call where PyTorch's
# depend on the arguments (Linear: addmm for a matrix, a view of it otherwise; x[i]: select,
# slice or index; sum over dims: SumBackward1 ...)
GRAPH_NODES = [
    "x @ w.t()",
    "x[0] @ x[1]",
    "x @ x[0]",
    "x3 @ w.t()",
    "F.linear(x, w)",
    "F.linear(x, w, b)",
    "F.linear(x3, w, b)",
    "F.linear(x3, w)",
    "m.relu(x)",
    "F.relu(x)",
    "F.gelu(x)",
    "F.leaky_relu(x)",
    "F.elu(x)",
    "F.silu(x)",
    "F.softplus(x)",
    "F.hardtanh(x)",
    "F.relu6(x)",
    "F.mish(x)",
    "F.hardswish(x)",
    "F.selu(x)",
    "m.sigmoid(x)",
    "m.tanh(x)",
    "x.view(-1)",
    "x.reshape(-1)",
    "x.t().reshape(-1)",
    "x.flatten()",
    "x3.flatten(1)",
    "x.unsqueeze(0)",
    "x.t()",
    "x.transpose(0, 1)",
    "x.permute(1, 0)",
    "x[0]",
    "x[1:3]",
    "x[:, 1]",
    "x[:, 1:]",
    "x[[0, 1]]",
    "x[x > 0]",
    "x[None]",
    "F.mse_loss(x, y)",
    "F.mse_loss(x, y, reduction='none')",
    "F.l1_loss(x, y)",
    "F.l1_loss(x, y, reduction='sum')",
    "F.cross_entropy(x, t[:4])",
    "F.cross_entropy(x, t, reduction='none')",
    "F.nll_loss(F.log_softmax(x, 1), t)",
    "F.binary_cross_entropy(m.sigmoid(x), y.sigmoid())",
    "F.binary_cross_entropy_with_logits(x, y.sigmoid())",
    "F.smooth_l1_loss(x, y)",
    "F.huber_loss(x, y)",
    "F.conv2d(img, k)",
    "F.conv1d(x3, m.randn(2, 4, 2))",
    "F.max_pool2d(img, 2)",
    "F.avg_pool2d(img, 2)",
    "F.adaptive_avg_pool2d(img, 1)",
    "F.adaptive_max_pool2d(img, 1)",
    "F.batch_norm(img, None, None, training=True)",
    "F.layer_norm(x, (3,))",
    "F.group_norm(img, 1)",
    "F.dropout(x, 0.5)",
    "x.max()",
    "x.max(1)[0]",
    "x.min()",
    "x.amax(1)",
    "x.clamp(0, 1)",
    "x.clamp(min=0)",
    "x.norm()",
    "x.double()",
    "x.sum()",
    "x.sum(1)",
    "x.mean()",
    "x.mean(1)",
    "x.var()",
    "x.std()",
    "F.embedding(t, w)",
    "F.pad(img, (1, 1))",
    "F.interpolate(img, scale_factor=2)",
    "m.cat([x, x])",
    "m.stack([x, x])",
    "x.repeat(2, 1)",
    "x.expand(2, 4, 3)",
    "m.where(x > 0, x, y)",
    "x.abs()",
    "x.exp()",
    "x.log()",
    "x.sqrt()",
    "x * 2",
    "x + 1",
    "x - y",
    "x / 2",
    "x ** 2",
    "-x",
    "F.softmax(x, 1)",
    "F.log_softmax(x, 1)",
    "x.sin()",
    "x.cos()",
    "x.clone()",
    "m.bmm(x3, x3.transpose(1, 2))",
]


@pytest.mark.parametrize("expression", GRAPH_NODES)
def test_graph_nodes_carry_pytorchs_names(expression):
    names = []
    for m in (torch, soma):
        m.manual_seed(0)
        x, y = m.randn(4, 3, requires_grad=True), m.randn(4, 3)
        w, b = m.randn(5, 3, requires_grad=True), m.randn(5)
        x3, t = m.randn(2, 4, 3, requires_grad=True), m.tensor([0, 1, 2, 0])
        img, k = m.randn(2, 3, 4, 4, requires_grad=True), m.randn(2, 3, 3, 3)
        scope = {"m": m, "F": m.nn.functional, "x": x, "y": y, "w": w, "b": b, "x3": x3}
        scope.update(t=t, img=img, k=k)
        names.append(eval(expression, scope).grad_fn.name())
    assert names[1] == names[0]
