"""Idioms found across PyTorch tutorials and examples, each run once: none may raise."""

import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from _det import report
from torch.utils.data import DataLoader, TensorDataset, random_split


def _no_grad_block():
    with torch.no_grad():
        return torch.ones(1) * 2


def _saved():
    path = os.path.join(tempfile.mkdtemp(), "sd.pt")
    torch.save(nn.Linear(2, 2).state_dict(), path)
    return path


checks = {
    "set_float32_matmul_precision": lambda: torch.set_float32_matmul_precision("high"),
    "use_deterministic_algorithms": lambda: torch.use_deterministic_algorithms(True),
    "set_num_threads": lambda: torch.set_num_threads(1),
    "get_num_threads": lambda: torch.get_num_threads(),
    "zero_grad(set_to_none)": lambda: torch.optim.SGD(
        nn.Linear(2, 2).parameters(), lr=0.1
    ).zero_grad(set_to_none=True),
    "no_grad decorator": lambda: torch.no_grad()(lambda: 1)(),
    "inference_mode": lambda: torch.inference_mode()(lambda: 1)(),
    "random_split": lambda: random_split(TensorDataset(torch.zeros(10, 2)), [8, 2]),
    "random_split frac": lambda: random_split(
        TensorDataset(torch.zeros(10, 2)), [0.8, 0.2], generator=torch.Generator().manual_seed(42)
    ),
    "DataLoader workers": lambda: list(
        DataLoader(TensorDataset(torch.zeros(4, 2)), batch_size=2, num_workers=0, pin_memory=True)
    ),
    "model.to(device, dtype)": lambda: nn.Linear(2, 2).to(torch.device("cpu"), torch.float32),
    "x.to(device, non_blocking)": lambda: torch.zeros(2).to("cpu", non_blocking=True),
    "torch.compile": lambda: torch.compile(nn.Linear(2, 2)),
    "numel param count": lambda: sum(
        p.numel() for p in nn.Linear(2, 2).parameters() if p.requires_grad
    ),
    "item format": lambda: f"{torch.tensor(1.0).item():.2f}",
    "torch.Generator().manual_seed": lambda: torch.Generator().manual_seed(1),
    "torch.initial_seed": lambda: torch.initial_seed(),
    "torch.seed": lambda: torch.seed(),
    "get_rng_state": lambda: torch.get_rng_state(),
    "torch.is_tensor": lambda: torch.is_tensor(torch.zeros(1)),
    "torch.numel": lambda: torch.numel(torch.zeros(2)),
    "F.one_hot": lambda: F.one_hot(torch.tensor([0, 2]), 3),
    "torch.finfo": lambda: torch.finfo(torch.float32).eps,
    "torch.iinfo": lambda: torch.iinfo(torch.int64).max,
    "torch.float32 repr": lambda: repr(torch.float32),
    "torch.dtype isinstance": lambda: isinstance(torch.float32, torch.dtype),
    "torch.Size": lambda: torch.Size([2, 3]),
    "torch.nn.utils.clip_grad_norm_": lambda: torch.nn.utils.clip_grad_norm_(
        nn.Linear(2, 2).parameters(), 1.0
    ),
    "state_dict save/load": lambda: torch.load(_saved(), map_location="cpu", weights_only=True),
    "torch.testing.assert_close": lambda: torch.testing.assert_close(
        torch.zeros(2), torch.zeros(2)
    ),
    "torch.__version__": lambda: torch.__version__,
    "torch.version.cuda": lambda: torch.version.cuda,
    "torch.cuda.amp.autocast": lambda: torch.cuda.amp.autocast(),
    "torch.autograd.Variable": lambda: torch.autograd.Variable(torch.zeros(2)),
    "torch.optim.lr_scheduler.ReduceLROnPlateau": lambda: (
        torch.optim.lr_scheduler.ReduceLROnPlateau(
            torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
        )
    ),
    "torch.nn.init.kaiming_normal_(mode,nonlinearity)": lambda: torch.nn.init.kaiming_normal_(
        torch.empty(3, 3), mode="fan_out", nonlinearity="relu"
    ),
    "x.device == torch.device": lambda: torch.zeros(1).device == torch.device("cpu"),
    "torch.nn.functional.pad": lambda: F.pad(torch.zeros(1, 2, 2), (1, 1)),
    "torch.from_numpy float64": lambda: torch.from_numpy(__import__("numpy").zeros(2)).float(),
    "model.apply": lambda: nn.Sequential(nn.Linear(2, 2)).apply(lambda m: None),
    "nn.ModuleList": lambda: nn.ModuleList([nn.Linear(2, 2)]),
    "x.size()[0]": lambda: torch.zeros(2, 3).size()[0],
    "torch.manual_seed returns": lambda: torch.manual_seed(0),
    "tensor.detach().cpu().numpy()": lambda: (
        torch.zeros(2, requires_grad=True).detach().cpu().numpy()
    ),
    "torch.max(x, 1)[1]": lambda: torch.max(torch.zeros(2, 3), 1)[1],
    "x.max(1).indices": lambda: torch.zeros(2, 3).max(1).indices,
    "torch.argmax(keepdim)": lambda: torch.argmax(torch.zeros(2, 3), dim=1, keepdim=True),
    "eq().sum().item()": lambda: torch.zeros(3).eq(torch.zeros(3)).sum().item(),
    "correct/len": lambda: 100.0 * torch.tensor(3) / 4,
    "x.view(-1)": lambda: torch.zeros(2, 3).view(-1),
    "torch.nn.Module.named_children": lambda: list(
        nn.Sequential(nn.Linear(2, 2)).named_children()
    ),
    "register_buffer persistent": lambda: nn.Module().register_buffer(
        "x", torch.zeros(1), persistent=False
    ),
    "nn.Parameter(torch.randn)": lambda: nn.Parameter(torch.randn(2)),
    "torch.optim.Adam(betas, eps, weight_decay, amsgrad)": lambda: torch.optim.Adam(
        nn.Linear(2, 2).parameters(),
        lr=1e-3,
        betas=(0.9, 0.99),
        eps=1e-8,
        weight_decay=0.01,
        amsgrad=True,
    ),
    "param_groups lr": lambda: torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1).param_groups[
        0
    ]["lr"],
    "torch.chunk": lambda: torch.chunk(torch.zeros(4), 2),
    "torch.no_grad context": lambda: _no_grad_block(),
    "torch.enable_grad": lambda: torch.enable_grad(),
    "torch.tensor(float64).to(torch.float)": lambda: torch.tensor([1.0], dtype=torch.float64).to(
        torch.float
    ),
}


def main():
    failures = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:  # noqa: BLE001  (report which idiom failed, and why)
            failures[name] = f"{type(error).__name__}: {error}"
    torch.use_deterministic_algorithms(False)
    torch.set_float32_matmul_precision("highest")
    print(f"{len(checks)} idioms, {len(failures)} failed: {failures}")
    report(count=len(checks), failures=failures)


if __name__ == "__main__":
    main()
