"""Thresholds, polychoric correlations and their asymptotic covariance matrix: the sample
statistics of ordered items that WLSMV fits (lavaan's ``lav_samplestats`` for categorical data).

Written here because no maintained Python library does this correctly today: ``ordinalcorr``
0.9 (the one on PyPI) clips cell probabilities at 1e-6, stands thresholds at +-100, stops at
``minimize_scalar``'s default tolerance and returns no casewise scores; semopy's own polychorics
fail on NumPy 2 / SciPy >= 1.17. The bivariate normal CDF is scipy's Owen's T
(``scipy.special.owens_t``), exact and vectorized.

Two-step estimation (Olsson 1979; Muthen 1984, as lavaan): each item's thresholds from its
marginal proportions (the univariate probit ML), then each pair's correlation by ML on the pair's
contingency table given the thresholds (Fisher scoring). ``Gamma``, the covariance of
``sqrt(N) (thresholds, correlations)``, is the two-step sandwich ``N A^-1 B A^-T`` from the
casewise scores: ``B`` their cross-products, ``A`` block-triangular with every block estimated by
cross-products of scores of the same likelihood (the information identity, as lavaan's
``lav_muthen1984``). Sampling weights multiply the counts, the scores in ``A`` once and in ``B``
twice (pseudo-ML).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import ConvergenceError

__all__ = ["OrdinalStats", "bivariate_normal_cdf", "ordinal_stats", "polychoric", "thresholds"]

_TINY = 1e-300  # h or k exactly 0: Owen's T formula is continuous there; nudging avoids 0/0


def bivariate_normal_cdf(h: np.ndarray, k: np.ndarray, rho: float) -> np.ndarray:
    """``P(X <= h, Y <= k)`` for a standard bivariate normal with correlation ``rho`` (finite h, k),
    by Owen's (1956) formula ``(Phi(h) + Phi(k)) / 2 - T(h, a_h) - T(k, a_k) - [h k < 0] / 2``.

    >>> from scipy.stats import multivariate_normal
    >>> exact = multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]]).cdf([0.5, -0.2])
    >>> bool(abs(bivariate_normal_cdf(np.array(0.5), np.array(-0.2), 0.3) - exact) < 1e-7)
    True
    """
    h = np.where(np.asarray(h, dtype=float) == 0, _TINY, h)
    k = np.where(np.asarray(k, dtype=float) == 0, _TINY, k)
    s = math.sqrt((1 - rho) * (1 + rho))
    out = (
        0.5 * (special.ndtr(h) + special.ndtr(k))
        - special.owens_t(h, (k - rho * h) / (h * s))
        - special.owens_t(k, (h - rho * k) / (k * s))
        - np.where(h * k < 0, 0.5, 0.0)
    )
    return np.clip(out, 0.0, 1.0)


def _bvn_pdf(h: np.ndarray, k: np.ndarray, rho: float) -> np.ndarray:
    """The standard bivariate normal density at finite ``(h, k)``."""
    s2 = (1 - rho) * (1 + rho)
    return np.exp(-(h * h - 2 * rho * h * k + k * k) / (2 * s2)) / (2 * math.pi * math.sqrt(s2))


def thresholds(codes: np.ndarray, ncat: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds of one ordered item (codes ``0..ncat-1``) and the casewise scores of its
    univariate probit log-likelihood ``(N, ncat - 1)``.

    >>> tau, _ = thresholds(np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2]), 3)
    >>> np.round(tau, 4).tolist()  # Phi^-1(0.2), Phi^-1(0.5)
    [-0.8416, 0.0]
    """
    w = np.ones(len(codes)) if weights is None else weights
    counts = np.bincount(codes, weights=w, minlength=ncat)
    tau = special.ndtri(np.cumsum(counts)[:-1] / counts.sum())
    t = np.concatenate([[-np.inf], tau, [np.inf]])
    prob = special.ndtr(t[1:]) - special.ndtr(t[:-1])
    dens = np.concatenate([[0.0], np.exp(-0.5 * tau**2) / math.sqrt(2 * math.pi), [0.0]])
    scores = np.zeros((len(codes), ncat - 1))
    rows = np.arange(len(codes))
    upper, lower = codes, codes - 1  # threshold above (index codes) and below the category
    ok = upper < ncat - 1
    scores[rows[ok], upper[ok]] = dens[codes[ok] + 1] / prob[codes[ok]]
    ok = lower >= 0
    scores[rows[ok], lower[ok]] -= dens[codes[ok]] / prob[codes[ok]]
    return tau, scores


