"""Memory formats (``soma.channels_last`` …), ``Tensor.stride()`` and layout-preserving copies.

The layout never changes a value: a network run on channels-last memory gives the results and
gradients of the same network on contiguous memory. Strides and contiguity are compared with
PyTorch's on views of every kind (permuted, sliced, expanded, size-1 and empty dimensions).
"""

import numpy as np
import pytest

import soma


def _views(fw):
    """The same views built in soma or torch: name → tensor."""
    fw.manual_seed(0)
    base = fw.arange(120, dtype=fw.float32).reshape(2, 3, 4, 5)
    return {
        "contiguous": base,
        "transposed": fw.arange(12, dtype=fw.float32).reshape(3, 4).t(),
        "permuted_nhwc": base.permute(0, 2, 3, 1),
        "channels_last_view": base.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
        "sliced_permuted": base.permute(0, 2, 1, 3)[:, :, ::2],
        "sliced_channels_last": base.permute(0, 2, 3, 1)
        .contiguous()
        .permute(0, 3, 1, 2)[..., ::2],
        "strided_rows": base[:, ::2],
        "expanded": fw.arange(3, dtype=fw.float32).reshape(3, 1).expand(3, 4),
        "expanded_4d": fw.arange(6, dtype=fw.float32).reshape(2, 3, 1, 1).expand(2, 3, 4, 5),
        "size_one_dims": fw.arange(12, dtype=fw.float32).reshape(3, 1, 4).permute(2, 1, 0),
        "n111": fw.arange(3, dtype=fw.float32).reshape(1, 3, 1, 1),
        "one_pixel_batch": fw.arange(6, dtype=fw.float32).reshape(2, 3, 1, 1),
    }


# ---------------------------------------------------------------------------- without PyTorch
def test_stride_counts_elements_not_bytes():
    x = soma.zeros(2, 3, 4, dtype=soma.float64)
    assert x.stride() == (12, 4, 1)
    assert x.stride(1) == 4 and x.stride(-1) == 1
    assert x.permute(2, 0, 1).stride() == (1, 12, 4)
    assert soma.zeros(3, 1).expand(3, 5).stride() == (1, 0)


def test_channels_last_lays_nhwc_and_keeps_values():
    x = soma.arange(24, dtype=soma.float32).reshape(1, 2, 3, 4)
    y = x.contiguous(memory_format=soma.channels_last)
    assert y.stride() == (24, 1, 8, 2)  # C fastest, then W, H, N
    assert y.is_contiguous(memory_format=soma.channels_last) and not y.is_contiguous()
    assert np.array_equal(y.numpy(), x.numpy())
    # C values of one pixel side by side in memory
    assert np.array_equal(np.asarray(y.array.transpose(0, 2, 3, 1)).ravel()[:4], [0, 12, 1, 13])
    assert y.contiguous(memory_format=soma.channels_last) is y
    assert y.contiguous().is_contiguous() and y.contiguous().stride() == (24, 12, 4, 1)


def test_channels_last_3d_lays_ndhwc():
    x = soma.zeros(2, 3, 4, 5, 6).contiguous(memory_format=soma.channels_last_3d)
    assert x.stride() == (360, 1, 90, 18, 3)
    assert x.is_contiguous(memory_format=soma.channels_last_3d)


def test_size_one_dimensions_never_break_contiguity():
    x = soma.zeros(1, 3, 1, 1)
    assert x.is_contiguous() and x.is_contiguous(memory_format=soma.channels_last)


def test_bad_memory_format_requests_raise():
    x3 = soma.zeros(2, 3, 4)
    with pytest.raises(RuntimeError, match="rank 4"):
        x3.contiguous(memory_format=soma.channels_last)
    assert not x3.is_contiguous(memory_format=soma.channels_last)
    with pytest.raises(RuntimeError, match="preserve"):
        soma.zeros(2, 3, 4, 5).is_contiguous(memory_format=soma.preserve_format)
    with pytest.raises(TypeError, match="memory_format"):
        soma.zeros(2, 3, 4, 5).contiguous(memory_format="channels_last")
    with pytest.raises(RuntimeError, match="rank 4"):
        soma.empty(2, 3, memory_format=soma.channels_last)


def test_clone_and_like_factories_preserve_the_layout():
    y = soma.randn(2, 3, 4, 5).contiguous(memory_format=soma.channels_last)
    for made in (
        y.clone(),
        soma.clone(y),
        soma.zeros_like(y),
        soma.ones_like(y),
        soma.empty_like(y),
        soma.full_like(y, 7.0),
        soma.rand_like(y),
        soma.randn_like(y),
        soma.randint_like(y, 5),
    ):
        assert made.stride() == y.stride()
    assert np.array_equal(y.clone().numpy(), y.numpy())
    assert float(soma.full_like(y, 7.0).sum()) == 7.0 * 120
    assert soma.zeros_like(y, memory_format=soma.contiguous_format).is_contiguous()
    assert y.clone(memory_format=soma.contiguous_format).is_contiguous()


