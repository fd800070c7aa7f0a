"""Global fit of Bayesian SEMs: posterior predictive p-value and Bayesian fit indices.

Both rest on the ML chi-square discrepancy evaluated at every posterior draw,

    chisq_i = 2 [logL_sat(Y) - logL(Y | theta_i)] = sum_g N_g F_ML(S_g, ybar_g; Sigma_gi, mu_gi),
    F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p + (ybar - mu)' Sigma^-1 (ybar - mu),

with ``S`` the sample covariance divided by N (lavaan's ML; the mean term only with a mean
structure). With missing values the saturated log-likelihood comes from the EM algorithm and the
model's from the casewise (FIML) density, as blavaan does through lavaan.

In R: ``fitMeasures(fit, "ppp")``, ``ppmc(fit)``, ``blavFitIndices(fit, baseline.model = null)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from .draws import (ObservedData, implied_draws, model_spec, mvn_logpdf, observed_data, row_draws,
                    saturated_moments)
from .errors import DataError
from .matrices import ram_layout
from .spec import ModelSpec

__all__ = ["bayes_chi_fit", "chisq_draws", "effective_parameters", "fit_indices", "independence_chisq",
           "ml_discrepancy", "ppmc", "replicate_moments"]


# -- kernels ---------------------------------------------------------------------------------------
def ml_discrepancy(cov: np.ndarray, mean: np.ndarray | None, sigma: np.ndarray, mu: np.ndarray | None,
                   n: int) -> np.ndarray:
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
    f = (logdet[ok] + np.einsum("dij,dji->d", cov[ok], inv) - np.linalg.slogdet(cov[ok])[1] - p)
    if mean is not None and mu is not None:
        r = np.broadcast_to(np.asarray(mean, dtype=float), np.shape(mu))[ok] - np.asarray(mu)[ok]
        f = f + np.einsum("di,dij,dj->d", r, inv, r)
    out[ok] = n * f
    return out


def replicate_moments(sigma: np.ndarray, mu: np.ndarray, n: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariance (divisor n) and mean of a replicated data set of ``n`` complete rows from
    every draw's ``N(mu, sigma)``, drawn from their exact distributions instead of simulating rows:
    ``n S ~ Wishart(n - 1, Sigma)`` (Bartlett decomposition) independent of
    ``ybar ~ N(mu, Sigma / n)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sigma = np.tile(np.array([[2.0, 0.5], [0.5, 1.0]]), (20000, 1, 1))
    >>> cov, mean = replicate_moments(sigma, np.zeros((20000, 2)), 50, rng)
    >>> np.round(cov.mean(axis=0) * 50 / 49, 2)     # E[S] = (n - 1) / n Sigma
    array([[2. , 0.5],
           [0.5, 1. ]])
    """
    d, p = mu.shape
    chol = np.linalg.cholesky(sigma)
    a = np.tril(rng.standard_normal((d, p, p)), -1)
    dof = n - 1 - np.arange(p)  # chi-square degrees of freedom of the Bartlett diagonal
    a[:, np.arange(p), np.arange(p)] = np.sqrt(rng.chisquare(dof, size=(d, p)))
    la = chol @ a
    cov = la @ np.swapaxes(la, 1, 2) / n
    mean = mu + np.einsum("dij,dj->di", chol, rng.standard_normal((d, p))) / np.sqrt(n)
    return cov, mean


def bayes_chi_fit(chisq: np.ndarray, pD: float, *, p: int, n: int, nvar: int, ngroups: int = 1,
                  chisq_null: np.ndarray | float | None = None,
                  pD_null: float | None = None) -> dict[str, np.ndarray]:
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
        raise ValueError(f"pD ({pD:.1f}) is not below the number of sample moments ({p}): the fit "
                         "indices are undefined (a saturated or over-parameterised model)")
    nonc = np.clip(chisq - p, 0, None)
    gamma = nvar / (nvar + 2 * nonc / n)
    out = {"BRMSEA": np.sqrt(nonc / (df * n)) * np.sqrt(ngroups), "BGammaHat": gamma,
           "adjBGammaHat": 1 - p / df * (1 - gamma), "BMc": np.exp(-0.5 * nonc / n)}
    if chisq_null is not None:
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
        sigma, mu = implied_draws(layout, values, g)
        if not spec.meanstructure:
            mu = np.broadcast_to(mean, mu.shape)
        if obs.complete:
            out += ml_discrepancy(cov, mean, sigma, mu, len(y))
        else:
            out += 2 * (ll_sat - mvn_logpdf(y, sigma, mu).sum(axis=1))
    return out


