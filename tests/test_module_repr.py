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
