"""Denoising diffusion (Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models",
NeurIPS 2020) with DDIM sampling (Song, Meng & Ermon, "Denoising Diffusion Implicit Models",
ICLR 2021).

The forward process adds Gaussian noise in T small steps, q(x_t | x_{t−1}) = N(√(1−β_t)·x_{t−1},
β_t·I). With α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s it has a closed form for any t:

    q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t)·I),   i.e.  x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε.

A network ε_θ(x_t, t) learns to predict the ε that was added; the loss is ‖ε − ε_θ(x_t, t)‖²
at a uniformly drawn t (Ho et al.'s simplified objective, their eq. 14). Sampling runs the
process backwards from x_T ~ N(0, I): each ancestral step draws x_{t−1} from the Gaussian
posterior q(x_{t−1} | x_t, x̂_0) with x̂_0 = (x_t − √(1−ᾱ_t)·ε_θ) / √ᾱ_t (Ho's eq. 6–7, variance
β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t). DDIM takes a subsequence of the steps and moves
deterministically (η = 0) or with some noise (η = 1 recovers DDPM's variance).

Schedules: ``linear`` (Ho et al.: β from 10⁻⁴ to 0.02 over T = 1000, rescaled by 1000/T for
other T so that ᾱ_T stays near 0, as Nichol & Dhariwal do) and ``cosine`` (Nichol & Dhariwal,
"Improved Denoising Diffusion Probabilistic Models", 2021: ᾱ_t = f(t)/f(0), f(t) =
cos²((t/T + s)/(1 + s)·π/2), β clipped at 0.999).

Denoisers: ``UNetDenoiser`` for images (a small U-Net with residual blocks, GroupNorm, SiLU and
the sinusoidal time embedding of ``soma.models.blocks``) and ``MLPDenoiser`` for vectors (2-D toy
distributions).
"""

import math

from soma import functional as F
from soma import nn
from soma.autograd.factory import randint, randn, randn_like, tensor
from soma.autograd.grad_mode import no_grad
from soma.backend import get_xp
from soma.models.blocks.time_embedding import SinusoidalTimeEmbedding, TimeResBlock
from soma.models.registry import register_model

_xp = get_xp()


def linear_beta_schedule(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02):
    """β_t evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al.'s values for T = 1000),
    both scaled by 1000/T and capped at 0.999 (reached only for T < 50, where a linear
    schedule is a poor choice). Returns a float64 array of length T."""
    scale = 1000.0 / timesteps
    betas = _xp.linspace(beta_start * scale, beta_end * scale, timesteps, dtype=_xp.float64)
    return _xp.minimum(betas, 0.999)


def cosine_beta_schedule(timesteps: int, s: float = 0.008, max_beta: float = 0.999):
    """β_t = 1 − ᾱ_t/ᾱ_{t−1} for ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2)."""
    t = _xp.arange(timesteps + 1, dtype=_xp.float64) / timesteps
    f = _xp.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return _xp.minimum(1 - f[1:] / f[:-1], max_beta)


SCHEDULES = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule}


class MLPDenoiser(nn.Module):
    """ε_θ(x, t) for vectors: Linear layers with SiLU, the time embedding added at each layer.

    Shape:
        x (N, dim), t (N,) → (N, dim).

    Example:
        >>> import soma
        >>> MLPDenoiser(2)(soma.randn(5, 2), soma.tensor([0, 1, 2, 3, 4])).shape
        soma.Size([5, 2])
    """

    def __init__(self, dim: int = 2, hidden: int = 128, layers: int = 3, time_dim: int = 32):
        super().__init__()
        self.time = SinusoidalTimeEmbedding(time_dim, hidden)
        self.input = nn.Linear(dim, hidden)
        self.hidden = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(layers)])
        self.time_proj = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(layers)])
        self.output = nn.Linear(hidden, dim)

    def forward(self, x, t):
        emb = F.silu(self.time(t))
        h = self.input(x)
        for layer, proj in zip(self.hidden, self.time_proj):
            h = layer(F.silu(h + proj(emb)))
        return self.output(F.silu(h))


