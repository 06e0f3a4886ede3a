"""PyTorch's random numbers for the same seed (``backend/mersenne.py``).

The first group needs no PyTorch: MT19937's published first outputs and values worked by hand
from them. The second compares soma with PyTorch op by op, then whole modules' initial
weights and a data loader's shuffles.
"""

import json

import numpy as np
import pytest

import soma
from soma.backend.mersenne import MersenneStream

# MT19937 seeded by init_genrand(0) and by init_genrand(5489) (the reference code's default):
# their first 32-bit outputs
SEED0_FIRST = [2357136044, 2546248239, 3071714933, 3626093760]
SEED5489_FIRST = [3499211612, 581869302, 3890346734, 3586334585]


def test_the_stream_is_the_reference_mersenne_twister():
    assert MersenneStream(0).random(4).tolist() == SEED0_FIRST
    assert MersenneStream(5489).random(4).tolist() == SEED5489_FIRST
    # seeds beyond 32 bits keep their low word, as PyTorch's generator does
    assert MersenneStream(2**32 + 5489).random(4).tolist() == SEED5489_FIRST


def test_uniforms_take_the_low_24_or_53_bits():
    soma.manual_seed(0)
    first = soma.rand(2)
    expected = [(d % 2**24) / 2**24 for d in SEED0_FIRST[:2]]
    assert first.tolist() == pytest.approx(expected, abs=0)
    soma.manual_seed(0)
    wide = soma.rand(1, dtype=soma.float64).item()
    assert wide == ((SEED0_FIRST[0] << 32 | SEED0_FIRST[1]) % 2**53) / 2**53


def test_integers_and_permutation_by_hand():
    soma.manual_seed(0)
    assert soma.randint(3, 13, (4,)).tolist() == [3 + d % 10 for d in SEED0_FIRST]
    soma.manual_seed(0)
    # randperm(4): swap i with i + draw mod (4 - i), for i = 0, 1, 2
    perm = [0, 1, 2, 3]
    for i, d in enumerate(SEED0_FIRST[:3]):
        j = i + d % (4 - i)
        perm[i], perm[j] = perm[j], perm[i]
    assert soma.randperm(4).tolist() == perm


def test_serial_normals_keep_the_second_value_for_the_next_call():
    stream = MersenneStream(7)
    pair = stream.normal(2, 0.0, 1.0, np.float64, blocked=False)
    stream.seed(7)
    first = stream.normal(1, 0.0, 1.0, np.float64, blocked=False)
    second = stream.normal(1, 0.0, 1.0, np.float64, blocked=False)  # the cached r·sin θ
    assert [first[0], second[0]] == pair.tolist()
    stream.seed(7)
    u = (stream.random64(2) & np.uint64(2**53 - 1)) * 2.0**-53
    radius = np.sqrt(-2 * np.log1p(-u[1]))
    assert pair.tolist() == pytest.approx(
        [radius * np.cos(2 * np.pi * u[0]), radius * np.sin(2 * np.pi * u[0])], rel=1e-15
    )


def test_state_round_trip_is_json_and_continues_the_stream():
    g = soma.Generator().manual_seed(11)
    soma.randn(3, generator=g)  # leaves a cached normal behind
    state = json.loads(json.dumps(g.get_state()))
    expected = soma.randn(5, generator=g).tolist(), soma.rand(3, generator=g).tolist()
    g.manual_seed(99)
    g.set_state(state)
    assert (soma.randn(5, generator=g).tolist(), soma.rand(3, generator=g).tolist()) == expected


def test_multinomial_refuses_what_pytorch_refuses():
    for probs, n, replacement, message in [
        (soma.zeros(2), 1, False, "sum of probabilities <= 0"),
        (soma.tensor([1.0, -1.0]), 1, False, "element < 0"),
        (soma.tensor([1.0, float("nan")]), 1, True, "`nan`"),
        (soma.tensor([1.0, 2.0]), 3, False, "n_sample > prob_dist.size"),
        (soma.tensor([1.0, 2.0]), 0, True, "n_sample <= 0"),
        (soma.ones(2, 2, 2), 1, False, "1 or 2 dim"),
    ]:
        with pytest.raises(RuntimeError, match=message):
            soma.multinomial(probs, n, replacement)