@dataclass(frozen=True)
class _Pair:
    rho: float
    score_rho: np.ndarray  # (N,)
    score_t1: np.ndarray  # (N, K1): the bivariate likelihood's scores in the thresholds
    score_t2: np.ndarray  # (N, K2)


class _Grid:
    """One pair's thresholds on a grid: the cell probabilities and their derivative in rho
    (what Fisher scoring needs), and the CDF's derivatives in the thresholds (the scores)."""

    def __init__(self, t1: np.ndarray, t2: np.ndarray) -> None:
        self.t1, self.t2 = t1, t2
        self.h, self.k = np.meshgrid(t1, t2, indexing="ij")
        self.G = np.zeros((len(t1) + 2, len(t2) + 2))  # the CDF at the extended thresholds
        self.G[-1, 1:-1] = special.ndtr(t2)
        self.G[1:-1, -1] = special.ndtr(t1)
        self.G[-1, -1] = 1.0
        self.phi2 = np.zeros_like(self.G)  # the density there (0 at infinite thresholds)

    def cells(self, rho: float) -> tuple[np.ndarray, np.ndarray]:
        G, phi2 = self.G, self.phi2
        G[1:-1, 1:-1] = bivariate_normal_cdf(self.h, self.k, rho)
        phi2[1:-1, 1:-1] = _bvn_pdf(self.h, self.k, rho)
        pi = G[1:, 1:] - G[:-1, 1:] - G[1:, :-1] + G[:-1, :-1]
        dpi = phi2[1:, 1:] - phi2[:-1, 1:] - phi2[1:, :-1] + phi2[:-1, :-1]
        return np.clip(pi, 1e-300, None), dpi

    def threshold_derivatives(self, rho: float) -> tuple[np.ndarray, np.ndarray]:
        """``Q1[i, m] = dG/de1 = phi(e1_i) Phi((e2_m - rho e1_i) / s)`` and ``Q2`` likewise, at the
        extended thresholds (0 at infinite ones of the differentiated item)."""
        s = math.sqrt((1 - rho) * (1 + rho))
        e1 = np.concatenate([[0.0], self.t1, [0.0]])  # infinite ends: density 0 below
        e2 = np.concatenate([[0.0], self.t2, [0.0]])
        d1 = np.concatenate([[0.0], np.exp(-0.5 * self.t1**2), [0.0]]) / math.sqrt(2 * math.pi)
        d2 = np.concatenate([[0.0], np.exp(-0.5 * self.t2**2), [0.0]]) / math.sqrt(2 * math.pi)
        inf2 = np.concatenate([[-np.inf], self.t2, [np.inf]])
        inf1 = np.concatenate([[-np.inf], self.t1, [np.inf]])
        Q1 = d1[:, None] * special.ndtr((inf2[None, :] - rho * e1[:, None]) / s)
        Q2 = d2[None, :] * special.ndtr((inf1[:, None] - rho * e2[None, :]) / s)
        return Q1, Q2


