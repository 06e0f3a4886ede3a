"""PyTorch's keyword names, checked against PyTorch itself (issue 11 §2).

Each case is one expression evaluated twice, with ``T`` bound to ``torch`` and to ``soma``, on
the same inputs: the keyword forms programs use (``input=``, ``other=``, ``mat2=``, ``axis=``,
``keepdims=``, ``out=``) must give PyTorch's values and gradients. The signature tests read
PyTorch's own parameter names and check soma accepts each of them.
"""

import inspect
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import soma  # noqa: E402
import soma.nn.functional as SF  # noqa: E402

_rng = np.random.default_rng(0)
_FLOATS = {
    "x": _rng.uniform(0.1, 0.9, (3, 4)),
    "y": _rng.uniform(0.1, 0.9, (3, 4)),
    "m": _rng.uniform(-1, 1, (4, 5)),
    "v": _rng.uniform(-1, 1, 4),
    "w": _rng.uniform(-1, 1, 4),
    "b": _rng.uniform(-1, 1, (2, 3, 4)),
    "b2": _rng.uniform(-1, 1, (2, 4, 5)),
    "sq": np.eye(3) * 2 + _rng.uniform(-0.3, 0.3, (3, 3)),
}
_OTHERS = {
    "c": _rng.uniform(size=(3, 4)) > 0.5,
    "c2": _rng.uniform(size=(3, 4)) > 0.5,
    "idx": np.array([[0, 3], [1, 1], [2, 0]]),
    "rows": np.array([2, 0]),
    "labels": np.array([0, 3, 1]),
}


def _inputs(T):
    env = {"T": T, "F": SF if T is soma else torch.nn.functional}
    for name, a in _FLOATS.items():
        env[name] = T.tensor(a, requires_grad=True)
    for name, a in _OTHERS.items():
        env[name] = T.tensor(a)
    return env


def _tensors(result):
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in _tensors(r)]
    return [result]


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


