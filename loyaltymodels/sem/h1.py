"""The unrestricted (h1) normal model of one group, in the moments ``eta = (mu, vech Sigma)``:
casewise scores, expected and observed information, the asymptotic (ADF) covariance of the
sample moments, and the Jacobian ``Delta = d eta / d theta`` of a structured model.

These are lavaan's ``lav_mvnorm_*`` and ``lav_mvnorm_missing_*`` quantities, written for
:mod:`loyaltymodels.sem.robust` (sandwich standard errors and scaled test statistics). Everything
is per observation (information and cross-products divided by the group's N) and evaluated at
given ``(mu, Sigma)``: lavaan's default ``h1.information = "structured"`` evaluates them at the
model-implied moments. ``vech`` is the lower triangle with the diagonal (``numpy.tril_indices``
order); without a mean structure ``eta`` is ``vech Sigma`` alone (the means are then the sample
means and carry no information about the model).
"""

from __future__ import annotations

import numpy as np

from ..algebra.patterns import Pattern

__all__ = [
    "adf_gamma",
    "delta",
    "duplication",
    "expected_information",
    "observed_information",
    "scores",
]


def duplication(p: int) -> np.ndarray:
    """The duplication matrix ``D`` (``vec A = D vech A`` for symmetric ``A``; vec column-major).

    >>> D = duplication(2)
    >>> A = np.array([[1.0, 2.0], [2.0, 3.0]])
    >>> bool(np.allclose(D @ A[np.tril_indices(2)], A.ravel(order="F")))
    True
    """
    rows, cols = np.tril_indices(p)
    D = np.zeros((p * p, len(rows)))
    D[rows + p * cols, np.arange(len(rows))] = 1.0
    D[cols + p * rows, np.arange(len(rows))] = 1.0
    return D


def _vech_map(p: int, idx: np.ndarray) -> np.ndarray:
    """Positions in ``vech`` of a ``p``-variable matrix of the ``vech`` elements of its
    ``idx x idx`` submatrix (a missing-data pattern's observed block)."""
    full = np.full((p, p), -1, dtype=int)
    rows, cols = np.tril_indices(p)
    full[rows, cols] = np.arange(len(rows))
    full[cols, rows] = full[rows, cols]
    sub_r, sub_c = np.tril_indices(len(idx))
    return full[idx[sub_r], idx[sub_c]]


def delta(Jsig: np.ndarray, Jmu: np.ndarray, meanstructure: bool) -> np.ndarray:
    """``d eta / d theta`` ``(q, npar)`` from the kernel's ``(npar, p, p)`` and ``(npar, p)`` Jacobians."""
    rows, cols = np.tril_indices(Jsig.shape[1])
    d_sigma = Jsig[:, rows, cols].T
    return np.vstack([Jmu.T, d_sigma]) if meanstructure else d_sigma