def test_bad_seeds_and_empty_ranges_raise():
    with pytest.raises(RuntimeError, match="seed must be within"):
        soma.manual_seed(2**64)
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        soma.randint(5, 5, (2,))
    with pytest.raises(RuntimeError, match="from=3 >= to=1"):
        soma.empty(2, dtype=soma.int64).random_(3, 1)
    with pytest.raises(RuntimeError, match="randperm"):
        soma.randperm(-1)


def test_a_new_generator_starts_from_pytorchs_default_seed():
    assert soma.Generator().initial_seed() == 67280421310721
    assert soma.Generator().manual_seed(-1).initial_seed() == 2**64 - 1


def test_permutation_kernel_and_python_loop_agree():
    from soma.backend import compiled

    with compiled.disabled():
        python_loop = MersenneStream(5).permutation(1000)
    assert sorted(python_loop.tolist()) == list(range(1000))
    np.testing.assert_array_equal(MersenneStream(5).permutation(1000), python_loop)


def test_bernoulli_kernel_and_numpy_draws_agree():
    from soma.backend import compiled

    stream = MersenneStream(9)
    stream.random(623)  # the next 64-bit draw straddles two blocks of 624 words
    got = [stream.bernoulli(n, p) for n, p in ((5, 0.5), (2000, 0.3), (1, 1.0), (3, 0.0))]
    with compiled.disabled():
        reference = MersenneStream(9)
        reference.random(623)
        expected = [
            reference.bernoulli(n, p) for n, p in ((5, 0.5), (2000, 0.3), (1, 1.0), (3, 0.0))
        ]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert got[2].all() and not got[3].any()
    assert stream.random(2).tolist() == reference.random(2).tolist()


def test_generator_seed_clone_and_fork_rng():
    g = soma.Generator()
    seed = g.seed()
    assert g.initial_seed() == seed and str(g.device) == "cpu"
    twin = g.clone_state()
    assert soma.rand(4, generator=g).tolist() == soma.rand(4, generator=twin).tolist()
    soma.random.manual_seed(5)
    first = soma.rand(2).tolist()
    soma.random.manual_seed(5)
    with soma.random.fork_rng():
        soma.rand(7)  # draws inside the block leave the global stream where it was
    assert soma.rand(2).tolist() == first
    assert soma.default_generator.initial_seed() == soma.random.initial_seed() == 5


def test_bernoulli_with_a_tensor_of_probabilities_pairs_them_with_their_elements():
    # probabilities 0 and 1 leave nothing to chance, also on a transposed (non-contiguous)
    # tensor, whose fill visits memory order, not row order
    p = soma.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    assert soma.empty(4, 3).t().bernoulli_(p).tolist() == p.tolist()
    assert soma.empty(3, 4).bernoulli_(p).tolist() == p.tolist()


# ---------------------------------------------------------------------------- against PyTorch
torch = pytest.importorskip("torch")

# Float32 normals of 16 or more numbers come from PyTorch's AVX2/AVX-512 kernel, whose float32
# log, sin and cos are its own approximations: they agree to about 1e-6 (a few units in the
# last place of values near 1), not bit for bit, and differ between CPUs. Everything else is
# exact.
NORMAL32 = 3e-6


def _draw(module, fn, seed):
    module.manual_seed(seed)
    out = fn(module)
    out = out if isinstance(out, tuple) else (out,)
    return [np.asarray(t.detach().numpy() if hasattr(t, "detach") else t) for t in out]


def _same(fn, seed=3, atol=0.0):
    expected, got = _draw(torch, fn, seed), _draw(soma, fn, seed)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype and e.shape == g.shape
        if atol:
            np.testing.assert_allclose(g, e, rtol=0, atol=atol)
        else:
            np.testing.assert_array_equal(g, e)


