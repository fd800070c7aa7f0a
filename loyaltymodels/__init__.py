"""loyaltymodels: statistical models of customer loyalty.

Beliefs (brand image, promise) and experience (satisfaction from use) as latent constructs
feeding loyalty, estimated by ML (semopy) or Bayesian (PyMC) SEM from one lavaan-syntax
specification, with synthetic data generators and the industry's loyalty indices.

Heavy back ends (PyMC, semopy) are imported on first use, so ``import loyaltymodels`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    ArgumentError,
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    LoyaltyModelsError,
    SemWarning,
    SpecError,
)

__version__ = "0.1.0"

# public name -> the subpackage (room) that exports it, imported on first attribute access
_LAZY: dict[str, str] = {
    # spec: lavaan syntax -> the parameter table
    "parse_model": "spec",
    "ModelSpec": "spec",
    "to_syntax": "spec",
    # data: survey files in, synthetic data out
    "read_survey": "data",
    "validate_data": "data",
    "DataReport": "data",
    "simulate": "data",
    "loyalty_scenario": "data",
    "loyalty_model": "data",
    # indices
    "nps": "indices",
    "nps_difference": "indices",
    "plot_nps": "indices",
    "secure_customer_index": "indices",
    "customer_loyalty_index": "indices",
    "csat": "indices",
    "ces": "indices",
    "latent_index": "indices",
    # pls
    "fit_pls": "pls",
    "PlsFit": "pls",
    # sem
    "fit_sem": "sem",
    "SemFit": "sem",
    "invariance": "sem",
    "path_diagram": "sem",
    # bayes
    "build_model": "bayes",
    "fit_bayes": "bayes",
    "compile_model": "bayes",
    "fit_compiled": "bayes",
    "bayes_summary": "bayes",
    "load_posterior": "bayes",
    "default_priors": "bayes",
    "check_convergence": "bayes",
    "add_log_likelihood": "bayes",
    "loo": "bayes",
    "waic": "bayes",
    "compare": "bayes",
    "ppmc": "bayes",
    "fit_indices": "bayes",
    "factor_scores": "bayes",
    # loyalty
    "fit_loyalty": "loyalty",
    "build_loyalty_model": "loyalty",
    "default_loyalty_priors": "loyalty",
    "driver_weights": "loyalty",
    "outcome_effects": "loyalty",
    "invest": "loyalty",
    "invest_where": "loyalty",
    "balance_effects": "loyalty",
    "satisfied_not_loyal": "loyalty",
    "sector_contrasts": "loyalty",
    "compare_fits": "loyalty",
    "response_surface": "loyalty",
    "congruence": "loyalty",
    "plot_surface": "loyalty",
    "promise_gap": "loyalty",
    "diminishing_returns": "loyalty",
    "plot_driver_weights": "loyalty",
    "plot_balance": "loyalty",
    "plot_outcome_curves": "loyalty",
    # retention: behaviour after the survey
    "fit_retention": "retention",
    "build_retention_model": "retention",
    "retention_effects": "retention",
    "survival_curves": "retention",
    "expected_lifetime": "retention",
    "plot_survival_curves": "retention",
    # power
    "power_analysis": "power",
    "power_summary": "power",
    "read_power_records": "power",
    "plot_power": "power",
    "fit_many": "power",
    "Scenario": "power",
    "loyalty_power_scenario": "power",
    "model_power_scenario": "power",
    "Target": "power",
    "weights_differ": "power",
    "parameter_nonzero": "power",
    "sectors_differ": "power",
    # design: the questionnaire and the sample a study needs
    "questionnaire": "design",
    "Questionnaire": "design",
    "item_bank": "design",
    "sample_size": "design",
    "SamplePlan": "design",
    "write_design": "design",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name in {"studies", "defaults"}:
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'loyaltymodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ArgumentError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "LoyaltyModelsError",
    "SemWarning",
    "SpecError",
    *_LAZY,
]
