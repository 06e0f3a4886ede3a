"""Triangles, diagonals, rotations, repeats, windows and grids; einsum, products, distances."""

import numpy as np

import soma
from tests.op_specs.spec import OpSpec
from tests.torch_oracle import torch


def _same(name, f, shapes, variant="", **kw):
    """A row whose soma and PyTorch calls are the same expression."""
    return OpSpec(name, f, f, shapes=shapes, variant=variant, **kw)


SPECS = [
    _same("tril", lambda a: a.tril(), ((3, 4),)),
    _same("tril", lambda a: a.tril(-1), ((2, 3, 4),), "batched_offset"),
    _same("triu", lambda a: a.triu(1), ((4, 3),)),
    OpSpec(
        "triu",
        lambda a: soma.triu(a, -1),
        lambda a: torch.triu(a, -1),
        shapes=((0, 3),),
        variant="empty",
    ),
    OpSpec(
        "tril",
        lambda a: a.tril(),
        lambda a: a.tril(),
        variant="int64",
        make=lambda rng: [rng.integers(-3, 4, (3, 3))],
    ),
    _same("diag", lambda a: a.diag(), ((4,),), "vector"),
    _same("diag", lambda a: a.diag(1), ((3,),), "vector_offset"),
    _same("diag", lambda a: a.diag(-1), ((3, 4),), "matrix"),
    _same("diagonal", lambda a: a.diagonal(), ((3, 4),)),
    _same("diagonal", lambda a: a.diagonal(1, 0, 2), ((3, 2, 4),), "dims"),
    _same("diagonal", lambda a: a.diagonal(-2, -1, -2), ((2, 4, 3),), "negative"),
    OpSpec("diag_embed", soma.diag_embed, torch.diag_embed, shapes=((2, 3),)),
    _same("diag_embed", lambda a: a.diag_embed(1, 0, 2), ((2, 3),), "dims"),
    _same("diagflat", lambda a: a.diagflat(-1), ((2, 2),)),
    OpSpec("trace", soma.trace, torch.trace, shapes=((3, 4),)),
    OpSpec("block_diag", soma.block_diag, torch.block_diag, shapes=((2, 3), (1, 2), (3,))),
    _same("rot90", lambda a: a.rot90(), ((2, 3),)),
    _same("rot90", lambda a: a.rot90(2, (1, 2)), ((2, 3, 4),), "k2"),
    _same("rot90", lambda a: a.rot90(-1, (2, 0)), ((2, 3, 4),), "k-1"),
    _same("repeat_interleave", lambda a: a.repeat_interleave(2), ((2, 3),)),
    _same("repeat_interleave", lambda a: a.repeat_interleave(3, dim=1), ((2, 3),), "dim"),
    OpSpec(
        "repeat_interleave",
        lambda a, r: a.repeat_interleave(r, dim=0),
        lambda a, r: a.repeat_interleave(r, dim=0),
        make=lambda rng: [rng.uniform(-2, 2, (3, 2)), np.array([2, 0, 1])],
        variant="counts",
    ),
    OpSpec(
        "repeat_interleave",
        soma.repeat_interleave,
        torch.repeat_interleave,
        make=lambda rng: [np.array([1, 0, 3])],
        variant="indices",
    ),
    _same("Tensor.unfold", lambda a: a.unfold(1, 3, 2), ((2, 7),)),
    _same("Tensor.unfold", lambda a: a.unfold(0, 2, 1), ((4, 3),), "overlapping"),
    _same("Tensor.unfold", lambda a: a.unfold(-1, 1, 3), ((2, 3, 4),), "size1"),
    _same("Tensor.unfold", lambda a: a.unfold(0, 1, 1), ((),), "0d"),
    _same("movedim", lambda a: a.movedim(0, -1), ((2, 3, 4),)),
    _same("movedim", lambda a: a.movedim((0, 1), (2, 0)), ((2, 3, 4),), "several"),
    OpSpec(
        "meshgrid",
        lambda a, b: soma.meshgrid(a, b, indexing="ij"),
        lambda a, b: torch.meshgrid(a, b, indexing="ij"),
        shapes=((3,), (2,)),
    ),
    OpSpec(
        "meshgrid",
        lambda a, b, c: soma.meshgrid(a, b, c, indexing="xy"),
        lambda a, b, c: torch.meshgrid(a, b, c, indexing="xy"),
        shapes=((3,), (2,), (4,)),
        variant="xy",
    ),
    OpSpec("cartesian_prod", soma.cartesian_prod, torch.cartesian_prod, shapes=((3,), (2,))),
    OpSpec(
        "tril_indices",
        lambda: soma.tril_indices(3, 4, 1),
        lambda: torch.tril_indices(3, 4, 1),
        shapes=(),
    ),
    OpSpec(
        "triu_indices",
        lambda: soma.triu_indices(4, 3, -1),
        lambda: torch.triu_indices(4, 3, -1),
        shapes=(),
    ),
    # einsum: ellipsis, repeated letters, implicit output, broadcasting ellipsis dims
    OpSpec(
        "einsum",
        lambda a: soma.einsum("ii", a),
        lambda a: torch.einsum("ii", a),
        shapes=((3, 3),),
        variant="trace",
    ),
    OpSpec(
        "einsum",
        lambda a: soma.einsum("ii->i", a),
        lambda a: torch.einsum("ii->i", a),
        shapes=((3, 3),),
        variant="diagonal",
    ),
    OpSpec(
        "einsum",
        lambda a: soma.einsum("bii->bi", a),
        lambda a: torch.einsum("bii->bi", a),
        shapes=((2, 3, 3),),
        variant="batch_diagonal",
    ),
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum("...ij,...jk->...ik", a, b),
        lambda a, b: torch.einsum("...ij,...jk->...ik", a, b),
        shapes=((2, 3, 4), (4, 5)),
        variant="ellipsis_matmul",
    ),
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum("...i,...i", a, b),
        lambda a, b: torch.einsum("...i,...i", a, b),
        shapes=((2, 1, 4), (3, 4)),
        variant="ellipsis_broadcast",
    ),
    OpSpec(
        "einsum",
        lambda a: soma.einsum("i...i->...", a),
        lambda a: torch.einsum("i...i->...", a),
        shapes=((3, 2, 3),),
        variant="ellipsis_middle_trace",
    ),
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum("ij,jk", a, b),
        lambda a, b: torch.einsum("ij,jk", a, b),
        shapes=((2, 3), (3, 4)),
        variant="implicit",
    ),
    OpSpec(
        "einsum",
        lambda a, b, c: soma.einsum("ab,bc,cd->ad", a, b, c),
        lambda a, b, c: torch.einsum("ab,bc,cd->ad", a, b, c),
        shapes=((2, 3), (3, 4), (4, 2)),
        variant="three",
    ),
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum("ij,k->", a, b),
        lambda a, b: torch.einsum("ij,k->", a, b),
        shapes=((2, 3), (4,)),
        variant="sum_only",
    ),
    # products
    OpSpec(
        "outer",
        lambda a, b: a.outer(b),
        lambda a, b: a.outer(b),
        shapes=((3,), (4,)),
        variant="method",
    ),
    OpSpec("inner", soma.inner, torch.inner, shapes=((2, 3), (4, 3))),
    OpSpec("kron", soma.kron, torch.kron, shapes=((2, 3), (3, 2))),
    OpSpec("kron", soma.kron, torch.kron, shapes=((2,), (2, 3, 1)), variant="ranks"),
    OpSpec("mv", soma.mv, torch.mv, shapes=((3, 4), (4,))),
    OpSpec(
        "tensordot",
        lambda a, b: soma.tensordot(a, b, 2),
        lambda a, b: torch.tensordot(a, b, 2),
        shapes=((2, 3, 4), (3, 4, 5)),
    ),
    OpSpec(
        "tensordot",
        lambda a, b: soma.tensordot(a, b, ([0], [1])),
        lambda a, b: torch.tensordot(a, b, ([0], [1])),
        shapes=((3, 2), (4, 3)),
        variant="dims",
    ),
    OpSpec(
        "addmm",
        lambda i, a, b: soma.addmm(i, a, b, beta=0.5, alpha=2),
        lambda i, a, b: torch.addmm(i, a, b, beta=0.5, alpha=2),
        shapes=((4,), (3, 2), (2, 4)),
    ),
    OpSpec(
        "addmv",
        lambda i, a, b: i.addmv(a, b),
        lambda i, a, b: i.addmv(a, b),
        shapes=((3,), (3, 2), (2,)),
    ),
    OpSpec(
        "addr",
        lambda i, a, b: i.addr(a, b, alpha=-1),
        lambda i, a, b: i.addr(a, b, alpha=-1),
        shapes=((3, 2), (3,), (2,)),
    ),
    OpSpec(
        "baddbmm",
        lambda i, a, b: soma.baddbmm(i, a, b, beta=2),
        lambda i, a, b: torch.baddbmm(i, a, b, beta=2),
        shapes=((2, 3, 4), (2, 3, 5), (2, 5, 4)),
    ),
    OpSpec(
        "addbmm",
        lambda i, a, b: soma.addbmm(i, a, b),
        lambda i, a, b: torch.addbmm(i, a, b),
        shapes=((3, 4), (2, 3, 5), (2, 5, 4)),
    ),
]

SPECS += [
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        lambda a, b: torch.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        shapes=((2, 3), (3, 4)),
        variant="sublist",
    ),
    OpSpec(
        "einsum",
        lambda a: soma.einsum(a, [Ellipsis, 0, 0]),
        lambda a: torch.einsum(a, [Ellipsis, 0, 0]),
        shapes=((2, 3, 3),),
        variant="sublist_ellipsis_implicit",
    ),
]
