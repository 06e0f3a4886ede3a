"""Matrix products in every shape combination."""

import soma
from tests.op_specs.spec import OpSpec, torch

SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((0, 4), (4, 2)),
]

SPECS = [
    OpSpec("matmul", lambda a, b: a @ b, lambda a, b: a @ b, shapes=s, variant=f"{s[0]}@{s[1]}")
    for s in SHAPES
] + [
    OpSpec(
        "linear",
        soma.nn.functional.linear,
        torch.nn.functional.linear,
        shapes=((5, 4), (3, 4), (3,)),
    ),
    OpSpec(
        "linear",
        soma.nn.functional.linear,
        torch.nn.functional.linear,
        shapes=((2, 5, 4), (3, 4), (3,)),
        variant="3d",
    ),
    OpSpec(
        "linear",
        lambda x, w: soma.nn.functional.linear(x, w),
        lambda x, w: torch.nn.functional.linear(x, w),
        shapes=((5, 4), (3, 4)),
        variant="no_bias",
    ),
    OpSpec(
        "linear",
        soma.nn.functional.linear,
        torch.nn.functional.linear,
        shapes=((6, 1), (4, 1), (4,)),
        variant="one_input_feature",
    ),
    OpSpec(
        "linear",
        soma.nn.functional.linear,
        torch.nn.functional.linear,
        shapes=((6, 4), (1, 4), (1,)),
        variant="one_output_feature",
    ),
    OpSpec("bmm", soma.bmm, torch.bmm, shapes=((2, 3, 4), (2, 4, 5))),
    OpSpec("mm", soma.mm, torch.mm, shapes=((3, 4), (4, 5))),
    OpSpec("outer", soma.outer, torch.outer, shapes=((3,), (4,))),
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum("bij,bjk->bik", a, b),
        lambda a, b: torch.einsum("bij,bjk->bik", a, b),
        shapes=((2, 3, 4), (2, 4, 5)),
    ),
    OpSpec(
        "einsum",
        lambda a, b: soma.einsum("ij,kl->ik", a, b),
        lambda a, b: torch.einsum("ij,kl->ik", a, b),
        shapes=((2, 3), (4, 5)),
        variant="summed_alone",
    ),
]
