"""Normalization layers' maths: batch norm over (N, *spatial) with running statistics
(``batch``); layer, group and instance norm, which normalise rows of a reshaped input
(``layer``); and local response normalization across neighbouring channels
(``local_response``). Used by ``nn/modules/batchnorm.py`` and ``nn/modules/normalization.py``.
"""
