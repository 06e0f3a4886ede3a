"""Generative models (issue 13): a DDPM denoiser training step.

The denoiser is ``soma.models.UNetDenoiser``'s layout written from ``nn`` primitives: a 3×3
stem, per resolution one residual block (GroupNorm-SiLU-conv, the projected sinusoidal time
embedding added, GroupNorm-SiLU-conv, 1×1 shortcut where the width changes), a stride-2 conv
down, a middle block, skip concatenations and a stride-2 transposed conv up, 32 base channels,
widths (32, 64). One step draws t and ε, forms x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε (linear schedule,
T = 1000), regresses ε_θ(x_t, t) on ε with MSE and takes an Adam step. Input 1×16×16, batch 16.
"""

import math

from benchmarks.harness import Case

T = 1000


def _alphas_cumprod():
    abar, prod = [], 1.0
    for i in range(T):
        prod *= 1.0 - (1e-4 + (0.02 - 1e-4) * i / (T - 1))
        abar.append(prod)
    return abar


def _unet(torch, c_in=1, ch=32, mults=(1, 2), groups=8):
    nn, F = torch.nn, torch.nn.functional

    class Res(nn.Module):
        def __init__(self, cin, cout, tdim):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.time = nn.Linear(tdim, cout)
            self.norm2, self.conv2 = (
                nn.GroupNorm(groups, cout),
                nn.Conv2d(cout, cout, 3, padding=1),
            )
            self.shortcut = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

        def forward(self, x, e):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.time(F.silu(e)).reshape(h.shape[0], -1, 1, 1)
            return self.conv2(F.silu(self.norm2(h))) + self.shortcut(x)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            tdim = 4 * ch
            w = [ch * m for m in mults]
            self.time = nn.Sequential(nn.Linear(ch, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
            self.conv_in = nn.Conv2d(c_in, ch, 3, padding=1)
            self.down0, self.down1 = Res(ch, w[0], tdim), Res(w[0], w[1], tdim)
            self.downsample = nn.Conv2d(w[0], w[0], 3, stride=2, padding=1)
            self.mid = Res(w[1], w[1], tdim)
            self.up1, self.up0 = Res(2 * w[1], w[1], tdim), Res(w[1] + w[0], w[0], tdim)
            self.upsample = nn.ConvTranspose2d(w[1], w[1], 4, stride=2, padding=1)
            self.out = nn.Sequential(
                nn.GroupNorm(groups, w[0]), nn.SiLU(), nn.Conv2d(w[0], c_in, 3, padding=1)
            )
            half = ch // 2
            self.freqs = torch.tensor(
                [math.exp(-math.log(10000.0) * k / half) for k in range(half)]
            )

        def forward(self, x, t):
            angles = t.to(torch.float32).reshape(-1, 1) * self.freqs.reshape(1, -1)
            e = self.time(torch.cat([angles.sin(), angles.cos()], dim=1))
            s0 = self.down0(self.conv_in(x), e)
            s1 = self.down1(self.downsample(s0), e)
            h = self.mid(s1, e)
            h = self.upsample(self.up1(torch.cat([h, s1], dim=1), e))
            return self.out(self.up0(torch.cat([h, s0], dim=1), e))

    return UNet()


def ddpm_denoiser_training_step(torch):
    """DDPM ε-prediction step: U-Net denoiser (32, 64 channels), 1×16×16, batch 16, Adam."""
    F = torch.nn.functional
    net = _unet(torch)
    sqrt_abar = torch.tensor([math.sqrt(a) for a in _alphas_cumprod()])
    sqrt_1m_abar = torch.tensor([math.sqrt(1 - a) for a in _alphas_cumprod()])
    x0 = torch.rand(16, 1, 16, 16) * 2 - 1
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        t = torch.randint(0, T, (16,))
        noise = torch.randn(16, 1, 16, 16)
        xt = sqrt_abar[t].reshape(-1, 1, 1, 1) * x0 + sqrt_1m_abar[t].reshape(-1, 1, 1, 1) * noise
        optimizer.zero_grad()
        F.mse_loss(net(xt, t), noise).backward()
        optimizer.step()

    return step


CASES = [
    Case(
        "ddpm_denoiser_train",
        "generative",
        "DDPM U-Net denoiser (32/64 ch, time embedding), 1x16x16, batch 16, Adam",
        ddpm_denoiser_training_step,
    ),
]
