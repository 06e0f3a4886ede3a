"""Reshaping, joining, splitting and indexing."""

import numpy as np

import soma
from tests.op_specs.spec import OpSpec, torch

SPECS = [
    OpSpec("reshape", lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), shapes=((2, 3, 4),)),
    OpSpec("view", lambda a: a.view(-1), lambda a: a.view(-1), shapes=((2, 3),)),
    OpSpec("flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), shapes=((2, 3, 4),)),
    OpSpec(
        "unflatten",
        lambda a: a.unflatten(1, (3, 4)),
        lambda a: a.unflatten(1, (3, 4)),
        shapes=((2, 12),),
    ),
    OpSpec(
        "transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), shapes=((2, 3, 4),)
    ),
    OpSpec("T", lambda a: a.T, lambda a: a.T, shapes=((2, 3),)),
    OpSpec(
        "permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), shapes=((2, 3, 4),)
    ),
    OpSpec("squeeze", lambda a: a.squeeze(), lambda a: a.squeeze(), shapes=((2, 1, 3, 1),)),
    OpSpec(
        "squeeze",
        lambda a: a.squeeze(1),
        lambda a: a.squeeze(1),
        shapes=((2, 1, 3, 1),),
        variant="dim",
    ),
    OpSpec("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), shapes=((2, 3),)),
    OpSpec("expand", lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), shapes=((3, 1),)),
    OpSpec(
        "expand",
        lambda a: a.expand(-1, 4),
        lambda a: a.expand(-1, 4),
        shapes=((3, 1),),
        variant="minus1",
    ),
    OpSpec("repeat", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3), shapes=((2, 3),)),
    OpSpec("flip", lambda a: a.flip(0, 1), lambda a: a.flip(0, 1), shapes=((2, 3),)),
    OpSpec("roll", lambda a: a.roll(1, 1), lambda a: a.roll(1, 1), shapes=((2, 3),)),
    OpSpec(
        "cat",
        lambda a, b: soma.cat([a, b], 1),
        lambda a, b: torch.cat([a, b], 1),
        shapes=((2, 3), (2, 5)),
    ),
    OpSpec(
        "stack",
        lambda a, b: soma.stack([a, b], -1),
        lambda a, b: torch.stack([a, b], -1),
        shapes=((2, 3), (2, 3)),
    ),
    OpSpec("split", lambda a: a.split(2, 1), lambda a: a.split(2, 1), shapes=((3, 5),)),
    OpSpec(
        "split",
        lambda a: a.split([1, 4], 1)[1],
        lambda a: a.split([1, 4], 1)[1],
        shapes=((3, 5),),
        variant="one_used",
    ),
    OpSpec("chunk", lambda a: a.chunk(3, 0), lambda a: a.chunk(3, 0), shapes=((7, 2),)),
    OpSpec("unbind", lambda a: a.unbind(1), lambda a: a.unbind(1), shapes=((2, 3),)),
    OpSpec(
        "getitem", lambda a: a[1:, ::2], lambda a: a[1:, ::2], shapes=((4, 5),), variant="slice"
    ),
    OpSpec(
        "getitem",
        lambda a: a[..., 1, None],
        lambda a: a[..., 1, None],
        shapes=((2, 4, 5),),
        variant="ellipsis",
    ),
    OpSpec(
        "getitem",
        lambda a: a[[0, 2, 0, 0]],
        lambda a: a[[0, 2, 0, 0]],
        shapes=((4, 5),),
        variant="repeated_ints",
    ),
    OpSpec(
        "getitem",
        lambda a, i: a[soma.tensor([1, 0]), i.long()],
        lambda a, i: a[torch.tensor([1, 0]), i.long()],
        make=lambda rng: [rng.uniform(-1, 1, (3, 4)), np.array([3, 3])],
        grad_inputs=(0,),
        variant="tensor_pairs",
    ),
    OpSpec(
        "getitem", lambda a: a[a > 0], lambda a: a[a > 0], shapes=((4, 5),), variant="bool_mask"
    ),
    OpSpec(
        "getitem",
        lambda a: a[:, [2, 1, 2]],
        lambda a: a[:, [2, 1, 2]],
        shapes=((3, 4),),
        variant="second_axis",
    ),
    OpSpec(
        "gather",
        lambda a, i: a.gather(1, i),
        lambda a, i: a.gather(1, i),
        make=lambda rng: [rng.uniform(-1, 1, (3, 4)), np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])],
        grad_inputs=(0,),
    ),
    OpSpec(
        "gather",
        lambda a, i: a.gather(0, i),
        lambda a, i: a.gather(0, i),
        variant="one_per_column",
        make=lambda rng: [rng.uniform(-1, 1, (3, 4)), np.array([[2, 0, 1, 1]])],
        grad_inputs=(0,),
    ),
    OpSpec(
        "gather",
        lambda a, i: a.gather(1, i),
        lambda a, i: a.gather(1, i),
        variant="smaller_index",
        make=lambda rng: [rng.uniform(-1, 1, (3, 4)), np.array([[3, 0], [1, 1]])],
        grad_inputs=(0,),
    ),
    OpSpec(
        "scatter_add",
        lambda a, s, i: a.scatter_add(1, i, s),
        lambda a, s, i: a.scatter_add(1, i, s),
        make=lambda rng: [
            rng.uniform(-1, 1, (3, 4)),
            rng.uniform(-1, 1, (3, 3)),
            np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]]),
        ],
        grad_inputs=(0, 1),
    ),
    OpSpec(
        "index_select",
        lambda a: a.index_select(1, soma.tensor([2, 0, 2])),
        lambda a: a.index_select(1, torch.tensor([2, 0, 2])),
        shapes=((3, 4),),
    ),
    OpSpec("narrow", lambda a: a.narrow(1, 1, 2), lambda a: a.narrow(1, 1, 2), shapes=((3, 4),)),
    OpSpec(
        "setitem", lambda a, v: _setitem(a, v), lambda a, v: _setitem(a, v), shapes=((3, 4), (2,))
    ),
]


def _setitem(a, v):
    b = a * 1.0
    b[1, 1:3] = v
    return b * 2
