"""DataLoader, samplers and collation: order, shuffling, seeding, last batch, len, both paths."""

from collections import namedtuple

import numpy as np
import pytest

import soma
from soma.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
)


def _dataset(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(x, np.arange(n))


class ListDataset(Dataset):
    """A map-style dataset without batch access: the loader must fetch sample by sample."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.full(2, i, dtype=np.float32), i


class Counting(TensorDataset):
    """A TensorDataset that records how it was asked for data."""

    def __init__(self, *a):
        super().__init__(*a)
        self.item_calls = 0
        self.batch_calls = 0

    def __getitem__(self, i):
        self.item_calls += 1
        return super().__getitem__(i)

    def get_batch(self, indices):
        self.batch_calls += 1
        return super().get_batch(indices)


def _labels(loader):
    return [y.tolist() for _, y in loader]


@pytest.mark.parametrize(
    "n, bs, drop_last",
    [(10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True), (2, 5, False), (2, 5, True)],
)
def test_sequential_order_last_batch_and_len_match_torch(torch_or_skip, n, bs, drop_last):
    torch = torch_or_skip
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    ours = DataLoader(TensorDataset(x, np.arange(n)), batch_size=bs, drop_last=drop_last)
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.arange(n)),
        batch_size=bs,
        drop_last=drop_last,
    )
    got = [(bx.numpy(), by.numpy()) for bx, by in ours]
    want = [(bx.numpy(), by.numpy()) for bx, by in ref]
    assert len(ours) == len(ref) == len(want)
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)
        assert gx.dtype == wx.dtype and gy.dtype == wy.dtype


def test_batch_is_a_list_of_tensors_like_torch():
    batch = next(iter(DataLoader(_dataset(), batch_size=4)))
    assert isinstance(batch, list) and len(batch) == 2
    assert all(isinstance(t, soma.Tensor) for t in batch)
    assert batch[0].shape == (4, 3) and batch[0].dtype == soma.float32
    assert batch[1].dtype == soma.int64


def test_shuffle_is_a_permutation_and_changes_per_epoch():
    loader = DataLoader(
        _dataset(20), batch_size=6, shuffle=True, generator=soma.Generator().manual_seed(1)
    )
    epoch1 = sum(_labels(loader), [])
    epoch2 = sum(_labels(loader), [])
    assert sorted(epoch1) == sorted(epoch2) == list(range(20))
    assert epoch1 != epoch2
    assert epoch1 != list(range(20))


def test_shuffle_seeding_reproducible_with_generator_and_global_seed():
    def epochs(loader):
        return [sum(_labels(loader), []) for _ in range(3)]

    a = epochs(
        DataLoader(
            _dataset(15), batch_size=4, shuffle=True, generator=soma.Generator().manual_seed(7)
        )
    )
    b = epochs(
        DataLoader(
            _dataset(15), batch_size=4, shuffle=True, generator=soma.Generator().manual_seed(7)
        )
    )
    c = epochs(
        DataLoader(
            _dataset(15), batch_size=4, shuffle=True, generator=soma.Generator().manual_seed(8)
        )
    )
    assert a == b and a != c
    soma.manual_seed(3)
    d = epochs(DataLoader(_dataset(15), batch_size=4, shuffle=True))
    soma.manual_seed(3)
    e = epochs(DataLoader(_dataset(15), batch_size=4, shuffle=True))
    assert d == e


def test_shuffled_rows_stay_paired():
    for x, y in DataLoader(_dataset(12), batch_size=5, shuffle=True):
        np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy() * 3)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fast_path_does_no_per_sample_work_and_matches_slow_path(shuffle):
    x = np.random.default_rng(0).normal(size=(11, 2, 3)).astype(np.float32)
    fast_ds = Counting(x, np.arange(11))
    fast = list(
        DataLoader(
            fast_ds, batch_size=4, shuffle=shuffle, generator=soma.Generator().manual_seed(0)
        )
    )
    assert fast_ds.item_calls == 0 and fast_ds.batch_calls == 3
    slow_ds = Counting(x, np.arange(11))
    slow = list(
        DataLoader(
            slow_ds,
            batch_size=4,
            shuffle=shuffle,
            collate_fn=lambda b: default_collate(b),
            generator=soma.Generator().manual_seed(0),
        )
    )
    assert slow_ds.item_calls == 11 and slow_ds.batch_calls == 0
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype


def test_subclass_overriding_getitem_only_is_not_bypassed():
    class Shifted(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x + 100, y

    ds = Shifted(np.zeros((4, 2), np.float32), np.arange(4))
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].numpy().min() == 100  # served through the override, sample by sample
    assert Subset(ds, [0, 1]).get_batch is None


def test_map_style_dataset_without_batch_access_takes_the_slow_path():
    ds = ListDataset(7)
    batches = list(DataLoader(ds, batch_size=3))
    assert ds.calls == 7
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches[0][0].shape == (3, 2) and batches[0][0].dtype == soma.float32
    np.testing.assert_array_equal(batches[2][0].numpy(), [[6, 6]])


def test_dataset_with_getitems_is_asked_for_whole_batches():
    class Batched(ListDataset):
        def __getitems__(self, indices):
            self.seen = getattr(self, "seen", []) + [list(indices)]
            return [self[i] for i in indices]

    ds = Batched(5)
    list(DataLoader(ds, batch_size=2))
    assert ds.seen == [[0, 1], [2, 3], [4]]


def test_custom_collate_fn_receives_the_sample_list():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return sum(int(y) for _, y in samples)

    out = list(DataLoader(_dataset(7), batch_size=3, collate_fn=collate))
    assert out == [0 + 1 + 2, 3 + 4 + 5, 6] and seen == [3, 3, 1]


def test_batch_size_none_yields_converted_samples():
    out = list(DataLoader(ListDataset(3), batch_size=None))
    assert len(out) == 3
    x, y = out[2]
    assert isinstance(x, soma.Tensor) and x.shape == (2,) and y == 2


def test_sampler_and_batch_sampler_options():
    ds = _dataset(10)
    loader = DataLoader(
        ds,
        batch_size=3,
        sampler=SubsetRandomSampler([1, 3, 5, 7], generator=soma.Generator().manual_seed(0)),
    )
    assert sorted(sum(_labels(loader), [])) == [1, 3, 5, 7] and len(loader) == 2
    custom = DataLoader(ds, batch_sampler=[[9, 0], [4]])
    assert _labels(custom) == [[9, 0], [4]] and custom.batch_size is None
    bs = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, drop_last=True))
    assert _labels(bs) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(bs) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sampler=[0, 1], shuffle=True), "mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "mutually exclusive with drop_last"),
        (dict(num_workers=-1), "num_workers"),
        (dict(batch_size=0), "positive integer"),
    ],
)
def test_invalid_option_combinations_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(_dataset(), **kwargs)


def test_random_sampler_replacement_and_num_samples():
    g = soma.Generator().manual_seed(0)
    draws = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(draws) == 50 and set(draws) <= {0, 1, 2} and len(set(draws)) == 3
    chained = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(chained) == 10 and sorted(chained[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)


def test_weighted_sampler_follows_weights():
    draws = list(WeightedRandomSampler([0, 1, 3], 4000, generator=soma.Generator().manual_seed(0)))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03


def test_batch_sampler_over_plain_iterable_is_lazy():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    it = iter(BatchSampler(endless(), 3, drop_last=False))
    assert next(it) == [0, 1, 2] and next(it) == [3, 4, 5]


def test_iterable_dataset_batches_and_len():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    dropped = DataLoader(Stream(), batch_size=3, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(), batch_size=3)) == 3
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_loader_transform_sees_tensor_batches_on_both_paths():
    seen = []

    def double(x):
        seen.append((type(x), tuple(x.shape)))
        return x * 2

    fast = next(iter(DataLoader(_dataset(4), batch_size=4, transform=double)))
    slow = next(iter(DataLoader(ListDataset(4), batch_size=4, transform=double)))
    assert seen == [(soma.Tensor, (4, 3)), (soma.Tensor, (4, 2))]
    np.testing.assert_array_equal(fast[0].numpy(), np.arange(12).reshape(4, 3) * 2)
    np.testing.assert_array_equal(fast[1].numpy(), np.arange(4))
    np.testing.assert_array_equal(slow[0].numpy()[:, 0], [0, 2, 4, 6])


def test_dataset_transform_sees_tensors_sample_or_batch():
    seen = []
    ds = TensorDataset(
        np.zeros((5, 2), np.float32),
        np.arange(5),
        transform=lambda x: seen.append((type(x), tuple(x.shape))) or x,
    )
    ds[0]
    list(DataLoader(ds, batch_size=3))
    assert seen == [(soma.Tensor, (2,)), (soma.Tensor, (3, 2)), (soma.Tensor, (2, 2))]


# ---------------------------------------------------------------------------- collate
def test_collate_dtypes_follow_torch(torch_or_skip):
    torch = torch_or_skip
    samples = [
        (
            np.float64(i),
            np.ones(2, np.float64) * i,
            float(i),
            i,
            True,
            np.int32(i),
            np.ones(3, np.float32),
        )
        for i in range(3)
    ]
    ours = default_collate(samples)
    ref = torch.utils.data.default_collate(samples)
    assert isinstance(ours, list) and len(ours) == len(ref)
    for o, r in zip(ours, ref):
        assert str(o.dtype) == str(r.dtype).replace("torch.", "")
        np.testing.assert_array_equal(o.numpy(), r.numpy())


def test_collate_dicts_namedtuples_strings_and_nesting():
    Point = namedtuple("Point", "x y")
    samples = [
        {"p": Point(1.0, np.zeros(2)), "name": f"s{i}", "ids": [i, i + 1]} for i in range(3)
    ]
    out = default_collate(samples)
    assert isinstance(out["p"], Point)
    assert out["p"].x.dtype == soma.float64 and out["p"].y.shape == (3, 2)
    assert out["name"] == ["s0", "s1", "s2"]
    assert [t.tolist() for t in out["ids"]] == [[0, 1, 2], [1, 2, 3]]


def test_collate_tensors_stack_and_mismatch_is_clear():
    out = default_collate([soma.ones(2, 2), soma.zeros(2, 2)])
    assert out.shape == (2, 2, 2)
    with pytest.raises(RuntimeError, match="same shape"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1,)])


def test_default_convert_keeps_structure():
    out = default_convert((np.zeros(2), "a", {"k": np.int64(3)}))
    assert isinstance(out, list) and isinstance(out[0], soma.Tensor) and out[1] == "a"
    assert out[2]["k"].tolist() == 3
