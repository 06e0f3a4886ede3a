"""How a tensor prints: PyTorch's layout, digit for digit, so that a course's printed output
reads the same on soma.

One format serves every element of a tensor, chosen from its finite non-zero values v (only
the printed ones when the tensor is summarised):

* integers and bools: as Python writes them, right-aligned to the widest;
* floats: in scientific notation (``1.0000e+08``) when max|v| / min|v| > 1000, max|v| > 1e8
  or min|v| < 1e-4; else ``3.`` when all are whole numbers, else ``precision`` decimals (4
  by default). ``set_printoptions(sci_mode=...)`` overrides the choice of notation.

Rows break at ``linewidth`` (80) characters; a tensor of more than ``threshold`` (1000)
elements shows its first and last ``edgeitems`` (3) entries of each dimension around ``...``.
``set_printoptions`` changes these, as ``torch.set_printoptions`` does.
"""

import contextlib
import dataclasses
import math

from soma.backend import dtypes, get_xp

_xp = get_xp()


@dataclasses.dataclass
class PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTIONS = PrintOptions()

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Set how tensors print: digits after the point, the element count above which a tensor
    is summarised, the entries kept at each edge, the line width, a named ``profile``
    ('default', 'short', 'full'), and ``sci_mode`` (True/False forces scientific notation on or
    off; None, the default, lets the values decide)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"Invalid profile: {profile}. the profile must be one of 'default', 'short', 'full'"
            )
        for name, value in _PROFILES[profile].items():
            setattr(OPTIONS, name, value)
    for name, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is not None:
            setattr(OPTIONS, name, value)
    OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options, as a dict of ``set_printoptions``'s names."""
    return dataclasses.asdict(OPTIONS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """``set_printoptions(**kwargs)`` inside the block, the previous options after it."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


class _Formatter:
    """One element format for a whole tensor, chosen from its values (see the module doc)."""

    def __init__(self, values):
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = values.reshape(-1)
        if not self.floating:
            self.width = max([1] + [len(str(v)) for v in flat.tolist()])
            return
        shown = flat[_xp.isfinite(flat) & (flat != 0)].astype(_xp.float64)
        if shown.size:
            magnitude = _xp.abs(shown)
            top, bottom = float(magnitude.max()), float(magnitude.min())
            self.int_mode = bool((_xp.ceil(shown) == shown).all())
            self.sci_mode = (
                top / bottom > 1000.0 or top > 1.0e8 or bottom < 1.0e-4
                if OPTIONS.sci_mode is None
                else OPTIONS.sci_mode
            )
            if self.sci_mode:
                texts = [f"{v:.{OPTIONS.precision}e}" for v in shown.tolist()]
            elif self.int_mode:
                texts = [f"{v:.0f}." for v in shown.tolist()]
            else:
                texts = [f"{v:.{OPTIONS.precision}f}" for v in shown.tolist()]
            self.width = max(len(t) for t in texts)

    def format(self, value) -> str:
        if not self.floating:
            text = f"{value}"
        elif self.sci_mode:
            text = f"{value:{self.width}.{OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{OPTIONS.precision}f}"
        return text.rjust(self.width)


def _summarized(a):
    """The entries a summarised print shows: the edges of every dimension."""
    edge = OPTIONS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return _xp.concatenate([a[:edge], a[-edge:]]) if a.shape[0] > 2 * edge else a
    if not edge:
        return a[tuple(slice(0, 0) for _ in range(a.ndim))]
    rows = list(range(edge)) + list(range(len(a) - edge, len(a))) if len(a) > 2 * edge else None
    rows = range(len(a)) if rows is None else rows
    return _xp.stack([_summarized(a[i]) for i in rows])


def _vector(a, indent, summarize, formatter):
    per_line = max(1, (OPTIONS.linewidth - indent) // (formatter.width + 2))
    edge = OPTIONS.edgeitems
    if summarize and not edge:
        items = ["..."]
    elif summarize and a.shape[0] > 2 * edge:
        items = [formatter.format(v) for v in a[:edge].tolist()]
        items += [" ..."] + [formatter.format(v) for v in a[-edge:].tolist()]
    else:
        items = [formatter.format(v) for v in a.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, summarize, formatter):
    if a.ndim == 0:
        return formatter.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, formatter)
    edge = OPTIONS.edgeitems
    if summarize and len(a) > 2 * edge:
        head = [_nested(a[i], indent + 1, summarize, formatter) for i in range(edge)]
        tail = [
            _nested(a[i], indent + 1, summarize, formatter) for i in range(len(a) - edge, len(a))
        ]
        parts = head + ["..."] + tail
    else:
        parts = [_nested(a[i], indent + 1, summarize, formatter) for i in range(len(a))]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def body(a, indent) -> str:
    """The bracketed values of array ``a``, continuation lines indented by ``indent``."""
    if a.size == 0:
        return "[]"
    if a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype(_xp.float32)
    summarize = a.size > OPTIONS.threshold
    formatter = _Formatter(_summarized(a) if summarize else a)
    return _nested(a, indent, summarize, formatter)


def tensor_repr(a, suffixes_after, dtype_name) -> str:
    """``tensor(...)`` for array ``a``: its values, then the suffixes PyTorch adds (size of an
    empty tensor, a dtype that is not the default, then ``suffixes_after``: grad_fn or
    requires_grad), wrapped at ``linewidth``."""
    prefix = "tensor("
    suffixes = []
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype != dtypes.get_default_dtype():
            suffixes.append(f"dtype={dtype_name}")
        text = "[]"
    else:
        if not OPTIONS.edgeitems:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={dtype_name}")
        text = body(a, len(prefix))
    suffixes += suffixes_after
    out = prefix + text
    line = len(out) - out.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > OPTIONS.linewidth:
            out += ",\n" + " " * len(prefix) + suffix
            line = len(prefix) + len(suffix)
        else:
            out += ", " + suffix
            line += len(suffix) + 2
    return out + ")"
