"""Global fit of Bayesian SEMs: Bayesian fit indices and the chi-square they share with the
posterior predictive check (:mod:`loyaltymodels.bayes.predictive_checks`).

Both rest on the ML chi-square discrepancy evaluated at every posterior draw,

    chisq_i = 2 [logL_sat(Y) - logL(Y | theta_i)] = sum_g N_g F_ML(S_g, ybar_g; Sigma_gi, mu_gi),
    F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p + (ybar - mu)' Sigma^-1 (ybar - mu),

with ``S`` the sample covariance divided by N (lavaan's ML; the mean term only with a mean
structure). With missing values the saturated log-likelihood comes from the EM algorithm and the
model's from the casewise (FIML) density, as blavaan does through lavaan.

In R: ``blavFitIndices(fit, baseline.model = null)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..algebra.matrices import implied_moments, ram_layout
from ..algebra.moments import saturated_moments
from ..algebra.normal import mvn_logpdf
from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import ArgumentError, DataError, SpecError
from ..spec.model import ModelSpec
from .draws import ObservedData, model_spec, observed_data, row_draws

__all__ = [
    "bayes_chi_fit",
    "chisq_draws",
    "effective_parameters",
    "fit_indices",
    "independence_chisq",
    "ml_discrepancy",
]


# -- kernels ---------------------------------------------------------------------------------------
def ml_discrepancy(
    cov: np.ndarray, mean: np.ndarray | None, sigma: np.ndarray, mu: np.ndarray | None, n: int
) -> np.ndarray:
    """``n F_ML`` of sample moments ``cov`` ``([D,] p, p)``, ``mean`` against implied ``sigma``
    ``(D, p, p)``, ``mu`` (``mean`` or ``mu`` None: no mean term); ``inf`` where ``sigma`` is not
    positive definite.

    Examples
    --------
    >>> s = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> float(ml_discrepancy(s, None, s[None], None, 100)[0])  # the saturated model fits exactly
    0.0
    >>> round(float(ml_discrepancy(s, None, np.diag([2.0, 1.0])[None], None, 100)[0]), 4)  # -n log|R|
    13.3531
    """
    sigma = np.asarray(sigma, dtype=float)
    cov = np.broadcast_to(np.asarray(cov, dtype=float), sigma.shape)
    p = sigma.shape[-1]
    sign, logdet = np.linalg.slogdet(sigma)
    out = np.full(sigma.shape[0], np.inf)
    ok = sign > 0
    inv = np.linalg.inv(sigma[ok])
    f = logdet[ok] + np.einsum("dij,dji->d", cov[ok], inv) - np.linalg.slogdet(cov[ok])[1] - p
    if mean is not None and mu is not None:
        r = np.broadcast_to(np.asarray(mean, dtype=float), np.shape(mu))[ok] - np.asarray(mu)[ok]
        f = f + np.einsum("di,dij,dj->d", r, inv, r)
    out[ok] = n * f
    return out


def bayes_chi_fit(
    chisq: np.ndarray,
    pD: float,
    *,
    p: int,
    n: int,
    nvar: int,
    ngroups: int = 1,
    chisq_null: np.ndarray | float | None = None,
    pD_null: float | None = None,
) -> dict[str, np.ndarray]:
    """Per-draw Bayesian fit indices from per-draw chi-squares (blavaan's ``BayesChiFit``,
    ``rescale = "devM"``).

    With ``p`` the number of sample moments, ``pD`` the effective number of parameters and
    ``nonc_i = max(chisq_i - p, 0)`` (that is ``chisq_i - pD - (p - pD)``, the chi-square minus its
    expected value under the model):

    - BRMSEA = sqrt(nonc_i / ((p - pD) N)) * sqrt(G)
    - BGammaHat = nvar / (nvar + 2 nonc_i / N); adjBGammaHat = 1 - p / (p - pD) (1 - BGammaHat)
    - BMc = exp(-nonc_i / (2 N))
    - with a baseline (null) model: BCFI = 1 - nonc_i / (chisq_null,i - p),
      BTLI = (t0_i - (chisq_i - pD) / (p - pD)) / (t0_i - 1) with t0_i = (chisq_null,i - pD0) / (p - pD0),
      BNFI = [(chisq_null,i - pD0) - (chisq_i - pD)] / (chisq_null,i - pD0).

    Examples
    --------
    >>> out = bayes_chi_fit(np.array([85.3 + 30]), 30.0, p=54, n=301, nvar=9)  # HS at the ML point
    >>> round(float(out["BRMSEA"][0]), 3)                                          # lavaan RMSEA .092
    0.092

    References
    ----------
    Garnier-Villarreal, M., & Jorgensen, T. D. (2020). Adapting fit indices for Bayesian structural
    equation modeling: Comparison to maximum likelihood. Psychological Methods, 25(1), 46-70.
    Hoofs, H., van de Schoot, R., Jansen, N. W. H., & Kant, I. (2018). Evaluating model fit in
    Bayesian confirmatory factor analysis with large samples: simulation study introducing the
    BRMSEA. Educational and Psychological Measurement, 78(4), 537-568.
    """
    chisq = np.asarray(chisq, dtype=float)
    df = p - pD
    if df <= 0:
        raise SpecError(
            f"pD ({pD:.1f}) is not below the number of sample moments ({p}): the fit "
            "indices are undefined (a saturated or over-parameterised model)"
        )
    nonc = np.clip(chisq - p, 0, None)
    gamma = nvar / (nvar + 2 * nonc / n)
    out = {
        "BRMSEA": np.sqrt(nonc / (df * n)) * np.sqrt(ngroups),
        "BGammaHat": gamma,
        "adjBGammaHat": 1 - p / df * (1 - gamma),
        "BMc": np.exp(-0.5 * nonc / n),
    }
    if chisq_null is not None:
        if pD_null is None:
            raise ArgumentError(
                "chisq_null needs pD_null, the baseline model's effective number of parameters: pass both"
            )
        chisq_null = np.broadcast_to(np.asarray(chisq_null, dtype=float), chisq.shape)
        df0 = p - pD_null
        null_part = (chisq_null - pD_null) / df0
        out["BCFI"] = 1 - nonc / (chisq_null - p)
        out["BTLI"] = (null_part - (chisq - pD) / df) / (null_part - 1)
        out["BNFI"] = ((chisq_null - pD_null) - (chisq - pD)) / (chisq_null - pD_null)
    return out


# -- chi-square per draw ---------------------------------------------------------------------------
def _group_moments(spec: ModelSpec, obs: ObservedData) -> dict[int, tuple]:
    """Per group: (y, saturated cov, saturated mean, saturated logL)."""
    return {g: (obs.y[g], *saturated_moments(obs.y[g])) for g in range(1, spec.ngroups + 1)}


def chisq_draws(spec: ModelSpec, values: np.ndarray, obs: ObservedData) -> np.ndarray:
    """The observed data's chi-square discrepancy at every draw of per-row ``values``."""
    layout = ram_layout(spec)
    out = np.zeros(values.shape[0])
    for g, (y, cov, mean, ll_sat) in _group_moments(spec, obs).items():
        sigma, mu = implied_moments(layout, values, g)
        if not spec.meanstructure:
            mu = np.broadcast_to(mean, mu.shape)
        if obs.complete:
            out += ml_discrepancy(cov, mean, sigma, mu, len(y))
        else:
            out += 2 * (ll_sat - mvn_logpdf(y, sigma, mu).sum(axis=1))
    return out


