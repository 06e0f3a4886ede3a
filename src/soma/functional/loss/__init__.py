"""Loss functions: ``regression`` (MSE, L1, Huber, smooth L1, cosine embedding),
``classification`` (cross-entropy, NLL, binary cross-entropy with and without logits) and
``divergence`` (KL divergence). Every loss takes ``reduction``. Used by ``nn/modules/loss.py``.
"""
