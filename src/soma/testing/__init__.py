"""Tools to check differentiable code: finite-difference gradient checks, ``assert_close``.

The checker lives in ``soma.autograd.gradcheck`` (it knows tensors and the engine only); this
package re-exports it under the name tests import, beside PyTorch's ``assert_close``.
"""

from soma.autograd.gradcheck import gradcheck, numerical_jacobian_vector
from soma.testing.compare import assert_close

__all__ = ["assert_close", "gradcheck", "numerical_jacobian_vector"]
