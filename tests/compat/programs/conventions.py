"""The conventions programs touch before their first layer: devices, dtypes, constructors."""

import numpy as np
import torch
import torch.nn as nn
from _det import report


def main():
    use_cuda = torch.cuda.is_available()
    use_mps = torch.backends.mps.is_available()
    device = torch.device("cuda" if use_cuda else "mps" if use_mps else "cpu")
    torch.backends.cudnn.deterministic = True
    torch.cuda.manual_seed_all(0)
    torch.set_default_dtype(torch.float64)
    default64 = str(torch.tensor([1.0]).dtype)
    torch.set_default_dtype(torch.float32)
    x = torch.Tensor(3, 4)
    data = torch.Tensor([[1, 2], [3, 4]])
    longs = torch.LongTensor([1, 2, 3])
    floats = torch.FloatTensor(2, 2).fill_(0.5)
    src = torch.zeros(2, dtype=torch.float64)
    new = [
        src.new_zeros(3),
        src.new_ones((2,)),
        src.new_full((2,), 7),
        src.new_tensor([1, 2]),
        src.new_empty(4),
    ]
    cuda_refused = False
    try:
        torch.zeros(2).to("cuda")
    except (RuntimeError, AssertionError):  # PyTorch without CUDA raises AssertionError
        cuda_refused = True
    where = torch.where(torch.tensor([True, False, True]), 1.0, 0.0)
    net = nn.DataParallel(nn.Linear(2, 1))
    report(
        device=[device.type, str(device), x.is_cuda, x.is_mps, x.device.type],
        default64=default64,
        shapes=[list(x.shape), data.tolist(), str(data.dtype), str(longs.dtype)],
        floats=floats.tolist(),
        isinstance=[
            isinstance(floats, torch.FloatTensor),
            isinstance(longs, torch.LongTensor),
            isinstance(longs, torch.FloatTensor),
            floats.type(),
        ],
        new=[[str(t.dtype), list(t.shape)] for t in new],
        new_values=[t.tolist() for t in new[:4]],
        cuda_refused=cuda_refused,
        where=where.tolist(),
        where_dtype=str(where.dtype),
        parallel=list(net.state_dict()),
        numpy_sum=float(np.asarray(torch.ones(3).numpy()).sum()),
    )


if __name__ == "__main__":
    main()