def _replicated_chisq(spec: ModelSpec, values: np.ndarray, obs: ObservedData,
                      rng: np.random.Generator) -> np.ndarray:
    layout = ram_layout(spec)
    out = np.zeros(values.shape[0])
    for g, (y, cov, mean, _) in _group_moments(spec, obs).items():
        sigma, mu = implied_draws(layout, values, g)
        if not spec.meanstructure:
            mu = np.broadcast_to(mean, mu.shape)
        if obs.complete:
            cov_r, mean_r = replicate_moments(sigma, mu, len(y), rng)
            # without a mean structure the replicated data's own means are the saturated ones
            out += ml_discrepancy(cov_r, mean_r if spec.meanstructure else None, sigma,
                                  mu if spec.meanstructure else None, len(y))
            continue
        # missing values: simulate rows, blank the same cells as in the data, refit the saturated
        # model by EM for each replicated data set (slow: one EM run per draw)
        mask = np.isnan(y)
        for d in range(values.shape[0]):
            y_rep = rng.multivariate_normal(mu[d], sigma[d], size=len(y))
            y_rep[mask] = np.nan
            _, mean_r, ll_sat = saturated_moments(y_rep)
            m = mu[d] if spec.meanstructure else mean_r
            out[d] += 2 * (ll_sat - mvn_logpdf(y_rep, sigma[d][None], m[None]).sum())
    return out


def _inputs(post: xr.DataTree, data: pd.DataFrame | None) -> tuple[ModelSpec, np.ndarray, ObservedData]:
    spec = model_spec(post)
    if spec.ordinal:
        raise DataError(f"ordinal items {spec.ordinal}: the chi-square discrepancy here assumes "
                        "continuous (normal) items")
    if spec.covariates and spec.options.get("fixed_x", True):
        raise DataError(f"covariates {spec.covariates} are fixed-x: the predictive checks would "
                        "need replications conditional on them; refit with fixed_x=False")
    return spec, row_draws(post, spec), observed_data(post, spec, data)


def ppmc(post: xr.DataTree, discrepancy: str | Callable = "chisq", *, seed: int | None = None,
         data: pd.DataFrame | None = None) -> pd.Series:
    """Posterior predictive model check of the chi-square discrepancy (blavaan's ``ppp``).

    For every draw ``theta_i``: simulate a data set of the observed size (per group, same missing
    cells) from ``N(mu(theta_i), Sigma(theta_i))``, and compute the chi-square discrepancy (module
    docstring) of the observed and of the replicated data against the same implied moments. The
    posterior predictive p-value is the share of draws where the replicated discrepancy is at least
    the observed one (Gelman, Meng & Stern 1996; Scheines, Hoijtink & Boomsma 1999). Near 0.5: the
    data look like the model's; near 0: misfit.

    Parameters
    ----------
    post : DataTree
        Posterior with ``param``, ``observed_data`` (or ``data``) and the spec in its attrs.
    discrepancy : "chisq" or callable
        Or a function ``f(cov, mean, implied_cov, implied_mean, n) -> (D,)`` of sample moments
        ``(D, p, p)``, ``(D, p)`` and implied moments of the same shapes (summed over groups);
        complete data only.
    seed : int, optional
        Seed of the replications (same seed, same p-value).
    data : DataFrame, optional
        The data, when the posterior lacks ``observed_data``.

    Returns
    -------
    Series
        ``ppp``, ``discrepancy_obs`` (posterior mean), ``obs_lower``/``obs_upper`` (its 2.5% and
        97.5% quantiles, blavaan's ``cspi``), ``discrepancy_rep`` (mean) and ``draws``;
        ``attrs["draws"]`` holds the per-draw observed and replicated values.

    Examples
    --------
    A "posterior" of 500 draws all at the population values of a simulated one-factor model; the
    replicated chi-square is then the likelihood-ratio statistic on 9 moments (mean about 9):

    >>> import loyaltymodels as lm
    >>> from loyaltymodels.layout import parameter_rows
    >>> from loyaltymodels.provenance import spec_attrs
    >>> data, truth = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3", n=400, seed=1)
    >>> spec = lm.parse_model("f =~ x1 + x2 + x3", meanstructure=True)
    >>> values = truth.set_index(["lhs", "op", "rhs"])["value_marker"]
    >>> rows = parameter_rows(spec.table)
    >>> draw = [values.get((l, o, r), 0.0) for l, o, r in zip(rows.lhs, rows.op, rows.rhs)]
    >>> post = xr.DataTree.from_dict({
    ...     "posterior": xr.Dataset({"param": (("chain", "draw", "parameter"), np.tile(draw, (1, 500, 1)))},
    ...                             coords={"parameter": rows["name"].tolist()}),
    ...     "observed_data": xr.Dataset({"y": (("respondent", "item"), data.to_numpy())},
    ...                                 coords={"item": list(data.columns)})})
    >>> post.attrs.update(spec_attrs(spec))
    >>> out = ppmc(post, seed=2)
    >>> bool(0.05 < out["ppp"] < 0.95), round(out["discrepancy_rep"])
    (True, 9)
    """
    spec, values, obs = _inputs(post, data)
    rng = np.random.default_rng(seed)
    if isinstance(discrepancy, str):
        if discrepancy != "chisq":
            raise ValueError(f"discrepancy {discrepancy!r} is unknown; use 'chisq' or a function")
        d_obs = chisq_draws(spec, values, obs)
        d_rep = _replicated_chisq(spec, values, obs, rng)
    else:
        d_obs, d_rep = _custom_discrepancy(discrepancy, spec, values, obs, rng)
    out = pd.Series({"ppp": float(np.mean(d_rep >= d_obs)), "discrepancy_obs": float(np.mean(d_obs)),
                     "obs_lower": float(np.quantile(d_obs, 0.025)),
                     "obs_upper": float(np.quantile(d_obs, 0.975)),
                     "discrepancy_rep": float(np.mean(d_rep)), "draws": int(d_obs.size)}, name="ppmc")
    out.attrs["draws"] = pd.DataFrame({"obs": d_obs, "rep": d_rep})
    return out


