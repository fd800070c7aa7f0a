"""Sample moments of one group's data, complete or with missing values, for the ML kernel.

Holds what :mod:`loyaltymodels.sem.kernel` needs from the data before any model is involved: the
per-group sample moments (1/N, lavaan's convention), the missing-data patterns full-information
ML sums over, the casewise normal log-likelihood of those patterns, and the EM estimate of the
saturated (H1) mean and covariance. Kept apart from the objective because none of it depends
on the model: it is computed once per data set (or bootstrap resample) and shared by the
objective and :mod:`loyaltymodels.sem.measures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: log(2 pi), the constant of every normal log-likelihood here and in the kernel.
LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Pattern:
    """Rows of one group sharing one pattern of observed variables (FIML)."""

    idx: np.ndarray    # positions of the observed variables
    n: int
    mean: np.ndarray   # sample mean of these rows
    cov: np.ndarray    # sample covariance (1/n)
    rows: np.ndarray   # the data, n x len(idx)


@dataclass(frozen=True)
class GroupStats:
    """Sample moments of one group: complete-data ML uses ``cov`` and ``mean`` (1/N); FIML uses
    the ``patterns``, and ``cov``/``mean`` are then the EM (saturated, H1) estimates."""

    n: int
    cov: np.ndarray
    mean: np.ndarray
    logl_h1: float
    patterns: tuple[Pattern, ...] | None = None


def group_stats(x: np.ndarray, fiml: bool = False) -> GroupStats:
    """Sample moments of one group's data matrix (rows with at least one observed value)."""
    n, p = x.shape
    if not fiml or not np.isnan(x).any():
        mean = x.mean(axis=0)
        cov = np.cov(x, rowvar=False, bias=True).reshape(p, p)
        sign, logdet = np.linalg.slogdet(cov)
        logl = -n / 2 * (logdet + p + p * LOG2PI) if sign > 0 else -np.inf
        pats = (Pattern(np.arange(p), n, mean, cov, x),) if fiml else None
        return GroupStats(n, cov, mean, logl, pats)
    pats = missing_patterns(x)
    mean, cov = em_saturated(pats, p)
    return GroupStats(n, cov, mean, fiml_logl(pats, mean, cov), pats)


def missing_patterns(x: np.ndarray) -> tuple[Pattern, ...]:
    observed = ~np.isnan(x)
    keys, inverse = np.unique(observed, axis=0, return_inverse=True)
    out = []
    for k, key in enumerate(keys):
        idx = np.flatnonzero(key)
        if not len(idx):
            continue
        rows = x[inverse.ravel() == k][:, idx]
        out.append(Pattern(idx, len(rows), rows.mean(axis=0),
                           np.cov(rows, rowvar=False, bias=True).reshape(len(idx), len(idx)), rows))
    return tuple(out)


def fiml_logl(patterns: tuple[Pattern, ...], mu: np.ndarray, sigma: np.ndarray) -> float:
    """Casewise normal log-likelihood of the patterns under ``(mu, sigma)``."""
    total = 0.0
    for pat in patterns:
        s = sigma[np.ix_(pat.idx, pat.idx)]
        sign, logdet = np.linalg.slogdet(s)
        if sign <= 0:
            return -np.inf
        d = pat.mean - mu[pat.idx]
        si = np.linalg.inv(s)
        total -= pat.n / 2 * (len(pat.idx) * LOG2PI + logdet + np.sum(si * (pat.cov + np.outer(d, d))))
    return float(total)


def em_saturated(patterns: tuple[Pattern, ...], p: int, tol: float = 1e-10,
                 maxiter: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """ML mean and covariance of incomplete normal data by EM (lavaan's H1 under missing="ml")."""
    n = sum(pat.n for pat in patterns)
    sums = np.zeros(p)
    counts = np.zeros(p)
    for pat in patterns:
        sums[pat.idx] += pat.rows.sum(axis=0)
        counts[pat.idx] += pat.n
    mu = sums / counts
    sq = np.zeros(p)
    for pat in patterns:
        sq[pat.idx] += ((pat.rows - mu[pat.idx]) ** 2).sum(axis=0)
    sigma = np.diag(sq / counts)
    for _ in range(maxiter):
        t1, t2 = np.zeros(p), np.zeros((p, p))
        for pat in patterns:
            o = pat.idx
            m = np.setdiff1d(np.arange(p), o)
            full = np.empty((pat.n, p))
            full[:, o] = pat.rows
            extra = np.zeros((p, p))
            if len(m):
                b = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T  # Sigma_mo Sigma_oo^-1
                full[:, m] = mu[m] + (pat.rows - mu[o]) @ b.T
                extra[np.ix_(m, m)] = pat.n * (sigma[np.ix_(m, m)] - b @ sigma[np.ix_(o, m)])
            t1 += full.sum(axis=0)
            t2 += full.T @ full + extra
        new_mu = t1 / n
        new_sigma = t2 / n - np.outer(new_mu, new_mu)
        done = max(np.abs(new_mu - mu).max(), np.abs(new_sigma - sigma).max()) < tol
        mu, sigma = new_mu, new_sigma
        if done:
            break
    return mu, sigma
