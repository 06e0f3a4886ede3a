"""DataLoader(num_workers=…) with a per-sample augmentation: soma and PyTorch (issue 15).

    python -m benchmarks.loader_workers

The dataset holds 4,096 images of 3×32×32 in memory; each ``__getitem__`` pads its image by 4
pixels, crops a random 32×32 window, flips it half the time and adds Gaussian noise (NumPy, per
sample: the work a worker process takes off the training loop). One epoch, batch 64, the
median of 3 epochs after one warm-up epoch, for num_workers 0 and 2 in both frameworks (the
same dataset class; PyTorch's loader collates the NumPy arrays into its tensors). Run it on a
quiet machine.
"""

import statistics
import time

import numpy as np

N, BATCH = 4096, 64


class Augmented:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.images = rng.random((N, 3, 32, 32), dtype=np.float32)
        self.labels = rng.integers(0, 10, N)

    def __len__(self):
        return N

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        padded = np.pad(self.images[i], ((0, 0), (4, 4), (4, 4)), mode="reflect")
        top, left = rng.integers(0, 9, 2)
        crop = padded[:, top : top + 32, left : left + 32]
        if rng.random() < 0.5:
            crop = crop[:, :, ::-1]
        noisy = crop + rng.normal(0, 0.05, crop.shape).astype(np.float32)
        return np.ascontiguousarray(noisy), int(self.labels[i])


def epoch_seconds(loader_class, data, workers, epochs=3):
    extra = {"persistent_workers": True} if workers else {}
    loader = loader_class(data, batch_size=BATCH, shuffle=True, num_workers=workers, **extra)
    for _ in loader:  # warm-up (and worker start-up, for persistent workers)
        pass
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in loader:
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    import soma.data

    data = Augmented()
    rows = []
    for workers in (0, 2):
        ours = epoch_seconds(soma.data.DataLoader, data, workers)
        try:
            import torch.utils.data

            theirs = epoch_seconds(torch.utils.data.DataLoader, data, workers)
        except ImportError:
            theirs = float("nan")
        rows.append((workers, ours, theirs))
    print("| num_workers | soma epoch (s) | PyTorch epoch (s) | soma / PyTorch |")
    print("| ---: | ---: | ---: | ---: |")
    for workers, ours, theirs in rows:
        print(f"| {workers} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
