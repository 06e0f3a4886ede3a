"""Blocks of diffusion denoisers: the sinusoidal time embedding and a residual block that
takes it (Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, Appendix B:
"parameters are shared across time, which is specified to the network using the Transformer
sinusoidal position embedding"; Vaswani et al. 2017, section 3.5).
"""

import math

from soma import functional as F
from soma import nn
from soma.autograd.factory import arange
from soma.backend.dtypes import float32


def sinusoidal_embedding(t, dim: int, max_period: float = 10000.0):
    """The Transformer's position code of the time steps ``t``: [sin(t·ω_k), cos(t·ω_k)].

    ω_k = max_period^(−k / (dim/2)) for k = 0 … dim/2 − 1, so the first coordinates turn fast
    and the last ones slowly: nearby steps get similar codes, distant steps different ones.

    Args:
        t: (N,) time steps (integers or floats).
        dim: even size of the code.

    Returns:
        (N, dim) tensor: the sines, then the cosines.

    Example:
        >>> import soma
        >>> sinusoidal_embedding(soma.tensor([0, 1]), 4)
        tensor([[0.0000, 0.0000, 1.0000, 1.0000],
                [0.8415, 0.0100, 0.5403, 0.9999]])
    """
    if dim % 2:
        raise ValueError(f"sinusoidal_embedding: dim must be even, got {dim}")
    half = dim // 2
    freqs = (arange(half, dtype=float32, device=t.device) * (-math.log(max_period) / half)).exp()
    angles = t.to(float32).reshape(-1, 1) * freqs.reshape(1, -1)
    return F.cat([angles.sin(), angles.cos()], dim=1)


class SinusoidalTimeEmbedding(nn.Module):
    """t ↦ MLP(sinusoidal(t)): the code of ``sinusoidal_embedding`` through Linear-SiLU-Linear.

    Args:
        dim: size of the sinusoidal code.
        out_dim: size of the embedding the denoiser's blocks receive (default 4·dim, as DDPM).

    Shape:
        (N,) time steps → (N, out_dim).

    Example:
        >>> import soma
        >>> SinusoidalTimeEmbedding(16)(soma.tensor([0, 5, 999])).shape
        soma.Size([3, 64])
    """

    def __init__(self, dim: int, out_dim: int | None = None):
        super().__init__()
        out_dim = out_dim or 4 * dim
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, t):
        return self.mlp(sinusoidal_embedding(t, self.dim))

    def extra_repr(self):
        return f"dim={self.dim}"


class TimeResBlock(nn.Module):
    """DDPM's residual block: GroupNorm-SiLU-Conv, plus the projected time embedding, then
    GroupNorm-SiLU-Conv, added to a (1×1-projected) shortcut.

    Args:
        in_channels, out_channels: channels in and out.
        time_dim: size of the time embedding.
        groups: GroupNorm groups (must divide both channel counts).

    Shape:
        x (N, in_channels, H, W), t_emb (N, time_dim) → (N, out_channels, H, W).

    Example:
        >>> import soma
        >>> TimeResBlock(8, 16, 32, groups=4)(soma.randn(2, 8, 4, 4), soma.randn(2, 32)).shape
        soma.Size([2, 16, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time = nn.Linear(time_dim, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x, t_emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(t_emb)).reshape(h.shape[0], -1, 1, 1)
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.shortcut(x)