def test_gradient_flows_through_layout_changes():
    x = soma.randn(2, 3, 4, 5, dtype=soma.float64, requires_grad=True)
    w = soma.randn(2, 3, 4, 5, dtype=soma.float64)
    y = x.contiguous(memory_format=soma.channels_last).clone(memory_format=soma.preserve_format)
    (y * w).sum().backward()
    assert np.array_equal(x.grad.numpy(), w.numpy())


def test_tensor_to_converts_layout_and_dtype_together():
    x = soma.randn(2, 3, 4, 5)
    y = x.to(soma.float64, memory_format=soma.channels_last)
    assert y.dtype == soma.float64 and y.is_contiguous(memory_format=soma.channels_last)
    assert np.allclose(y.numpy(), x.numpy())
    assert x.to(memory_format=soma.preserve_format) is x
    z = x.to(memory_format=soma.channels_last)
    assert z.to(memory_format=soma.channels_last) is z


def _small_net(in_ch=3):
    return soma.nn.Sequential(
        soma.nn.Conv2d(in_ch, 8, 3, padding=1),
        soma.nn.BatchNorm2d(8),
        soma.nn.ReLU(),
        soma.nn.MaxPool2d(2),
        soma.nn.Conv2d(8, 8, 3, groups=8, padding=1),
        soma.nn.GroupNorm(2, 8),
        soma.nn.SiLU(),
        soma.nn.Conv2d(8, 4, 1),
        soma.nn.AdaptiveAvgPool2d(1),
        soma.nn.Flatten(),
        soma.nn.Linear(4, 3),
    )


def test_a_channels_last_network_gives_the_contiguous_results():
    """Module.to(memory_format=...) and a channels-last input change no value: the same
    network, the same weights, run on both layouts, gives the same outputs and gradients."""
    soma.manual_seed(1)
    plain = _small_net().double()
    fast = _small_net().double()
    fast.load_state_dict(plain.state_dict())
    fast.to(memory_format=soma.channels_last)
    assert fast[0].weight.is_contiguous(memory_format=soma.channels_last)
    assert not fast[0].weight.is_contiguous()
    assert fast[1].weight.is_contiguous()  # 1-D parameters are left alone
    x = soma.randn(4, 3, 8, 8, dtype=soma.float64)
    x_cl = x.contiguous(memory_format=soma.channels_last).requires_grad_()
    x = x.clone().requires_grad_()
    out, out_cl = plain(x), fast(x_cl)
    assert np.allclose(out.detach().numpy(), out_cl.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.square().sum().backward()
    out_cl.square().sum().backward()
    assert np.allclose(x.grad.numpy(), x_cl.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), q in zip(plain.named_parameters(), fast.parameters()):
        assert np.allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12), name


def test_a_channels_last_model_trains_and_saves(tmp_path):
    soma.manual_seed(2)
    net = _small_net().to(memory_format=soma.channels_last)
    opt = soma.optim.Adam(net.parameters(), lr=1e-2)
    x = soma.randn(8, 3, 8, 8).to(memory_format=soma.channels_last)
    t = soma.randint(0, 3, (8,))
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = soma.nn.functional.cross_entropy(net(x), t)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    assert net[0].weight.is_contiguous(memory_format=soma.channels_last)  # kept by the steps
    soma.save(net.state_dict(), tmp_path / "net.safetensors")
    back = _small_net()
    back.load_state_dict(soma.load(tmp_path / "net.safetensors"))
    back.eval(), net.eval()
    assert np.array_equal(back(x).detach().numpy(), net(x).detach().numpy())


def test_module_to_rejects_a_format_of_another_rank():
    net = soma.nn.Conv3d(2, 2, 3)
    with pytest.raises(RuntimeError, match="rank 4"):
        net.to(memory_format=soma.channels_last)
    net.to(memory_format=soma.channels_last_3d)
    assert net.weight.is_contiguous(memory_format=soma.channels_last_3d)


# ---------------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("name", sorted(_views(soma)))
def test_strides_and_contiguity_match_torch(torch_or_skip, name):
    torch = torch_or_skip
    ours, theirs = _views(soma)[name], _views(torch)[name]
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()
    if ours.ndim == 4:
        assert ours.is_contiguous(memory_format=soma.channels_last) == theirs.is_contiguous(
            memory_format=torch.channels_last
        )
        ours_cl = ours.contiguous(memory_format=soma.channels_last)
        theirs_cl = theirs.contiguous(memory_format=torch.channels_last)
        assert ours_cl.stride() == theirs_cl.stride()
    # copies that preserve the layout: PyTorch keeps gapless strides and makes gapped views
    # dense in their own axis order
    assert ours.clone().stride() == theirs.clone().stride()
    assert soma.zeros_like(ours).stride() == torch.zeros_like(theirs).stride()
    assert np.array_equal(ours.clone().numpy(), theirs.clone().numpy())


