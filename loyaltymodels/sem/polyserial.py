"""Continuous variables beside ordered ones (lavaan's categorical mode with numeric variables):
the univariate normal ML of a continuous variable, the polyserial covariance of an ordered item
with it (Olsson, Drasgow & Dorans 1982, two-step), and the covariance of two continuous
variables, each with the casewise scores of its likelihood that the two-step covariance matrix of
:func:`loyaltymodels.sem.polychoric.ordinal_stats` needs.

The statistic of an ordered-continuous pair is the covariance of the item's latent response
(variance 1) with the variable, ``c = rho sigma_x``, so that the model's implied covariance matrix
is compared with the statistics element by element, as lavaan does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import ConvergenceError

__all__ = ["Bivariate", "normal_moments", "pearson", "polyserial"]

_SQRT2PI = math.sqrt(2 * math.pi)


def normal_moments(x: np.ndarray, weights: np.ndarray) -> tuple[float, float, np.ndarray]:
    """ML mean and variance of a continuous variable and the casewise scores ``(N, 2)`` in them."""
    w = weights
    mu = float(w @ x / w.sum())
    v = float(w @ (x - mu) ** 2 / w.sum())
    r = x - mu
    return mu, v, np.column_stack([r / v, (r * r - v) / (2 * v * v)])


@dataclass(frozen=True)
class Bivariate:
    """A pair's statistic ``c`` and the casewise scores of the pair's likelihood in ``c`` and in
    each variable's first-step parameters (thresholds, or mean and variance)."""

    c: float
    score_c: np.ndarray
    score_1: np.ndarray
    score_2: np.ndarray


def pearson(x1: np.ndarray, x2: np.ndarray, m1: tuple, m2: tuple, weights: np.ndarray) -> Bivariate:
    """Covariance of two continuous variables given their means and variances (the bivariate
    normal ML of ``c`` is the sample covariance), with the scores of the bivariate likelihood."""
    (mu1, v1), (mu2, v2) = m1, m2
    r1, r2 = x1 - mu1, x2 - mu2
    c = float(weights @ (r1 * r2) / weights.sum())
    P = np.linalg.inv(np.array([[v1, c], [c, v2]]))
    z1, z2 = P[0, 0] * r1 + P[0, 1] * r2, P[1, 0] * r1 + P[1, 1] * r2  # Sigma^-1 r
    G11, G22, G12 = 0.5 * (z1 * z1 - P[0, 0]), 0.5 * (z2 * z2 - P[1, 1]), 0.5 * (z1 * z2 - P[0, 1])
    return Bivariate(c, 2 * G12, np.column_stack([z1, G11]), np.column_stack([z2, G22]))


def polyserial(
    codes: np.ndarray, x: np.ndarray, tau: np.ndarray, moments: tuple, weights: np.ndarray, tol: float = 1e-10
) -> Bivariate:
    """ML covariance ``c = rho sigma_x`` of an ordered item's latent response with a continuous
    variable, given the item's thresholds and the variable's mean and variance, by Fisher scoring
    on ``sum log P(y | x)``; scores in ``c``, the thresholds and ``(mu, v)``."""
    mu, v = moments
    sd = math.sqrt(v)
    z = (x - mu) / sd
    zc = np.corrcoef(codes, x)[0, 1] if codes.std() > 0 else 0.0
    rho = float(np.clip(zc if math.isfinite(zc) else 0.0, -0.9, 0.9))

    def parts(r: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = math.sqrt((1 - r) * (1 + r))
        t = np.concatenate([[-np.inf], tau, [np.inf]])
        upper, lower = t[codes + 1], t[codes]
        with np.errstate(invalid="ignore"):
            uu = np.where(np.isfinite(upper), (upper - r * z) / s, upper)
            ul = np.where(np.isfinite(lower), (lower - r * z) / s, lower)
        prob = np.clip(special.ndtr(uu) - special.ndtr(ul), 1e-300, None)
        du = np.where(np.isfinite(uu), np.exp(-0.5 * np.where(np.isfinite(uu), uu, 0) ** 2) / _SQRT2PI, 0.0)
        dl = np.where(np.isfinite(ul), np.exp(-0.5 * np.where(np.isfinite(ul), ul, 0) ** 2) / _SQRT2PI, 0.0)
        # du/drho = (rho tau - z) / s^3 at each finite bound
        gu = np.where(np.isfinite(upper), (r * np.where(np.isfinite(upper), upper, 0) - z) / s**3, 0.0)
        gl = np.where(np.isfinite(lower), (r * np.where(np.isfinite(lower), lower, 0) - z) / s**3, 0.0)
        return s, prob, du, dl, (du * gu - dl * gl) / prob

    ll = float(weights @ np.log(parts(rho)[1]))
    for _ in range(100):
        score = parts(rho)[4]
        step = float(weights @ score) / float(weights @ score**2)
        while True:
            new = rho + step
            if abs(new) < 1 - 1e-10:
                ll_new = float(weights @ np.log(parts(new)[1]))
                if ll_new >= ll - 1e-12 * abs(ll):
                    break
            step /= 2
            if abs(step) < 1e-15:
                new, ll_new = rho, ll
                break
        rho, ll = new, ll_new
        if abs(step) < tol:
            break
    else:
        raise ConvergenceError(f"the polyserial correlation did not converge (last step {step:.2g})")
    s, prob, du, dl, s_rho = parts(rho)
    n, k = len(codes), len(tau)
    rows = np.arange(n)
    s_tau = np.zeros((n, k))
    up, lo = codes < k, codes > 0
    s_tau[rows[up], codes[up]] += du[up] / (s * prob[up])
    s_tau[rows[lo], codes[lo] - 1] -= dl[lo] / (s * prob[lo])
    # d log P / dz = -(rho / s) (du - dl) / P; z = (x - mu) / sd; rho = c / sd
    dz = -(rho / s) * (du - dl) / prob
    s_mu = (x - mu) / v + dz * (-1 / sd)
    s_v = ((x - mu) ** 2 - v) / (2 * v * v) + dz * (-z / (2 * v)) + s_rho * (-rho / (2 * v))
    return Bivariate(rho * sd, s_rho / sd, s_tau, np.column_stack([s_mu, s_v]))
