"""Structural equation models by maximum likelihood, with lavaan's conventions and numbers."""

from .diagram import path_diagram
from .fit import SemFit, fit_sem
from .invariance_tests import invariance

__all__ = ["SemFit", "fit_sem", "invariance", "path_diagram"]
