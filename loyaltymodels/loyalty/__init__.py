"""The hierarchical loyalty model: beliefs and experience feeding loyalty, by sector, with behaviour."""

from .compare import compare_fits
from .diminishing import diminishing_returns
from .fit import build_loyalty_model, fit_loyalty
from .investment import invest
from .plots import plot_balance, plot_driver_weights, plot_outcome_curves
from .priors import default_loyalty_priors
from .promise import promise_gap
from .sectors import sector_contrasts
from .summaries import balance_effects, driver_weights, invest_where, outcome_effects, satisfied_not_loyal
from .surface import congruence, plot_surface, response_surface

__all__ = [
    "balance_effects",
    "build_loyalty_model",
    "compare_fits",
    "congruence",
    "default_loyalty_priors",
    "diminishing_returns",
    "driver_weights",
    "fit_loyalty",
    "invest",
    "invest_where",
    "outcome_effects",
    "plot_balance",
    "plot_driver_weights",
    "plot_outcome_curves",
    "plot_surface",
    "promise_gap",
    "response_surface",
    "satisfied_not_loyal",
    "sector_contrasts",
]