def _inputs(post: xr.DataTree, data: pd.DataFrame | None) -> tuple[ModelSpec, np.ndarray, ObservedData]:
    spec = model_spec(post)
    if spec.ordinal:
        raise DataError(
            f"ordinal items {spec.ordinal}: the chi-square discrepancy here assumes continuous (normal) items"
        )
    if spec.covariates and spec.options.get("fixed_x", True):
        raise DataError(
            f"covariates {spec.covariates} are fixed-x: the predictive checks would "
            "need replications conditional on them; refit with fixed_x=False"
        )
    return spec, row_draws(post, spec), observed_data(post, spec, data)


# -- fit indices -----------------------------------------------------------------------------------
def fit_indices(
    post: xr.DataTree,
    *,
    baseline: xr.DataTree | None = None,
    pD: str = "loo",
    ci: float = CI_POSTERIOR,
    data: pd.DataFrame | None = None,
    per_draw: bool = False,
) -> pd.DataFrame:
    """Bayesian fit indices BRMSEA, BGammaHat, adjBGammaHat, BMc and, against a baseline, BCFI, BTLI,
    BNFI (Garnier-Villarreal & Jorgensen 2020; blavaan's ``blavFitIndices``, ``rescale = "devM"``).

    Each index is computed at every draw from that draw's chi-square discrepancy (module docstring)
    corrected by the effective number of parameters ``pD``; formulas in :func:`bayes_chi_fit`.
    Under vague priors ``pD`` is close to the number of free parameters and the indices' posteriors
    centre near the ML values (BRMSEA near RMSEA, BCFI near CFI, BTLI near TLI).

    Parameters
    ----------
    post : DataTree
        Posterior of the hypothesised model.
    baseline : DataTree, optional
        Posterior of the baseline (independence) model fitted to the same data with as many draws;
        draws are paired in order, as blavaan does. Without it the baseline is the independence
        model (free item variances, and means with a mean structure) at its ML solution: its
        chi-square is taken as a constant, ``chisq0 = chisq0_ML + npar0`` with ``pD0 = npar0``, so
        that ``chisq0 - p = chisq0_ML - df0`` is the null model's ML noncentrality. The independence
        model's posterior is so concentrated relative to its chi-square (hundreds against a few
        units of posterior spread) that this changes BCFI and BTLI by far less than their posterior
        SD.
    pD : {"loo", "waic", "dic"}
        Effective number of parameters: PSIS-LOO's ``p_loo`` (blavaan's default), WAIC's
        ``p_waic``, or DIC's ``2 (logL(theta_bar) - mean logL(theta_i))``.
    ci : float
        Mass of the highest-density intervals (blavaan: ``prob = .90``).
    data : DataFrame, optional
        The data, when the posterior lacks ``observed_data``.
    per_draw : bool
        Return the per-draw indices (one column per index) instead of their summary.

    Returns
    -------
    DataFrame
        One row per index: ``mean`` (blavaan's EAP), ``median``, ``sd``, ``ci_lower``, ``ci_upper``;
        ``attrs`` hold ``pD``, ``df`` (``p - pD``), ``p`` (sample moments), ``baseline`` (what was
        used) and ``pD_null``.

    References
    ----------
    Garnier-Villarreal, M., & Jorgensen, T. D. (2020). Adapting fit indices for Bayesian structural
    equation modeling: Comparison to maximum likelihood. Psychological Methods, 25(1), 46-70.
    """
    spec, values, obs = _inputs(post, data)
    chisq = chisq_draws(spec, values, obs)
    p_d = effective_parameters(post, pD, spec=spec, values=values, obs=obs)
    kwargs: dict = {}
    if baseline is None:
        chisq0_ml, npar0 = independence_chisq(spec, obs)
        kwargs = dict(chisq_null=chisq0_ml + npar0, pD_null=float(npar0))
        note = f"independence model at its ML solution (chisq {chisq0_ml:.3f}, df {spec.ndat - npar0})"
    else:
        spec0, values0, obs0 = _inputs(baseline, data)
        if values0.shape[0] != values.shape[0]:
            raise DataError(
                f"the baseline posterior has {values0.shape[0]} draws and the model "
                f"{values.shape[0]}: draw as many from both (draws are paired)"
            )
        if set(spec0.observed) != set(spec.observed) or obs0.n != obs.n:
            raise DataError("the baseline model must be fitted to the same items and respondents")
        kwargs = dict(
            chisq_null=chisq_draws(spec0, values0, obs0),
            pD_null=effective_parameters(baseline, pD, spec=spec0, values=values0, obs=obs0),
        )
        note = "baseline posterior (draws paired in order)"
    indices = bayes_chi_fit(chisq, p_d, p=spec.ndat, n=obs.n, nvar=len(spec.observed), ngroups=spec.ngroups, **kwargs)
    draws = pd.DataFrame(indices)
    attrs = dict(pD=p_d, df=spec.ndat - p_d, p=spec.ndat, baseline=note, pD_null=kwargs.get("pD_null"), pD_method=pD)
    if per_draw:
        draws.attrs.update(attrs, chisq=chisq)
        return draws
    from arviz_stats.base import array_stats

    rows = {}
    for name, x in draws.items():
        lo, hi = array_stats.hdi(x.to_numpy(), ci)
        rows[name] = dict(mean=x.mean(), median=x.median(), sd=x.std(ddof=1), ci_lower=lo, ci_upper=hi)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs.update(attrs)
    return labelled_interval(table, ci)