def polychoric(
    c1: np.ndarray,
    c2: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
    weights: np.ndarray | None = None,
    tol: float = 1e-10,
) -> _Pair:
    """ML correlation of two ordered items given their thresholds, and the casewise scores of the
    pair's log-likelihood in ``(rho, thresholds)``."""
    n1, n2 = len(t1) + 1, len(t2) + 1
    w = np.ones(len(c1)) if weights is None else weights
    table = np.bincount(c1 * n2 + c2, weights=w, minlength=n1 * n2).reshape(n1, n2)
    total = table.sum()
    x, y = c1.astype(float), c2.astype(float)
    rho = float(np.clip(np.corrcoef(x, y)[0, 1], -0.9, 0.9)) if x.std() > 0 and y.std() > 0 else 0.0
    rho = 0.0 if not math.isfinite(rho) else rho
    grid = _Grid(t1, t2)
    pi, dpi = grid.cells(rho)
    ll = float((table * np.log(pi)).sum())
    for _ in range(100):
        step = float((table * dpi / pi).sum()) / float(total * (dpi**2 / pi).sum())
        while True:  # Fisher scoring, halved while it leaves (-1, 1) or lowers the likelihood
            new = rho + step
            if abs(new) < 1 - 1e-10:
                pi_new, dpi_new = grid.cells(new)
                ll_new = float((table * np.log(pi_new)).sum())
                if ll_new >= ll - 1e-12 * abs(ll):
                    break
            step /= 2
            if abs(step) < 1e-15:
                new, ll_new, pi_new, dpi_new = rho, ll, pi, dpi
                break
        rho, ll, pi, dpi = new, ll_new, pi_new, dpi_new
        if abs(step) < tol:
            break
    else:
        raise ConvergenceError(f"the polychoric correlation did not converge (last step {step:.2g})")
    Q1, Q2 = grid.threshold_derivatives(rho)
    cell_rho = dpi / pi
    # a case in cell (a, b): d pi / d t1[a] (its upper bound) = Q1[a+1, b+1] - Q1[a+1, b], and
    # d pi / d t1[a-1] (its lower bound) = -(Q1[a, b+1] - Q1[a, b]); likewise for item 2
    rows = np.arange(len(c1))
    s1 = np.zeros((len(c1), n1 - 1))
    s2 = np.zeros((len(c1), n2 - 1))
    up = c1 < n1 - 1
    s1[rows[up], c1[up]] += (Q1[c1[up] + 1, c2[up] + 1] - Q1[c1[up] + 1, c2[up]]) / pi[c1[up], c2[up]]
    lo = c1 > 0
    s1[rows[lo], c1[lo] - 1] -= (Q1[c1[lo], c2[lo] + 1] - Q1[c1[lo], c2[lo]]) / pi[c1[lo], c2[lo]]
    up = c2 < n2 - 1
    s2[rows[up], c2[up]] += (Q2[c1[up] + 1, c2[up] + 1] - Q2[c1[up], c2[up] + 1]) / pi[c1[up], c2[up]]
    lo = c2 > 0
    s2[rows[lo], c2[lo] - 1] -= (Q2[c1[lo] + 1, c2[lo]] - Q2[c1[lo], c2[lo]]) / pi[c1[lo], c2[lo]]
    return _Pair(rho, cell_rho[c1, c2], s1, s2)


@dataclass(frozen=True)
class OrdinalStats:
    """One group's sample statistics of ordered items (and continuous variables beside them):
    ``stats`` = per variable its thresholds (ordered) or its mean (continuous), then the variances
    of the continuous variables, then the pairs ``(j, l)``, ``j > l``, in ``numpy.tril_indices(p, -1)``
    order: polychoric correlations, polyserial covariances ``rho sigma_x``, covariances; ``gamma``
    their asymptotic covariance (of ``sqrt(N)`` times them); ``corr`` the matrix of the pairs
    (variances of continuous variables, 1 for ordered items, on the diagonal), ``mean`` the means
    (0 for ordered items), ``ncat`` the categories per item (0 for a continuous variable)."""

    n: int
    stats: np.ndarray
    gamma: np.ndarray
    corr: np.ndarray
    ncat: tuple[int, ...]
    mean: np.ndarray | None = None

    @property
    def nthresholds(self) -> int:
        return int(sum(k - 1 for k in self.ncat if k))

    @property
    def nfirst(self) -> int:
        """Length of the first-step statistics (thresholds, means, variances) before the pairs."""
        return self.nthresholds + 2 * sum(1 for k in self.ncat if not k)


