"""The median of a normal mixture (satisfied-not-loyal's loyalty median) against a root finder."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import ndtr

from loyaltymodels.loyalty.draws import mixture_median


def _brentq(mu: np.ndarray, s: np.ndarray) -> float:
    lo, hi = mu.min() - 10 * s.max(), mu.max() + 10 * s.max()
    return brentq(lambda m: ndtr((m - mu) / s).mean() - 0.5, lo, hi, xtol=1e-14, rtol=1e-14)


@pytest.mark.parametrize(
    "case",
    ["unimodal", "skewed", "separated", "tiny_sd", "per_point_sd"],
)
def test_mixture_median_solves_the_cdf(case):
    rng = np.random.default_rng(3)
    D, M = 6, 257
    mu = rng.standard_normal((D, M))
    s = np.full((D, 1), 0.7)
    if case == "skewed":
        mu = rng.exponential(2.0, (D, M))
    elif case == "separated":  # two far modes: Newton from the mean starts where the CDF is flat
        mu = np.where(rng.random((D, M)) < 0.45, -10.0, 10.0) + 0.01 * mu
        s = np.full((D, 1), 0.1)
    elif case == "tiny_sd":
        s = np.full((D, 1), 1e-4)
    elif case == "per_point_sd":
        s = rng.uniform(0.05, 2.0, (D, M))
    got = mixture_median(mu, s)
    want = np.array([_brentq(mu[d], s[d] if s.shape[-1] == M else s[d, :1]) for d in range(D)])
    cdf = np.array([ndtr((got[d] - mu[d]) / s[d]).mean() for d in range(D)])
    np.testing.assert_allclose(cdf, 0.5, atol=1e-10)
    np.testing.assert_allclose(got, want, atol=1e-6 * max(1.0, float(np.abs(want).max())))
