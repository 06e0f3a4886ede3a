"""The namespaces and conventions of issue 11 §2, against PyTorch where it is installed."""

import numpy as np
import pytest

import soma

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "args",
    [(3, 4), (0,), (5,), (soma.Size([2, 3]),), ([1, 2, 3],), ([[1.5, 2], [3, 4]],), ()],
    ids=["sizes", "zero", "one-size", "Size", "list", "nested", "empty"],
)
def test_tensor_constructor_has_pytorchs_two_meanings(args):
    targs = tuple(torch.Size(a) if isinstance(a, soma.Size) else a for a in args)
    expected = torch.Tensor(*targs)
    got = soma.Tensor(*args)
    assert tuple(got.shape) == tuple(expected.shape)
    assert got.dtype == soma.float32
    if targs and not isinstance(targs[0], (int, torch.Size)):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_tensor_constructor_follows_the_default_dtype_and_refuses_mixed_arguments():
    soma.set_default_dtype(soma.float64)
    try:
        assert soma.Tensor(2).dtype == soma.float64
    finally:
        soma.set_default_dtype(soma.float32)
    with pytest.raises(TypeError, match="sizes"):
        soma.Tensor([1], 2)


TYPED = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ShortTensor",
         "CharTensor", "ByteTensor", "BoolTensor", "HalfTensor"]  # fmt: skip


@pytest.mark.parametrize("name", TYPED)
def test_typed_constructors(name):
    s, t = getattr(soma, name), getattr(torch, name)
    assert str(s([1, 0, 1]).dtype) == str(t([1, 0, 1]).dtype).replace("torch.", "")
    assert tuple(s(2, 3).shape) == (2, 3)
    np.testing.assert_array_equal(s([1, 0, 1]).numpy(), t([1, 0, 1]).numpy())
    assert isinstance(s([1]), s) and isinstance(s([1]), soma.Tensor)
    other = soma.zeros(1, dtype=soma.float64 if name != "DoubleTensor" else soma.float32)
    assert not isinstance(other, s) and not isinstance(other.numpy(), s)
    assert s([1]).type() == t([1]).type()


def test_type_converts_by_tensor_type_or_name():
    x = soma.tensor([1.7, -2.2])
    assert x.type(soma.LongTensor).dtype == soma.int64
    assert x.type("torch.DoubleTensor").dtype == soma.float64
    assert x.type() == "torch.FloatTensor"


@pytest.mark.parametrize("dtype", [soma.float64, soma.int64, soma.float32])
def test_new_factories_take_dtype_from_self(dtype):
    tdtype = getattr(torch, str(dtype))
    s, t = soma.zeros(2, dtype=dtype), torch.zeros(2, dtype=tdtype)
    pairs = [
        (s.new_zeros(2, 3), t.new_zeros(2, 3)),
        (s.new_ones((3,)), t.new_ones((3,))),
        (s.new_full((2,), 7), t.new_full((2,), 7)),
        (s.new_tensor([1, 2]), t.new_tensor([1, 2])),
        (s.new_empty(4), t.new_empty(4)),
        (s.new_zeros(2, dtype=soma.bool), t.new_zeros(2, dtype=torch.bool)),
    ]
    for i, (a, b) in enumerate(pairs):
        assert tuple(a.shape) == tuple(b.shape), i
        assert str(a.dtype) == str(b.dtype).replace("torch.", ""), i
        if i != 4:  # new_empty is uninitialised
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    if dtype.kind == "f":
        assert s.new_ones(2, requires_grad=True).requires_grad


@pytest.mark.parametrize("spec", [".4f", "", "10.2e", "+.1f"])
def test_format_of_a_0d_tensor_is_the_format_of_its_value(spec):
    for value in (1.23456, -2.5):
        assert format(soma.tensor(value), spec) == format(torch.tensor(value), spec)
    assert f"{soma.tensor(7):d}" == f"{torch.tensor(7):d}" == "7"


