"""The analytic answers against closed forms written here: the noncentral t power of a regression
slope, and the NPS variance counted by Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from loyaltymodels.design.analytic import nps_sd1, shares_nps, wald_n, wald_power


def test_wald_power_approaches_the_exact_power_of_a_slope():
    # y = b x + e, Var(x) = Var(e) = 1: the t test of b on n - 2 df has noncentrality b sqrt(n)
    b = 0.25
    for n in (60, 126, 300):
        exact = stats.nct.sf(stats.t.ppf(0.975, n - 2), n - 2, b * math.sqrt(n)) + stats.nct.cdf(
            -stats.t.ppf(0.975, n - 2), n - 2, b * math.sqrt(n)
        )
        assert float(wald_power(b, 1.0, n)) == pytest.approx(exact, abs=0.015)  # z for t: 0.013 at n = 60


def test_wald_n_is_the_smallest_n_reaching_the_power():
    for effect, sd1 in ((0.25, 1.0), (0.1, 2.2), (10.0, 113.0)):
        n = wald_n(effect, sd1, 0.8)
        assert wald_power(effect, sd1, n) >= 0.8 > wald_power(effect, sd1, n - 1)
    assert wald_n(0.3, 1.0, 0.9, factor=0.85) == math.inf  # 90% is out of reach when 15% fail anyway
    one = wald_n(-0.3, 1.9, 0.8, sides=1, factor=0.857)
    assert wald_power(-0.3, 1.9, one, sides=1, factor=0.857) >= 0.8


def test_nps_sd1_is_the_monte_carlo_sd():
    rng = np.random.default_rng(1)
    waves = ((0.30, 0.35, 0.35), (0.25, 0.35, 0.40))
    n, reps = 400, 20_000
    diffs = []
    for shares in waves:
        counts = rng.multinomial(n, shares, size=reps)
        diffs.append((counts[:, 2] - counts[:, 0]) / n)
    sd = np.std(diffs[1] - diffs[0]) * math.sqrt(n)
    assert nps_sd1(*waves) == pytest.approx(sd, rel=0.02)
    assert shares_nps(waves[0]) == 5.0
