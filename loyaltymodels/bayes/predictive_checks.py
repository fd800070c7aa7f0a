"""Posterior predictive model checking of Bayesian SEMs: the posterior predictive p-value.

For every posterior draw a data set of the observed size is replicated from the model-implied
normal distribution, and a discrepancy (by default the ML chi-square of
:mod:`loyaltymodels.bayes.global_fit`) of the observed and the replicated data is compared. The
chi-square kernels and per-draw implied moments are shared with the Bayesian fit indices and are
imported from :mod:`loyaltymodels.bayes.global_fit` rather than duplicated.

In R: ``fitMeasures(fit, "ppp")``, ``ppmc(fit)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from ..algebra.matrices import implied_moments, ram_layout
from ..algebra.moments import saturated_moments
from ..algebra.normal import mvn_logpdf
from ..errors import ArgumentError, DataError
from ..spec.model import ModelSpec
from .draws import ObservedData

# shared with the fit indices: one chi-square kernel, one input check, one saturated-moment pass
from .global_fit import _group_moments, _inputs, chisq_draws, ml_discrepancy

__all__ = ["ppmc", "replicate_moments"]


# -- replications ----------------------------------------------------------------------------------
def replicate_moments(
    sigma: np.ndarray, mu: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
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


def _replicated_chisq(spec: ModelSpec, values: np.ndarray, obs: ObservedData, rng: np.random.Generator) -> np.ndarray:
    layout = ram_layout(spec)
    out = np.zeros(values.shape[0])
    for g, (y, _cov, mean, _) in _group_moments(spec, obs).items():
        sigma, mu = implied_moments(layout, values, g)
        if not spec.meanstructure:
            mu = np.broadcast_to(mean, mu.shape)
        if obs.complete:
            cov_r, mean_r = replicate_moments(sigma, mu, len(y), rng)
            # without a mean structure the replicated data's own means are the saturated ones
            out += ml_discrepancy(
                cov_r, mean_r if spec.meanstructure else None, sigma, mu if spec.meanstructure else None, len(y)
            )
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


# -- posterior predictive p-value -------------------------------------------------------------------
def ppmc(
    post: xr.DataTree,
    discrepancy: str | Callable = "chisq",
    *,
    seed: int | None = None,
    data: pd.DataFrame | None = None,
) -> pd.Series:
    """Posterior predictive model check of the chi-square discrepancy (blavaan's ``ppp``).

    For every draw ``theta_i``: simulate a data set of the observed size (per group, same missing
    cells) from ``N(mu(theta_i), Sigma(theta_i))``, and compute the chi-square discrepancy
    (:mod:`loyaltymodels.bayes.global_fit`) of the observed and of the replicated data against the
    same implied moments. The posterior predictive p-value is the share of draws where the
    replicated discrepancy is at least the observed one (Gelman, Meng & Stern 1996; Scheines,
    Hoijtink & Boomsma 1999). Near 0.5: the data look like the model's; near 0: misfit.

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
    >>> from loyaltymodels.spec.layout import parameter_rows
    >>> from loyaltymodels.spec.provenance import spec_attrs
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
            raise ArgumentError(f"discrepancy={discrepancy!r} is unknown; use 'chisq' or a function")
        d_obs = chisq_draws(spec, values, obs)
        d_rep = _replicated_chisq(spec, values, obs, rng)
    else:
        d_obs, d_rep = _custom_discrepancy(discrepancy, spec, values, obs, rng)
    out = pd.Series(
        {
            "ppp": float(np.mean(d_rep >= d_obs)),
            "discrepancy_obs": float(np.mean(d_obs)),
            "obs_lower": float(np.quantile(d_obs, 0.025)),
            "obs_upper": float(np.quantile(d_obs, 0.975)),
            "discrepancy_rep": float(np.mean(d_rep)),
            "draws": int(d_obs.size),
        },
        name="ppmc",
    )
    out.attrs["draws"] = pd.DataFrame({"obs": d_obs, "rep": d_rep})
    return out


def _custom_discrepancy(
    fun: Callable, spec: ModelSpec, values: np.ndarray, obs: ObservedData, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if not obs.complete:
        raise DataError("a custom discrepancy needs complete data (drop incomplete rows)")
    layout = ram_layout(spec)
    d_obs, d_rep = np.zeros(values.shape[0]), np.zeros(values.shape[0])
    for g, (y, cov, mean, _) in _group_moments(spec, obs).items():
        sigma, mu = implied_moments(layout, values, g)
        if not spec.meanstructure:
            mu = np.broadcast_to(mean, mu.shape)
        cov_r, mean_r = replicate_moments(sigma, mu, len(y), rng)
        d = values.shape[0]
        d_obs += np.asarray(
            fun(np.broadcast_to(cov, sigma.shape), np.broadcast_to(mean, (d, len(mean))), sigma, mu, len(y)),
            dtype=float,
        )
        d_rep += np.asarray(fun(cov_r, mean_r, sigma, mu, len(y)), dtype=float)
    return d_obs, d_rep
