"""Thresholds, polychoric correlations and their asymptotic covariance against brute force:
bivariate-normal maximum likelihood on small tables with scipy's multivariate normal CDF, casewise
scores by finite differences of that likelihood, and the two-step sandwich assembled here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from loyaltymodels.sem.polychoric import bivariate_normal_cdf, ordinal_stats, polychoric, thresholds


def _ordinal(n: int, rho: float, cuts1, cuts2, seed: int):
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return np.digitize(z[:, 0], cuts1), np.digitize(z[:, 1], cuts2)


def _cell_probabilities(rho: float, t1, t2) -> np.ndarray:
    """Rectangle probabilities of the standard bivariate normal, by scipy (its lower_limit)."""
    e1, e2 = np.r_[-np.inf, t1, np.inf], np.r_[-np.inf, t2, np.inf]
    mvn = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]])
    return np.array(
        [
            [mvn.cdf([e1[a + 1], e2[b + 1]], lower_limit=[e1[a], e2[b]]) for b in range(len(e2) - 1)]
            for a in range(len(e1) - 1)
        ]
    )


def _brute_rho(c1, c2, t1, t2, w=None) -> float:
    table = np.zeros((len(t1) + 1, len(t2) + 1))
    np.add.at(table, (c1, c2), 1.0 if w is None else w)
    res = optimize.minimize_scalar(
        lambda r: -(table * np.log(_cell_probabilities(r, t1, t2))).sum(),
        bounds=(-0.999, 0.999),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(res.x)


@pytest.mark.parametrize("rho", [-0.9, -0.3, 0.0, 0.5, 0.97])
def test_bivariate_normal_cdf_equals_scipys(rho):
    h, k = np.meshgrid([-2.5, -0.7, 0.0, 0.4, 1.9], [-1.2, 0.0, 0.3, 2.2], indexing="ij")
    mvn = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]])
    exact = np.array([[mvn.cdf([a, b]) for a, b in zip(ra, rb)] for ra, rb in zip(h, k)])
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, rho), exact, atol=1e-7)


def test_thresholds_are_the_univariate_probit_ml():
    codes = np.random.default_rng(3).choice(4, size=150, p=[0.1, 0.3, 0.4, 0.2])
    tau, _ = thresholds(codes, 4)
    counts = np.bincount(codes, minlength=4)

    def nll(t):
        e = np.r_[-np.inf, np.sort(t), np.inf]
        return -(counts * np.log(np.diff(stats.norm.cdf(e)))).sum()

    brute = optimize.minimize(
        nll, np.array([-1.0, 0.0, 1.0]), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14}
    )
    np.testing.assert_allclose(tau, np.sort(brute.x), atol=1e-6)


@pytest.mark.parametrize(
    ("n", "rho", "cuts1", "cuts2", "seed"),
    [
        (120, 0.4, [0.2], [-0.3], 1),  # tetrachoric (2 x 2)
        (200, 0.6, [-1.0, 0.0, 0.8], [-0.5, 0.7], 2),  # 4 x 3
        (80, -0.5, [-0.4, 0.6], [-1.0, 0.0, 1.0], 3),  # 3 x 4, negative
    ],
)
def test_polychoric_is_the_bivariate_normal_ml(n, rho, cuts1, cuts2, seed):
    c1, c2 = _ordinal(n, rho, cuts1, cuts2, seed)
    t1, _ = thresholds(c1, len(cuts1) + 1)
    t2, _ = thresholds(c2, len(cuts2) + 1)
    assert polychoric(c1, c2, t1, t2).rho == pytest.approx(_brute_rho(c1, c2, t1, t2), abs=1e-6)


def test_weighted_polychoric_is_the_weighted_ml():
    c1, c2 = _ordinal(150, 0.5, [-0.5, 0.5], [0.0], 4)
    w = np.random.default_rng(5).uniform(0.3, 2.0, 150)
    t1, _ = thresholds(c1, 3, w)
    t2, _ = thresholds(c2, 2, w)
    cum = np.cumsum(np.bincount(c1, weights=w)) / w.sum()
    np.testing.assert_allclose(t1, stats.norm.ppf(cum[:-1]), atol=1e-12)
    assert polychoric(c1, c2, t1, t2, w).rho == pytest.approx(_brute_rho(c1, c2, t1, t2, w), abs=1e-6)


def _casewise(c1, c2, rho, t1, t2):
    return np.log(_cell_probabilities(rho, t1, t2)[c1, c2])


def test_scores_are_derivatives_of_the_casewise_likelihood():
    c1, c2 = _ordinal(60, 0.6, [-1.0, 0.0, 0.8], [-0.5, 0.7], 6)
    t1, u1 = thresholds(c1, 4)
    t2, _ = thresholds(c2, 3)
    pair = polychoric(c1, c2, t1, t2)
    h = 1e-5
    num = (_casewise(c1, c2, pair.rho + h, t1, t2) - _casewise(c1, c2, pair.rho - h, t1, t2)) / (2 * h)
    np.testing.assert_allclose(pair.score_rho, num, atol=1e-6)
    for k in range(3):
        e = np.eye(3)[k] * h
        num = (_casewise(c1, c2, pair.rho, t1 + e, t2) - _casewise(c1, c2, pair.rho, t1 - e, t2)) / (2 * h)
        np.testing.assert_allclose(pair.score_t1[:, k], num, atol=1e-6)
    for k in range(2):
        e = np.eye(2)[k] * h
        num = (_casewise(c1, c2, pair.rho, t1, t2 + e) - _casewise(c1, c2, pair.rho, t1, t2 - e)) / (2 * h)
        np.testing.assert_allclose(pair.score_t2[:, k], num, atol=1e-6)
    # univariate scores: derivatives of log(Phi(t_a) - Phi(t_a-1))
    for k in range(3):
        e = np.eye(3)[k] * h

        def uni(t):
            return np.log(np.diff(stats.norm.cdf(np.r_[-np.inf, t, np.inf]))[c1])

        np.testing.assert_allclose(u1[:, k], (uni(t1 + e) - uni(t1 - e)) / (2 * h), atol=1e-6)


def test_gamma_is_the_two_step_sandwich_of_brute_force_scores():
    """N A^-1 B A^-T, every score by finite differences of scipy's likelihoods, A by the scores'
    cross-products (the information identity, blockwise: lavaan's Muthen 1984)."""
    rng = np.random.default_rng(7)
    z = rng.multivariate_normal(np.zeros(3), [[1, 0.5, 0.3], [0.5, 1, 0.4], [0.3, 0.4, 1]], size=90)
    codes = np.column_stack(
        [np.digitize(z[:, 0], [0.0]), np.digitize(z[:, 1], [-0.5, 0.6]), np.digitize(z[:, 2], [0.3])]
    )
    ncat = [2, 3, 2]
    out = ordinal_stats(codes, ncat)
    n, h = len(codes), 1e-5
    taus = [thresholds(codes[:, j], ncat[j])[0] for j in range(3)]
    uni = []
    for j in range(3):
        cols = []
        for k in range(ncat[j] - 1):
            e = np.eye(ncat[j] - 1)[k] * h

            def ll(t, j=j):
                return np.log(np.diff(stats.norm.cdf(np.r_[-np.inf, t, np.inf]))[codes[:, j]])

            cols.append((ll(taus[j] + e) - ll(taus[j] - e)) / (2 * h))
        uni.append(np.column_stack(cols))
    kth = sum(u.shape[1] for u in uni)
    off = np.cumsum([0] + [u.shape[1] for u in uni])
    pairs = [(1, 0), (2, 0), (2, 1)]
    S = np.zeros((n, kth + 3))
    A = np.zeros((kth + 3, kth + 3))
    for j in range(3):
        S[:, off[j] : off[j + 1]] = uni[j]
        A[off[j] : off[j + 1], off[j] : off[j + 1]] = uni[j].T @ uni[j]
    for m, (j, l) in enumerate(pairs):
        rho = out.corr[j, l]
        s_rho = (
            _casewise(codes[:, j], codes[:, l], rho + h, taus[j], taus[l])
            - _casewise(codes[:, j], codes[:, l], rho - h, taus[j], taus[l])
        ) / (2 * h)
        S[:, kth + m] = s_rho
        A[kth + m, kth + m] = s_rho @ s_rho
        for item, first in ((j, True), (l, False)):
            for k in range(ncat[item] - 1):
                e = np.eye(ncat[item] - 1)[k] * h
                if first:
                    up = _casewise(codes[:, j], codes[:, l], rho, taus[j] + e, taus[l])
                    dn = _casewise(codes[:, j], codes[:, l], rho, taus[j] - e, taus[l])
                else:
                    up = _casewise(codes[:, j], codes[:, l], rho, taus[j], taus[l] + e)
                    dn = _casewise(codes[:, j], codes[:, l], rho, taus[j], taus[l] - e)
                A[kth + m, off[item] + k] = s_rho @ ((up - dn) / (2 * h))
    Ai = np.linalg.inv(A)
    gamma = n * Ai @ (S.T @ S) @ Ai.T
    np.testing.assert_allclose(out.gamma, gamma, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(out.stats[kth:], [out.corr[j, l] for j, l in pairs])


@pytest.mark.slow
def test_gamma_matches_the_sampling_covariance_of_the_estimates():
    """Over 400 samples of N = 400, N x the covariance of (thresholds, correlations) is Gamma."""
    sigma = np.array([[1, 0.5, 0.3], [0.5, 1, 0.4], [0.3, 0.4, 1]])
    cuts = [[-0.5, 0.5], [0.0], [-1.0, 0.2, 1.0]]
    ncat = [3, 2, 4]
    draws, gammas = [], []
    for rep in range(400):
        z = np.random.default_rng(100 + rep).multivariate_normal(np.zeros(3), sigma, size=400)
        codes = np.column_stack([np.digitize(z[:, j], cuts[j]) for j in range(3)])
        out = ordinal_stats(codes, ncat)
        draws.append(out.stats)
        gammas.append(out.gamma)
    empirical = 400 * np.cov(np.array(draws).T)
    mean_gamma = np.mean(gammas, axis=0)
    np.testing.assert_allclose(np.diag(empirical), np.diag(mean_gamma), rtol=0.2)


# -- continuous variables beside ordered items --------------------------------------------------------
def _mixed_pair(n: int, rho: float, cuts, seed: int):
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return np.digitize(z[:, 0], cuts), 3.0 + 2.0 * z[:, 1]


def _polyserial_logl(codes, x, tau, c, mu, v):
    """Each case's bivariate log-likelihood log f(x) + log P(y | x), by scipy."""
    sd = np.sqrt(v)
    rho, z = c / sd, (x - mu) / sd
    s = np.sqrt(1 - rho**2)
    e = np.r_[-np.inf, tau, np.inf]
    p = stats.norm.cdf((e[codes + 1] - rho * z) / s) - stats.norm.cdf((e[codes] - rho * z) / s)
    return stats.norm.logpdf(x, mu, sd) + np.log(p)


def test_polyserial_is_the_conditional_ml_and_its_scores_are_derivatives():
    from loyaltymodels.sem.polyserial import normal_moments, polyserial

    codes, x = _mixed_pair(300, 0.55, [-0.8, 0.1, 0.9], 21)
    w = np.ones(len(x))
    tau, _ = thresholds(codes, 4)
    mu, v, _ = normal_moments(x, w)
    out = polyserial(codes, x, tau, (mu, v), w)
    res = optimize.minimize_scalar(
        lambda c: -_polyserial_logl(codes, x, tau, c, mu, v).sum(),
        bounds=(-0.99 * np.sqrt(v), 0.99 * np.sqrt(v)),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert out.c == pytest.approx(res.x, abs=1e-6)
    h = 1e-6

    def f(**kw):
        return _polyserial_logl(codes, x, kw.get("tau", tau), kw.get("c", out.c), kw.get("mu", mu), kw.get("v", v))

    np.testing.assert_allclose(out.score_c, (f(c=out.c + h) - f(c=out.c - h)) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(out.score_2[:, 0], (f(mu=mu + h) - f(mu=mu - h)) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(out.score_2[:, 1], (f(v=v + h) - f(v=v - h)) / (2 * h), atol=1e-5)
    for k in range(3):
        e = np.eye(3)[k] * h
        np.testing.assert_allclose(out.score_1[:, k], (f(tau=tau + e) - f(tau=tau - e)) / (2 * h), atol=1e-5)


def test_pearson_pair_scores_are_derivatives_of_the_bivariate_normal_likelihood():
    from loyaltymodels.sem.polyserial import normal_moments, pearson

    z = np.random.default_rng(22).multivariate_normal([1, -1], [[2, 0.8], [0.8, 1]], size=120)
    w = np.ones(120)
    m1, m2 = normal_moments(z[:, 0], w)[:2], normal_moments(z[:, 1], w)[:2]
    out = pearson(z[:, 0], z[:, 1], m1, m2, w)
    assert out.c == pytest.approx(np.cov(z.T, bias=True)[0, 1], rel=1e-12)

    def ll(mu1=m1[0], v1=m1[1], mu2=m2[0], v2=m2[1], c=out.c):
        return stats.multivariate_normal([mu1, mu2], [[v1, c], [c, v2]]).logpdf(z)

    h = 1e-6
    np.testing.assert_allclose(out.score_c, (ll(c=out.c + h) - ll(c=out.c - h)) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(out.score_1[:, 0], (ll(mu1=m1[0] + h) - ll(mu1=m1[0] - h)) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(out.score_1[:, 1], (ll(v1=m1[1] + h) - ll(v1=m1[1] - h)) / (2 * h), atol=1e-5)
    np.testing.assert_allclose(out.score_2[:, 1], (ll(v2=m2[1] + h) - ll(v2=m2[1] - h)) / (2 * h), atol=1e-5)
