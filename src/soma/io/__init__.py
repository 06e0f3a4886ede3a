"""Files: tensors, state dicts and training checkpoints in safetensors format (never pickle).

``soma.save`` / ``soma.load`` (PyTorch's names) write and read any nested container of tensors;
``save_checkpoint`` / ``load_checkpoint`` bundle what a training run needs to continue exactly.
PyTorch interop: ``to_torch`` / ``from_torch`` convert tensors and state dicts, and
``load_pytorch_checkpoint`` reads ``torch.save`` files without unpickling them.
"""

from soma.io.checkpoint import (
    check_state_dict,
    load_checkpoint,
    load_state_dict,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from soma.io.pytorch_checkpoint import UnsafeCheckpointError, load_pytorch_checkpoint
from soma.io.serialization import CheckpointError, load, save, write_atomic
from soma.io.torch_interop import from_torch, to_torch

__all__ = [
    "CheckpointError",
    "UnsafeCheckpointError",
    "check_state_dict",
    "from_torch",
    "load",
    "load_checkpoint",
    "load_pytorch_checkpoint",
    "load_state_dict",
    "rng_state",
    "save",
    "save_checkpoint",
    "set_rng_state",
    "to_torch",
    "write_atomic",
]
