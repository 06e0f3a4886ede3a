"""optim.swa_utils (issue 11): AveragedModel, SWALR and update_bn against PyTorch's."""

import numpy as np
import pytest

import soma
from tests.conftest import torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch (the reference oracle) is missing")


def _net(fw, seed=0):
    rng = np.random.default_rng(seed)
    net = fw.nn.Sequential(
        fw.nn.Linear(3, 8), fw.nn.BatchNorm1d(8), fw.nn.Tanh(), fw.nn.Linear(8, 2)
    )
    net = net.double()
    state = {
        k: fw.tensor(rng.standard_normal(tuple(v.shape)))
        for k, v in net.state_dict().items()
        if "running" not in k and "num_batches" not in k
    }
    net.load_state_dict(state, strict=False)
    return net


def _swa_run(fw, **avg_kwargs):
    rng = np.random.default_rng(1)
    x, y = fw.tensor(rng.standard_normal((16, 3))), fw.tensor(rng.standard_normal((16, 2)))
    model = _net(fw)
    opt = fw.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    swa = fw.optim.swa_utils.AveragedModel(model, **avg_kwargs)
    sched = fw.optim.swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=5)
    lrs = []
    for step in range(30):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if step >= 10:
            swa.update_parameters(model)
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
    fw.optim.swa_utils.update_bn([(x, y)], swa)
    swa.eval()
    return swa, swa(x).detach().numpy(), lrs


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_buffers"])
def test_averaged_model_swalr_and_update_bn_match_torch(kind):
    runs = []
    for fw in (soma, torch):
        kwargs = {}
        if kind != "swa":
            kwargs["multi_avg_fn"] = fw.optim.swa_utils.get_ema_multi_avg_fn(0.9)
            kwargs["use_buffers"] = kind == "ema_buffers"
        runs.append(_swa_run(fw, **kwargs))
    (s_model, s_out, s_lrs), (t_model, t_out, t_lrs) = runs
    np.testing.assert_allclose(s_lrs, t_lrs, rtol=1e-13)
    assert s_model.n_averaged.item() == t_model.n_averaged.item() == 20
    theirs = t_model.state_dict()
    for key, value in s_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs[key].numpy(), rtol=1e-9, err_msg=key)
    np.testing.assert_allclose(s_out, t_out, rtol=1e-9)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 4])
def test_swalr_rates_match_torch(strategy, anneal_epochs):
    rates = []
    for fw in (soma, torch):
        w = fw.nn.Parameter(fw.zeros(2))
        v = fw.nn.Parameter(fw.zeros(2))
        opt = fw.optim.SGD([{"params": [w]}, {"params": [v], "lr": 0.3}], lr=1.0)
        sched = fw.optim.swa_utils.SWALR(opt, [0.1, 0.05], anneal_epochs, strategy)
        seen = []
        for _ in range(8):
            opt.step()
            sched.step()
            seen.append([g["lr"] for g in opt.param_groups])
        rates.append(seen)
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-13)


def test_swa_average_by_hand_and_errors():
    model = soma.nn.Linear(2, 1)
    swa = soma.optim.swa_utils.AveragedModel(model)
    for w in (1.0, 3.0, 8.0):
        model.weight.data.fill_(w)
        swa.update_parameters(model)
    assert swa.module.weight.tolist() == [[4.0, 4.0]]
    assert "n_averaged" in swa.state_dict()
    with pytest.raises(ValueError, match="anneal_strategy"):
        soma.optim.swa_utils.SWALR(soma.optim.SGD(model.parameters(), lr=0.1), 0.1, 2, "step")
    with pytest.raises(ValueError, match="decay"):
        soma.optim.swa_utils.get_ema_avg_fn(1.5)
