"""Tools to check differentiable code: finite-difference gradient checks."""

from soma.testing.gradcheck import gradcheck, numerical_jacobian_vector

__all__ = ["gradcheck", "numerical_jacobian_vector"]