class UNetDenoiser(nn.Module):
    """ε_θ(x, t) for images: a small U-Net with one ``TimeResBlock`` per resolution.

    Down path: 3×3 conv, then per level a residual block (its output kept as a skip) and a
    stride-2 convolution; a middle block; up path: per level concatenate the skip, a residual
    block, and a stride-2 transposed convolution; GroupNorm-SiLU-conv back to the input channels.

    Args:
        in_channels: image channels.
        base_channels: channels of the first level; level i has ``base_channels·mults[i]``.
        channel_mults: one entry per resolution (the image side must be divisible by
            2^(len − 1)).
        groups: GroupNorm groups.

    Shape:
        x (N, C, H, W), t (N,) → (N, C, H, W).

    Example:
        >>> import soma
        >>> UNetDenoiser(1, 16, (1, 2), groups=4)(soma.randn(2, 1, 8, 8), soma.tensor([3, 7])).shape
        soma.Size([2, 1, 8, 8])
    """

    def __init__(
        self, in_channels: int = 1, base_channels: int = 32, channel_mults=(1, 2), groups: int = 8
    ):
        super().__init__()
        time_dim = 4 * base_channels
        self.time = SinusoidalTimeEmbedding(base_channels, time_dim)
        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        widths = [base_channels * m for m in channel_mults]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = base_channels
        for i, w in enumerate(widths):
            self.down.append(TimeResBlock(c, w, time_dim, groups))
            last = i == len(widths) - 1
            self.downsample.append(
                nn.Identity() if last else nn.Conv2d(w, w, 3, stride=2, padding=1)
            )
            c = w
        self.mid = TimeResBlock(c, c, time_dim, groups)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            self.up.append(TimeResBlock(c + w, w, time_dim, groups))
            self.upsample.append(
                nn.Identity() if i == 0 else nn.ConvTranspose2d(w, w, 4, stride=2, padding=1)
            )
            c = w
        self.out = nn.Sequential(
            nn.GroupNorm(groups, c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1)
        )

    def forward(self, x, t):
        emb = self.time(t)
        h = self.conv_in(x)
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, emb)
            skips.append(h)
            h = down(h)
        h = self.mid(h, emb)
        for block, up in zip(self.up, self.upsample):
            h = block(F.cat([h, skips.pop()], dim=1), emb)
            h = up(h)
        return self.out(h)


