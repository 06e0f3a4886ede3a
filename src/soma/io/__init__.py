"""Files: tensors, state dicts and training checkpoints in safetensors format (never pickle).

``soma.save`` / ``soma.load`` (PyTorch's names) write and read any nested container of tensors;
``save_checkpoint`` / ``load_checkpoint`` bundle what a training run needs to continue exactly.
"""

from soma.io.checkpoint import (
    check_state_dict, load_checkpoint, load_state_dict, rng_state, save_checkpoint, set_rng_state,
)
from soma.io.serialization import CheckpointError, load, save, write_atomic

__all__ = [
    "CheckpointError",
    "check_state_dict",
    "load",
    "load_checkpoint",
    "load_state_dict",
    "rng_state",
    "save",
    "save_checkpoint",
    "set_rng_state",
    "write_atomic",
]
