"""loyaltymodels: statistical models of customer loyalty.

Beliefs (brand image, promise) and experience (satisfaction from use) as latent constructs
feeding loyalty, estimated by ML (semopy) or Bayesian (PyMC) SEM from one lavaan-syntax
specification, with synthetic data generators and the industry's loyalty indices.

Heavy back ends (PyMC, semopy) are imported on first use, so ``import loyaltymodels`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (ConvergenceError, ConvergenceWarning, DataError, DataWarning,
                     LoyaltyModelsError, SemWarning, SpecError)

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY: dict[str, str] = {
    "parse_model": "spec", "ModelSpec": "spec", "to_syntax": "spec",
    "simulate": "synthetic", "loyalty_scenario": "scenarios", "loyalty_model": "scenarios",
    "read_survey": "data", "validate_data": "validate", "DataReport": "validate",
    "nps": "indices", "nps_difference": "indices", "secure_customer_index": "satisfaction_indices",
    "customer_loyalty_index": "satisfaction_indices", "csat": "satisfaction_indices",
    "ces": "satisfaction_indices",
    "latent_index": "modelled_index",
    # pls
    "fit_pls": "pls", "PlsFit": "pls",
    # diagnostics
    "check_convergence": "diagnostics", "add_log_likelihood": "diagnostics", "loo": "diagnostics",
    "waic": "diagnostics", "compare": "diagnostics", "ppmc": "predictive_checks",
    "fit_indices": "fitindices", "factor_scores": "factorscores",
    # sem
    "fit_sem": "sem", "SemFit": "sem", "invariance": "sem_invariance", "path_diagram": "plots",
    # bayes
    "build_model": "bayes", "fit_bayes": "bayes", "compile_model": "bayes", "fit_compiled": "bayes",
    "bayes_summary": "bayes", "load_posterior": "bayes", "default_priors": "priors",
    # loyalty
    "fit_loyalty": "loyalty", "build_loyalty_model": "loyalty", "default_loyalty_priors": "loyalty_priors",
    "driver_weights": "loyalty_summaries", "outcome_effects": "loyalty_summaries",
    "invest_where": "loyalty_summaries", "balance_effects": "loyalty_summaries",
    "satisfied_not_loyal": "loyalty_summaries", "compare_fits": "loyalty_compare",
    "plot_driver_weights": "loyalty_plots", "plot_balance": "loyalty_plots",
    "plot_outcome_curves": "loyalty_plots",
    # power
    "power_analysis": "power", "power_summary": "power", "read_power_records": "power",
    "plot_power": "power", "fit_many": "batch", "Scenario": "power_targets",
    "loyalty_power_scenario": "power_targets", "model_power_scenario": "power_targets",
    "Target": "power_targets", "weights_differ": "power_targets", "parameter_nonzero": "power_targets",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name in {"studies"}:
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'loyaltymodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["ConvergenceError", "ConvergenceWarning", "DataError", "DataWarning",
           "LoyaltyModelsError", "SemWarning", "SpecError", *_LAZY]
