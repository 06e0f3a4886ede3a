"""Per-layer convolution timings, soma vs PyTorch: ``python -m benchmarks.conv_layers``.

A diagnostic next to the case table: one convolution's forward + backward (input, weight and
bias gradients) for every layer shape of the conv cases (LeNet-5, SimpleCNN, CIFAR ResNet-18,
MobileNet v1 ×0.5, VGG-11; the 3×3 layers of
DenseNet-121, the U-Net and the DDPM denoiser). Both frameworks run in this process, alternating, and the minimum over
``--repeats`` runs is reported. With ``--single-thread`` (the default) PyTorch runs on one thread
and times are CPU times, which a busy machine disturbs least; pass ``--all-threads`` for wall
times with every framework's default threads (run it with ``OPENBLAS_NUM_THREADS=1`` unset).

soma gets its input in the memory layout the layer would see inside the model (channels-last
after a wide convolution, channel-major after a depthwise one), PyTorch its usual NCHW.

Throughput: each layer's multiply-adds are counted as a direct convolution does them (forward
N·O·H_out·W_out·(C/groups)·k², the input gradient as many, the weight gradient as many; the
first layer has no input gradient), so that "GFLOP/s" is 2 × those / time, whichever algorithm
ran: a layer that im2col and a GEMM at full speed would run at the BLAS peak shows 100 %, and
Winograd, which does fewer multiplies, can show more. The BLAS peak is NumPy's float32
product of two 2048 × 2048 matrices, best of five, measured here on the same threads and
clock before the layers.
"""

import argparse
import os
import time

import numpy as np

# name: (batch, in channels, size, out channels, kernel, stride, padding, groups, layout)
LAYERS = {
    "lenet conv1": (64, 1, 32, 6, 5, 1, 0, 1, "nchw"),
    "lenet conv2": (64, 6, 14, 16, 5, 1, 0, 1, "cm"),
    "simplecnn conv1": (64, 1, 28, 32, 3, 1, 1, 1, "nchw"),
    "simplecnn conv2": (64, 32, 14, 64, 3, 1, 1, 1, "cl"),
    "resnet18 stem": (32, 3, 32, 64, 3, 1, 1, 1, "nchw"),
    "resnet18 layer1": (32, 64, 32, 64, 3, 1, 1, 1, "cl"),
    "resnet18 layer2.0 s2": (32, 64, 32, 128, 3, 2, 1, 1, "cl"),
    "resnet18 layer2": (32, 128, 16, 128, 3, 1, 1, 1, "cl"),
    "resnet18 layer3.0 s2": (32, 128, 16, 256, 3, 2, 1, 1, "cl"),
    "resnet18 layer3": (32, 256, 8, 256, 3, 1, 1, 1, "cl"),
    "resnet18 layer4.0 s2": (32, 256, 8, 512, 3, 2, 1, 1, "cl"),
    "resnet18 layer4": (32, 512, 4, 512, 3, 1, 1, 1, "cl"),
    "resnet18 proj 1x1 s2 (64)": (32, 64, 32, 128, 1, 2, 0, 1, "cl"),
    "resnet18 proj 1x1 s2 (256)": (32, 256, 8, 512, 1, 2, 0, 1, "cl"),
    "mobilenet stem s2": (32, 3, 64, 16, 3, 2, 1, 1, "nchw"),
    "mobilenet dw 16 @32": (32, 16, 32, 16, 3, 1, 1, 16, "cm"),
    "mobilenet dw 32 @32 s2": (32, 32, 32, 32, 3, 2, 1, 32, "cm"),
    "mobilenet dw 64 @16": (32, 64, 16, 64, 3, 1, 1, 64, "cm"),
    "mobilenet dw 128 @8": (32, 128, 8, 128, 3, 1, 1, 128, "cm"),
    "mobilenet dw 256 @4": (32, 256, 4, 256, 3, 1, 1, 256, "cm"),
    "mobilenet dw 512 @2": (32, 512, 2, 512, 3, 1, 1, 512, "cm"),
    "mobilenet pw 16-32 @32": (32, 16, 32, 32, 1, 1, 0, 1, "cm"),
    "mobilenet pw 64-64 @16": (32, 64, 16, 64, 1, 1, 0, 1, "cm"),
    "mobilenet pw 256-256 @4": (32, 256, 4, 256, 1, 1, 0, 1, "cm"),
    "mobilenet pw 512-512 @2": (32, 512, 2, 512, 1, 1, 0, 1, "cm"),
    "vgg11 conv1": (16, 3, 32, 64, 3, 1, 1, 1, "nchw"),
    "vgg11 conv2": (16, 64, 16, 128, 3, 1, 1, 1, "cl"),
    "vgg11 conv3": (16, 128, 8, 256, 3, 1, 1, 1, "cl"),
    "vgg11 conv4": (16, 256, 8, 256, 3, 1, 1, 1, "cl"),
    "vgg11 conv5": (16, 256, 4, 512, 3, 1, 1, 1, "cl"),
    "vgg11 conv6": (16, 512, 4, 512, 3, 1, 1, 1, "cl"),
    "vgg11 conv7": (16, 512, 2, 512, 3, 1, 1, 1, "cl"),
    "densenet121 3x3 @32": (16, 128, 32, 32, 3, 1, 1, 1, "cl"),
    "densenet121 3x3 @16": (16, 128, 16, 32, 3, 1, 1, 1, "cl"),
    "densenet121 3x3 @8": (16, 128, 8, 32, 3, 1, 1, 1, "cl"),
    "densenet121 3x3 @4": (16, 128, 4, 32, 3, 1, 1, 1, "cl"),
    "unet 16 @64": (8, 16, 64, 16, 3, 1, 1, 1, "cl"),
    "unet 32 @32": (8, 32, 32, 32, 3, 1, 1, 1, "cl"),
    "unet 64 @16": (8, 64, 16, 64, 3, 1, 1, 1, "cl"),
    "unet 128 @8": (8, 128, 8, 128, 3, 1, 1, 1, "cl"),
    "unet 256 @4": (8, 256, 4, 256, 3, 1, 1, 1, "cl"),
    "unet up 32-16 @64": (8, 32, 64, 16, 3, 1, 1, 1, "cl"),
    "ddpm 32 @16": (16, 32, 16, 32, 3, 1, 1, 1, "cl"),
    "ddpm 64 @8": (16, 64, 8, 64, 3, 1, 1, 1, "cl"),
    "ddpm 128-64 @8": (16, 128, 8, 64, 3, 1, 1, 1, "cl"),
}