CALLS = [
    # unary and binary element-wise
    "T.exp(input=x)",
    "T.log(input=x)",
    "T.sqrt(input=x)",
    "T.abs(input=x)",
    "T.neg(input=x)",
    "T.sin(input=x)",
    "T.tanh(input=x)",
    "T.sigmoid(input=x)",
    "T.acos(input=x)",
    "T.erf(input=x)",
    "T.reciprocal(input=x)",
    "T.add(input=x, other=y)",
    "T.add(input=x, other=y, alpha=2)",
    "T.sub(input=x, other=y)",
    "T.mul(input=x, other=y)",
    "T.div(input=x, other=y)",
    "T.pow(input=x, exponent=y)",
    "T.pow(input=x, exponent=2)",
    "T.maximum(input=x, other=y)",
    "T.minimum(input=x, other=y)",
    "T.atan2(input=x, other=y)",
    "T.hypot(input=x, other=y)",
    "T.fmod(input=x, other=0.3)",
    "T.remainder(input=x, other=0.3)",
    "T.xlogy(input=x, other=y)",
    "T.logaddexp(input=x, other=y)",
    "T.lerp(input=x, end=y, weight=0.3)",
    # comparisons and logic
    "T.eq(input=x, other=y)",
    "T.lt(input=x, other=y)",
    "T.ge(input=x, other=0.5)",
    "T.isclose(input=x, other=y)",
    "T.logical_and(input=c, other=c2)",
    "T.equal(input=x, other=x)",
    "T.allclose(input=x, other=y)",
    # reductions: dim/axis, keepdim/keepdims
    "T.sum(x, axis=0)",
    "T.sum(input=x, dim=1, keepdims=True)",
    "T.mean(x, axis=1)",
    "T.mean(input=x, axis=(0, 1), keepdims=True)",
    "T.prod(x, axis=1)",
    "T.prod(input=x, dim=0, dtype=T.float32)",
    "x.prod(axis=0, dtype=T.float32)",
    "T.norm(x.to(T.float32), dim=1, dtype=T.float64)",
    "T.max(x, axis=0)",
    "T.min(input=x, dim=1, keepdims=True)",
    "T.amax(x, axis=0, keepdims=True)",
    "T.argmax(x, axis=1)",
    "T.argmin(input=x, dim=0, keepdims=True)",
    "T.std(x, axis=0)",
    "T.var(input=x, dim=1, keepdims=True)",
    "T.logsumexp(x, axis=1)",
    "T.norm(input=x, dim=1, keepdim=True)",
    "T.all(c, axis=0)",
    "T.any(input=c, dim=1, keepdims=True)",
    "T.cumsum(x, axis=1)",
    "T.cumprod(input=x, dim=0)",
    "T.softmax(x, axis=1)",
    "T.log_softmax(input=x, dim=0)",
    "T.sort(x, axis=1)",
    "T.topk(x, 2, axis=1)",
    "T.median(x, axis=1)",
    "T.nansum(x, axis=0, keepdims=True)",
    "T.std_mean(x, axis=0)",
    "T.count_nonzero(c, axis=0)",
    # cat / stack and shape
    "T.cat((x, y), axis=0)",
    "T.cat(tensors=[x, y], dim=1)",
    "T.stack((x, y), axis=2)",
    "T.concat((x, y), axis=1)",
    "T.concatenate((x, y), axis=1)",
    "T.unsqueeze(input=x, dim=0)",
    "T.squeeze(x[None], axis=0)",
    "T.transpose(input=x, dim0=0, dim1=1)",
    "T.flatten(input=b, start_dim=1)",
    "T.gather(input=x, dim=1, index=idx)",
    "T.index_select(input=x, dim=0, index=rows)",
    "T.split(x, 2, dim=1)",
    "T.chunk(input=x, chunks=2, dim=1)",
    "T.flip(input=x, dims=(0,))",
    "T.roll(input=x, shifts=1, dims=0)",
    "T.tril(input=x, diagonal=0)",
    # matmul family
    "T.matmul(input=x, other=m)",
    "T.mm(input=x, mat2=m)",
    "T.bmm(input=b, mat2=b2)",
    "T.dot(input=v, tensor=w)",
    "T.outer(input=v, vec2=w)",
    "T.mv(input=x, vec=v)",
    "T.addmm(input=x[:, :1], mat1=x, mat2=y.T, beta=0.5)",
    # where, clamp, masks
    "T.where(c, input=x, other=y)",
    "T.where(condition=c, input=x, other=y)",
    "T.clamp(input=x, min=0.3, max=0.7)",
    "T.clip(input=x, min=0.3)",
    "T.masked_fill(input=x, mask=c, value=0.0)",
    # Tensor methods
    "x.sum(axis=0)",
    "x.sum(axis=1, keepdims=True)",
    "x.mean(axis=0)",
    "x.max(axis=1)",
    "x.amax(axis=0, keepdims=True)",
    "x.std(axis=1, keepdims=True)",
    "x.softmax(axis=1)",
    "x.cumsum(axis=0)",
    "x.argmax(axis=1)",
    "x.logsumexp(axis=1)",
    "x.sort(axis=1)",
    "x.topk(k=2, axis=1)",
    "x.unbind(axis=0)",
    "x.unsqueeze(axis=0)",
    "x.add(other=y)",
    "x.add(other=y, alpha=2)",
    "x.mul(other=y)",
    "x.pow(exponent=2)",
    "x.matmul(other=m)",
    "x.mm(mat2=m)",
    "v.dot(tensor=w)",
    "v.outer(vec2=w)",
    "x.where(c, other=y)",
    "x.clamp(min=0.2)",
    "x.view(size=(4, 3))",
    "x.new_zeros(size=(2, 3))",
    "x.new_ones(size=(2,))",
    "x.expand(size=(2, 3, 4))",
    "T.zeros(size=(2, 3))",
    "T.full(size=(2, 3), fill_value=1.5)",
    "T.reshape(input=x, shape=(4, 3))",
    "T.permute(input=x, dims=(1, 0))",
    "T.zeros_like(input=x)",
    "x.reshape(shape=(4, 3))",
    "x.permute(dims=(1, 0))",
    "x.repeat(repeats=(2, 1))",
    "x.flip(dims=(0,))",
    "x.swapaxes(axis0=0, axis1=1)",
    "x.transpose(dim0=0, dim1=1)",
    "x.split(split_size=2, dim=1)",
    "x.gather(dim=1, index=idx)",
    "x.eq(other=y)",
    "x.maximum(other=y)",
    "x.atan2(other=y)",
    "x.norm(dim=1)",
    # torch.linalg, torch.special
    "T.linalg.norm(input=x, dim=1, keepdims=True)",
    "T.linalg.vector_norm(x, ord=3, axis=0)",
    "T.linalg.matmul(input=x, other=m)",
    "T.linalg.inv(A=sq)",
    "T.linalg.det(A=sq)",
    "T.linalg.pinv(sq, atol=0.5)",
    "T.linalg.pinv(sq, atol=0.1, rtol=0.5)",
    "T.linalg.matrix_norm(x.to(T.float32), dtype=T.float64)",
    "T.linalg.svdvals(A=sq, driver=None)",
    "T.special.expit(input=x)",
    "T.special.logsumexp(x, axis=1, keepdims=True)",
    "T.special.xlogy(input=x, other=y)",
    # torch.nn.functional
    "F.relu(input=x)",
    "F.softmax(input=x, dim=1)",
    "F.linear(input=x, weight=y[:2])",
    "F.mse_loss(input=x, target=y)",
    "F.mse_loss(input=x, target=y, weight=m[:3, :4] + 2)",
    "F.mse_loss(x, y, reduction='none', weight=m[:3, :4])",
    "F.l1_loss(input=x, target=y, weight=m[:3, :4] + 2)",
    "F.l1_loss(x, y, reduction='sum', weight=m[:3, :4])",
    "F.huber_loss(x * 4, y, delta=0.5, weight=m[:3, :4])",
    "F.sigmoid(input=x)",
    "F.tanh(input=x)",
    "F.normalize(input=x, dim=1)",
    "F.cosine_similarity(x1=x, x2=y, dim=1)",
    "F.cross_entropy(input=x, target=labels)",
    "F.gelu(input=x)",
]