def test_module_to_channels_last_matches_torch(torch_or_skip):
    torch = torch_or_skip
    ours = soma.nn.Conv2d(3, 8, 3).to(memory_format=soma.channels_last)
    theirs = torch.nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
    assert ours.weight.stride() == theirs.weight.stride()
    assert ours.bias.stride() == theirs.bias.stride()
    assert (
        soma.empty(2, 3, 4, 5, memory_format=soma.channels_last).stride()
        == torch.empty(2, 3, 4, 5, memory_format=torch.channels_last).stride()
    )


def test_a_torch_script_runs_channels_last(torch_or_skip):
    """PyTorch's channels-last recipe, unchanged on soma, gives PyTorch's numbers."""
    torch = torch_or_skip
    from tests.conftest import copy_weights

    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3), torch.nn.ReLU(), torch.nn.Conv2d(6, 4, 3, stride=2)
    ).double()
    ours = soma.nn.Sequential(
        soma.nn.Conv2d(3, 6, 3), soma.nn.ReLU(), soma.nn.Conv2d(6, 4, 3, stride=2)
    ).double()
    copy_weights(ours, theirs)
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 9))
    results = []
    for fw, net in ((soma, ours), (torch, theirs)):
        net = net.to(memory_format=fw.channels_last)
        xt = fw.tensor(x).to(memory_format=fw.channels_last).requires_grad_()
        y = net(xt)
        y.sum().backward()
        results.append((y.detach().numpy(), xt.grad.numpy(), net[0].weight.grad.numpy()))
    for a, b in zip(*results):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-10)


def test_deepcopy_keeps_the_layout():
    import copy

    net = soma.nn.Conv2d(3, 4, 3).to(memory_format=soma.channels_last)
    twin = copy.deepcopy(net)
    assert twin.weight.stride() == net.weight.stride() == (27, 1, 9, 3)
    assert np.array_equal(twin.weight.detach().numpy(), net.weight.detach().numpy())
    assert not np.shares_memory(twin.weight.array, net.weight.array)


def test_layout_changes_pass_float64_finite_differences():
    rng = np.random.default_rng(5)
    x = soma.tensor(rng.standard_normal((2, 3, 2, 3)), requires_grad=True)
    w = soma.tensor(rng.standard_normal((2, 3, 2, 3)))

    def fn(x):
        y = x.to(memory_format=soma.channels_last).sin()
        return (y.clone(memory_format=soma.contiguous_format) * w).sum()

    assert soma.autograd.gradcheck(fn, (x,))


@pytest.mark.parametrize("formats", [("cl", "cl"), ("cl", "c"), ("c", "c"), ("cl3d", "cl3d")])
def test_cat_keeps_channels_last_as_pytorch_does(formats):
    """cat of channels-last inputs is channels-last (a U-Net's skip joins stay in the layout
    its convolutions and GroupNorm kernels walk); any other mix gives C order."""
    torch = pytest.importorskip("torch")
    results = []
    for fw in (soma, torch):
        parts = []
        for k, fmt in enumerate(formats):
            shape = (2, 3 + k, 4, 5, 2) if fmt == "cl3d" else (2, 3 + k, 4, 5)
            t = fw.arange(float(np.prod(shape)), dtype=fw.float32).reshape(shape) * (k + 1)
            layout = {"cl": fw.channels_last, "cl3d": fw.channels_last_3d}.get(fmt)
            parts.append(t.contiguous(memory_format=layout) if layout else t)
        for p in parts:
            p.requires_grad_(True)
        y = fw.cat(parts, dim=1)
        (y * fw.arange(float(y.shape[1])).reshape(1, -1, *[1] * (y.dim() - 2))).sum().backward()
        results.append((y.stride(), y.detach().numpy(), [p.grad.numpy() for p in parts]))
    (s_stride, s_y, s_grads), (t_stride, t_y, t_grads) = results
    assert s_stride == t_stride
    np.testing.assert_array_equal(s_y, t_y)
    for a, b in zip(s_grads, t_grads):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
def test_channel_axis_views_match_moveaxis(ndim):
    """The kernels' quick channel moves are NumPy's moveaxis (views of the same memory)."""
    from soma.autograd.memory_format import channels_to_end, channels_to_front

    a = np.arange(2 * 3 * 4 * 5 * 6)[: np.prod((2, 3, 4, 5, 6)[:ndim])].reshape(
        (2, 3, 4, 5, 6)[:ndim]
    )
    assert np.shares_memory(channels_to_end(a), a)
    np.testing.assert_array_equal(channels_to_end(a), np.moveaxis(a, 1, -1))
    np.testing.assert_array_equal(channels_to_front(a), np.moveaxis(a, -1, 1))
    assert channels_to_end(a).strides == np.moveaxis(a, 1, -1).strides
    assert channels_to_front(channels_to_end(a)).strides == a.strides
