"""``OpSpec``: how to call one op in soma and in PyTorch, and on what inputs."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tests.torch_oracle import torch  # a stand-in that skips when PyTorch is missing

TF = torch.nn.functional


@dataclass
class OpSpec:
    """One row of the op table.

    Attributes:
        name: the op's name; with ``variant`` it forms the test id.
        soma: ``f(*tensors)`` calling soma (tensors are soma Tensors).
        torch: ``f(*tensors)`` calling PyTorch the same way (None: no PyTorch twin).
        shapes: one shape per input.
        low, high: range the float inputs are drawn from (uniform).
        grad_inputs: indices of inputs that are differentiated (default: all float inputs).
        make: optional ``make(rng) -> list of arrays`` replacing the default input draw.
        atol, rtol: float64 comparison tolerances against PyTorch (outputs that are float32,
            e.g. of integer inputs, are compared at no less than 1e-6: NumPy's and PyTorch's
            float32 math may differ in the last place).
        gradcheck: run the finite-difference check (False for ops with kinks at random points).
        variant: distinguishes several rows of the same op.
        reference: optional NumPy ``f(*arrays)`` giving the expected output, checked without
            PyTorch (forward-only rows of ops that have no gradient use it).
        keeps_graph: False for an op PyTorch itself gives no gradient (``floor_divide``); any
            other op with a float output must record a ``grad_fn`` when an input requires grad.
    """

    name: str
    soma: Callable
    torch: Callable | None
    shapes: Sequence[tuple] = ((3, 4),)
    low: float = -2.0
    high: float = 2.0
    grad_inputs: Sequence[int] | None = None
    make: Callable | None = None
    atol: float = 1e-10
    rtol: float = 1e-10
    gradcheck: bool = True
    variant: str = ""
    kwargs: dict = field(default_factory=dict)
    reference: Callable | None = None
    keeps_graph: bool = True

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    def inputs(self, seed: int = 0) -> list:
        """Float64 input arrays (and any integer arrays the op needs)."""
        rng = np.random.default_rng(seed)
        if self.make is not None:
            return [np.asarray(a) for a in self.make(rng)]
        return [rng.uniform(self.low, self.high, size=s) for s in self.shapes]

    def tolerances(self, dtype) -> tuple:
        """(rtol, atol) for a result of ``dtype``: the row's, and no less than 1e-6 for float32
        results (of integer inputs), since NumPy's and PyTorch's float32 math may differ in the
        last place."""
        if np.dtype(dtype) == np.float32:
            return max(self.rtol, 1e-6), max(self.atol, 1e-6)
        return self.rtol, self.atol

    def differentiable(self, arrays) -> list:
        if self.grad_inputs is not None:
            return list(self.grad_inputs)
        return [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]


def away_from(points, rng, shape, low=-2.0, high=2.0, margin=0.05):
    """Uniform samples that keep ``margin`` away from the given kink points."""
    x = rng.uniform(low, high, size=shape)
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + np.where(x[close] >= p, margin, -margin) * 2
    return x