@pytest.mark.parametrize("expr", CALLS)
def test_keyword_call_matches_pytorch(expr):
    envs = _inputs(soma), _inputs(torch)
    results = [eval(expr, env) for env in envs]  # noqa: S307  (the cases above)
    got, want = (_tensors(r) for r in results)
    # float64 inputs throughout; a dtype=float32 case is compared at float32's precision
    tol = {"rtol": 1e-5, "atol": 1e-6} if "float32" in expr else {"rtol": 1e-10, "atol": 1e-12}
    assert len(got) == len(want), expr
    for g, w in zip(got, want, strict=True):
        if isinstance(w, bool):
            assert g == w, expr
            continue
        assert tuple(g.shape) == tuple(w.shape), expr
        np.testing.assert_allclose(_np(g), _np(w), **tol, err_msg=expr)
    # gradients: a fixed random weighting of every float output
    losses = []
    for outs, T in ((got, soma), (want, torch)):
        loss = 0
        for i, t in enumerate(outs):
            if not isinstance(t, bool) and t.requires_grad:
                weight = np.random.default_rng(i).uniform(-1, 1, tuple(t.shape))
                loss = loss + (t * T.tensor(weight)).sum()
        losses.append(loss)
    if not hasattr(losses[1], "backward"):
        return
    for loss in losses:
        loss.backward()
    for name in _FLOATS:
        g, w = envs[0][name].grad, envs[1][name].grad
        assert (g is None) == (w is None), (expr, name)
        if w is not None:
            np.testing.assert_allclose(_np(g), _np(w), **tol, err_msg=expr)


