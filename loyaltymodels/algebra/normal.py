"""The multivariate normal log density with missing values (FIML's casewise likelihood), on arrays.

One computation, two shapes of answer: :func:`mvn_logpdf` scores every row under every draw's
``N(mu, Sigma)`` (pointwise log-likelihood, LOO, predictive checks), :func:`fiml_logl` sums the
same density over the rows of each missing-data pattern from the pattern's sufficient statistics
(n, mean, covariance), which costs O(p^3) per pattern whatever the number of rows. A row is scored
on the marginal density of the items it answered; a covariance matrix that is not positive definite
gives ``-inf``. The ML objective's own gradient form lives with the ML kernel; the Bayesian sampler's
with the compiled density.
"""

from __future__ import annotations

import math

import numpy as np

from .patterns import Pattern, missing_patterns

__all__ = ["LOG2PI", "fiml_logl", "mvn_logpdf"]

#: log(2 pi), the constant of every normal log-likelihood of the package.
LOG2PI = math.log(2 * math.pi)


def _factor(sigma: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cholesky factors of ``sigma[..., idx, idx]`` flattened to ``(D, q, q)``, the mask of the
    matrices where they exist (identity elsewhere), and the log-determinants."""
    s = sigma[..., idx[:, None], idx[None, :]].reshape(-1, len(idx), len(idx))
    try:
        chol, ok = np.linalg.cholesky(s), np.ones(len(s), bool)
    except np.linalg.LinAlgError:
        with np.errstate(invalid="ignore"):
            ok = np.linalg.eigvalsh(s)[:, 0] > 0
        chol = np.broadcast_to(np.eye(len(idx)), s.shape).copy()
        if ok.any():
            chol[ok] = np.linalg.cholesky(s[ok])
    logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return chol, ok, logdet


def _pattern_logl(pat: Pattern, sigma: np.ndarray, mu: np.ndarray, pointwise: bool) -> np.ndarray:
    """``(D, n)`` log densities of the pattern's rows, or ``(D,)`` their sum (from its moments)."""
    o = pat.idx
    chol, ok, logdet = _factor(sigma, o)
    m = mu[..., o].reshape(-1, len(o))
    if pointwise:
        z = np.linalg.solve(chol, np.swapaxes(pat.y[None] - m[:, None, :], 1, 2))  # L^-1 (y - mu)
        out = -0.5 * ((z**2).sum(axis=1) + logdet[:, None] + len(o) * LOG2PI)
    else:
        d = pat.mean[None] - m
        linv = np.linalg.solve(chol, np.broadcast_to(np.eye(len(o)), chol.shape))
        trace = np.einsum("dij,jk,dik->d", linv, pat.cov, linv)  # tr(Sigma^-1 S)
        quad = (np.einsum("dij,dj->di", linv, d) ** 2).sum(axis=1)
        out = -pat.size / 2 * (len(o) * LOG2PI + logdet + trace + quad)
    out[~ok] = -np.inf
    return out


def mvn_logpdf(
    y: np.ndarray, sigma: np.ndarray, mu: np.ndarray, patterns: tuple[Pattern, ...] | None = None
) -> np.ndarray:
    """Log density of every row of ``y`` ``(N, p)`` (NaN = missing) under ``N(mu, sigma)``.

    ``sigma`` ``(..., p, p)`` and ``mu`` ``(..., p)`` may carry leading axes (posterior draws): the
    result has shape ``(..., N)``. ``patterns`` (from :func:`~loyaltymodels.algebra.patterns.missing_patterns`
    of ``y``) saves grouping the rows again when the same data are scored many times.

    Examples
    --------
    >>> from scipy.stats import multivariate_normal
    >>> y = np.array([[0.5, -1.0], [1.0, np.nan]])
    >>> sigma, mu = np.array([[2.0, 0.5], [0.5, 1.0]]), np.zeros(2)
    >>> got = mvn_logpdf(y, sigma, mu)
    >>> bool(np.isclose(got[0], multivariate_normal([0, 0], sigma).logpdf(y[0])))
    True
    >>> bool(np.isclose(got[1], multivariate_normal(0, 2.0).logpdf(1.0)))
    True
    """
    y = np.asarray(y, dtype=float)
    sigma, mu = np.asarray(sigma, dtype=float), np.asarray(mu, dtype=float)
    lead = sigma.shape[:-2]
    out = np.zeros((int(np.prod(lead, dtype=int)), len(y)))  # an empty row carries no information
    for pat in missing_patterns(y) if patterns is None else patterns:
        out[:, pat.rows] = _pattern_logl(pat, sigma, mu, pointwise=True)
    return out.reshape(lead + (len(y),))


def fiml_logl(patterns: tuple[Pattern, ...], mu: np.ndarray, sigma: np.ndarray) -> float:
    """Log-likelihood of all the patterns' rows under ``N(mu, sigma)`` (FIML's), from their moments.

    Examples
    --------
    >>> from loyaltymodels.algebra.patterns import missing_patterns
    >>> y = np.random.default_rng(2).normal(size=(50, 3))
    >>> y[::3, 1] = np.nan
    >>> mu, sigma = np.zeros(3), np.eye(3) + 0.3
    >>> bool(np.isclose(fiml_logl(missing_patterns(y), mu, sigma), mvn_logpdf(y, sigma, mu).sum()))
    True
    """
    return float(sum(_pattern_logl(pat, np.asarray(sigma, float), np.asarray(mu, float), False)[0] for pat in patterns))
