"""loyalty_scenario's switches for truths the loyalty model does not assume
(:mod:`loyaltymodels.data.misspecified`), each checked on its known truth by a computation written
here: moments and regressions on the true scores at large n, category shares, a logistic
regression by Newton's method."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

import loyaltymodels as lm
from loyaltymodels.data.misspecified import SKEWED_SHARES
from loyaltymodels.errors import ArgumentError

N = 100_000


def _ols(y, *cols):
    X = np.column_stack([np.ones_like(y), *cols])
    return np.linalg.lstsq(X, y, rcond=None)[0]


def _truth(truth, sector, parameter):
    return float(truth.query("sector == @sector and parameter == @parameter").value.iloc[0])


def test_unequal_driver_variances_by_sector():
    data, truth = lm.loyalty_scenario(
        N,
        weights={"a": (0.3, 0.4), "b": (0.3, 0.4)},
        driver_sd={"b": (1.5, 0.7)},
        scale=None,
        latent_scores=True,
        seed=1,
    )
    for s, (sb, se) in (("a", (1.0, 1.0)), ("b", (1.5, 0.7))):
        d = data[data.sector == s]
        assert d.Beliefs.std() == pytest.approx(sb, rel=0.01) and d.Experience.std() == pytest.approx(se, rel=0.01)
        # loyalty is built on the standardized scores: weights per unit of the scaled score are w / sd
        coef = _ols(d.Loyalty.to_numpy(), d.Beliefs.to_numpy(), d.Experience.to_numpy())[1:]
        assert coef == pytest.approx([0.3 / sb, 0.4 / se], abs=0.025)  # 4 SE of OLS at n = 1e5 and sd 0.7
        assert d.Loyalty.var() == pytest.approx(1.0, abs=0.015)
        # the items measure the scaled scores with the same loading
        assert _ols(d.bel1.to_numpy(), d.Beliefs.to_numpy())[1] == pytest.approx(0.8, abs=0.01)
        assert _truth(truth, s, "sd:Beliefs") == sb


def test_non_invariant_items():
    data, truth = lm.loyalty_scenario(
        N,
        sectors=["retail", "banking"],
        noninvariant={"banking": {"exp2": (0.2, 0.5)}},
        scale=None,
        latent_scores=True,
        seed=2,
    )
    for s, (dl, di) in (("retail", (0.0, 0.0)), ("banking", (0.2, 0.5))):
        d = data[data.sector == s]
        icpt, slope = _ols(d.exp2.to_numpy(), d.Experience.to_numpy())
        assert slope == pytest.approx(0.76 + dl, abs=0.01) and icpt == pytest.approx(di, abs=0.01)
        assert _ols(d.exp1.to_numpy(), d.Experience.to_numpy()) == pytest.approx([0.0, 0.82], abs=0.01)
    assert _truth(truth, "banking", "intercept_shift:exp2") == 0.5


@pytest.mark.parametrize("others", [{}, dict(interaction=0.1, asymmetry=0.2, concave=0.1)], ids=["alone", "with all"])
def test_congruence_surface(others):
    k = 0.15
    data, _ = lm.loyalty_scenario(
        200_000, weights={"x": (0.3, 0.3)}, rho=0.3, congruence=k, scale=None, latent_scores=True, seed=3, **others
    )
    b, e, L = data.Beliefs.to_numpy(), data.Experience.to_numpy(), data.Loyalty.to_numpy()
    coef = _ols(L, b, e, b * b, b * e, e * e, np.abs(e - b))[1:]
    g, a, c = others.get("interaction", 0.0), others.get("asymmetry", 0.0), others.get("concave", 0.0)
    assert coef == pytest.approx([0.3, 0.3, -k, 2 * k + g, -k - c, -a / 2], abs=0.012)
    # Var(L) = 1 needs every closed-form moment of (E - B)^2 with the other terms right
    assert L.var() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("kind", ["shortfall", "symmetric"])
def test_commensurate_promise_items_with_a_known_gap_effect(kind):
    data, truth = lm.loyalty_scenario(
        200_000, weights={"x": (0.3, 0.3)}, rho=0.4, promise=kind, scale=None, latent_scores=True, seed=4
    )
    b, e, L = data.Beliefs.to_numpy(), data.Experience.to_numpy(), data.Loyalty.to_numpy()
    gap = e - b
    # loyalty's slope in the gap, the promise held fixed, on each side of it
    coef = _ols(L, b, np.minimum(gap, 0), np.maximum(gap, 0))[2:]
    below, above = (0.6, 0.0) if kind == "shortfall" else (0.3, 0.3)
    assert coef == pytest.approx([below, above], abs=0.01)
    assert [_truth(truth, "x", "slope_below"), _truth(truth, "x", "slope_above")] == pytest.approx([below, above])
    assert L.var() == pytest.approx(1.0, abs=0.01)
    assert truth.attrs["pairs"] == {f"bel{k}": f"exp{k}" for k in range(1, 5)}
    for k in range(1, 5):  # same loading and intercept as promise and as experience
        pb, pe = _ols(data[f"bel{k}"].to_numpy(), b), _ols(data[f"exp{k}"].to_numpy(), e)
        assert pb == pytest.approx(pe, abs=0.01)


def test_skewed_five_point_items():
    data, truth = lm.loyalty_scenario(N, sectors=["retail"], skewed=True, seed=5)
    for item in ("bel1", "exp3", "loy2"):
        shares = data[item].value_counts(normalize=True).sort_index()
        assert shares.index.tolist() == [1, 2, 3, 4, 5]
        assert shares.to_numpy() == pytest.approx(SKEWED_SHARES, abs=0.006)
    assert truth.attrs["scale"] == (1, 5)


def _logistic(y, X):
    X = np.column_stack([np.ones(len(y)), X])
    beta = np.zeros(X.shape[1])
    for _ in range(25):  # Newton-Raphson
        p = 1 / (1 + np.exp(-X @ beta))
        beta += np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (y - p))
    return beta


def test_direct_experience_to_behaviour_path():
    data, truth = lm.loyalty_scenario(
        N,
        sectors=["retail"],
        outcomes={"churn": -1.2},
        direct={"churn": -0.8},
        scale=None,
        latent_scores=True,
        seed=6,
    )
    beta = _logistic(data.churn.to_numpy(float), data[["Loyalty", "Experience"]].to_numpy())
    assert beta[1:] == pytest.approx([-1.2, -0.8], abs=0.05)
    assert beta[0] == pytest.approx(np.log(0.15 / 0.85), abs=0.05)  # churn's base rate 0.15 at average scores
    assert _truth(truth, "retail", "direct:churn") == -0.8


def test_switches_off_leave_the_scenario_unchanged():
    a, _ = lm.loyalty_scenario(200, sectors=["retail", "banking"], seed=7)
    b, _ = lm.loyalty_scenario(
        200, sectors=["retail", "banking"], seed=7, driver_sd={}, noninvariant={}, congruence=0.0, direct={}
    )
    assert a.equals(b)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(driver_sd={"nowhere": (1, 1)}), "sector 'nowhere'"),
        (dict(driver_sd={"retail": (1, -1)}), "positive"),
        (dict(noninvariant={"retail": {"xyz": (0, 1)}}), "item 'xyz'"),
        (dict(promise="always"), "'shortfall' or 'symmetric'"),
        (dict(direct={"churn": 1.0}), "outcome"),
        (dict(congruence=0.6), "explain"),
    ],
)
def test_bad_switches_are_refused(kw, match):
    with pytest.raises(ArgumentError, match=match):
        lm.loyalty_scenario(50, sectors=["retail"], seed=1, **kw)


def test_share_below_the_promise_is_known():
    # beliefs and experience standardized with correlation rho: the gap E - B is N(0, 2 (1 - rho))
    data, _ = lm.loyalty_scenario(
        N, sectors=["retail"], promise="symmetric", rho=0.4, scale=None, latent_scores=True, seed=8
    )
    gap = data.Experience - data.Beliefs
    assert gap.std() == pytest.approx(np.sqrt(2 * 0.6), rel=0.01)
    assert (gap < 0).mean() == pytest.approx(norm.cdf(0), abs=0.005)