OUT_CALLS = [
    "T.add(x, y, out=O)",
    "T.add(x, y, alpha=2, out=O)",
    "T.matmul(x, m, out=O)",
    "T.mm(input=x, mat2=m, out=O)",
    "T.sum(x, 0, out=O)",
    "T.mean(x, axis=1, keepdims=True, out=O)",
    "T.exp(x, out=O)",
    "T.pow(x, 2, out=O)",
    "T.cat((x, y), axis=0, out=O)",
    "T.stack((x, y), out=O)",
    "T.where(c, x, y, out=O)",
    "T.clamp(x, 0.3, 0.6, out=O)",
    "T.cumsum(x, 1, out=O)",
    "T.lt(x, y, out=B)",
    "T.eq(input=x, other=y, out=B)",
    "T.max(x, 1, out=(O, I))",
    "T.sort(x, 1, out=(O, I))",
    "T.topk(x, 2, out=(O, I))",
    "T.zeros(2, 3, out=O)",
    "T.arange(5, out=O)",
    "T.linalg.inv(sq, out=O)",
    "T.linalg.norm(x, dim=1, out=O)",
    "T.linalg.slogdet(sq, out=(O, O2))",
    "T.special.erf(x, out=O)",
    "T.special.logsumexp(x, 1, out=O)",
]


@pytest.mark.parametrize("expr", OUT_CALLS)
def test_out_matches_pytorch(expr):
    returned, outs = [], []
    for T in (soma, torch):
        env = _inputs(T)
        for name in _FLOATS:
            env[name] = env[name].detach()
        env["O"] = T.empty(0, dtype=T.float64)
        env["O2"] = T.empty(0, dtype=T.float64)
        env["B"] = T.empty(0, dtype=T.bool)
        env["I"] = T.empty(0, dtype=T.int64)
        result = eval(expr, env)  # noqa: S307
        given = [env[k] for k in ("O", "O2", "I", "B") if f"{k})" in expr or f"{k}," in expr]
        returned.append(_tensors(result))
        outs.append(given)
        assert all(r is o for r, o in zip(_tensors(result), given, strict=True)), expr
    for g, w in zip(outs[0], outs[1], strict=True):
        assert tuple(g.shape) == tuple(w.shape), expr
        np.testing.assert_allclose(_np(g), _np(w), rtol=1e-10, err_msg=expr)


def test_out_errors_and_resize_as_pytorch():
    for T in (soma, torch):
        x = T.ones(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match=r"add\(\): functions with out=\.\.\. arguments"):
            T.add(x, x, out=T.empty(2, 3))
        with T.no_grad():
            out = T.empty(2, 3)
            assert T.add(x, x, out=out) is out and not out.requires_grad
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            T.add(x.detach(), 1, out=T.empty(2, 3, dtype=T.int64))
        out = T.zeros(5)
        with pytest.warns(UserWarning, match=r"resized since it had shape \[5\]"):
            T.mul(x.detach(), 2, out=out)
        assert tuple(out.shape) == (2, 3) and float(out.sum()) == 12.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty out= is resized silently
            T.mul(x.detach(), 2, out=T.empty(0))


def test_pinv_cutoffs_as_pytorch():
    # values only: where a cutoff drops singular values, PyTorch's pinv backward and soma's
    # (through the SVD) give different gradients (not settled here; without a drop they agree,
    # see the pinv cases of CALLS)
    sq = _FLOATS["sq"]  # singular values about 2.47, 1.88, 1.67
    for kwargs in ({"atol": 1.8}, {"atol": 0.1, "rtol": 0.9}, {"atol": 2.0, "rtol": 0.1}):
        got = soma.linalg.pinv(soma.tensor(sq), **kwargs).numpy()
        want = torch.linalg.pinv(torch.tensor(sq), **kwargs).numpy()
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=str(kwargs))


