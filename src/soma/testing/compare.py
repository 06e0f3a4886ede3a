"""``assert_close``: PyTorch's comparison of tensors with dtype-aware default tolerances."""

from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()

# PyTorch's defaults (rtol, atol) by dtype; integers and bools compare exactly
_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 msg=None):  # fmt: skip
    """Raise ``AssertionError`` unless ``|actual - expected| <= atol + rtol * |expected|``.

    Tensors, arrays and numbers compare elementwise (shapes must match; dtypes too unless
    ``check_dtype=False``); lists, tuples and dicts compare item by item. Without ``rtol`` and
    ``atol`` the tolerances are PyTorch's for the dtype (float32: 1.3e-6 and 1e-5).

    Example:
        >>> import soma
        >>> assert_close(soma.tensor([1.0, 2.0]), soma.tensor([1.0, 2.0 + 1e-7]))
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or actual.keys() != expected.keys():
            raise AssertionError(msg or f"keys differ: {sorted(actual)} vs {sorted(expected)}")
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)  # fmt: skip
        return
    if isinstance(expected, (list, tuple)) and not isinstance(actual, (Tensor, _xp.ndarray)):
        if len(actual) != len(expected):
            raise AssertionError(msg or f"lengths differ: {len(actual)} vs {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)  # fmt: skip
        return
    a = actual.detach().array if isinstance(actual, Tensor) else _xp.asarray(actual)
    e = expected.detach().array if isinstance(expected, Tensor) else _xp.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                             f"{a.shape} != {e.shape}.")  # fmt: skip
    if check_dtype and isinstance(expected, Tensor) and a.dtype != e.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                             f"{a.dtype} != {e.dtype}.")  # fmt: skip
    default = _TOLERANCES.get(_xp.result_type(a, e).name, (0.0, 0.0))
    rtol = default[0] if rtol is None else rtol
    atol = default[1] if atol is None else atol
    close = _xp.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not close.all():
        bad = int((~close).sum())
        diff = _xp.abs(a.astype(_xp.float64) - e.astype(_xp.float64))
        raise AssertionError(
            msg
            or f"Tensor-likes are not close!\n\nMismatched elements: {bad} / {close.size}\n"
            f"Greatest absolute difference: {_xp.nanmax(diff)} (up to {atol} allowed)\n"
            f"(rtol {rtol}, atol {atol})"
        )
