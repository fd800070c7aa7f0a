"""Sample moments of data, complete or with missing values: what every estimator needs from the data
before any model is involved.

The per-group sample moments (1/N, lavaan's convention), the missing-data patterns that
full-information ML and the Bayesian sufficient statistics sum over, and the EM estimate of the
saturated (H1) mean and covariance. Computed once per data set (or bootstrap resample) and shared by
the ML objective, its fit measures, the Bayesian likelihoods and the Bayesian fit indices.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceWarning
from .normal import LOG2PI, fiml_logl, mvn_logpdf

__all__ = [
    "LOG2PI",
    "EM_MAXITER",
    "EM_TOL",
    "GroupStats",
    "Pattern",
    "em_saturated",
    "group_stats",
    "missing_patterns",
    "moment_stats",
    "sample_moments",
    "saturated_moments",
]

#: EM stops when no mean or covariance moves by more than ``EM_TOL * (1 + max |cov|)`` in one
#: step: a relative rule, so rescaling the items does not change when it stops. EM creeps near the
#: optimum, so the rule is on the parameters, not on the log-likelihood.
EM_TOL = 1e-11
EM_MAXITER = 10_000


@dataclass(frozen=True)
class Pattern:
    """Rows of one group that share one pattern of observed variables.

    ``idx`` the positions of the observed variables, ``rows`` the rows' positions in the data they
    came from, ``y`` their observed values ``(n, len(idx))``, ``mean`` and ``cov`` (1/n) the
    pattern's sample moments, ``group`` the group it belongs to (1-based, as the parameter table).
    """

    idx: np.ndarray
    rows: np.ndarray
    n: int
    mean: np.ndarray
    cov: np.ndarray
    y: np.ndarray
    group: int = 1


@dataclass(frozen=True)
class GroupStats:
    """Sample moments of one group: complete-data ML uses ``cov`` and ``mean`` (1/N); FIML uses
    the ``patterns``, and ``cov``/``mean`` are then the EM (saturated, H1) estimates."""

    n: int
    cov: np.ndarray
    mean: np.ndarray
    logl_h1: float
    patterns: tuple[Pattern, ...] | None = None


def sample_moments(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariance (divided by N, as lavaan's ML) and mean of complete rows ``y`` ``(N, p)``.

    Examples
    --------
    >>> cov, mean = sample_moments(np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> cov.tolist(), mean.tolist()
    ([[1.0, 2.0], [2.0, 4.0]], [2.0, 4.0])
    """
    y = np.asarray(y, dtype=float)
    p = y.shape[1]
    return np.cov(y, rowvar=False, bias=True).reshape(p, p), y.mean(axis=0)


def missing_patterns(y: np.ndarray, rows: np.ndarray | None = None, group: int = 1) -> tuple[Pattern, ...]:
    """The rows of ``y`` grouped by the set of variables they observe, largest pattern first.

    Rows with nothing observed belong to no pattern (they carry no information). ``rows`` gives
    the rows' positions in a larger data set (default ``0..N-1``).

    Examples
    --------
    >>> y = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0], [np.nan, np.nan]])
    >>> [(p.idx.tolist(), p.rows.tolist()) for p in missing_patterns(y)]
    [([0, 1], [0, 2]), ([1], [1])]
    """
    y = np.asarray(y, dtype=float)
    rows = np.arange(len(y)) if rows is None else np.asarray(rows)
    observed = ~np.isnan(y)
    keys, inverse, counts = np.unique(observed, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    out = []
    for k in sorted(range(len(keys)), key=lambda k: (-counts[k], keys[k].tobytes())):
        idx = np.flatnonzero(keys[k])
        if not len(idx):
            continue
        members = np.flatnonzero(inverse == k)
        sub = y[np.ix_(members, idx)]
        cov, mean = sample_moments(sub)
        out.append(Pattern(idx, rows[members], len(members), mean, cov, sub, group))
    return tuple(out)


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
    n = sum(pat.n for pat in patterns)
    sums, counts, sq = np.zeros(p), np.zeros(p), np.zeros(p)
    for pat in patterns:  # start from the available-case moments
        sums[pat.idx] += pat.y.sum(axis=0)
        counts[pat.idx] += pat.n
    mu = sums / counts
    for pat in patterns:
        sq[pat.idx] += ((pat.y - mu[pat.idx]) ** 2).sum(axis=0)
    sigma = np.diag(sq / counts)
    for _ in range(maxiter):
        t1, t2 = np.zeros(p), np.zeros((p, p))
        for pat in patterns:
            o = pat.idx
            m = np.setdiff1d(np.arange(p), o)
            full = np.empty((pat.n, p))
            full[:, o] = pat.y
            extra = np.zeros((p, p))
            if len(m):
                b = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T  # Sigma_mo Sigma_oo^-1
                full[:, m] = mu[m] + (pat.y - mu[o]) @ b.T
                extra[np.ix_(m, m)] = pat.n * (sigma[np.ix_(m, m)] - b @ sigma[np.ix_(o, m)])
            t1 += full.sum(axis=0)
            t2 += full.T @ full + extra
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


def group_stats(x: np.ndarray, fiml: bool = False) -> GroupStats:
    """Sample moments of one group's data matrix (rows with at least one observed value)."""
    n, p = x.shape
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
