"""Shared fixtures: the optional PyTorch oracle, deterministic seeds, the compiled-path skip."""

import numpy as np
import pytest

import soma
from soma.backend import compiled

try:
    import torch

    torch.set_default_dtype(torch.float32)
except ImportError:  # the oracle is optional: tests that need it skip
    torch = None


@pytest.fixture
def torch_or_skip():
    if torch is None:
        pytest.skip("PyTorch (the reference oracle) is not installed")
    return torch


@pytest.fixture(autouse=True)
def _seed():
    soma.manual_seed(0)
    np.random.seed(0)
    if torch is not None:
        torch.manual_seed(0)
    yield
    soma.set_default_dtype(soma.float32)


def needs_compiled():
    """For tests of the compiled kernels: skip without Numba, or with the kernels turned off
    (``SOMA_FAST=0``)."""
    pytest.importorskip("numba")
    if not compiled.enabled():
        pytest.skip("compiled kernels turned off")


def to_torch(t, requires_grad=False):
    """A torch tensor with the same values as a soma tensor or array."""
    a = t.detach().numpy() if isinstance(t, soma.Tensor) else np.asarray(t)
    out = torch.from_numpy(np.array(a))
    return out.requires_grad_(requires_grad) if requires_grad else out


def copy_weights(soma_module, torch_module):
    """Load a torch module's state dict into the soma module of the same structure."""
    soma_module.load_state_dict(
        {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()}
    )
    return soma_module
