"""The steps behind ``soma train``: fitting data to a model, label and folder checks."""

import numpy as np
import pytest

import soma
from soma.data import DataLoader
from soma.train.workflow import RunError, check_labels, check_writable, prepare_data


def test_digits_are_resized_for_lenet_and_normalised(torch_or_skip):
    torch = torch_or_skip
    prepared = prepare_data("digits", "lenet5", val_split=0.1)
    assert prepared.source_shape == (1, 8, 8) and prepared.input_shape == (1, 32, 32)
    assert prepared.notes == ["inputs resized from 8x8 to 32x32 for lenet5"]
    x, y = next(iter(DataLoader(prepared.train, batch_size=len(prepared.train))))
    assert tuple(x.shape) == (len(prepared.train), 1, 32, 32) and x.dtype == soma.float32
    # normalised with the training split's 8x8 statistics, resized bilinearly as torch does
    raw = soma.data.load("digits", val_split=0.1)
    images = raw.train.tensors[0].numpy()
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(images), size=(32, 32), mode="bilinear", align_corners=False
    ).numpy()
    expected = (expected - raw.mean[0]) / raw.std[0]
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert abs(float(x.mean())) < 0.05


def test_models_without_a_fixed_size_keep_the_data_size():
    prepared = prepare_data("digits", "mlp", normalize=False)
    assert prepared.input_shape == (1, 8, 8) and prepared.notes == []
    assert prepared.train.transform is None  # nothing to do per batch


def test_label_check_names_the_offending_values():
    prepared = prepare_data("digits", "mlp")
    with pytest.raises(RunError, match=r"labels outside the model's 8 classes \(0..7\): \[8, 9\]"):
        check_labels(prepared, 8)
    check_labels(prepared, 10)


def test_unknown_dataset_lists_the_names():
    with pytest.raises(
        RunError, match="unknown dataset 'nope'; available datasets: .*digits"
    ) as info:
        prepare_data("nope", "mlp")
    assert info.value.usage


def test_check_writable(tmp_path):
    assert check_writable(tmp_path / "a" / "b") == str(tmp_path / "a" / "b")
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunError, match="cannot write to the output folder"):
        check_writable(tmp_path / "f" / "run")


def test_check_writable_while_another_rank_checks_the_same_folder(tmp_path, monkeypatch):
    # the ranks of a distributed run check the same --out folder at the same moment: while one
    # rank's probe file is open, another rank's whole check runs (and removes its own probe)
    import builtins

    real_open = builtins.open
    nested = []

    def open_during_another_check(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        if not nested:
            nested.append("running")
            nested.append(check_writable(tmp_path))
        return handle

    monkeypatch.setattr(builtins, "open", open_during_another_check)
    assert check_writable(tmp_path) == str(tmp_path)
    assert nested == ["running", str(tmp_path)]
    assert list(tmp_path.iterdir()) == []
