"""Tools to check differentiable code: finite-difference gradient checks.

The checker lives in ``soma.autograd.gradcheck`` (it knows tensors and the engine only); this
package re-exports it under the name tests import.
"""

from soma.autograd.gradcheck import gradcheck, numerical_jacobian_vector

__all__ = ["gradcheck", "numerical_jacobian_vector"]
