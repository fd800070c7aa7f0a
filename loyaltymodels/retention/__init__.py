"""Behaviour after the survey: retention, acquisition and repeat purchase driven by the survey's latents."""

from .fit import build_retention_model, fit_retention
from .plots import plot_survival_curves
from .summaries import expected_lifetime, retention_effects, survival_curves

__all__ = [
    "build_retention_model",
    "expected_lifetime",
    "fit_retention",
    "plot_survival_curves",
    "retention_effects",
    "survival_curves",
]
