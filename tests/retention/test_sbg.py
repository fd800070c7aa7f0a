"""fit_retention(churn="sbg"): pymc-marketing's shifted-beta-geometric with the latents shifting its
parameters and left truncation at the tenure of the survey, checked against the likelihood written
here with SciPy's beta functions, and (slow) against truth drawn here in NumPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

import loyaltymodels as lm
from loyaltymodels.errors import SpecError

MODEL = """
B =~ b1 + b2 + b3
E =~ e1 + e2 + e3
"""


def draw(n: int, c_beta_e: float, seed: int, periods: int = 12) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers of two sectors: renewal-failure probability theta ~ Beta(alpha_i, beta_i) with
    beta_i = beta_s exp(-c_beta_e E_i) (pymc-marketing's convention: c < 0 retains); lifetime
    T ~ Geometric(theta) periods since joining; surveyed at tenure tau (only those still customers,
    T > tau, are surveyed: left truncation), then followed up to ``periods`` with random drop-out."""
    rng = np.random.default_rng(seed)
    X, tau, T, sector = [], [], [], []
    for s, (a_s, b_s) in enumerate(((0.8, 4.0), (1.2, 3.0))):
        m = 0
        while m < n:
            x = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], 4 * n)
            theta = rng.beta(a_s, b_s * np.exp(-c_beta_e * x[:, 1]))
            life = rng.geometric(np.clip(theta, 1e-12, 1))
            ten = rng.integers(0, 13, len(x))
            keep = np.flatnonzero(life > ten)[: n - m]
            X.append(x[keep])
            tau.append(ten[keep])
            T.append(life[keep])
            sector += [f"s{s + 1}"] * len(keep)
            m += len(keep)
    X, tau, T = np.concatenate(X), np.concatenate(tau), np.concatenate(T)
    end = np.minimum(rng.geometric(0.03, len(X)), periods)
    data = pd.DataFrame({"sector": sector, "tenure": tau})
    for k, name in enumerate("be"):
        for j in range(1, 4):
            data[f"{name}{j}"] = 0.8 * X[:, k] + rng.normal(0, 0.6, len(X))
    data["time"] = np.minimum(T - tau, end)
    data["event"] = (T - tau <= end).astype(int)
    return data, X


def test_sbg_likelihood_is_the_truncated_and_censored_shifted_beta_geometric():
    data, _X = draw(40, -0.5, seed=1)
    model = lm.build_retention_model(MODEL, data, sector="sector", tenure="tenure", churn="sbg")
    rng = np.random.default_rng(0)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    logp = model.compile_logp(vars=[model["sbg_churn"]])(point)
    names = ("scores", "sbg_alpha", "sbg_beta", "sbg_alpha_coef", "sbg_beta_coef")
    outs = model.replace_rvs_by_values([model[v] for v in names])  # their values at `point`, not random draws
    out = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")(point)
    scores, a_s, b_s, c_a, c_b = out
    s = pd.Categorical(data.sector).codes
    a = a_s[s] * np.exp(-scores @ c_a)
    b = b_s[s] * np.exp(-scores @ c_b)
    tau, t, left = data.tenure.to_numpy(float), data.time.to_numpy(float), data.event.to_numpy()

    def log_s(v):  # Fader & Hardie (2007) eq. 6: S(v) = B(a, b + v) / B(a, b)
        return betaln(a, b + v) - betaln(a, b)

    log_p = betaln(a + 1, b + tau + t - 1) - betaln(a, b)  # eq. 5 at T = tau + t
    expected = np.sum(np.where(left == 1, log_p, log_s(tau + t)) - log_s(tau))
    assert left.sum() > 5 and (tau == 0).any() and (tau > 0).any()
    np.testing.assert_allclose(logp, expected, rtol=1e-9)


def test_sbg_needs_time_and_a_known_churn_model():
    data, _X = draw(10, 0.0, seed=2)
    with pytest.raises(SpecError, match="churn='bgg'"):
        lm.build_retention_model(MODEL, data, churn="bgg")
    with pytest.raises(SpecError, match="time="):
        lm.build_retention_model(MODEL, data, time=None, event=None, purchases=("b1", "b2", "b3"), churn="sbg")


@pytest.mark.slow
@pytest.mark.parametrize("c_beta_e", [-0.6, 0.0], ids=["experience-retains", "off"])
def test_sbg_recovers_the_effect_of_experience_and_its_survival_curve(c_beta_e):
    data, _X = draw(300, c_beta_e, seed=3)
    post = lm.fit_retention(
        MODEL, data, sector="sector", tenure="tenure", churn="sbg", draws=300, tune=400, chains=2, seed=1, check=False
    )
    p = post.posterior
    for k, truth in (("B", 0.0), ("E", c_beta_e)):
        d = p["sbg_beta_coef"].sel(factor_=k).to_numpy().ravel()
        assert abs(d.mean() - truth) < 3 * d.std(), (k, truth, d.mean(), d.std())
    if c_beta_e:
        assert float(p["sbg_beta_coef"].sel(factor_="E").quantile(0.95)) < 0
    for s, (a_s, b_s) in zip(("s1", "s2"), ((0.8, 4.0), (1.2, 3.0))):
        for name, truth in (("sbg_alpha", a_s), ("sbg_beta", b_s)):
            d = np.log(p[name].sel(sector=s).to_numpy().ravel())
            assert abs(d.mean() - np.log(truth)) < 3 * d.std(), (s, name, truth, np.exp(d.mean()))
    tab = lm.retention_effects(post).query("effect == 'sbg_beta' and per == 'sd'").set_index("factor")
    assert tab.loc["B", "ci_lower"] < 1 < tab.loc["B", "ci_upper"]
    curves = lm.survival_curves(post, sector="s1")
    assert curves.survival.is_monotonic_decreasing and curves.survival.iloc[0] == 1.0
