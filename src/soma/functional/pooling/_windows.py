"""Where the windows of a pooling op sit: output sizes, padding, one strided slice per offset.

A pooling window over ``d`` spatial dimensions is described per dimension by its kernel size
``k``, stride ``s``, padding ``p`` and dilation ``dil``. The kernels never build a copy of every
window: for each kernel offset (``k₁ × … × k_d`` of them) they take one strided view of the
(padded) input holding that offset of every window, and combine the views element-wise. A loop
over kernel offsets is short; every operation inside it is vectorised over the whole batch.
The window arithmetic (output sizes, the slice of each offset) is shared with convolution in
``functional/_window_geometry.py``; this module adds pooling's layouts and padding values.

Two memory layouts are supported. *Planes* is the input's own (N, C, H, W): a view of one
offset is strided in H and W, so NumPy's innermost loop runs over one output row only (W_out
elements, often 7-28), and each operation pays that loop's overhead per row. *Pixels* is
(H, W, N·C), a transposed copy: there a view of one offset has the whole N·C batch of each pixel
contiguous innermost, and each operation runs at memory speed. Kernels with many offsets
(overlapping windows) repay the two transpositions; see ``use_pixels``.
"""

from soma.autograd.errors import ShapeError
from soma.autograd.memory_format import channels_to_front
from soma.backend import get_xp
from soma.functional._utils import ntuple
from soma.functional._window_geometry import (
    check_at_least,
    interior_slices,
    kernel_offsets,
    offset_slices,
    output_length,
)

_xp = get_xp()


def check_input(op, x, d, integers=()):
    """Pooling takes (N, C, *spatial) or unbatched (C, *spatial) floating-point input, or one of
    the integer dtypes named in ``integers`` (where PyTorch pools them too)."""
    if x.ndim not in (d + 1, d + 2):
        raise ShapeError(
            f"{op}: expected a {d + 1}D (unbatched) or {d + 2}D (batched) input, got shape "
            f"{tuple(x.shape)}"
        )
    if x.dtype.kind != "f" and str(x.dtype) not in integers:
        kinds = "floating-point" if not integers else f"floating-point or {'/'.join(integers)}"
        raise TypeError(f"{op}: expected a {kinds} input, got {x.dtype}")