def test_format_spec_on_a_non_scalar_is_a_type_error_as_in_pytorch():
    with pytest.raises(TypeError):
        format(torch.tensor([1.5]), ".2f")
    with pytest.raises(TypeError, match=r"only 0-d tensors.*\(1,\)"):
        format(soma.tensor([1.5]), ".2f")
    assert format(soma.tensor([1.5]), "") == str(soma.tensor([1.5]))


def test_device_flags_and_names():
    x = soma.zeros(2)
    assert (x.is_cuda, x.is_cpu, x.is_mps, x.is_xpu, x.is_meta, x.device.type) == (
        torch.zeros(2).is_cuda,
        True,
        False,
        False,
        False,
        "cpu",
    )
    assert x.get_device() == torch.zeros(2).get_device() == -1
    for spec in ["cpu", "cuda", "cuda:1", "mps", "xpu:0", "meta"]:
        assert str(soma.device(spec)) == str(torch.device(spec))
    assert str(soma.device(0)) == "cuda:0" and soma.device("cuda", 1).index == 1
    with pytest.raises(RuntimeError, match="unknown device"):
        soma.device("tpu")


def test_cuda_is_refused_at_use_with_a_clear_error():
    d = soma.device("cuda")  # naming the device is fine, as in PyTorch
    for use in (lambda: soma.zeros(2).to(d), lambda: soma.zeros(2, device="cuda"),
                lambda: soma.zeros(2).cuda(), lambda: soma.nn.Linear(2, 2).to("cuda")):  # fmt: skip
        with pytest.raises(RuntimeError, match="not available"):
            use()
    assert soma.zeros(2).to("cpu").device == "cpu"
    assert soma.zeros(2).to("float64").dtype == soma.float64


def test_default_device():
    assert soma.get_default_device() == soma.device("cpu")
    soma.set_default_device("cpu")
    with pytest.raises(RuntimeError, match="not available"):
        soma.set_default_device("cuda")
    soma.set_default_device(None)
    assert soma.get_default_device().type == "cpu"


def test_accelerator_cuda_backends_answer_as_cpu_only_pytorch():
    assert soma.accelerator.is_available() is False
    assert soma.accelerator.current_accelerator() is None
    assert soma.accelerator.device_count() == 0
    assert soma.cuda.is_available() is False and soma.cuda.device_count() == 0
    soma.cuda.manual_seed(0)
    soma.cuda.manual_seed_all(0)
    soma.cuda.empty_cache()
    with pytest.raises(RuntimeError, match="get_device_name"):
        soma.cuda.get_device_name(0)
    assert soma.backends.mps.is_available() is False
    assert soma.backends.cudnn.is_available() is False
    soma.backends.cudnn.benchmark = True
    soma.backends.cudnn.deterministic = True
    assert soma.backends.cudnn.benchmark and soma.backends.cudnn.deterministic
    soma.backends.cudnn.benchmark = soma.backends.cudnn.deterministic = False
    soma.backends.cuda.matmul.allow_tf32 = True
    soma.backends.cuda.matmul.allow_tf32 = False


def test_amp_is_a_full_precision_pass_through():
    model = soma.nn.Linear(3, 1)
    opt = soma.optim.SGD(model.parameters(), lr=0.1)
    scaler = soma.amp.GradScaler()
    before = model.weight.detach().clone()
    with soma.autocast(device_type="cpu", dtype=soma.float16):
        loss = model(soma.ones(2, 3)).sum()
    assert loss.dtype == soma.float32
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    assert not soma.equal(before, model.weight)


@pytest.mark.parametrize(
    "a,b", [(1.0, 0.0), (1, 0), (True, False), (2, 0.5)], ids=["float", "int", "bool", "mixed"]
)
def test_where_with_two_scalars(a, b):
    cond = [True, False, True]
    got = soma.where(soma.tensor(cond), a, b)
    expected = torch.where(torch.tensor(cond), a, b)
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_data_parallel_is_a_pass_through_with_pytorchs_state_dict_keys():
    inner = soma.nn.Linear(3, 2)
    net = soma.nn.DataParallel(inner, device_ids=[0])
    tnet = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert list(net.state_dict()) == list(tnet.state_dict())
    x = soma.randn(4, 3)
    assert soma.equal(net(x), inner(x)) and net.module is inner


