"""Seeing inside models and runs: plots of training curves, LR sweeps and confusion matrices.

matplotlib is imported lazily, when a plot is drawn (``pip install soma[plot]``).
"""

from soma.inspection.plots import plot_confusion_matrix, plot_history, plot_lr_find

__all__ = ["plot_confusion_matrix", "plot_history", "plot_lr_find"]
