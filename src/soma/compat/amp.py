"""``torch.amp`` (and ``torch.cuda.amp``): mixed precision, which soma leaves off.

soma computes in the tensors' own dtypes, so ``autocast`` changes nothing and ``GradScaler``
passes the loss and the optimizer step through unscaled. Programs written for mixed precision
run unchanged, in full precision.
"""

import contextlib
import functools


class autocast(contextlib.ContextDecorator):  # noqa: N801  (PyTorch's name)
    """A context manager and decorator that keeps every dtype as it is."""

    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        self.device_type, self.dtype, self.enabled = device_type, dtype, enabled

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class GradScaler:
    """Loss scaling for float16 training; with soma's full precision a pass-through.

    ``scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()`` behaves as
    ``loss.backward(); optimizer.step()``.
    """

    def __init__(
        self,
        device="cpu",
        init_scale=65536.0,
        growth_factor=2.0,
        backoff_factor=0.5,
        growth_interval=2000,
        enabled=True,
    ):
        self._enabled = enabled

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer) -> None:
        pass

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        pass

    def get_scale(self) -> float:
        return 1.0

    def is_enabled(self) -> bool:
        return False

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict) -> None:
        pass


def custom_fwd(fwd=None, *, device_type="cpu", cast_inputs=None):
    """Decorator for a custom Function's forward under autocast: returns it unchanged."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd=None, *, device_type="cpu"):
    """Decorator for a custom Function's backward under autocast: returns it unchanged."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
