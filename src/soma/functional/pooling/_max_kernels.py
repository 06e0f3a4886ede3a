"""Compiled max pooling over 1 or 2 spatial dimensions: value and argmax in one pass.

The NumPy form (``max_avg.py``) passes over every kernel offset twice (maximum, then the first
offset equal to it) and the backward pass once more per offset. The kernels here read each
window once and keep its running maximum and that maximum's position; the backward pass
scatters each output gradient to its recorded position. Both layouts of a (N, C, H, W) input
are read in place:

* *planes* (N·C planes of H·W, the C-contiguous layout): one window after another;
* *pixels* (channels-last memory, as convolutions return it, seen as (N, H, W, C)): for each
  window, one vectorisable loop over the C contiguous channels of each element.

The layout of the result and of the input gradient follows the input's (a channels-last input
gives a channels-last output, as in PyTorch).

Semantics, those of PyTorch's CPU kernel:

    y = max over the window's elements inside the input (padding never wins),
    index = iy·W + ix of the first maximum in row-major window order;
    an element that is NaN replaces the running maximum (``v > m or v != v``), so a window
    holding a NaN gives NaN, indexed at its last NaN.
    dL/dx[n, c, index] += dL/dy[n, c, oy, ox]   (one thread per block of batch items: no race)

Batch items are split across soma's threads (``parallel.elementwise``).

Measured (CPU time on one thread, float32, forward + backward through autograd, on a busy
2-core VM; NumPy form → compiled, PyTorch 2.13 for reference): 3x3 stride 2 padding 1 on
(64, 32, 28, 28): 9.7 → 2.9 ms (PyTorch 13.2) contiguous, 11.8 → 3.5 ms (5.5) channels-last;
on (32, 128, 16, 16): 6.1 → 2.3 ms (8.5), 6.8 → 1.6 ms (2.9). 2x2 on (64, 32, 28, 28): 3.7 →
2.5 ms (9.5), 4.7 → 3.1 ms (4.8). A window-by-window loop over contiguous planes took 12-15 ms
forward alone (a serial chain of unpredictable comparisons), hence the staging in
``_max_planes``.
"""

import functools

from soma.backend import compiled, get_xp, parallel

_xp = get_xp()


@compiled.kernel
def _max_pixels(x, y, idx, kh, kw, sh, sw, ph, pw, dh, dw):
    """On channels-last views x (N, H, W, C) → y, idx (N, H_out, W_out, C):

    y[n,oy,ox,c] = max of x[n, oy·sh-ph + i·dh, ox·sw-pw + j·dw, c] over the offsets inside
    the input, idx = iy·W + ix of that maximum (the running maximum is replaced when
    ``v > m or v != v``); one loop over the contiguous channels per window element.
    """
    batch, height, width, chans = x.shape
    out_h, out_w = y.shape[1], y.shape[2]
    for n in range(batch):
        for oy in range(out_h):
            y0 = oy * sh - ph
            for ox in range(out_w):
                x0 = ox * sw - pw
                first = True
                for i in range(kh):
                    iy = y0 + i * dh
                    if iy < 0 or iy >= height:
                        continue
                    for j in range(kw):
                        ix = x0 + j * dw
                        if ix < 0 or ix >= width:
                            continue
                        flat = iy * width + ix
                        if first:
                            for c in range(chans):
                                y[n, oy, ox, c] = x[n, iy, ix, c]
                                idx[n, oy, ox, c] = flat
                            first = False
                        else:
                            for c in range(chans):
                                v = x[n, iy, ix, c]
                                if v > y[n, oy, ox, c] or v != v:
                                    y[n, oy, ox, c] = v
                                    idx[n, oy, ox, c] = flat


@compiled.kernel
def _max_planes(x, y, idx, buf, best, where, kh, kw, sh, sw, ph, pw, dh, dw):
    """The same for x (N, C, H, W) with planes contiguous, y and idx (N, C, H_out, W_out).

    Each batch item is first copied to ``buf``, a channels-last (H, W, C) scratch array
    (``best`` and ``where``: C values and indices): window after window
    in planes runs a chain of unpredictable comparisons (measured 5-7x slower); in the buffer
    the comparisons of C channels are independent and vectorised, as in ``_max_pixels``.
    """
    batch, chans, height, width = x.shape
    out_h, out_w = y.shape[2], y.shape[3]
    for n in range(batch):
        # NOTE: written in buf's order (strided reads, contiguous writes): the other way round
        # (x's order) took 2.3 against 0.7 ms for 32 items of (128, 16, 16), Zen 5
        for iy in range(height):
            for ix in range(width):
                for c in range(chans):
                    buf[iy, ix, c] = x[n, c, iy, ix]
        for oy in range(out_h):
            y0 = oy * sh - ph
            for ox in range(out_w):
                x0 = ox * sw - pw
                first = True
                for i in range(kh):
                    iy = y0 + i * dh
                    if iy < 0 or iy >= height:
                        continue
                    for j in range(kw):
                        ix = x0 + j * dw
                        if ix < 0 or ix >= width:
                            continue
                        flat = iy * width + ix
                        if first:
                            for c in range(chans):
                                best[c] = buf[iy, ix, c]
                                where[c] = flat
                            first = False
                        else:
                            for c in range(chans):
                                v = buf[iy, ix, c]
                                if v > best[c] or v != v:
                                    best[c] = v
                                    where[c] = flat
                for c in range(chans):
                    y[n, c, oy, ox] = best[c]
                    idx[n, c, oy, ox] = where[c]


