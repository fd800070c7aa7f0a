"""Acquisition (prospects' conversion on the beliefs they answered) and repeat purchase (BG/NBD with
the latents shifting its rate) against truth drawn here in NumPy, not by the package's generator;
each with an arm where the driver has no effect (its interval must then cover 0). The repeat-purchase
fit is also set beside pymc-marketing's own BetaGeoModel, fitted without covariates on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm

MODEL = """
B =~ b1 + b2 + b3
E =~ e1 + e2 + e3
"""
FIT = {"draws": 250, "tune": 300, "chains": 2, "check": False}


def _items(rng: np.random.Generator, X: np.ndarray) -> pd.DataFrame:
    """Three items per latent, loading 0.8, noise SD 0.6."""
    out = pd.DataFrame(index=range(len(X)))
    for k, name in enumerate("be"):
        for j in range(1, 4):
            out[f"{name}{j}"] = 0.8 * X[:, k] + rng.normal(0, 0.6, len(X))
    return out


def draw_acquisition(n_customers: int, n_prospects: int, c_beliefs: float, seed: int) -> pd.DataFrame:
    """Customers answer everything and stay with a flat hazard (no effects); prospects answer the
    beliefs items only and convert with logit P = -0.3 + c_beliefs * B."""
    rng = np.random.default_rng(seed)
    N = n_customers + n_prospects
    X = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], N)
    data = _items(rng, X)
    prospect = np.arange(N) >= n_customers
    data.loc[prospect, ["e1", "e2", "e3"]] = np.nan  # prospects have no experience to report
    leave = rng.geometric(0.1, N)
    data["time"] = np.where(prospect, np.nan, np.minimum(leave, 5))
    data["event"] = np.where(prospect, np.nan, (leave <= 5).astype(float))
    p = 1 / (1 + np.exp(-(-0.3 + c_beliefs * X[:, 0])))
    data["became_customer"] = np.where(prospect, (rng.random(N) < p).astype(float), np.nan)
    return data


@pytest.mark.parametrize("c_beliefs", [1.0, 0.0], ids=["image-attracts", "off"])
def test_acquisition_recovers_the_conversion_effect_of_beliefs(c_beliefs):
    data = draw_acquisition(120, 300, c_beliefs, seed=5)
    post = lm.fit_retention(MODEL, data, acquisition="became_customer", seed=2, **FIT)
    conv = post.posterior["conversion"].sel(sector="all")
    assert list(conv.acquisition_driver.values) == ["B"]  # prospects answered beliefs only
    draws = conv.sel(acquisition_driver="B").to_numpy().ravel()
    # within 3 posterior SDs (a 90% interval misses a true value 1 time in 10: too brittle for a test)
    assert abs(draws.mean() - c_beliefs) < 3 * draws.std(), (c_beliefs, draws.mean(), draws.std())
    if c_beliefs:
        assert np.quantile(draws, 0.05) > 0.3  # the effect is found, not only covered
    tab = lm.retention_effects(post)
    odds = tab.query("effect == 'conversion' and factor == 'B' and per == 'sd'")
    assert len(odds) == 1 and abs(odds.log_mean.iloc[0] - c_beliefs) < 3 * odds.log_sd.iloc[0]
    assert odds.ci_lower.iloc[0] < odds.est.iloc[0] < odds.ci_upper.iloc[0]


def draw_purchases(n: int, g_rate: float, seed: int, T: float = 40.0) -> tuple[pd.DataFrame, np.ndarray]:
    """BG/NBD written out: lambda_i ~ Gamma(r, rate alpha exp(-g_rate E_i)), p_i ~ Beta(a, b);
    purchases arrive at rate lambda_i from time 0, and after each the customer drops out with p_i.
    frequency = repeat purchases in (0, T], recency = time of the last one (0 if none)."""
    r, alpha, a, b = 1.5, 6.0, 1.0, 4.0
    rng = np.random.default_rng(seed)
    X = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], n)
    lam = rng.gamma(r, 1 / (alpha * np.exp(-g_rate * X[:, 1])))
    p = rng.beta(a, b, n)
    freq, rec = np.zeros(n), np.zeros(n)
    t, alive = np.zeros(n), np.ones(n, bool)
    while alive.any():
        t = t + rng.exponential(1 / lam)
        buy = alive & (t <= T)
        freq[buy] += 1
        rec[buy] = t[buy]
        alive = buy & (rng.random(n) >= p)
    data = _items(rng, X)
    data["frequency"], data["recency"], data["T"] = freq, rec, T
    return data, X


@pytest.mark.parametrize("g_rate", [0.5, 0.0], ids=["experience-buys-more", "off"])
def test_repeat_purchase_recovers_the_rate_effect_of_experience(g_rate):
    data, _X = draw_purchases(300, g_rate, seed=7)
    post = lm.fit_retention(MODEL, data, time=None, event=None, purchases=("frequency", "recency", "T"), seed=4, **FIT)
    p = post.posterior
    for var, truth in (("purchase_rate", {"B": 0.0, "E": g_rate}), ("purchase_dropout", {"B": 0.0, "E": 0.0})):
        for k, v in truth.items():
            d = p[var].sel(factor_=k).to_numpy().ravel()
            assert abs(d.mean() - v) < 3 * d.std(), (var, k, v, d.mean(), d.std())
    if g_rate:
        assert float(p["purchase_rate"].sel(factor_="E").quantile(0.05)) > 0.15
    else:
        _beside_pymc_marketing(data, post)


def _beside_pymc_marketing(data: pd.DataFrame, post) -> None:
    """With no effect, the population BG/NBD parameters agree with pymc-marketing's own model
    (no covariates) fitted by MAP on the same counts: within 2.5 posterior SDs on the log scale."""
    from pymc_marketing.clv import BetaGeoModel

    rfm = data[["frequency", "recency", "T"]].assign(customer_id=np.arange(len(data)))
    ref = BetaGeoModel().fit(rfm, method="map", progressbar=False, random_seed=1).posterior
    for name in ("r", "alpha", "a", "b"):
        ours = np.log(post.posterior[f"bgnbd_{name}"].to_numpy().ravel())
        theirs = float(np.log(ref[name].to_numpy().ravel()[0]))
        assert abs(ours.mean() - theirs) < 2.5 * ours.std(), (name, np.exp(ours.mean()), np.exp(theirs))