CASES = {
    "rand": (lambda m: (m.rand(2, 3), m.rand(5, dtype=m.float64), m.rand(40)), 0),
    "rand float16": (lambda m: m.rand(9, dtype=m.float16), 0),
    "randint": (
        lambda m: (
            m.randint(10, (4,)),
            m.randint(-3, 3, (2, 2)),
            m.randint(0, 5, (3,), dtype=m.int32),
            m.randint(-5, 2**40, (6,)),
            m.randint(0, 7, (3,), dtype=m.float32),
        ),
        0,
    ),
    "randperm": (lambda m: (m.randperm(1), m.randperm(7), m.randperm(1000)), 0),
    "multinomial": (
        lambda m: (
            m.multinomial(m.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 3.0]]), 2),
            m.multinomial(m.tensor([0.1, 0.2, 0.3, 0.4]), 7, replacement=True),
            m.multinomial(m.rand(3, 50), 1),
            m.multinomial(m.rand(3, 50), 10),
            m.multinomial(m.rand(2, 50, dtype=m.float64), 20, True),
            m.multinomial(m.tensor([1.0, 0.0]), 2),  # a zero weight still fills the last place
        ),
        0,
    ),
    "geometric_, log_normal_, cauchy_": (
        lambda m: (
            m.empty(50).geometric_(0.3),
            m.empty(5, dtype=m.int64).geometric_(0.5),
            m.empty(7, dtype=m.float64).log_normal_(0.5, 0.2),
            m.empty(3, dtype=m.float64).log_normal_(),  # odd counts: the cached normal carries
            m.empty(40, dtype=m.float64).cauchy_(1.0, 2.0),
        ),
        1e-9,  # float64 exp and tan: NumPy's and PyTorch's libm differ in the last bits
    ),
    "exponential_": (
        lambda m: (m.empty(5).exponential_(2.0), m.empty(3, 4, dtype=m.float64).exponential_()),
        1e-14,  # float64 log1p: NumPy's and PyTorch's libm differ in the last bit
    ),
    "uniform_": (
        lambda m: (
            m.empty(3, 4).uniform_(-1, 2),
            m.empty(4, 3).t().uniform_(),
            m.empty(300).uniform_(-0.37, 0.21),
            m.empty(5, dtype=m.float64).uniform_(3, 4.5),
        ),
        # x · (to − from) + from: PyTorch's AVX2/AVX-512 kernels fuse it into one rounding
        # (as soma does), its default-capability kernel rounds twice, so PyTorch's own values
        # differ by an ulp between CPUs (ATEN_CPU_CAPABILITY=default): allow one ulp
        5e-7,
    ),
    "random_": (
        lambda m: (
            m.empty(5).random_(10),
            m.empty(5, dtype=m.int64).random_(2, 9),
            m.empty(3, dtype=m.int64).random_(),
            m.empty(3, dtype=m.int32).random_(),
            m.empty(3, dtype=m.uint8).random_(),
            m.empty(4, dtype=m.bool).random_(),
            m.empty(3).random_(),
            m.empty(3, dtype=m.float64).random_(),
        ),
        0,
    ),
    "serial normals": (
        lambda m: (
            m.randn(3),
            m.randn(2, dtype=m.float64),
            m.randn(1),
            m.empty(5).normal_(2, 3),
            m.normal(2.0, 3.0, (5,)),
            m.randn(40, dtype=m.float64),
            m.empty(20, 3, dtype=m.float64).t().normal_(),
        ),
        1e-14,
    ),
    "blocked normals": (
        lambda m: (
            m.randn(16),
            m.randn(37),
            m.randn(3, 70),
            m.empty(20, 3).t().normal_(),  # not contiguous: the serial path
            m.normal(m.zeros(20), 2.0),
            m.normal(1.0, m.ones(3)),
            m.normal(m.ones(17), m.ones(17) * 2),
        ),
        NORMAL32,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 3, 2**40 + 17])
