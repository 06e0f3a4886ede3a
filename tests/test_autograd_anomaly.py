"""Anomaly detection: the first NaN/Inf names the op, the module path and the user's line."""

import pytest

import soma
from soma import nn


class Sqrt(nn.Module):
    def forward(self, x):
        return x.sqrt()  # the line anomaly mode must point at


def _model():
    features = nn.Sequential(nn.Identity(), nn.Identity(), nn.Identity(), Sqrt())
    model = nn.Sequential()
    model.features = features
    return model


def test_forward_nan_names_op_module_and_line():
    model = _model()
    x = soma.tensor([4.0, -1.0], requires_grad=True)
    with soma.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            model(x)
    message = str(info.value)
    assert "Sqrt" in message and "nan" in message
    assert "features.3 (Sqrt)" in message
    assert "test_autograd_anomaly.py" in message and "return x.sqrt()" in message
    model(x)  # off again outside the block: no error


def test_backward_inf_names_the_node():
    model = _model()
    x = soma.tensor([4.0, 0.0], requires_grad=True)  # d√x/dx = ∞ at 0
    soma.autograd.set_detect_anomaly(True)
    try:
        y = model(x).sum()
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned inf values"):
            y.backward()
    finally:
        soma.autograd.set_detect_anomaly(False)
    assert not soma.autograd.is_anomaly_enabled()


def test_check_nan_false_records_but_does_not_raise():
    x = soma.tensor([-1.0], requires_grad=True)
    with soma.autograd.set_detect_anomaly(True, check_nan=False):
        y = x.sqrt()
    assert y.isnan().all()
