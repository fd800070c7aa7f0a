"""The one multivariate normal log density (pointwise and from sufficient statistics), against
scipy's ``multivariate_normal`` evaluated row by row on the observed items."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from loyaltymodels.algebra.normal import fiml_logl, mvn_logpdf
from loyaltymodels.algebra.patterns import missing_patterns


def test_mvn_logpdf_matches_scipy_with_missing_patterns():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 4, 4))
    sigma = a @ np.swapaxes(a, 1, 2) + np.eye(4)
    mu = rng.normal(size=(3, 4))
    y = rng.normal(size=(6, 4))
    y[1, 2] = y[3, [0, 3]] = np.nan
    y[5] = np.nan
    got = mvn_logpdf(y, sigma, mu)
    for d in range(3):
        for n in range(5):
            o = ~np.isnan(y[n])
            ref = multivariate_normal(mu[d, o], sigma[d][np.ix_(o, o)]).logpdf(y[n, o])
            assert got[d, n] == pytest.approx(ref, rel=1e-10)
    assert (got[:, 5] == 0).all()  # an empty row adds nothing


def _scipy_total(y, sigma, mu):
    total = 0.0
    for row in y:
        o = ~np.isnan(row)
        if o.any():
            total += multivariate_normal(mu[o], sigma[np.ix_(o, o)]).logpdf(row[o])
    return total


def test_fiml_loglik_from_pattern_moments_equals_scipy_row_by_row():
    # the sufficient-statistics form (what ML's h1 and fit measures use) against the densities of
    # the rows themselves: the same number up to rounding
    rng = np.random.default_rng(11)
    a = rng.normal(size=(5, 5))
    sigma, mu = a @ a.T + np.eye(5), rng.normal(size=5)
    y = rng.multivariate_normal(mu, sigma, size=300)
    y[rng.random(y.shape) < 0.15] = np.nan
    pats = missing_patterns(y)
    assert fiml_logl(pats, mu, sigma) == pytest.approx(_scipy_total(y, sigma, mu), rel=1e-12)
    assert mvn_logpdf(y, sigma, mu, patterns=pats).sum() == pytest.approx(_scipy_total(y, sigma, mu), rel=1e-12)


def test_not_positive_definite_gives_minus_infinity():
    y = np.array([[0.1, 0.2], [0.3, np.nan]])
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert fiml_logl(missing_patterns(y), np.zeros(2), bad) == -np.inf
    out = mvn_logpdf(y, np.stack([np.eye(2), bad]), np.zeros((2, 2)))
    assert np.isfinite(out[0]).all() and out[1, 0] == -np.inf
    assert np.isfinite(out[1, 1])  # the second row sees only the first item, whose variance is 1