class Windows:
    """The geometry of one pooling call over the trailing ``d`` dimensions of an input."""

    def __init__(self, op, spatial, kernel, stride, padding, dilation=1, ceil_mode=False):
        d = len(spatial)
        self.spatial = tuple(spatial)
        self.kernel = ntuple(kernel, d, op, "kernel_size")
        self.stride = ntuple(kernel if stride is None or stride == () else stride, d, op, "stride")
        self.padding = ntuple(padding, d, op, "padding")
        self.dilation = ntuple(dilation, d, op, "dilation")
        self.ceil_mode = bool(ceil_mode)
        self._check(op)
        self.out = tuple(
            output_length(n, k, s, dl, p, p, ceil_mode)
            for n, k, s, p, dl in zip(
                self.spatial, self.kernel, self.stride, self.padding, self.dilation
            )
        )
        if any(o < 1 for o in self.out):
            raise ShapeError(
                f"{op}: input of spatial size {self.spatial} is too small for kernel_size "
                f"{self.kernel} with padding {self.padding} and dilation {self.dilation}: the "
                f"output size would be {self.out}"
            )
        # the padded length each dimension needs so that every window lies inside it
        needed = [
            (o - 1) * s + dl * (k - 1) + 1
            for o, s, dl, k in zip(self.out, self.stride, self.dilation, self.kernel)
        ]
        self.padded = tuple(max(n_, p + n) for n_, p, n in zip(needed, self.padding, self.spatial))
        self.needs_pad = any(P != n for P, n in zip(self.padded, self.spatial))
        self.disjoint = all(
            s >= dl * (k - 1) + 1 for s, dl, k in zip(self.stride, self.dilation, self.kernel)
        )
        # every input position belongs to exactly one window: gradients need no zero fill
        self.tiles = not self.needs_pad and all(
            s == k and dl == 1 and o * k == n
            for s, k, dl, o, n in zip(
                self.stride, self.kernel, self.dilation, self.out, self.spatial
            )
        )
        self.pixels = False  # layout of the arrays given to pad/slices/crop (see module doc)

    def _check(self, op):
        check_at_least(op, "kernel_size", self.kernel)
        check_at_least(op, "stride", self.stride)
        check_at_least(op, "dilation", self.dilation)
        check_at_least(op, "padding", self.padding, 0)
        if any(2 * p > k for k, p in zip(self.kernel, self.padding)):
            raise ShapeError(
                f"{op}: padding should be at most half of the kernel size, but got "
                f"padding={self.padding} for kernel_size={self.kernel}"
            )

    @property
    def size(self) -> int:
        """Number of kernel offsets (elements per window)."""
        n = 1
        for k in self.kernel:
            n *= k
        return n

    def offsets(self):
        """Each kernel offset as a tuple of per-dimension indices, in row-major order."""
        return kernel_offsets(self.kernel)

    def _index(self, spatial):
        return spatial + (Ellipsis,) if self.pixels else (Ellipsis,) + spatial

    def _frame_shape(self, batch):
        return self.padded + batch if self.pixels else batch + self.padded

    def slices(self):
        """For each offset, the index that views that element of every window (padded input)."""
        return [
            self._index(region)
            for region in offset_slices(self.kernel, self.dilation, self.stride, self.out)
        ]

    def pad(self, x, fill):
        """``x`` inside a (copied) frame of ``fill`` wide enough for every window; or ``x``."""
        if not self.needs_pad:
            return x
        d = len(self.spatial)
        batch = x.shape[d:] if self.pixels else x.shape[: x.ndim - d]
        padded = _xp.full(self._frame_shape(batch), fill, dtype=x.dtype)
        padded[self.interior()] = x
        return padded

    def interior(self):
        """The index of the unpadded input inside the padded frame."""
        return self._index(interior_slices(self.spatial, self.padding))

    def grad_frame(self, batch, dtype, channels_last=False):
        """A frame to accumulate the input gradient in (zeros unless windows tile the input);
        with ``channels_last`` (planes of an (N, C, H, W) input) an (N, C, H, W) view of
        (N, H, W, C) memory, the layout of such an input."""
        shape = self._frame_shape(batch)
        make = _xp.empty if self.tiles else _xp.zeros
        if channels_last:
            return channels_to_front(make(shape[:1] + shape[2:] + shape[1:2], dtype=dtype))
        return make(shape, dtype=dtype)

    def crop(self, frame):
        """The input-sized part of a padded frame."""
        return frame[self.interior()] if self.needs_pad else frame

    def flat_offsets(self):
        """Per offset, its displacement in the flattened (unpadded) input plane."""
        strides = _plane_strides(self.spatial)
        return _xp.asarray(
            [
                sum(i * dl * st for i, dl, st in zip(off, self.dilation, strides))
                for off in self.offsets()
            ],
            dtype=_xp.int64,
        )

    def flat_starts(self):
        """Flattened-plane position of each window's first element, shaped like the output."""
        strides = _plane_strides(self.spatial)
        d = len(self.spatial)
        start = _xp.zeros(self.out, dtype=_xp.int64)
        for axis, (o, s, p, st) in enumerate(zip(self.out, self.stride, self.padding, strides)):
            shape = [1] * d
            shape[axis] = o
            start = start + ((_xp.arange(o) * s - p) * st).reshape(shape)
        return start


def _plane_strides(spatial):
    strides = []
    n = 1
    for size in reversed(spatial):
        strides.append(n)
        n *= size
    return tuple(reversed(strides))
