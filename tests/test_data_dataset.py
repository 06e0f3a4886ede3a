"""Dataset containers: TensorDataset, Subset, ConcatDataset, random_split, soma.utils.data."""

import numpy as np
import pytest

import soma
from soma.data import ConcatDataset, DataLoader, Subset, TensorDataset, random_split


def _ds(n, offset=0):
    values = np.arange(offset, offset + n)
    return TensorDataset(values[:, None] * np.ones(2, np.float32), values)


def test_tensor_dataset_rows_are_tensors_and_sizes_are_checked():
    ds = _ds(4)
    x, y = ds[2]
    assert isinstance(x, soma.Tensor) and x.tolist() == [2.0, 2.0] and y.tolist() == 2
    assert len(ds) == 4
    with pytest.raises(ValueError, match=r"same size in dimension 0.*\(3,\), \(4,\)"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="one or more tensors"):
        TensorDataset()


def test_tensor_dataset_transforms_apply_to_inputs_and_targets():
    ds = TensorDataset(
        np.ones((3, 2), np.float32),
        np.arange(3),
        transform=lambda x: x * 5,
        target_transform=lambda y: y + 10,
    )
    x, y = ds[1]
    assert x.tolist() == [5.0, 5.0] and y.tolist() == 11
    bx, by = ds.get_batch(np.array([0, 2]))
    assert bx.tolist() == [[5.0, 5.0]] * 2 and by.tolist() == [10, 12]


def test_subset_indexing_and_batch_access():
    ds = Subset(_ds(10), [9, 2, 5])
    assert len(ds) == 3 and ds[0][1].tolist() == 9 and ds[-1][1].tolist() == 5
    assert ds.get_batch(np.array([2, 0]))[1].tolist() == [5, 9]
    plain = Subset(list("abcd"), [3, 1])
    assert plain.get_batch is None and plain[0] == "d"
    assert plain.__getitems__([0, 1]) == ["d", "b"]


def test_concat_dataset_indexing_batches_and_errors():
    ds = ConcatDataset([_ds(3), _ds(4, offset=100)])
    assert len(ds) == 7 and ds.cumulative_sizes == [3, 7]
    assert ds[0][1].tolist() == 0 and ds[3][1].tolist() == 100 and ds[-1][1].tolist() == 103
    batch = ds.get_batch(np.array([5, 0, 3, 2, -1]))
    assert batch[1].tolist() == [102, 0, 100, 2, 103]
    np.testing.assert_array_equal(batch[0][:, 0], [102, 0, 100, 2, 103])
    with pytest.raises(IndexError, match="out of range"):
        ds.get_batch(np.array([7]))
    with pytest.raises(IndexError):
        ds[-8]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    assert ConcatDataset([_ds(2), list("ab")]).get_batch is None
    assert len(_ds(2) + _ds(3)) == 5


def test_concat_through_loader_matches_per_sample_order():
    ds = ConcatDataset([_ds(5), _ds(6, offset=50)])
    g = soma.Generator().manual_seed(4)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=g)
    labels = sum([y.tolist() for _, y in loader], [])
    assert sorted(labels) == list(range(5)) + list(range(50, 56))


def test_random_split_lengths_fractions_and_seeding():
    g = lambda: soma.Generator().manual_seed(42)  # noqa: E731
    a, b = random_split(range(10), [3, 7], generator=g())
    assert len(a) == 3 and len(b) == 7
    assert sorted(list(a) + list(b)) == list(range(10))
    a2, _ = random_split(range(10), [3, 7], generator=g())
    assert list(a) == list(a2)
    parts = random_split(range(11), [0.3, 0.3, 0.4], generator=g())
    assert [len(p) for p in parts] == [4, 3, 4]  # floors 3, 3, 4 (10); remainder 1 to the first
    with pytest.raises(ValueError, match="does not equal"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="empty"):
        random_split(range(1), [0.5, 0.5])


def test_random_split_lengths_match_torch(torch_or_skip):
    torch = torch_or_skip
    for n, fracs in [(10, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1])]:
        ref = torch.utils.data.random_split(range(n), fracs)
        ours = random_split(range(n), fracs)
        assert [len(p) for p in ours] == [len(p) for p in ref]


def test_random_split_subsets_keep_the_fast_path():
    a, _ = random_split(_ds(10), [0.5, 0.5], generator=soma.Generator().manual_seed(0))
    assert a.get_batch is not None
    x, y = next(iter(DataLoader(a, batch_size=5)))
    np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy())


def test_soma_utils_data_is_soma_data():
    import soma.utils.data as tud

    assert tud.DataLoader is soma.data.DataLoader and tud.TensorDataset is soma.data.TensorDataset
    assert soma.utils.data.random_split is random_split