def effective_parameters(
    post: xr.DataTree,
    method: str = "loo",
    *,
    spec: ModelSpec | None = None,
    values: np.ndarray | None = None,
    obs: ObservedData | None = None,
) -> float:
    """pD: ``p_loo`` (PSIS-LOO), ``p_waic``, or DIC's ``2 [logL(theta_bar) - mean_i logL(theta_i)]``
    (Spiegelhalter et al. 2002; blavaan's ``p_dic``)."""
    from . import diagnostics

    method = method.lower()
    if method == "loo":
        return float(diagnostics.loo(post, pointwise=False).p)
    if method == "waic":
        return float(diagnostics.waic(post).p)
    if method != "dic":
        raise ArgumentError(f"pD={method!r}: choose 'loo', 'waic' or 'dic'")
    if spec is None or values is None or obs is None:
        spec, values, obs = _inputs(post, None)
    layout = ram_layout(spec)
    mean_values = np.nanmean(values, axis=0)[None, :]
    ll_draws, ll_mean = np.zeros(values.shape[0]), 0.0
    for g in range(1, spec.ngroups + 1):
        y = obs.y[g]
        for v, acc in ((values, "draws"), (mean_values, "mean")):
            sigma, mu = implied_moments(layout, v, g)
            if not spec.meanstructure:
                mu = np.broadcast_to(saturated_moments(y)[1], mu.shape)
            ll = mvn_logpdf(y, sigma, mu).sum(axis=1)
            if acc == "draws":
                ll_draws += ll
            else:
                ll_mean += float(ll[0])
    return 2 * (ll_mean - float(ll_draws.mean()))


def independence_chisq(spec: ModelSpec, obs: ObservedData) -> tuple[float, int]:
    """ML chi-square of the independence (baseline) model and its number of free parameters:
    items uncorrelated, variances (and means, with a mean structure) free in every group, as
    lavaan's baseline model. Complete data: ``sum_g N_g (sum_j log s_jj - log|S_g|)``; with
    missing values ``2 [logL_sat - logL_0]``, where the independence model's ML estimates are each
    item's observed-case mean and variance."""
    chisq = 0.0
    for g in range(1, spec.ngroups + 1):
        y = obs.y[g]
        cov, _, ll_sat = saturated_moments(y)
        if obs.complete:
            chisq += len(y) * (np.log(np.diag(cov)).sum() - np.linalg.slogdet(cov)[1])
        else:
            ll0 = 0.0
            for col in y.T:
                col = col[~np.isnan(col)]
                ll0 += -0.5 * len(col) * (np.log(2 * np.pi * col.var()) + 1)
            chisq += 2 * (ll_sat - ll0)
    p_items = len(spec.observed)
    return float(chisq), spec.ngroups * p_items * (2 if spec.meanstructure else 1)
