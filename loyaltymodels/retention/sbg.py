"""The shifted-beta-geometric option of :func:`~loyaltymodels.retention.fit_retention` (``churn="sbg"``).

Contractual churn without period-varying covariates (Fader & Hardie 2007): each customer renews
each period with her own probability, drawn from a beta distribution, so the population's churn
rate falls over tenure by selection alone (the most likely to leave leave first). The survey's
latents shift the beta's parameters as pymc-marketing's ``ShiftedBetaGeoModel`` does:

    alpha_i = alpha_s exp(-c_alpha . X_i),  beta_i = beta_s exp(-c_beta . X_i)

(``s`` the sector; a negative ``c_beta`` raises beta and lowers churn). The distribution is
pymc-marketing's ``ShiftedBetaGeometric`` (its log probability and log CDF, not rewritten). What is
added here: customers are surveyed ``tau_i`` periods after they joined, so their lifetime T (in
periods since joining) is known to exceed ``tau_i`` (left truncation), and followed ``t_i`` periods:

    left in period t_i:  log P(T = tau_i + t_i) - log S(tau_i)
    still a customer:    log S(tau_i + t_i) - log S(tau_i)

with S(0) = 1. Without ``tenure`` every customer is taken as surveyed when she joined (tau = 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .design import RetentionDesign

#: Posterior variables of the sBG option (convergence is checked on these).
SBG_VARIABLES = ("sbg_alpha", "sbg_beta", "sbg_alpha_coef", "sbg_beta_coef")


def sbg_data(design: RetentionDesign) -> dict[str, np.ndarray]:
    """Per customer followed: row, sector, tenure at the survey, periods observed, left (0/1)."""
    rows = design.customers
    t = np.bincount(design.pp_row, minlength=design.n)[rows]
    left = np.bincount(design.pp_row, weights=design.pp_event, minlength=design.n)[rows]
    first = design.pp_period == 0
    tenure = np.zeros(design.n)
    tenure[design.pp_row[first]] = design.pp_tenure[first]
    return {
        "sbg_row": rows,
        "sbg_sector": design.sector_idx[rows],
        "sbg_tenure": tenure[rows],
        "sbg_time": t.astype(float),
        "sbg_left": left.astype(float),
    }


def sbg_likelihood(design: RetentionDesign, scores: Any, data: dict[str, Any]) -> None:
    """Add the sBG churn likelihood of the customers (their latent ``scores``) to the current model."""
    import pymc as pm
    import pytensor.tensor as pt
    from pymc_marketing.clv.distributions import ShiftedBetaGeometric

    a_s = pm.LogNormal("sbg_alpha", 0.0, 1.0, dims="sector")
    b_s = pm.LogNormal("sbg_beta", np.log(5.0), 1.0, dims="sector")
    c_a = pm.Normal("sbg_alpha_coef", 0.0, 0.5, dims="factor_")
    c_b = pm.Normal("sbg_beta_coef", 0.0, 0.5, dims="factor_")
    x, s = scores[data["sbg_row"]], data["sbg_sector"]
    dist = ShiftedBetaGeometric.dist(a_s[s] * pt.exp(-(x @ c_a)), b_s[s] * pt.exp(-(x @ c_b)))
    tau, end, left = data["sbg_tenure"], data["sbg_tenure"] + data["sbg_time"], data["sbg_left"]

    def log_survival(v: Any) -> Any:
        # log S(v) = log(1 - F(v)) from the distribution's log CDF; S(0) = 1 (evaluated at 1 and
        # switched, so the unused branch never holds -inf and the gradient stays finite)
        safe = pt.maximum(v, 1.0)
        return pt.switch(pt.ge(v, 1.0), pt.log1mexp(pm.logcdf(dist, safe)), 0.0)

    observed = pt.switch(pt.eq(left, 1.0), pm.logp(dist, end), log_survival(end))
    pm.Potential("sbg_churn", pt.sum(observed - log_survival(tau)))


def sbg_survival(alpha: np.ndarray, beta: np.ndarray, tenure: np.ndarray | float, horizon: int) -> np.ndarray:
    """S(tau + t) / S(tau) for t = 0..horizon, from beta-function ratios (SciPy), broadcast over
    the leading axes of ``alpha`` and ``beta``."""
    from scipy.special import betaln

    t = np.arange(horizon + 1)
    a, b = np.asarray(alpha)[..., None], np.asarray(beta)[..., None]
    tau = np.asarray(tenure, float)[..., None]
    return np.exp(betaln(a, b + tau + t) - betaln(a, b + tau))