def ordinal_stats(codes: np.ndarray, ncat: list[int], weights: np.ndarray | None = None) -> OrdinalStats:
    """Thresholds, polychoric (and polyserial) correlations and their two-step asymptotic
    covariance of one group's ordered items (``codes`` ``(N, p)``, item ``j`` coded
    ``0..ncat[j]-1``; a column with ``ncat[j] == 0`` holds a continuous variable's values).

    ``weights`` (mean 1) are sampling weights.
    """
    from .polyserial import normal_moments, pearson, polyserial

    n, p = codes.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    numeric = [not k for k in ncat]
    col = [codes[:, j].astype(int) if not numeric[j] else codes[:, j].astype(float) for j in range(p)]
    first: list[np.ndarray] = []  # positions in ``stats`` of each variable's first-step parameters
    values: list[np.ndarray] = []
    uni: list[np.ndarray] = []
    moments: dict[int, tuple[float, float]] = {}
    pos = 0
    for j in range(p):
        if numeric[j]:
            mu, v, sc = normal_moments(col[j], w)
            moments[j] = (mu, v)
            values.append(np.array([mu]))
            first.append(np.array([pos, -1]))  # the variance's position is set below
            pos += 1
        else:
            tau, sc = thresholds(col[j], ncat[j], w)
            values.append(tau)
            first.append(np.arange(pos, pos + len(tau)))
            pos += len(tau)
        uni.append(sc)
    for j in range(p):
        if numeric[j]:
            first[j][1] = pos
            values.append(np.array([moments[j][1]]))
            pos += 1
    taus = [values[j] for j in range(p)]
    rows, cols = np.tril_indices(p, -1)
    kth = pos
    q = kth + len(rows)
    corr = np.diag([moments[j][1] if numeric[j] else 1.0 for j in range(p)])
    score = np.zeros((n, q))
    A = np.zeros((q, q))
    for j in range(p):  # A11: each variable's own information, by its scores' cross-products
        score[:, first[j]] = uni[j]
        A[np.ix_(first[j], first[j])] = (uni[j] * w[:, None]).T @ uni[j]
    for m, (j, l) in enumerate(zip(rows.tolist(), cols.tolist())):
        if not numeric[j] and not numeric[l]:
            pair = polychoric(col[j], col[l], taus[j], taus[l], w)
            c, s_c, s1, s2 = pair.rho, pair.score_rho, pair.score_t1, pair.score_t2
        elif not numeric[j]:
            b = polyserial(col[j], col[l], taus[j], moments[l], w)
            c, s_c, s1, s2 = b.c, b.score_c, b.score_1, b.score_2
        elif not numeric[l]:
            b = polyserial(col[l], col[j], taus[l], moments[j], w)
            c, s_c, s1, s2 = b.c, b.score_c, b.score_2, b.score_1
        else:
            b = pearson(col[j], col[l], moments[j], moments[l], w)
            c, s_c, s1, s2 = b.c, b.score_c, b.score_1, b.score_2
        corr[j, l] = corr[l, j] = c
        score[:, kth + m] = s_c
        ws = w * s_c
        A[kth + m, kth + m] = ws @ s_c  # A22
        A[kth + m, first[j]] = ws @ s1  # A21: the pair's own scores in the first-step parameters
        A[kth + m, first[l]] = ws @ s2
    ws = score * w[:, None]
    Ainv = np.linalg.inv(A)
    gamma = n * Ainv @ (ws.T @ ws) @ Ainv.T
    stats = np.concatenate(values + [corr[rows, cols]])
    mean = np.array([moments[j][0] if numeric[j] else 0.0 for j in range(p)])
    return OrdinalStats(n, stats, (gamma + gamma.T) / 2, corr, tuple(int(k) for k in ncat), mean)
