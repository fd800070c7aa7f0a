"""Bayesian SEM from the same specification: PyMC model, nutpie sampling, ArviZ ``DataTree`` out."""

from .diagnostics import add_log_likelihood, check_convergence, compare, loo, waic
from .fit import bayes_summary, build_model, compile_model, fit_bayes, fit_compiled, load_posterior
from .global_fit import fit_indices
from .predictive_checks import ppmc
from .priors import default_priors
from .scores import factor_scores

__all__ = [
    "add_log_likelihood",
    "bayes_summary",
    "build_model",
    "check_convergence",
    "compare",
    "compile_model",
    "default_priors",
    "factor_scores",
    "fit_bayes",
    "fit_compiled",
    "fit_indices",
    "load_posterior",
    "loo",
    "ppmc",
    "waic",
]
