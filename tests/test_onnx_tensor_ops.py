"""ONNX export of the tensor ops added for PyTorch parity: onnxruntime must give soma's outputs."""

import numpy as np
import pytest

import soma
from tests.test_onnx_export import _export, _op_types, _run

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

nn = soma.nn
F = soma.nn.functional


class NewOps(nn.Module):
    def forward(self, x):  # (B, 4, 4)
        s = soma.tanh(x) * 0.9  # inside (-1, 1) for the inverse functions
        a = soma.tan(s) + soma.asin(s) + soma.acos(s) + soma.atan(x) + soma.atanh(s)
        b = soma.sinh(x) + soma.cosh(s) + soma.asinh(x) + soma.acosh(soma.cosh(x) + 1)
        c = soma.erf(x) + soma.erfc(x) + soma.exp2(s)
        d = soma.tril(x, -1) - soma.triu(x, 1) + F.glu(x, -1).repeat(1, 1, 2)
        return a + b + c + d


@pytest.mark.parametrize("opset", [17, 18])
def test_new_tensor_ops_export(opset):
    model = NewOps().eval()
    blob = _export(
        model, soma.randn(2, 4, 4), dynamic_axes={"input": {0: "batch"}}, opset_version=opset
    )
    for x in (soma.randn(2, 4, 4), soma.randn(3, 4, 4)):
        got = _run(blob, x.numpy())[0]
        with soma.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    ops = _op_types(onnx.load_from_string(blob))
    assert {"Tan", "Asin", "Acos", "Atanh", "Erf", "Where", "Split", "Acosh"} <= ops
