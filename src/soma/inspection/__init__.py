"""Looking inside models and runs: summaries with parameters and mult-adds, gradient
diagnostics, pictures of filters, feature maps and gradient flow, and plots of training runs
(loss/metric curves, LR-finder sweeps, confusion matrices; those live in ``soma.train.plots``
and are re-exported here).

matplotlib is imported lazily, when a plot is drawn (``pip install soma[plot]``).
"""

from soma.inspection.gradients import GradientReport, LayerGradient, gradient_report
from soma.inspection.summary import ModelSummary, summary
from soma.inspection.visualize import (
    feature_maps,
    plot_feature_maps,
    plot_filters,
    plot_gradient_flow,
)
from soma.train.generative_plots import (
    plot_diffusion_chain,
    plot_interpolation,
    plot_latent_scatter,
    plot_points,
    plot_reconstructions,
    plot_samples,
)
from soma.train.plots import plot_confusion_matrix, plot_history, plot_lr_find

__all__ = [
    "plot_diffusion_chain",
    "plot_interpolation",
    "plot_latent_scatter",
    "plot_points",
    "plot_reconstructions",
    "plot_samples",
    "GradientReport",
    "LayerGradient",
    "ModelSummary",
    "feature_maps",
    "gradient_report",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_flow",
    "plot_history",
    "plot_lr_find",
    "summary",
]