def test_flatten_parameters_is_a_no_op():
    lstm = soma.nn.LSTM(3, 4, 2)
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    assert lstm.flatten_parameters() is None
    assert all(soma.equal(before[k], v) for k, v in lstm.state_dict().items())
    assert list(before) == list(torch.nn.LSTM(3, 4, 2).state_dict())


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_take_size_as_a_keyword(name):
    for size in [(2, 3), [4], ()]:
        got = getattr(soma, name)(size=size)
        assert tuple(got.shape) == tuple(getattr(torch, name)(size=size).shape)
    with pytest.raises(TypeError, match="size="):
        getattr(soma, name)(2, size=(2,))


def test_process_wide_switches_are_remembered_and_harmless(monkeypatch):
    monkeypatch.setattr(soma.backend.parallel, "_num_threads", None)  # restored after the test
    soma.set_float32_matmul_precision("high")
    assert soma.get_float32_matmul_precision() == "high"
    soma.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError):
        soma.set_float32_matmul_precision("fastest")
    soma.use_deterministic_algorithms(True)
    assert soma.are_deterministic_algorithms_enabled()
    soma.use_deterministic_algorithms(False)
    soma.set_num_threads(1)
    model = soma.nn.Linear(2, 1)
    assert soma.compile(model) is model and soma.compile(mode="max-autotune")(model) is model


def test_seed_and_rng_state_round_trip():
    soma.manual_seed(5)
    assert soma.initial_seed() == 5
    state = soma.get_rng_state()
    a = soma.rand(3)
    soma.set_rng_state(state)
    assert soma.equal(a, soma.rand(3))
    s = soma.seed()
    assert soma.initial_seed() == s
    soma.manual_seed(0)


def test_finfo_iinfo_and_dtype_match_pytorch():
    for name in ("float32", "float64", "float16"):
        got, expected = soma.finfo(getattr(soma, name)), torch.finfo(getattr(torch, name))
        assert (got.eps, got.max, got.tiny, got.bits) == (
            expected.eps, expected.max, expected.tiny, expected.bits
        )  # fmt: skip
    assert soma.finfo().eps == torch.finfo().eps
    assert soma.iinfo(soma.int64).max == torch.iinfo(torch.int64).max
    assert isinstance(soma.zeros(1).dtype, soma.dtype)


def test_variable_is_the_tensor_itself():
    x = soma.ones(2)
    assert soma.autograd.Variable(x) is x and not x.requires_grad
    assert soma.autograd.Variable(x, requires_grad=True).requires_grad


def test_assert_close_follows_pytorchs_defaults():
    from soma.testing import assert_close

    for a, b in [([1.0, 2.0], [1.0, 2.0 + 1e-6]), ([1.0], [1.0 + 1e-4]), ([3], [3])]:
        sa, sb, ta, tb = soma.tensor(a), soma.tensor(b), torch.tensor(a), torch.tensor(b)
        try:
            torch.testing.assert_close(ta, tb)
            expected_ok = True
        except AssertionError:
            expected_ok = False
        if expected_ok:
            assert_close(sa, sb)
        else:
            with pytest.raises(AssertionError, match="not close"):
                assert_close(sa, sb)
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(soma.tensor([1.0]), soma.tensor([1.0], dtype=soma.float64))
    assert_close({"a": [soma.tensor(1.0)]}, {"a": [soma.tensor(1.0)]})


def test_get_num_threads_reads_the_environment(monkeypatch):
    # regression: soma's module-level `int` (soma.int32) shadowed the builtin here
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.setattr(soma.backend.parallel, "_num_threads", None)  # no set_num_threads value
    assert soma.get_num_threads() == 3
