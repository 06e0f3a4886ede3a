"""Pooling: max and average (``max_avg``), min, sum and power-average (``lp_min_sum``),
adaptive pooling to a fixed output size (``adaptive``) and max unpooling (``unpooling``).

``_windows`` turns an input into strided windows and checks the arguments shared by all of
them. Used by ``nn/modules/pooling.py`` and ``nn/modules/adaptive_pooling.py``.
"""
