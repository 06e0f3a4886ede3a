"""Local response normalization (AlexNet): each value divided by the energy of nearby channels."""

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional.unary import _float

_xp = get_xp()


def _channel_window_sum(a, before, after):
    """out[:, c] = Σ_{t = −before … after} a[:, c + t], channels outside the input counting 0."""
    c = a.shape[1]
    padded = _xp.zeros((a.shape[0], c + before + after) + a.shape[2:], dtype=a.dtype)
    padded[:, before : before + c] = a
    out = padded[:, 0:c].copy()
    for t in range(1, before + after + 1):
        out += padded[:, t : t + c]
    return out


class LocalResponseNorm(Function):
    """y_c = x_c / (k + α/n · Σ_{c' near c} x_c'²)^β."""

    @staticmethod
    def forward(ctx, x, *, size, alpha, beta, k):
        before, after = size // 2, (size - 1) // 2
        d = _channel_window_sum(x * x, before, after)
        d *= x.dtype.type(alpha / size)
        d += x.dtype.type(k)
        d_pow = d ** x.dtype.type(-beta)
        ctx.save(x, d, d_pow)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        return x * d_pow

    @staticmethod
    def backward(ctx, gy):
        x, d, d_pow = ctx.saved
        size = ctx.size
        # dL/dx_j = g_j·d_j^−β − (2αβ/n)·x_j·Σ_{c: j in window(c)} g_c·x_c·d_c^(−β−1)
        t = gy * x * d_pow / d
        reach = _channel_window_sum(t, (size - 1) // 2, size // 2)
        gx = gy * d_pow
        gx -= reach * x * gy.dtype.type(2 * ctx.alpha * ctx.beta / size)
        return gx


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Divide each value by the energy of its neighbours across channels (AlexNet's LRN).

    ``y_c = x_c / (k + α/n · Σ x_c'²)^β`` where the sum runs over the ``n = size`` channels
    ``c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋`` (missing channels count as 0), as in PyTorch: α is divided by
    the window size.

    Args:
        input: (N, C, *) tensor with at least 3 dimensions.
        size: number of neighbouring channels in the sum.
        alpha, beta, k: the constants of the formula.

    Example:
        >>> import soma
        >>> y = local_response_norm(soma.ones(1, 2, 1), 2, alpha=2.0, beta=1.0, k=0.0)
        >>> y.flatten().tolist()
        [1.0, 0.5]
    """
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected 3D or higher dimensionality input, got "
            f"shape {tuple(input.shape)}"
        )
    if size < 1:
        raise ValueError(f"local_response_norm: size must be positive, got {size}")
    if input.array.dtype.kind == "b":
        raise NotImplementedError("local_response_norm: bool inputs are not supported")
    # integers normalise in the default float dtype, as PyTorch
    return LocalResponseNorm.apply(_float(input), size=size, alpha=alpha, beta=beta, k=k)
