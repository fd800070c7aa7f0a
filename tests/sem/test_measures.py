"""lavaan's RMSEA interval, now inverted exactly by cdflib, against the root-finding it replaced
(lav_fit_rmsea_ci: brentq on the noncentral chi-square CDF), and the cached specifications."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.sem.measures import rmsea_ci, rmsea_closefit


def brentq_ci(x2, df, n, g=1, level=0.90):
    """The previous implementation, lavaan's algorithm: root-finding on pchisq(X2, df, lam)."""
    if df < 1 or not math.isfinite(x2):
        return 0.0, 0.0
    hi_p, lo_p = 1 - (1 - level) / 2, (1 - level) / 2

    def cdf(lam):
        return float(stats.chi2.cdf(x2, df)) if lam <= 0 else float(stats.ncx2.cdf(x2, df, lam))

    lower = 0.0
    if cdf(0) - hi_p >= 0:
        lower = math.sqrt(optimize.brentq(lambda l: cdf(l) - hi_p, 0, x2, xtol=1e-12) / (n * df)) * math.sqrt(g)
    n_rmsea = max(n, x2 * 4)
    upper = 0.0
    if not (cdf(n_rmsea) - lo_p > 0 or cdf(0) - lo_p < 0):
        upper = math.sqrt(optimize.brentq(lambda l: cdf(l) - lo_p, 0, n_rmsea, xtol=1e-12) / (n * df)) * math.sqrt(g)
    return lower, upper


CASES = [
    (85.306, 24, 301, 1),  # HS CFA
    (38.125, 35, 75, 1),  # Political Democracy
    (115.851, 48, 301, 2),  # HS by school
    (300.0, 40, 250, 1),
    (10.0, 10, 100, 1),
    (5000.0, 100, 1000, 1),
    (0.01, 1, 50, 1),
    (24.0, 24, 301, 1),
    (2.0, 30, 500, 3),
]


@pytest.mark.parametrize(("x2", "df", "n", "g"), CASES)
def test_exact_rmsea_interval_equals_lavaans_root_finding(x2, df, n, g):
    np.testing.assert_allclose(rmsea_ci(x2, df, n, g), brentq_ci(x2, df, n, g), atol=1e-6)


def test_close_fit_pvalue_is_lavaans():
    assert rmsea_closefit(85.306, 24, 301) == pytest.approx(stats.ncx2.sf(85.306, 24, 301 * 24 * 0.05**2), abs=1e-12)


def test_refits_reuse_the_parsed_spec_and_give_identical_results(hs):
    a = lm.fit_sem(HS_MODEL, hs)
    b = lm.fit_sem(HS_MODEL, hs)
    assert a.spec is b.spec  # parsed once (loyaltymodels.defaults.ModelCache)
    assert a.parameters.equals(b.parameters) and a.fit_measures.equals(b.fit_measures)
    c = lm.fit_sem(HS_MODEL, hs, std_lv=True)
    assert c.spec is not a.spec and c.spec.options["std_lv"]
