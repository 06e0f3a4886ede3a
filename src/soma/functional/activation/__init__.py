"""Activation functions, in three families.

``piecewise`` holds the functions made of linear pieces (ReLU and its variants, hardtanh, the
hard sigmoid and swish, shrinkage, the lectures' step, maxout), ``smooth`` the differentiable
ones (ELU, SELU, CELU, GELU, SiLU, Mish, softplus, log-sigmoid, softsign), and ``softmax`` the
normalising ones (softmax, log-softmax, softmin). Sigmoid and tanh are plain functions of one
tensor and live in ``functional/unary.py``. Used by ``nn/modules/activation.py``.
"""