def _sigma_scores(z: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``dl/dvech(Sigma)`` for rows ``z = (y - mu) P``: ``D' vec(G)``, ``G = (z z' - P) / 2``."""
    p = P.shape[0]
    rows, cols = np.tril_indices(p)
    G = 0.5 * (z[:, rows] * z[:, cols] - P[rows, cols])
    return np.where(rows == cols, 1.0, 2.0) * G  # off-diagonal elements appear twice in Sigma


def scores(
    y: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    meanstructure: bool,
    patterns: tuple[Pattern, ...] | None = None,
) -> np.ndarray:
    """Casewise scores ``d log f(y_i) / d eta`` ``(N, q)`` under ``N(mu, Sigma)``.

    Complete rows ``y`` ``(N, p)``; with ``patterns`` (FIML) each row is scored on the marginal
    density of the variables it answered (zero elsewhere), rows placed by ``pattern.rows``.
    """
    p = len(mu)
    nvech = p * (p + 1) // 2
    q = nvech + (p if meanstructure else 0)
    off = p if meanstructure else 0
    if patterns is None:
        P = np.linalg.inv(sigma)
        z = (y - mu) @ P
        out = np.empty((len(y), q))
        if meanstructure:
            out[:, :p] = z
        out[:, off:] = _sigma_scores(z, P)
        return out
    n = sum(pat.n for pat in patterns)
    out = np.zeros((n, q))
    for pat in patterns:
        o = pat.idx
        P = np.linalg.inv(sigma[np.ix_(o, o)])
        z = (pat.y - mu[o]) @ P
        block = np.zeros((pat.n, q))
        if meanstructure:
            block[:, o] = z
        block[:, off + _vech_map(p, o)] = _sigma_scores(z, P)
        out[pat.rows] = block
    return out


def expected_information(sigma: np.ndarray, meanstructure: bool) -> np.ndarray:
    """Expected information of one observation: ``blockdiag(Sigma^-1, D'(Sigma^-1 x Sigma^-1)D / 2)``."""
    p = sigma.shape[0]
    P = np.linalg.inv(sigma)
    D = duplication(p)
    ss = 0.5 * D.T @ np.kron(P, P) @ D
    if not meanstructure:
        return ss
    out = np.zeros((p + len(ss), p + len(ss)))
    out[:p, :p] = P
    out[p:, p:] = ss
    return out


def _observed_block(cov: np.ndarray, mean: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Hessian in ``(mu, vech Sigma)`` of ``f = (log|Sigma| + tr(Sigma^-1 (S + d d'))) / 2``, the
    negative log-likelihood per observation of data with moments ``(mean, cov)``, ``d = mean - mu``."""
    p = len(mu)
    P = np.linalg.inv(sigma)
    d = mean - mu
    M = P @ (cov + np.outer(d, d)) @ P
    D = duplication(p)
    h_ss = 0.5 * D.T @ (np.kron(P, M) + np.kron(M, P) - np.kron(P, P)) @ D
    h_ms = np.kron((P @ d)[None, :], P) @ D  # d(-P d)/d vec(Sigma) = P E_ab P d
    out = np.empty((p + len(h_ss), p + len(h_ss)))
    out[:p, :p] = P
    out[:p, p:] = h_ms
    out[p:, :p] = h_ms.T
    out[p:, p:] = h_ss
    return out


def observed_information(
    cov: np.ndarray,
    mean: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    meanstructure: bool,
    patterns: tuple[Pattern, ...] | None = None,
) -> np.ndarray:
    """Observed information per observation at ``(mu, Sigma)`` (Hessian of minus the average
    log-likelihood): complete data from their moments ``(cov, mean)`` (1/N), FIML summed over the
    missing-data patterns (each on its observed block)."""
    p = len(mu)
    if patterns is None:
        full = _observed_block(cov, mean if meanstructure else mu, mu, sigma)
        return full if meanstructure else full[p:, p:]
    nvech = p * (p + 1) // 2
    n = sum(pat.size for pat in patterns)
    out = np.zeros((p + nvech, p + nvech))
    for pat in patterns:
        o = pat.idx
        pos = np.concatenate([o, p + _vech_map(p, o)])
        block = _observed_block(pat.cov, pat.mean, mu[o], sigma[np.ix_(o, o)])
        out[np.ix_(pos, pos)] += pat.size / n * block
    return out if meanstructure else out[p:, p:]


def adf_gamma(y: np.ndarray, meanstructure: bool) -> np.ndarray:
    """The asymptotic covariance of ``sqrt(N) (mean, vech S)`` without a normality assumption
    (Browne's ADF ``Gamma``, lavaan's ``NACOV`` with N in the denominators).

    >>> y = np.random.default_rng(1).normal(size=(20000, 2))
    >>> g = adf_gamma(y, False)  # normal data: 2 sigma^4 on the variances, sigma^4 on the covariance
    >>> bool(np.allclose(g, np.diag([2.0, 1.0, 2.0]), atol=0.1))
    True
    """
    p = y.shape[1]
    yc = y - y.mean(axis=0)
    rows, cols = np.tril_indices(p)
    z = yc[:, rows] * yc[:, cols]
    if meanstructure:
        z = np.hstack([yc, z])
    zc = z - z.mean(axis=0)
    return zc.T @ zc / len(y)