def test_ops_draw_pytorchs_numbers(name, seed):
    fn, atol = CASES[name]
    _same(fn, seed, atol)


def _module_weights(m):
    layers = [
        m.nn.Linear(20, 10),
        m.nn.Conv2d(3, 8, 3),
        m.nn.ConvTranspose2d(4, 2, 3),
        m.nn.LSTM(4, 5, num_layers=2),
        m.nn.GRU(3, 4),
        m.nn.Embedding(10, 3),
        m.nn.BatchNorm2d(4),
        m.nn.TransformerEncoderLayer(8, 2, 16),
        m.nn.MultiheadAttention(6, 2),
        m.nn.Bilinear(3, 4, 2),
    ]
    return tuple(p for layer in layers for p in layer.parameters())


def test_modules_start_from_pytorchs_weights():
    # uniform initialisers exactly; Embedding's normal one as NORMAL32
    _same(_module_weights, seed=0, atol=NORMAL32)


INITS = [
    "sparse_",
    "uniform_",
    "normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]


@pytest.mark.parametrize("init", INITS)
def test_initialisers_draw_pytorchs_numbers(init):
    # 60 × 50: the blocked normal kernel; orthogonal_ adds a float32 QR's rounding
    atol = 1e-5 if init == "orthogonal_" else NORMAL32
    args = (0.3,) if init == "sparse_" else ()
    _same(
        lambda m: (getattr(m.nn.init, init)(m.empty(60, 50), *args), m.rand(2)), seed=5, atol=atol
    )


@pytest.mark.filterwarnings("ignore:mean is more than 2 std")
@pytest.mark.parametrize(
    "bounds", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 2.0, 5.0), (1.0, 0.5, -3, -1)]
)
def test_trunc_normal_draws_pytorchs_numbers(bounds):
    # (2, 5) and (−3, −1) hold under 30 % of the mass: the uniform proposals
    _same(lambda m: m.nn.init.trunc_normal_(m.empty(40, 30), *bounds), seed=1, atol=NORMAL32)


def _loader_draws(m):
    data = m.utils.data.TensorDataset(m.arange(10))
    out = []
    for _ in range(2):  # two epochs, each with its own base seed and permutation
        out += [batch[0] for batch in m.utils.data.DataLoader(data, batch_size=4, shuffle=True)]
    first, _ = m.utils.data.random_split(data, [7, 3])
    out.append(m.tensor(list(first.indices)))
    out.append(m.tensor(list(m.utils.data.SubsetRandomSampler([5, 6, 7, 8]))))
    sampler = m.utils.data.RandomSampler(range(5), replacement=True, num_samples=7)
    out.append(m.tensor(list(sampler)))
    out.append(m.tensor(list(m.utils.data.WeightedRandomSampler([0.1, 0.9, 0.4, 0.0], 6))))
    weighted = m.utils.data.WeightedRandomSampler([0.1, 0.9, 0.4, 2.0], 3, replacement=False)
    out.append(m.tensor(list(weighted)))
    g = m.Generator().manual_seed(4)
    out.append(m.tensor(list(m.utils.data.RandomSampler(range(6), num_samples=9, generator=g))))
    out.append(m.rand(3))  # the global stream is where PyTorch's is after all that
    return tuple(out)


def test_data_loading_shuffles_as_pytorch():
    _same(_loader_draws, seed=8)


def test_distributed_sampler_orders_as_pytorch():
    from soma.data.distributed_sampler import DistributedSampler

    expected = list(
        torch.utils.data.DistributedSampler(
            range(11), num_replicas=3, rank=1, seed=5, shuffle=True
        )
    )
    got = list(DistributedSampler(range(11), num_replicas=3, rank=1, seed=5, shuffle=True))
    assert got == expected


