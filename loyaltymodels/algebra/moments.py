"""Sample moments of data, complete or with missing values: what every estimator needs from the data
before any model is involved.

The per-group sample moments (1/N, lavaan's convention) with the missing-data patterns that
full-information ML sums over (:mod:`loyaltymodels.algebra.patterns`), and the EM estimate of the
saturated (H1) mean and covariance. Computed once per data set (or bootstrap resample) and shared by
the ML objective, its fit measures, the Bayesian likelihoods and the Bayesian fit indices.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceWarning
from .normal import LOG2PI, fiml_logl, mvn_logpdf
from .patterns import Pattern, missing_patterns, sample_moments

__all__ = [
    "LOG2PI",
    "EM_MAXITER",
    "EM_TOL",
    "GroupStats",
    "em_saturated",
    "group_stats",
    "moment_stats",
    "saturated_moments",
]

#: EM stops when no mean or covariance moves by more than ``EM_TOL * (1 + max |cov|)`` in one
#: step: a relative rule, so rescaling the items does not change when it stops. EM creeps near the
#: optimum, so the rule is on the parameters, not on the log-likelihood.
EM_TOL = 1e-11
EM_MAXITER = 10_000


@dataclass(frozen=True)
class GroupStats:
    """Sample moments of one group: complete-data ML uses ``cov`` and ``mean`` (1/N); FIML uses
    the ``patterns``, and ``cov``/``mean`` are then the EM (saturated, H1) estimates."""

    n: int
    cov: np.ndarray
    mean: np.ndarray
    logl_h1: float
    patterns: tuple[Pattern, ...] | None = None


def em_saturated(
    patterns: tuple[Pattern, ...], p: int, tol: float = EM_TOL, maxiter: int = EM_MAXITER
) -> tuple[np.ndarray, np.ndarray]:
    """ML mean and covariance of incomplete normal data by EM (Little & Rubin 2002, sec. 11.2),
    as lavaan's H1 under ``missing = "ml"``; a :class:`ConvergenceWarning` if it has not converged.

    Examples
    --------
    >>> y = np.random.default_rng(1).normal(size=(200, 3))
    >>> y[::4, 0] = np.nan
    >>> mean, cov = em_saturated(missing_patterns(y), 3)
    >>> bool(np.isclose(mean[1], y[:, 1].mean()))  # a complete item keeps its sample mean
    True
    """
    n = sum(pat.size for pat in patterns)
    ones = [np.ones(pat.n) if pat.weights is None else pat.weights for pat in patterns]  # sampling weights
    sums, counts, sq = np.zeros(p), np.zeros(p), np.zeros(p)
    for pat, w in zip(patterns, ones):  # start from the available-case moments
        sums[pat.idx] += w @ pat.y
        counts[pat.idx] += pat.size
    mu = sums / counts
    for pat, w in zip(patterns, ones):
        sq[pat.idx] += w @ ((pat.y - mu[pat.idx]) ** 2)
    sigma = np.diag(sq / counts)
    for _ in range(maxiter):
        t1, t2 = np.zeros(p), np.zeros((p, p))
        for pat, w in zip(patterns, ones):
            o = pat.idx
            m = np.setdiff1d(np.arange(p), o)
            full = np.empty((pat.n, p))
            full[:, o] = pat.y
            extra = np.zeros((p, p))
            if len(m):
                b = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T  # Sigma_mo Sigma_oo^-1
                full[:, m] = mu[m] + (pat.y - mu[o]) @ b.T
                extra[np.ix_(m, m)] = pat.size * (sigma[np.ix_(m, m)] - b @ sigma[np.ix_(o, m)])
            t1 += w @ full
            t2 += (full * w[:, None]).T @ full + extra
        new_mu = t1 / n
        new_sigma = t2 / n - np.outer(new_mu, new_mu)
        change = max(np.abs(new_mu - mu).max(), np.abs(new_sigma - sigma).max())
        mu, sigma = new_mu, new_sigma
        if change < tol * (1 + np.abs(sigma).max()):
            return mu, sigma
    warnings.warn(
        f"the EM estimate of the saturated model stopped after {maxiter} iterations without "
        f"converging (last change {change:.2g}); items with very few joint observations?",
        ConvergenceWarning,
        stacklevel=2,
    )
    return mu, sigma


def saturated_moments(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """ML estimates of the unrestricted (saturated) model ``(cov, mean, loglik)`` of rows ``y``.

    Complete rows: the sample moments (divided by N). With missing values: :func:`em_saturated`.

    Examples
    --------
    >>> y = np.random.default_rng(1).normal(size=(200, 3))
    >>> cov, mean, ll = saturated_moments(y)
    >>> bool(np.allclose(cov, np.cov(y.T, bias=True)))
    True
    """
    y = np.asarray(y, dtype=float)
    if not np.isnan(y).any():
        cov, mean = sample_moments(y)
        return cov, mean, float(mvn_logpdf(y, cov, mean).sum())
    pats = missing_patterns(y)
    mean, cov = em_saturated(pats, y.shape[1])
    return cov, mean, fiml_logl(pats, mean, cov)


def moment_stats(n: int, cov: np.ndarray, mean: np.ndarray) -> GroupStats:
    """:class:`GroupStats` of complete data known by their moments (covariance divided by N),
    with the saturated log-likelihood ``-N/2 (log|S| + p + p log 2 pi)``."""
    cov, mean = np.asarray(cov, dtype=float), np.asarray(mean, dtype=float)
    p = cov.shape[0]
    sign, logdet = np.linalg.slogdet(cov)
    return GroupStats(int(n), cov, mean, -n / 2 * (logdet + p + p * LOG2PI) if sign > 0 else -np.inf)


def group_stats(x: np.ndarray, fiml: bool = False, weights: np.ndarray | None = None) -> GroupStats:
    """Sample moments of one group's data matrix (rows with at least one observed value); with
    sampling ``weights`` (summing to the number of rows) the moments and the missing-data
    patterns are weighted."""
    n, p = x.shape
    if weights is not None and fiml:
        pats = missing_patterns(x, weights=weights)
        mean, cov = em_saturated(pats, p)
        return GroupStats(n, cov, mean, fiml_logl(pats, mean, cov), pats)
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        mean = w @ x / w.sum()
        dev = x - mean
        return moment_stats(n, (dev * w[:, None]).T @ dev / w.sum(), mean)
    if not fiml or not np.isnan(x).any():
        st = moment_stats(n, *sample_moments(x))
        if fiml:  # one pattern: every variable observed
            st = GroupStats(
                n, st.cov, st.mean, st.logl_h1, (Pattern(np.arange(p), np.arange(n), n, st.mean, st.cov, x),)
            )
        return st
    pats = missing_patterns(x)
    mean, cov = em_saturated(pats, p)
    return GroupStats(n, cov, mean, fiml_logl(pats, mean, cov), pats)