@compiled.kernel
def _scatter_planes(gy, idx, gx):
    """gx (N, C, H·W) = 0, then gx[n, c, idx[n,c,oy,ox]] += gy[n,c,oy,ox]."""
    batch, chans, out_h, out_w = gy.shape
    for n in range(batch):
        for c in range(chans):
            gx[n, c, :] = 0
            for oy in range(out_h):
                for ox in range(out_w):
                    gx[n, c, idx[n, c, oy, ox]] += gy[n, c, oy, ox]


@compiled.kernel
def _scatter_pixels(gy, idx, gx):
    """Channels-last: gx (N, H·W, C) = 0, then gx[n, idx[n,oy,ox,c], c] += gy[n,oy,ox,c]."""
    batch, out_h, out_w, chans = gy.shape
    for n in range(batch):
        gx[n] = 0
        for oy in range(out_h):
            for ox in range(out_w):
                for c in range(chans):
                    gx[n, idx[n, oy, ox, c], c] += gy[n, oy, ox, c]


def applies(win, x):
    """The kernels serve 1-D and 2-D pooling of batched or unbatched float32/float64 input."""
    return compiled.enabled() and len(win.spatial) in (1, 2) and x.dtype in compiled.FLOAT_DTYPES


def _as_4d(a, d, batched):
    """(N, C, *spatial) or (C, *spatial) → a (N, C, H, W) view (H = 1 in 1-D)."""
    if not batched:
        a = a[None]
    return a[:, :, None, :] if d == 1 else a


def _from_4d(a, d, batched):
    if d == 1:
        a = a[:, :, 0, :]
    return a if batched else a[0]


def _channels_last(a):
    """True when C is the innermost of (N, C, H, W)'s axes in memory (a conv output)."""
    return a.shape[1] > 1 and a.strides[1] < a.strides[3] and a.strides[1] < a.strides[2]


def _geometry(win):
    kernel, stride, pad, dil = win.kernel, win.stride, win.padding, win.dilation
    if len(kernel) == 1:
        return 1, kernel[0], 1, stride[0], 0, pad[0], 1, dil[0]
    return kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1], dil[0], dil[1]


def _run_forward(kernel, params, x, out):
    if kernel is _max_planes:  # scratch arrays of its own for each block of batch items
        chans, height, width = x.shape[1:]
        scratch = (
            _xp.empty((height, width, chans), dtype=x.dtype),
            _xp.empty(chans, dtype=x.dtype),
            _xp.empty(chans, dtype=_xp.int64),
        )
        kernel(x, out[0], out[1], *scratch, *params)
    else:
        kernel(x, out[0], out[1], *params)


def _run_backward(kernel, gy, idx, out):
    kernel(
        gy,
        idx,
        out.reshape(out.shape[0], -1, out.shape[-1])
        if kernel is _scatter_pixels
        else out.reshape(out.shape[0], out.shape[1], -1),
    )


def forward(x, win):
    """(y, indices, pixels) for x (N, C, *spatial) or (C, *spatial); y and indices in x's layout."""
    d = len(win.spatial)
    batched = x.ndim == d + 2
    x4 = _as_4d(x, d, batched)
    params = _geometry(win)
    out_hw = (1, win.out[0]) if d == 1 else win.out
    batch, chans = x4.shape[:2]
    pixels = _channels_last(x4)
    if pixels:  # results channels-last too, as PyTorch gives
        y = _xp.empty((batch,) + out_hw + (chans,), dtype=x.dtype)
        idx = _xp.empty(y.shape, dtype=_xp.int64)
        fn = functools.partial(_run_forward, _max_pixels, params)
        parallel.elementwise(fn, x4.transpose(0, 2, 3, 1), out=(y, idx), work=win.size)
        y, idx = y.transpose(0, 3, 1, 2), idx.transpose(0, 3, 1, 2)
    else:
        y = _xp.empty((batch, chans) + out_hw, dtype=x.dtype)
        idx = _xp.empty(y.shape, dtype=_xp.int64)
        fn = functools.partial(_run_forward, _max_planes, params)
        parallel.elementwise(fn, x4, out=(y, idx), work=win.size)
    return _from_4d(y, d, batched), _from_4d(idx, d, batched), pixels


def backward(gy, idx, x_shape, pixels, win):
    """dL/dx (shape ``x_shape``, in the layout the forward pass read) from dL/dy and indices."""
    d = len(win.spatial)
    batched = len(x_shape) == d + 2
    gy4, idx4 = _as_4d(gy, d, batched), _as_4d(idx, d, batched)
    batch, chans = gy4.shape[:2]
    in_hw = (1, win.spatial[0]) if d == 1 else win.spatial
    if pixels:
        gx = _xp.empty((batch,) + in_hw + (chans,), dtype=gy.dtype)
        fn = functools.partial(_run_backward, _scatter_pixels)
        parallel.elementwise(
            fn, gy4.transpose(0, 2, 3, 1), idx4.transpose(0, 2, 3, 1), out=gx, work=2
        )
        gx = gx.transpose(0, 3, 1, 2)
    else:
        gx = _xp.empty((batch, chans) + in_hw, dtype=gy.dtype)
        fn = functools.partial(_run_backward, _scatter_planes)
        parallel.elementwise(fn, gy4, idx4, out=gx, work=2)
    return _from_4d(gx, d, batched)