def _seeded_training(m):
    """A tutorial's loop: seeded data, a shuffling loader, an MLP, SGD with momentum."""
    m.manual_seed(0)
    x = m.randn(256, 10)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    loader = m.utils.data.DataLoader(m.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    model = m.nn.Sequential(m.nn.Linear(10, 32), m.nn.ReLU(), m.nn.Linear(32, 2))
    opt = m.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(3):
        for xb, yb in loader:
            loss = m.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return np.array(losses)


def test_a_seeded_training_script_gives_pytorchs_losses():
    # the same data, weights and batch order: the losses agree to float32 rounding
    np.testing.assert_allclose(_seeded_training(soma), _seeded_training(torch), rtol=0, atol=1e-5)


DROPOUT_CASES = {
    "bernoulli": lambda m: (
        m.bernoulli(m.rand(50)),
        m.bernoulli(m.zeros(7), 0.3),
        m.empty(40).bernoulli_(0.2),
        m.empty(3, 5).bernoulli_(m.rand(5)),
        m.empty(4, 3).t().bernoulli_(m.rand(3, 4)),
    ),
    "dropout": lambda m: (
        m.nn.functional.dropout(m.ones(100), 0.3),
        m.nn.functional.dropout(m.ones(50, dtype=m.float64), 0.1),
        m.nn.functional.dropout2d(m.ones(2, 5, 3, 3), 0.5),
        m.nn.functional.dropout1d(m.ones(3, 4, 2), 0.5),
        m.nn.functional.dropout(m.ones(10), 1.0),  # no draws at p = 1
        m.nn.functional.dropout(m.ones(10), 0.0),  # nor at p = 0
    ),
}


@pytest.mark.parametrize("name", sorted(DROPOUT_CASES))
def test_dropout_and_bernoulli_draw_pytorchs_masks(name):
    _same(lambda m: DROPOUT_CASES[name](m) + (m.rand(3),), seed=6)


def _transformer_training_step(m):
    layer = m.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.2, batch_first=True)
    x = m.randn(3, 5, 16)
    y = layer(x)  # training mode: attention, residual and feed-forward dropout
    y.square().mean().backward()
    return y, layer.linear1.weight.grad, layer.self_attn.in_proj_weight.grad, m.rand(2)


def test_a_transformer_layer_with_dropout_trains_as_pytorch():
    # the same weights and masks; float32 sums in another order, so agreement to 1e-5
    _same(_transformer_training_step, seed=2, atol=1e-5)


class _DropoutNet:
    """Convolution, dropout, channel dropout, a batch-first LSTM (whose output is a transposed
    view in both frameworks: its mask follows memory order) and a linear head."""

    @staticmethod
    def build(m):
        class Net(m.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = m.nn.Conv2d(1, 4, 3)
                self.drop, self.drop2d = m.nn.Dropout(0.3), m.nn.Dropout2d(0.2)
                self.lstm = m.nn.LSTM(5, 6, batch_first=True)
                self.fc = m.nn.Linear(4 * 5 * 5 + 6, 3)

            def forward(self, x, s):
                h = self.drop2d(self.drop(m.relu(self.conv(x))))
                h = m.nn.functional.max_pool2d(h, 2).flatten(1)
                o = self.drop(self.lstm(s)[0])[:, -1]
                return self.fc(m.cat([h, o], 1))

        return Net()


def _seeded_training_with_dropout(m):
    m.manual_seed(0)
    x, y, seq = m.randn(16, 1, 12, 12), m.randint(0, 3, (16,)), m.randn(16, 7, 5)
    net = _DropoutNet.build(m)
    opt = m.optim.Adam(net.parameters(), 1e-2)
    losses = []
    for _ in range(5):
        loss = m.nn.functional.cross_entropy(net(x, seq), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def test_a_seeded_network_with_dropout_trains_as_pytorch():
    np.testing.assert_allclose(
        _seeded_training_with_dropout(soma),
        _seeded_training_with_dropout(torch),
        rtol=0,
        atol=1e-5,
    )