def _custom_discrepancy(fun: Callable, spec: ModelSpec, values: np.ndarray, obs: ObservedData,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if not obs.complete:
        raise DataError("a custom discrepancy needs complete data (drop incomplete rows)")
    layout = ram_layout(spec)
    d_obs, d_rep = np.zeros(values.shape[0]), np.zeros(values.shape[0])
    for g, (y, cov, mean, _) in _group_moments(spec, obs).items():
        sigma, mu = implied_draws(layout, values, g)
        if not spec.meanstructure:
            mu = np.broadcast_to(mean, mu.shape)
        cov_r, mean_r = replicate_moments(sigma, mu, len(y), rng)
        d = values.shape[0]
        d_obs += np.asarray(fun(np.broadcast_to(cov, sigma.shape), np.broadcast_to(mean, (d, len(mean))),
                                sigma, mu, len(y)), dtype=float)
        d_rep += np.asarray(fun(cov_r, mean_r, sigma, mu, len(y)), dtype=float)
    return d_obs, d_rep


# -- fit indices -----------------------------------------------------------------------------------
def fit_indices(post: xr.DataTree, *, baseline: xr.DataTree | None = None, pD: str = "loo",
                ci: float = 0.9, data: pd.DataFrame | None = None,
                per_draw: bool = False) -> pd.DataFrame:
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
        note = (f"independence model at its ML solution (chisq {chisq0_ml:.3f}, df "
                f"{spec.ndat - npar0})")
    else:
        spec0, values0, obs0 = _inputs(baseline, data)
        if values0.shape[0] != values.shape[0]:
            raise ValueError(f"the baseline posterior has {values0.shape[0]} draws and the model "
                             f"{values.shape[0]}: draw as many from both (draws are paired)")
        if set(spec0.observed) != set(spec.observed) or obs0.n != obs.n:
            raise DataError("the baseline model must be fitted to the same items and respondents")
        kwargs = dict(chisq_null=chisq_draws(spec0, values0, obs0),
                      pD_null=effective_parameters(baseline, pD, spec=spec0, values=values0, obs=obs0))
        note = "baseline posterior (draws paired in order)"
    indices = bayes_chi_fit(chisq, p_d, p=spec.ndat, n=obs.n, nvar=len(spec.observed),
                            ngroups=spec.ngroups, **kwargs)
    draws = pd.DataFrame(indices)
    attrs = dict(pD=p_d, df=spec.ndat - p_d, p=spec.ndat, baseline=note,
                 pD_null=kwargs.get("pD_null"), pD_method=pD)
    if per_draw:
        draws.attrs.update(attrs, chisq=chisq)
        return draws
    from arviz_stats.base import array_stats  # noqa: PLC0415

    rows = {}
    for name, x in draws.items():
        lo, hi = array_stats.hdi(x.to_numpy(), ci)
        rows[name] = dict(mean=x.mean(), median=x.median(), sd=x.std(ddof=1), ci_lower=lo, ci_upper=hi)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs.update(attrs)
    return table


def effective_parameters(post: xr.DataTree, method: str = "loo", *, spec: ModelSpec | None = None,
                         values: np.ndarray | None = None, obs: ObservedData | None = None) -> float:
    """pD: ``p_loo`` (PSIS-LOO), ``p_waic``, or DIC's ``2 [logL(theta_bar) - mean_i logL(theta_i)]``
    (Spiegelhalter et al. 2002; blavaan's ``p_dic``)."""
    from . import diagnostics  # noqa: PLC0415 (diagnostics imports nothing from here)

    method = method.lower()
    if method == "loo":
        return float(diagnostics.loo(post, pointwise=False).p)
    if method == "waic":
        return float(diagnostics.waic(post).p)
    if method != "dic":
        raise ValueError(f"pD={method!r}: choose 'loo', 'waic' or 'dic'")
    if spec is None:
        spec, values, obs = _inputs(post, None)
    layout = ram_layout(spec)
    mean_values = np.nanmean(values, axis=0)[None, :]
    ll_draws, ll_mean = np.zeros(values.shape[0]), 0.0
    for g in range(1, spec.ngroups + 1):
        y = obs.y[g]
        for v, acc in ((values, "draws"), (mean_values, "mean")):
            sigma, mu = implied_draws(layout, v, g)
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
