"""Recurrent networks: ``layers`` holds the public ``rnn``/``lstm``/``gru`` and their single-step
cells; ``fused`` the kernels that run a whole layer over a sequence as one autograd node
(forward in time, backward through time). Used by ``nn/modules/recurrent.py``.
"""
