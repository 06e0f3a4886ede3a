"""Looking inside models: summaries with parameters and mult-adds, gradient diagnostics,
pictures of filters, feature maps and gradient flow."""

from soma.inspection.gradients import GradientReport, LayerGradient, gradient_report
from soma.inspection.summary import ModelSummary, summary
from soma.inspection.visualize import feature_maps, plot_feature_maps, plot_filters, plot_gradient_flow

__all__ = [
    "GradientReport",
    "LayerGradient",
    "ModelSummary",
    "feature_maps",
    "gradient_report",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_flow",
    "summary",
]
