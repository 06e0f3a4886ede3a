"""The helpers soma keeps one of (issue 10 §3): the n-tuple expansion and window geometry."""

import pickle

import pytest

from soma._registry import Registry
from soma._safe_pickle import SafeUnpickler
from soma.functional._utils import ntuple
from soma.functional._window_geometry import offset_slices, output_length, output_size


def test_ntuple_expands_ints_and_one_tuples_and_keeps_n_tuples():
    assert ntuple(3, 2, "conv2d", "stride") == (3, 3)
    assert ntuple((4,), 3, "conv3d", "stride") == (4, 4, 4)
    assert ntuple([1, 2], 2, "conv2d", "stride") == (1, 2)


def test_ntuple_errors_name_the_op_and_argument():
    with pytest.raises(
        ValueError, match=r"max_pool2d: kernel_size must be an int or a tuple of 2"
    ):
        ntuple((1, 2, 3), 2, "max_pool2d", "kernel_size")
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of 2 ints"):
        ntuple((1.5, 2), 2, "conv2d", "stride")
    with pytest.raises(TypeError, match=r"Resize: size"):
        ntuple(None, 2, "Resize", "size")


def test_output_length_worked_by_hand():
    # 7 wide, kernel 3, stride 2, no padding: windows start at 0, 2, 4 -> 3 outputs
    assert output_length(7, 3, 2, 1, 0, 0) == 3
    # dilation 2 spans 5: starts 0, 2 -> 2
    assert output_length(7, 3, 2, 2, 0, 0) == 2
    # ceil_mode: 6 wide, kernel 2, stride 2 -> 3 either way; 5 wide -> floor 2, ceil 3
    assert output_length(5, 2, 2, 1, 0, 0) == 2
    assert output_length(5, 2, 2, 1, 0, 0, ceil_mode=True) == 3
    # ceil_mode never starts a window in the right padding: 5 wide, k 2, s 2, pad 1 each side;
    # padded starts 0, 2, 4 fit; ceil would add a start at 6 = size + before (padding): dropped
    assert output_length(5, 2, 2, 1, 1, 1) == 3
    assert output_length(5, 2, 2, 1, 1, 1, ceil_mode=True) == 3
    assert output_length(6, 2, 2, 1, 1, 1, ceil_mode=True) == 4  # start 6 reads input pixel 5
    assert output_size((7, 5), (3, 2), (2, 2), (1, 1), ((0, 0), (0, 0))) == (3, 2)


def test_offset_slices_view_each_offset_of_every_window():
    # kernel 2, stride 3, dilation 2, 2 outputs: offset 0 reads 0 and 3, offset 1 reads 2 and 5
    assert offset_slices((2,), (2,), (3,), (2,)) == [(slice(0, 4, 3),), (slice(2, 6, 3),)]


# ------------------------------------------------------------- the one restricted unpickler
class _Plain(SafeUnpickler):
    unsafe_error = RuntimeError
    malformed_error = EOFError


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_data_round_trips(protocol):
    value = {"a": [1, -2, 3.5, None, True, 2**70], "b": ("x", "é"), 7: {"nested": []}}
    if protocol >= 3:
        value["c"] = b"\x00\xff"  # protocol 2 writes bytes as a call of _codecs.encode
    assert _Plain(pickle.dumps(value, protocol=protocol), "plain").run() == value


def test_text_opcodes_of_protocol_0_are_refused():
    with pytest.raises(RuntimeError, match=r"p0: pickle byte 3: opcode 0x70 \(PUT\) is not one"):
        _Plain(pickle.dumps([1], protocol=0), "p0").run()


def test_globals_are_refused_by_default_and_never_imported(capsys):
    with pytest.raises(
        RuntimeError, match=r"evil.pkl: .*refusing the global '(__builtin__|builtins).print'"
    ):
        _Plain(pickle.dumps(_Evil(), protocol=2), "evil.pkl").run()
    assert capsys.readouterr().out == ""


def test_truncation_and_a_newer_protocol_name_the_file():
    raw = pickle.dumps([1, 2, 3], protocol=2)
    with pytest.raises(EOFError, match=r"short.pkl: .*before its STOP"):
        _Plain(raw[:-1], "short.pkl").run()

    class Old(_Plain):
        max_protocol = 2

    with pytest.raises(RuntimeError, match=r"protocol 4 \(this reader reads protocols 0-2\)"):
        Old(pickle.dumps([1], protocol=4), "new.pkl").run()


# ------------------------------------------------------------- one registry style
def test_registry_names_aliases_and_errors():
    shapes = Registry("shape")

    @shapes.register("Square", "four equal sides", aliases=("quad",), corners=4)
    def square(side):
        return side * side

    assert shapes.get("square").builder is square and shapes.get("QUAD").options == {"corners": 4}
    assert "quad" in shapes and "circle" not in shapes and shapes.names() == ["Square"]
    with pytest.raises(ValueError, match=r"unknown shape 'circle'; available shapes: Square"):
        shapes.get("circle")
    with pytest.raises(ValueError, match="register_shape: a shape named 'quad' is already"):
        shapes.register("quad")(lambda side: side)


def test_every_family_is_read_from_its_registry(monkeypatch):
    import soma
    from soma.data import datasets
    from soma.nn.registry import ACTIVATIONS, LOSSES
    from soma.optim.registry import OPTIMIZERS, SCHEDULERS
    from soma.train.components import get_loss, get_optimizer
    from soma.train.workflow import RunError, check_names, make_optimizer, make_scheduler

    assert {"adam", "adamw", "sgd", "rmsprop", "adagrad"} <= set(OPTIMIZERS.names())
    assert {"step", "cosine", "exponential", "plateau", "onecycle"} <= set(SCHEDULERS.names())
    assert {"mse", "cross_entropy", "mae"} <= set(LOSSES.names(aliases=True))
    assert {"relu", "tanh", "gelu"} <= set(ACTIVATIONS.names())
    model = soma.nn.Linear(2, 1)
    sgd = make_optimizer("SGD", model)  # the registered defaults
    assert sgd.param_groups[0]["lr"] == 0.05 and sgd.param_groups[0]["momentum"] == 0.9
    assert type(get_optimizer("adam", model)).__name__ == "Adam"
    assert type(get_loss("mae")).__name__ == "L1Loss"
    scheduler, interval = make_scheduler("cosine", sgd, epochs=3, steps_per_epoch=5, lr=0.05)
    assert interval == "batch" and scheduler.T_max == 15
    with pytest.raises(RunError, match="unknown scheduler 'warp'; available schedulers: cosine"):
        check_names(scheduler="warp")

    # a new dataset is one decorated function: load() and the listing see it
    monkeypatch.setattr(datasets.DATASETS, "_entries", dict(datasets.DATASETS._entries))

    @datasets.register_dataset("test_tiny", "two points (test)")
    def load_tiny(root=None, val_split=0.0, seed=0, download=False):
        return "splits"

    assert soma.data.load("test-tiny") == "splits"
    assert datasets.list_datasets()["test_tiny"] == "two points (test)"
