"""Sample moments, missing-data patterns and the saturated model's EM, against closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from loyaltymodels.algebra.moments import em_saturated, group_stats, moment_stats, saturated_moments
from loyaltymodels.algebra.patterns import missing_patterns
from loyaltymodels.errors import ConvergenceWarning


def test_saturated_em_matches_closed_form_monotone_ml():
    # y1 complete, y2 missing for some rows: ML in closed form (Anderson 1957) by factoring the
    # likelihood into f(y1) f(y2 | y1)
    rng = np.random.default_rng(5)
    y = rng.multivariate_normal([1.0, 2.0], [[1.0, 0.6], [0.6, 2.0]], size=400)
    y[rng.random(400) < 0.3, 1] = np.nan
    cc = ~np.isnan(y[:, 1])
    mu1, s11 = y[:, 0].mean(), y[:, 0].var()
    x, z = y[cc, 0], y[cc, 1]
    beta = np.cov(x, z, bias=True)[0, 1] / x.var()
    resid = z.var() - beta**2 * x.var()
    mu2 = z.mean() + beta * (mu1 - x.mean())
    cov, mean, _ = saturated_moments(y)
    np.testing.assert_allclose(mean, [mu1, mu2], rtol=1e-6)
    np.testing.assert_allclose(cov, [[s11, beta * s11], [beta * s11, resid + beta**2 * s11]], rtol=1e-6)


def test_em_is_the_maximum_of_the_fiml_likelihood():
    # an independent check without a closed form: no small step away from the EM estimate raises
    # the observed-data log-likelihood (computed by scipy, row by row)
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(8)
    y = rng.multivariate_normal([0, 1, 2], [[1, 0.5, 0.2], [0.5, 1.5, 0.4], [0.2, 0.4, 1.0]], size=150)
    y[rng.random(y.shape) < 0.2] = np.nan
    y = y[~np.isnan(y).all(axis=1)]
    cov, mean, ll = saturated_moments(y)

    def loglik(m, s):
        return sum(multivariate_normal(m[o], s[np.ix_(o, o)]).logpdf(r[o]) for r in y for o in [~np.isnan(r)])

    assert ll == pytest.approx(loglik(mean, cov), rel=1e-10)
    for k in range(3):
        for h in (1e-3, -1e-3):
            m2 = mean.copy()
            m2[k] += h
            assert loglik(m2, cov) < ll
            s2 = cov.copy()
            s2[k, k] += h
            assert loglik(mean, s2) < ll


def test_em_that_cannot_converge_says_so():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(40, 3))
    y[rng.random(y.shape) < 0.3] = np.nan
    y = y[~np.isnan(y).all(axis=1)]
    with pytest.warns(ConvergenceWarning, match="EM estimate of the saturated model"):
        em_saturated(missing_patterns(y), 3, maxiter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        em_saturated(missing_patterns(y), 3)


def test_patterns_partition_the_rows():
    y = np.array([[1.0, np.nan], [np.nan, np.nan], [2.0, 3.0], [4.0, np.nan], [5.0, 6.0]])
    pats = missing_patterns(y, rows=np.arange(10, 15), group=2)
    assert [(p.idx.tolist(), p.rows.tolist(), p.group) for p in pats] == [([0], [10, 13], 2), ([0, 1], [12, 14], 2)]
    np.testing.assert_allclose(pats[1].cov, np.cov(y[[2, 4]].T, bias=True))


def test_group_stats_of_complete_data_equal_their_moments():
    y = np.random.default_rng(4).normal(size=(60, 3))
    st = group_stats(y)
    again = moment_stats(st.n, st.cov, st.mean)
    np.testing.assert_allclose(st.cov, np.cov(y.T, bias=True))
    assert again.logl_h1 == pytest.approx(st.logl_h1) == pytest.approx(saturated_moments(y)[2])
