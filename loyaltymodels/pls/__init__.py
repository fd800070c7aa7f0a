"""PLS path modelling (Wold's algorithm as R's plspm runs it) from the same parameter table."""

from .fit import PlsFit, fit_pls

__all__ = ["PlsFit", "fit_pls"]
