"""loyalty_scenario(): the generator must put in the data exactly the truth it reports, checked by
moments and regressions computed here independently of the generator's own formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import loyaltymodels as lm


def _ols(y, *cols):
    X = np.column_stack([np.ones_like(y), *cols])
    return np.linalg.lstsq(X, y, rcond=None)[0][1:]


def test_reproducible():
    a, ta = lm.loyalty_scenario(50, sectors=["retail"], seed=3)
    b, tb = lm.loyalty_scenario(50, sectors=["retail"], seed=3)
    assert a.equals(b) and ta.equals(tb)
    assert not a.equals(lm.loyalty_scenario(50, sectors=["retail"], seed=4)[0])


def test_item_moments_match_the_stated_weights():
    # With continuous items: cov(loy_k, bel_j) = l_k l_j (wB + rho wE); var(items) = 1; the
    # nonlinear terms are uncorrelated with B and E by symmetry.
    data, _truth = lm.loyalty_scenario(
        200_000, weights={"x": (0.3, 0.5)}, rho=0.4, interaction=0.2, asymmetry=0.3, scale=None, seed=1
    )
    c = np.cov(data[["bel1", "exp1", "loy1"]].to_numpy().T)
    lb, le, ll = 0.80, 0.82, 0.85
    # (sampling SD of these covariances at n = 200 000 is about 0.004)
    assert c[2, 0] == pytest.approx(ll * lb * (0.3 + 0.4 * 0.5), abs=0.012)
    assert c[2, 1] == pytest.approx(ll * le * (0.5 + 0.4 * 0.3), abs=0.012)
    assert np.diag(c) == pytest.approx([1, 1, 1], abs=0.015)


def test_latent_structure_recovered_by_regression():
    data, _truth = lm.loyalty_scenario(
        200_000,
        weights={"x": (0.25, 0.45)},
        rho=0.3,
        interaction=0.15,
        asymmetry=0.4,
        scale=None,
        latent_scores=True,
        seed=2,
    )
    b, e, L = data.Beliefs.to_numpy(), data.Experience.to_numpy(), data.Loyalty.to_numpy()
    coef = _ols(L, b, e, b * e, np.abs(e - b))
    assert coef == pytest.approx([0.25, 0.45, 0.15, -0.2], abs=0.01)
    assert L.var() == pytest.approx(1.0, abs=0.01)
    # asymmetry read directly: slope of loyalty on E - B below zero minus slope above zero
    d = e - b
    below, above = (
        _ols(L[d < 0] - 0.25 * b[d < 0] - 0.45 * e[d < 0] - 0.15 * b[d < 0] * e[d < 0], d[d < 0]),
        _ols(L[d > 0] - 0.25 * b[d > 0] - 0.45 * e[d > 0] - 0.15 * b[d > 0] * e[d > 0], d[d > 0]),
    )
    assert below[0] - above[0] == pytest.approx(0.4, abs=0.03)


def test_satisfied_not_loyal_truth_matches_the_data():
    data, truth = lm.loyalty_scenario(100_000, weights={"x": (0.3, 0.4)}, scale=None, latent_scores=True, seed=5)
    sat = data.Experience > data.Experience.median()
    observed = (data.Loyalty[sat] < data.Loyalty.median()).mean()
    stated = truth.query("parameter == 'satisfied_not_loyal'").value.item()
    assert observed == pytest.approx(stated, abs=0.01)
    # switched off: loyalty is experience, so every satisfied customer is loyal
    _, off = lm.loyalty_scenario(10, weights={"x": (0.0, 1.0)}, rho=0.0, scale=None, seed=5)
    assert off.query("parameter == 'satisfied_not_loyal'").value.item() == pytest.approx(0.0, abs=1e-3)


def test_satisfied_not_loyal_is_computed_once_per_population():
    # power analyses draw thousands of data sets from one population: the 200 000-draw truth is cached
    from loyaltymodels.data import scenarios

    scenarios._satisfied_not_loyal.cache_clear()
    _, first = lm.loyalty_scenario(50, sectors=["retail", "banking"], seed=1)
    _, again = lm.loyalty_scenario(50, sectors=["retail", "banking"], seed=2)
    info = scenarios._satisfied_not_loyal.cache_info()
    assert (info.misses, info.hits) == (2, 2)
    pd.testing.assert_frame_equal(first, again)
    uncached = scenarios._satisfied_not_loyal.__wrapped__(0.4, 0.3, 0.4, 0.0, 0.0, 1 - 0.16 - 0.09 - 0.096)
    assert first.query("sector == 'retail' and parameter == 'satisfied_not_loyal'").value.item() == pytest.approx(
        uncached, abs=1e-12
    )


def test_outcome_links_recovered_by_logistic_mle():
    data, _ = lm.loyalty_scenario(
        60_000, weights={"x": (0.3, 0.4)}, outcomes={"churn": -1.0}, scale=None, latent_scores=True, seed=9
    )
    L, y = data.Loyalty.to_numpy(), data.churn.to_numpy()

    def nll(ab):
        eta = ab[0] + ab[1] * L
        return np.sum(np.logaddexp(0, eta) - y * eta)

    a, b = optimize.minimize(nll, [0.0, 0.0], method="BFGS").x
    assert b == pytest.approx(-1.0, abs=0.05)
    assert 1 / (1 + np.exp(-a)) == pytest.approx(0.15, abs=0.01)  # churn base rate (OUTCOMES)


def test_sectors_segments_outcomes_and_ratings():
    data, truth = lm.loyalty_scenario(
        120, sectors=["retail", "banking", "telecom"], segments=True, outcomes=True, seed=0
    )
    assert data.groupby("sector").size().to_dict() == {"banking": 120, "retail": 120, "telecom": 120}
    assert set(data.segment) == {"new", "long-standing"}
    items = [c for c in data if c[:3] in ("bel", "exp", "loy")]
    assert data[items].min().min() >= 0 and data[items].max().max() <= 10
    assert set(data.churn.unique()) <= {0, 1} and data.recommend.between(0, 10).all()
    w = truth[(truth.parameter == "w_beliefs")].set_index(["sector", "segment"]).value
    assert w[("retail", "new")] == pytest.approx(0.40 + 0.15)  # image attracts new customers
    assert w[("banking", "long-standing")] == pytest.approx(0.20 - 0.15)
    assert "Loyalty ~ Beliefs + Experience" in truth.attrs["model"]


def test_impossible_weights_are_refused():
    with pytest.raises(ValueError, match="of loyalty's variance"):
        lm.loyalty_scenario(10, weights=(0.8, 0.7), rho=0.5, seed=0)
    with pytest.raises(ValueError, match="no preset weights"):
        lm.loyalty_scenario(10, sectors=["bakery"])


def test_scenario_sizes_and_seeds_are_checked():
    with pytest.raises(lm.ArgumentError, match="n=0 for sector"):
        lm.loyalty_scenario(n=0)
    with pytest.raises(lm.ArgumentError, match=r"n=12\.5 for sector"):
        lm.loyalty_scenario(n=12.5)
    with pytest.raises(lm.ArgumentError, match="seed=-1"):
        lm.loyalty_scenario(seed=-1)