def test_svd_driver_is_cuda_only_as_pytorch():
    for T in (soma, torch):
        with pytest.raises(RuntimeError, match="driver=` is only supported on CUDA"):
            T.linalg.svd(T.eye(2), driver="gesvd")


def test_unknown_or_repeated_keyword_raises_type_error_naming_the_function():
    for T in (soma, torch):
        x = T.ones(2, 3)
        with pytest.raises(TypeError, match=r"add\(\) got an unexpected keyword argument 'foo'"):
            T.add(x, x, foo=1)
        with pytest.raises(TypeError, match=r"sum\(\)"):
            T.sum(x, dim=0, axis=1)
        with pytest.raises(TypeError, match=r"sum\(\)"):
            x.sum(dim=0, axis=0)
        with pytest.raises(TypeError, match=r"relu\(\)"):
            T.nn.functional.relu(x, foo=1)


# ---------------------------------------------------------------- PyTorch's parameter names
def _torch_params(fn, name):
    """The parameter names of PyTorch's first signature (``inspect``, else its docstring)."""
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        pass
    match = re.search(rf"^\s*(?:\w+\.)*{re.escape(name)}\((.*?)\)\s*->", fn.__doc__ or "", re.M)
    if match is None:
        return None
    body = re.sub(r"\[[^\]]*\]", "", match.group(1))
    names = [
        p.split("=")[0].split(":")[0].strip().lstrip("*").strip("\\") for p in body.split(",")
    ]
    return [n for n in names if n.isidentifier()]


def _takes_out(fn):
    return getattr(fn, "_takes_out", False) or "out" in inspect.signature(fn).parameters


def _accepted(fn):
    plain = fn.__wrapped__ if hasattr(fn, "_torch_keywords") else fn
    return set(inspect.signature(plain).parameters) | set(getattr(fn, "_torch_keywords", {}))


# names PyTorch has that soma's functions do not take, and why (features, not spellings)
_IGNORED = {"layout", "memory_format", "pin_memory", "size_average", "reduce", "_stacklevel"}
_IGNORED |= {"self", "args", "kwargs", "sparse_grad"}
_KNOWN_MISSING = {
    "compile": "soma.compile returns the model: torch.compile's options have no meaning here",
    "load": "no pickle: mmap and pickle_module do not apply",
    "save": "no pickle: pickle_module/protocol do not apply",
    "true_divide": "PyTorch's docstring says dividend/divisor, PyTorch takes input/other (as soma)",
    "rot90": "PyTorch's docstring signature does not parse (dims=[0, 1])",
    "matrix_power": "torch.linalg's docstring says A, PyTorch takes input (as soma)",
    "qr": "the type annotation in PyTorch's docstring (Union[..., List[Tensor]]) parses as a name",
}


NAMESPACES = {
    "torch": (soma, torch),
    "torch.nn.functional": (SF, torch.nn.functional),
    "torch.linalg": (soma.linalg, torch.linalg),
    "torch.special": (soma.special, torch.special),
}


def _shared(soma_ns, torch_ns):
    for name in sorted(dir(soma_ns)):
        fn = getattr(soma_ns, name)
        if not name.startswith("_") and inspect.isfunction(fn) and hasattr(torch_ns, name):
            yield name, fn, getattr(torch_ns, name)


@pytest.mark.parametrize(
    "which", ["torch", "torch.nn.functional", "torch.linalg", "torch.special"]
)
def test_soma_takes_every_pytorch_parameter_name(which):
    soma_ns, torch_ns = NAMESPACES[which]
    missing, checked = {}, 0
    for name, fn, torch_fn in _shared(soma_ns, torch_ns):
        names = _torch_params(torch_fn, name)
        if names is None:
            continue
        accepted = _accepted(fn) | ({"out"} if _takes_out(fn) else set())
        lacking = set(names) - accepted - _IGNORED
        checked += 1
        if lacking and name not in _KNOWN_MISSING:
            missing[name] = sorted(lacking)
    assert checked > {"torch": 250, "torch.nn.functional": 100}.get(which, 10)
    assert missing == {}


