"""Data (issue: soma.data): one epoch of a DataLoader over a TensorDataset, PyTorch's API."""

from benchmarks.harness import Case


def _epoch(torch, n, shape, batch_size, shuffle):
    x = torch.randn(n, *shape)
    y = torch.randint(0, 10, (n,))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle
    )

    def step():
        for _batch in loader:
            pass

    return step


def mnist_like_epoch(torch):
    """20,000 flattened 28×28 inputs, batch 128, shuffled."""
    return _epoch(torch, 20000, (784,), 128, True)


def cifar_like_epoch(torch):
    """10,000 3×32×32 images, batch 128, shuffled."""
    return _epoch(torch, 10000, (3, 32, 32), 128, True)


def digits_like_epoch(torch):
    """1,438 1×8×8 images (the digits training split), batch 64, in order."""
    return _epoch(torch, 1438, (1, 8, 8), 64, False)


CASES = [
    Case(
        "loader_mnist_epoch",
        "data",
        "TensorDataset 20000x784, batch 128, shuffle",
        mnist_like_epoch,
    ),
    Case(
        "loader_cifar_epoch",
        "data",
        "TensorDataset 10000x3x32x32, batch 128, shuffle",
        cifar_like_epoch,
    ),
    Case(
        "loader_digits_epoch",
        "data",
        "TensorDataset 1438x1x8x8, batch 64, in order",
        digits_like_epoch,
    ),
]
