"""``soma.sparse`` (PyTorch's ``torch.sparse``): products and sums of sparse COO tensors.

The type and its kernels live in ``soma.functional.sparse``; see there.
"""

from soma.functional.sparse import SparseTensor, mm
from soma.functional.sparse import sparse_sum as sum


def addmm(mat, mat1, mat2, *, beta: float = 1.0, alpha: float = 1.0):
    """``beta · mat + alpha · (mat1 @ mat2)`` with ``mat1`` sparse."""
    return beta * mat + alpha * mm(mat1, mat2)


__all__ = ["SparseTensor", "addmm", "mm", "sum"]