class DDPM(nn.Module):
    """A denoiser with its noise schedule: training loss, ancestral and DDIM sampling.

    Args:
        denoiser: a module ε_θ(x_t, t) with output shaped like x_t.
        sample_shape: shape of one sample, e.g. (1, 8, 8) or (2,).
        timesteps: T.
        schedule: ``"linear"`` or ``"cosine"``.
        clip_denoised: clamp x̂_0 to [−clip, clip] while sampling (1.0 for images scaled to
            [−1, 1], as Ho et al.; None for unbounded data).

    Example:
        >>> import soma
        >>> ddpm = DDPM(MLPDenoiser(2, hidden=16), (2,), timesteps=50)
        >>> loss = ddpm.loss(soma.randn(8, 2)); loss.backward()
        >>> tuple(ddpm.sample(4).shape), tuple(ddpm.ddim_sample(4, steps=5).shape)
        ((4, 2), (4, 2))
    """

    def __init__(
        self,
        denoiser,
        sample_shape,
        timesteps: int = 1000,
        schedule: str = "linear",
        clip_denoised=None,
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(
                f"DDPM: schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}"
            )
        self.denoiser = denoiser
        self.sample_shape, self.timesteps, self.schedule = tuple(sample_shape), timesteps, schedule
        self.clip_denoised = clip_denoised
        betas = SCHEDULES[schedule](timesteps)
        abar = _xp.cumprod(1.0 - betas)
        abar_prev = _xp.concatenate([[1.0], abar[:-1]])
        # NOTE: Python floats for the samplers' arithmetic (NumPy float64 scalars would
        # promote the float32 samples to float64)
        self._abar, self._abar_prev, self._betas = (
            abar.tolist(),
            abar_prev.tolist(),
            betas.tolist(),
        )
        for name, value in (
            ("betas", betas),
            ("alphas_cumprod", abar),
            ("sqrt_alphas_cumprod", _xp.sqrt(abar)),
            ("sqrt_one_minus_alphas_cumprod", _xp.sqrt(1.0 - abar)),
        ):
            self.register_buffer(name, tensor(value.astype(_xp.float32)), persistent=False)

    def _at(self, values, t, like):
        """values[t] shaped (N, 1, …) to broadcast against ``like``."""
        return values[t].reshape(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0, t, noise=None):
        """x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, a draw from q(x_t | x_0)."""
        noise = randn_like(x0) if noise is None else noise
        return (
            self._at(self.sqrt_alphas_cumprod, t, x0) * x0
            + self._at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise
        )

    def forward(self, x_t, t):
        """ε_θ(x_t, t)."""
        return self.denoiser(x_t, t)

    def loss(self, x0, generator=None):
        """Ho et al.'s simplified loss: mean ‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖², t ~ U{0…T−1}."""
        t = randint(0, self.timesteps, (x0.shape[0],), generator=generator, device=x0.device)
        noise = randn(*x0.shape, generator=generator, device=x0.device)
        return F.mse_loss(self.denoiser(self.q_sample(x0, t, noise), t), noise)

    def _predict_x0(self, x, t: int, eps):
        abar = self._abar[t]
        x0 = (x - eps * math.sqrt(1 - abar)) * (1 / math.sqrt(abar))
        if self.clip_denoised is not None:
            x0 = x0.clamp(-self.clip_denoised, self.clip_denoised)
        return x0

    def _eps(self, x, t: int):
        return self.denoiser(x, tensor([t] * x.shape[0], device=x.device))

    def _run(self, step, times, n, generator, chain_every):
        was_training = self.training
        self.eval()
        chain = []
        try:
            with no_grad():
                x = randn(n, *self.sample_shape, generator=generator, device=self.betas.device)
                for i, t in enumerate(times):
                    if chain_every and i % chain_every == 0:
                        chain.append(x)
                    x = step(x, i, t)
        finally:
            self.train(was_training)
        return (x, chain + [x]) if chain_every else x

    def sample(self, n: int, generator=None, chain_every: int = 0):
        """``n`` samples by T ancestral steps: x_{t−1} ~ q(x_{t−1} | x_t, x̂_0(x_t, ε_θ)).

        With ``chain_every=k`` returns ``(samples, chain)``, ``chain`` holding x_T, every k-th
        intermediate x_t and the final samples (for pictures of the chain)."""

        def step(x, i, t):
            x0 = self._predict_x0(x, t, self._eps(x, t))
            abar, abar_prev, beta = self._abar[t], self._abar_prev[t], self._betas[t]
            # posterior mean μ̃ = √ᾱ_{t−1} β_t/(1−ᾱ_t)·x̂_0 + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t)·x_t
            mean = x0 * (math.sqrt(abar_prev) * beta / (1 - abar)) + x * (
                math.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar)
            )
            if t == 0:
                return mean
            var = beta * (1 - abar_prev) / (1 - abar)  # β̃_t
            return mean + randn(*x.shape, generator=generator, device=x.device) * math.sqrt(var)

        return self._run(step, range(self.timesteps - 1, -1, -1), n, generator, chain_every)

    def ddim_sample(
        self, n: int, steps: int = 50, eta: float = 0.0, generator=None, chain_every: int = 0
    ):
        """``n`` samples with ``steps`` DDIM updates on evenly spaced time steps (Song et al.'s
        eq. 12): x_prev = √ᾱ_prev·x̂_0 + √(1 − ᾱ_prev − σ²)·ε_θ + σ·z, with
        σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev); η = 0 is deterministic."""
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"ddim_sample: steps must be in 1..{self.timesteps}, got {steps}")
        times = sorted(
            {int(round(v)) for v in _xp.linspace(0, self.timesteps - 1, steps)}, reverse=True
        )

        def step(x, i, t):
            eps = self._eps(x, t)
            x0 = self._predict_x0(x, t, eps)
            if self.clip_denoised is not None:  # the ε consistent with the clipped x̂_0
                eps = (x - x0 * math.sqrt(self._abar[t])) * (1 / math.sqrt(1 - self._abar[t]))
            abar = self._abar[t]
            abar_prev = self._abar[times[i + 1]] if i + 1 < len(times) else 1.0
            sigma = eta * math.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
            x = x0 * math.sqrt(abar_prev) + eps * math.sqrt(max(1 - abar_prev - sigma**2, 0.0))
            if sigma > 0:
                x = x + randn(*x.shape, generator=generator, device=x.device) * sigma
            return x

        return self._run(step, times, n, generator, chain_every)


@register_model(
    "ddpm", "DDPM (Ho et al. 2020): U-Net denoiser (images) or MLP (vectors), DDIM sampling"
)
def ddpm(
    num_classes=None,
    in_channels: int = 1,
    input_size=None,
    in_features=None,
    timesteps: int = 1000,
    schedule: str = "linear",
    base_channels: int = 32,
    channel_mults=(1, 2),
    hidden: int = 128,
):
    """A DDPM for images (``in_channels``, ``input_size``: U-Net denoiser, x̂_0 clipped to
    [−1, 1]) or for vectors of ``in_features`` (MLP denoiser). ``num_classes`` is ignored."""
    if in_features is not None:
        return DDPM(MLPDenoiser(in_features, hidden), (in_features,), timesteps, schedule)
    size = tuple(input_size or (8, 8))
    groups = min(8, base_channels)
    denoiser = UNetDenoiser(in_channels, base_channels, tuple(channel_mults), groups)
    return DDPM(denoiser, (in_channels, *size), timesteps, schedule, clip_denoised=1.0)