# PyTorch's docstrings omit out= for these, though PyTorch takes it
_OUT_UNDOCUMENTED = {"torch": {"sum", "nansum", "prod", "take"}}


@pytest.mark.parametrize("which", sorted(NAMESPACES))
def test_out_is_taken_where_pytorch_takes_it(which):
    soma_ns, torch_ns = NAMESPACES[which]
    pytorch_out, soma_out = set(), set()
    for name, fn, torch_fn in _shared(soma_ns, torch_ns):
        params = _torch_params(torch_fn, name) or []
        doc = torch_fn.__doc__ or ""
        if "out" in params or re.search(r"\bout(=None| \(Tensor)", doc):
            pytorch_out.add(name)
        if _takes_out(fn):
            soma_out.add(name)
    assert len(pytorch_out) > {"torch": 150, "torch.nn.functional": -1}.get(which, 10)
    assert soma_out - pytorch_out == _OUT_UNDOCUMENTED.get(which, set())
    assert pytorch_out - soma_out == set()


def test_out_undocumented_in_pytorch_is_real():
    x = torch.ones(2, 3)
    for fn in (torch.sum, torch.nansum, torch.prod):
        out = torch.empty(0)
        assert fn(x, 0, out=out) is out
    out = torch.empty(0)
    assert torch.take(x, torch.tensor([0]), out=out) is out


# the other arguments some dim methods need; PyTorch's Python-level methods refuse axis=
_METHOD_ARGS = {
    "chunk": {"chunks": 2},
    "kthvalue": {"k": 2},
    "topk": {"k": 2},
    "quantile": {"q": 0.5},
    "nanquantile": {"q": 0.5},
    "narrow": {"start": 1, "length": 2},
    "repeat_interleave": {"repeats": 2},
    "split": {"split_size": 2},
    "tensor_split": {"sections": 2},
    "select": {"index": 1},
    "index_select": {"index": [2, 0]},
    "gather": {"index": [[0, 1, 2, 0]]},
    "take_along_dim": {"indices": [[0, 1, 2, 0]]},
}
_METHODS_REFUSING_AXIS = {"norm", "unique", "unique_consecutive"}


def _dim_methods():
    for name in sorted(dir(soma.Tensor)):
        fn = getattr(soma.Tensor, name)
        if name.startswith("_") or name in _METHODS_REFUSING_AXIS or not inspect.isfunction(fn):
            continue
        params = inspect.signature(fn).parameters
        if "dim" not in params or not hasattr(torch.Tensor, name):
            continue
        required = {
            p
            for p, v in params.items()
            if p != "self" and v.default is v.empty and v.kind is not v.VAR_POSITIONAL
        }
        if required - {"dim"} <= set(_METHOD_ARGS.get(name, {})):
            yield name, "keepdim" in params


def test_every_dim_method_takes_axis_and_keepdims_as_pytorch():
    """Each Tensor method soma has with a ``dim`` parameter, called as ``x.m(axis=0[,
    keepdims=True])`` on both libraries: the same values."""
    checked = 0
    for name, has_keepdim in _dim_methods():
        results = []
        for T in (soma, torch):
            x = T.tensor(_FLOATS["x"])
            kwargs = {"axis": 0, **({"keepdims": True} if has_keepdim else {})}
            for key, value in _METHOD_ARGS.get(name, {}).items():
                kwargs[key] = T.tensor(value) if key in ("index", "indices") else value
            results.append(_tensors(getattr(x, name)(**kwargs)))
        got, want = results
        assert len(got) == len(want), name
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(_np(g), _np(w), rtol=1e-12, err_msg=name)
        checked += 1
    assert checked >= 45
