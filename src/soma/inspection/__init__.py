"""Looking inside models: summaries with parameters and mult-adds, gradient diagnostics."""

from soma.inspection.gradients import GradientReport, LayerGradient, gradient_report
from soma.inspection.summary import ModelSummary, summary

__all__ = ["GradientReport", "LayerGradient", "ModelSummary", "gradient_report", "summary"]
