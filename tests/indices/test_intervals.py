"""Coverage of the index intervals: exact (every possible sample of a small n, weighted by its
probability) for the adjusted Wald NPS and the Wilson CSAT intervals, and (slow) over simulated samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.indices.coverage import nps_exact_coverage, wilson_exact_coverage


def exact_nps_coverage(n: int, shares: tuple[float, float, float], method: str) -> float:
    """Coverage summed over every possible sample of size n (each trinomial outcome once, built
    as answers 0 / 7 / 10 and passed through lm.nps as one group), weighted by its probability."""
    outcomes = [(d, p) for d in range(n + 1) for p in range(n + 1 - d)]
    answers = np.concatenate([np.repeat([0, 7, 10], [d, n - d - p, p]) for d, p in outcomes])
    t = lm.nps(answers, by=np.repeat(np.arange(len(outcomes)), n), method=method)
    d, p = np.array(outcomes).T
    pmf = stats.multinomial.pmf(np.column_stack([d, n - d - p, p]), n, shares)
    truth = 100 * (shares[2] - shares[0])
    return float(pmf[(t.ci_lower <= truth) & (truth <= t.ci_upper)].sum())


@pytest.mark.parametrize("n", [30, 100])
@pytest.mark.parametrize("shares", [(0.3, 0.4, 0.3), (0.1, 0.3, 0.6)])  # true NPS 0 and 50
def test_adjusted_wald_exact_coverage(n, shares):
    assert 0.94 <= exact_nps_coverage(n, shares, "adjusted_wald") <= 0.96


def test_wald_under_covers_where_adjusted_does_not():
    # n = 10: the plain Wald interval misses its 95% badly, the adjusted one does not
    for shares in ((0.1, 0.3, 0.6), (0.05, 0.1, 0.85)):  # NPS 50 and 80
        assert exact_nps_coverage(10, shares, "wald") < 0.90
        assert 0.94 <= exact_nps_coverage(10, shares, "adjusted_wald") <= 0.96


def test_wilson_exact_coverage():
    # every binomial outcome of n = 50 at p = 0.3, passed through lm.csat as one group each
    n, p = 50, 0.3
    k = np.arange(n + 1)
    answers = np.concatenate([np.repeat([5, 1], [j, n - j]) for j in k])
    t = lm.csat(answers, by=np.repeat(k, n))
    cover = stats.binom.pmf(k, n, p)[(t.ci_lower <= 30) & (30 <= t.ci_upper)].sum()
    assert 0.93 <= cover <= 0.97
    assert wilson_exact_coverage(n, p) == pytest.approx(cover, abs=1e-12)


@pytest.mark.parametrize("n, shares, method", [(10, (0.05, 0.1, 0.85), "wald"), (30, (0.1, 0.3, 0.6), "adjusted_wald")])
def test_the_packaged_exact_coverage_equals_coverage_through_nps(n, shares, method):
    # the kernels summed over outcomes (what the paper's table uses) against lm.nps on every sample
    assert nps_exact_coverage(n, shares, method) == pytest.approx(exact_nps_coverage(n, shares, method), abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("n", [30, 100, 1000])
@pytest.mark.parametrize("shares", [(0.3, 0.4, 0.3), (0.1, 0.3, 0.6)])  # true NPS 0 and 50
def test_adjusted_wald_coverage(n, shares):
    reps = 2000
    rng = np.random.default_rng(20261110 + n)
    answers = rng.choice(np.array([0, 7, 10]), p=shares, size=(reps, n)).ravel()
    t = lm.nps(answers, by=np.repeat(np.arange(reps), n))
    truth = 100 * (shares[2] - shares[0])
    cover = np.mean((t.ci_lower <= truth) & (truth <= t.ci_upper))
    assert 0.93 <= cover <= 0.97, f"coverage {cover:.3f} at n={n}, NPS {truth:.0f}"
