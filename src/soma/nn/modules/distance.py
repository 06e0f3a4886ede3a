"""Layers that compare two inputs: cosine similarity and pairwise distance."""

from soma.functional.distance import cosine_similarity, pairwise_distance
from soma.nn.module import Module


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim``; see ``F.cosine_similarity``.

    Example:
        >>> import soma
        >>> CosineSimilarity(dim=0)(soma.tensor([1.0, 0.0]), soma.tensor([0.0, 2.0]))
        tensor(0.)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """p-norm distance ``‖x1 − x2 + ε‖_p`` along the last dimension; see
    ``F.pairwise_distance``."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