def _layout(a, kind):
    """The same values in the memory order a layer of this kind hands to the next one."""
    if kind == "cl":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if kind == "cm":
        return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).swapaxes(0, 1)
    return a


def direct_multiply_adds(spec):
    """Multiply-adds of the layer's forward pass and gradients done as a direct convolution."""
    n, c, size, o, k, s, p, g, kind = spec
    out = (size + 2 * p - k) // s + 1
    forward = n * o * out * out * (c // g) * k * k
    return forward * (2 if kind == "nchw" else 3)  # the first layer has no input gradient


def blas_peak_gflops(clock, size=2048, repeats=5):
    """NumPy's float32 GEMM throughput (GFLOP/s) on a size × size product, best of ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        np.matmul(a, b, out=out)
        best = min(best, clock() - t0)
    return 2 * size**3 / best / 1e9


def _steps(torch, soma, spec):
    n, c, size, o, k, s, p, g, kind = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, size, size)).astype(np.float32)
    w = (rng.standard_normal((o, c // g, k, k)) * 0.1).astype(np.float32)
    b = np.zeros(o, np.float32)
    out = (size + 2 * p - k) // s + 1
    gy = rng.standard_normal((n, o, out, out)).astype(np.float32)
    first = kind == "nchw"  # the first layer needs no input gradient
    xt = torch.from_numpy(x).requires_grad_(not first)
    wt, bt = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
    xs = soma.Tensor(_layout(x, kind))  # NOTE: soma.Tensor keeps the given memory order
    xs.requires_grad = not first
    ws, bs = soma.tensor(w, requires_grad=True), soma.tensor(b, requires_grad=True)
    with soma.no_grad():
        y = soma.nn.functional.conv2d(xs, ws, stride=s, padding=p, groups=g).numpy()
    gys = soma.Tensor(_layout(gy, "cm" if y.swapaxes(0, 1).flags.c_contiguous else "cl"))
    gyt = torch.from_numpy(gy)

    def torch_step():
        torch.nn.functional.conv2d(xt, wt, bt, s, p, 1, g).backward(gyt)

    def soma_step():
        soma.nn.functional.conv2d(xs, ws, bs, s, p, 1, g).backward(gys)

    return torch_step, soma_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--all-threads", action="store_true")
    parser.add_argument("layers", nargs="*", help="layer names (default: all)")
    args = parser.parse_args(argv)
    import torch

    import soma

    clock = time.perf_counter if args.all_threads else time.process_time
    if not args.all_threads:
        torch.set_num_threads(1)
        if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
            print("note: set OPENBLAS_NUM_THREADS=1 so that NumPy's BLAS runs on one thread too")
    peak = blas_peak_gflops(clock)
    print(f"BLAS peak (float32 2048³ product): {peak:.0f} GFLOP/s\n")
    print(
        "| layer | PyTorch (ms) | soma (ms) | soma / PyTorch | soma GFLOP/s | of BLAS peak |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    for name in args.layers or LAYERS:
        torch_step, soma_step = _steps(torch, soma, LAYERS[name])
        torch_step(), soma_step()
        times = {torch_step: [], soma_step: []}
        for _ in range(args.repeats):
            for step in times:
                t0 = clock()
                step()
                times[step].append(clock() - t0)
        t, s = min(times[torch_step]) * 1e3, min(times[soma_step]) * 1e3
        gflops = 2 * direct_multiply_adds(LAYERS[name]) / s / 1e6
        print(
            f"| {name} | {t:.2f} | {s:.2f} | {s / t:.2f} | {gflops:.0f} | {gflops / peak:.0%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
