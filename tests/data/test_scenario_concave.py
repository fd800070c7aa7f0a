"""loyalty_scenario(concave=k): diminishing returns of experience, checked by regression on the
true scores and by loyalty's variance (the generator's closed-form moments kept Var(L) = 1)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyaltymodels as lm


def _ols(y, *cols):
    X = np.column_stack([np.ones_like(y), *cols])
    return np.linalg.lstsq(X, y, rcond=None)[0][1:]


@pytest.mark.parametrize("k", [0.0, 0.15])
def test_concave_term_recovered_with_the_others(k):
    data, truth = lm.loyalty_scenario(
        200_000,
        weights={"x": (0.25, 0.4)},
        rho=0.3,
        interaction=0.1,
        asymmetry=0.3,
        concave=k,
        scale=None,
        latent_scores=True,
        seed=5,
    )
    b, e, L = data.Beliefs.to_numpy(), data.Experience.to_numpy(), data.Loyalty.to_numpy()
    coef = _ols(L, b, e, b * e, np.abs(e - b), e**2)
    assert coef == pytest.approx([0.25, 0.4, 0.1, -0.15, -k], abs=0.01)
    # Var(L) = 1 needs every moment of E^2 right: at k = 0.15 leaving out Var(E^2) would move it
    # by 0.045, Cov(E^2, BE) by 0.018, Cov(E^2, |E - B|) by 0.015
    assert L.var() == pytest.approx(1.0, abs=0.01)
    assert truth.query("parameter == 'concave'").value.tolist() == [k]


def test_concave_truth_has_no_promise_gap():
    # the slope in experience falls with experience on both sides of E = B alike: a pure concave
    # truth (no asymmetry) gives the same curvature below and above the line of congruence
    data, _ = lm.loyalty_scenario(
        200_000, weights={"x": (0.4, 0.4)}, rho=0.3, concave=0.15, scale=None, latent_scores=True, seed=6
    )
    b, e, L = data.Beliefs.to_numpy(), data.Experience.to_numpy(), data.Loyalty.to_numpy()
    coef = _ols(L, b, e, e**2, np.abs(e - b))
    assert coef[3] == pytest.approx(0.0, abs=0.01)
    assert coef[2] == pytest.approx(-0.15, abs=0.01)


def test_too_much_concavity_is_refused():
    with pytest.raises(ValueError, match=r"concave 0\.7"):
        lm.loyalty_scenario(50, weights={"x": (0.4, 0.4)}, concave=0.7, seed=1)


def test_surface_fit_on_the_concave_generator():
    # the generator's concave truth (not only the NumPy truths of tests/loyalty/test_surface.py):
    # the response surface gives E^2 its own credibly negative term and no congruence verdict
    data, _ = lm.loyalty_scenario(200, sectors=["a", "b"], weights=(0.4, 0.4), rho=0.3, concave=0.2, scale=None, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = lm.fit_loyalty(
            lm.loyalty_model(), data, sector="sector", surface=True, draws=300, tune=300, chains=2, seed=1
        )
    rs = lm.response_surface(post).set_index(["sector", "quantity"])
    assert rs.loc[("pooled", "b5"), "ci_upper"] < 0, rs.loc["pooled"]
    assert not lm.congruence(post)["supported"].any()
