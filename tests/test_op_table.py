"""Three checks for every op in the table (``tests/op_specs``)."""

import numpy as np
import pytest

import soma
from soma.testing import gradcheck
from tests.op_specs import all_specs
from tests.op_specs.forward_only import ALIASES

SPECS = all_specs()
IDS = [s.id for s in SPECS]


def _soma_inputs(spec, arrays, requires):
    return [
        soma.tensor(a, dtype=a.dtype, requires_grad=(i in requires)) for i, a in enumerate(arrays)
    ]


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_backward_matches_finite_differences(spec):
    if not spec.gradcheck:
        pytest.skip("op has kinks at sampled points; checked against PyTorch only")
    arrays = spec.inputs()
    requires = spec.differentiable(arrays)
    if not requires:
        pytest.skip("op has no differentiable input")
    inputs = _soma_inputs(spec, arrays, requires)
    assert gradcheck(spec.soma, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_forward_and_gradients_match_pytorch(spec, torch_or_skip):
    torch = torch_or_skip
    if spec.torch is None:
        pytest.skip("no PyTorch twin")
    arrays = spec.inputs()
    requires = spec.differentiable(arrays)
    ours = _soma_inputs(spec, arrays, requires)
    theirs = [torch.tensor(a, requires_grad=(i in requires)) for i, a in enumerate(arrays)]
    out_s = _outputs(spec.soma(*ours))
    out_t = _outputs(spec.torch(*theirs))
    assert len(out_s) == len(out_t)
    rng = np.random.default_rng(1)
    loss_s, loss_t = 0.0, 0.0
    for s, t in zip(out_s, out_t):
        expected = t.detach().numpy()
        assert tuple(s.shape) == tuple(expected.shape), (
            f"{spec.id}: shape {tuple(s.shape)} != {expected.shape}"
        )
        assert s.dtype == expected.dtype, f"{spec.id}: dtype {s.dtype} != {expected.dtype}"
        rtol, atol = spec.tolerances(expected.dtype)
        np.testing.assert_allclose(s.detach().numpy(), expected, rtol=rtol, atol=atol)
        if s.requires_grad and t.requires_grad and expected.dtype.kind == "f":
            v = rng.standard_normal(expected.shape)
            loss_s = loss_s + (s * soma.tensor(v, dtype=s.dtype)).sum()
            loss_t = loss_t + (t * torch.tensor(v, dtype=t.dtype)).sum()
    if not requires or isinstance(loss_s, float):
        return
    loss_s.backward()
    loss_t.backward()
    for i in requires:
        g_t = theirs[i].grad
        g_s = ours[i].grad
        if g_t is None:
            assert g_s is None or not np.any(g_s.numpy()), (
                f"{spec.id}: input {i} got a gradient torch does not give"
            )
            continue
        assert g_s is not None, f"{spec.id}: no gradient for input {i}"
        np.testing.assert_allclose(
            g_s.numpy(),
            g_t.numpy(),
            rtol=spec.tolerances(g_t.numpy().dtype)[0],
            atol=spec.tolerances(g_t.numpy().dtype)[1],
            err_msg=f"{spec.id}: gradient of input {i}",
        )


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.reference], ids=[s.id for s in SPECS if s.reference]
)
def test_forward_matches_numpy_reference(spec):
    """Forward-only rows: values and dtype against NumPy, with or without PyTorch."""
    arrays = spec.inputs()
    out = spec.soma(*_soma_inputs(spec, arrays, []))
    expected = np.asarray(spec.reference(*arrays))
    assert out.dtype == expected.dtype, f"{spec.id}: dtype {out.dtype} != {expected.dtype}"
    np.testing.assert_array_equal(out.numpy(), expected, err_msg=spec.id)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_ops_keep_the_graph(spec):
    """An op fed an input that requires grad records a node on every float output: one that
    silently returned a plain tensor would cut the graph, and backward would miss it."""
    arrays = spec.inputs()
    requires = spec.differentiable(arrays)
    if not requires:
        pytest.skip("op has no differentiable input")
    inputs = _soma_inputs(spec, arrays, requires)
    outs = _outputs(spec.soma(*inputs))
    # an input handed back unchanged (dropout in eval mode) is still on the graph
    floats = [
        o
        for o in outs
        if isinstance(o, soma.Tensor) and o.dtype.kind == "f" and not any(o is x for x in inputs)
    ]
    if not spec.keeps_graph:
        # NOTE: PyTorch records a node whose backward raises "not implemented"; soma records
        # none, so the result simply does not require grad.
        assert all(o.grad_fn is None and not o.requires_grad for o in floats), spec.id
        return
    dropped = [i for i, o in enumerate(floats) if o.grad_fn is None or not o.requires_grad]
    assert not dropped, f"{spec.id}: outputs {dropped} lost the graph (no grad_fn)"


@pytest.mark.parametrize("alias, name", sorted(ALIASES.items()))
def test_aliases_are_the_same_functions(alias, name):
    assert getattr(soma, alias) is getattr(soma, name)
