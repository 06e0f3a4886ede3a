"""Tools to check differentiable code: finite-difference gradient checks, ``assert_close``."""

from soma.testing.compare import assert_close
from soma.testing.gradcheck import gradcheck, numerical_jacobian_vector

__all__ = ["assert_close", "gradcheck", "numerical_jacobian_vector"]
