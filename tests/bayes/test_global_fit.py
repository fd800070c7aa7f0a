"""Posterior predictive p-values and Bayesian fit indices.

References: lavaan's published Holzinger-Swineford fit (chi-square 85.306 on 24 df, RMSEA .092,
CFI .931, TLI .896, baseline chi-square 918.852 on 36 df), blavaan's published
``blavFitIndices`` summary for the same model (approx_fi vignette: BRMSEA .099, BGammaHat .956,
adjBGammaHat .907, BMc .902), the ML RMSEA of a large simulated sample computed here from an
independent ML fit, and the distribution theory of the likelihood-ratio statistic.
"""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.algebra.moments import saturated_moments
from loyaltymodels.algebra.normal import mvn_logpdf
from loyaltymodels.bayes import global_fit as fi
from loyaltymodels.bayes.predictive_checks import ppmc
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.errors import DataError
from tests.bayes.posteriors import cached, hs_posterior, ml_fit, normal_posterior, point_posterior

pytestmark = pytest.mark.filterwarnings("ignore::loyaltymodels.errors.LoyaltyModelsWarning")

TWO = "f1 =~ a1 + a2 + a3 + a4; f2 =~ b1 + b2 + b3 + b4"
TWO_POP = "f1 =~ 0.8*a1 + 0.7*a2 + 0.6*a3 + 0.7*a4; f2 =~ 0.8*b1 + 0.7*b2 + 0.6*b3 + 0.7*b4; f1 ~~ 0.4*f2"


@pytest.fixture(scope="module")
def hs_post():
    return hs_posterior(meanstructure=False)


def test_chisq_at_the_ml_point_is_lavaans(hs):
    spec = lm.parse_model(HS_MODEL, meanstructure=True)
    theta, _, _ = cached(("hs_fit", True), lambda: ml_fit(spec, hs))
    out = ppmc(point_posterior(spec, theta, hs), seed=1)
    assert out["discrepancy_obs"] == pytest.approx(85.306, abs=1e-3)


def test_discrepancy_equals_twice_the_loglik_ratio():
    # n F_ML against 2 (logL_sat - logL_model), computed from densities row by row
    rng = np.random.default_rng(2)
    y = rng.normal(size=(50, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1.0]])
    sigma = np.array([[1.5, 0.4, 0.1], [0.4, 1.2, 0.2], [0.1, 0.2, 1.1]])[None]
    mu = np.array([[0.1, -0.2, 0.0]])
    cov, mean, ll_sat = saturated_moments(y)
    ll = mvn_logpdf(y, sigma, mu).sum()
    assert fi.ml_discrepancy(cov, mean, sigma, mu, 50)[0] == pytest.approx(2 * (ll_sat - ll), rel=1e-10)


def test_replicated_discrepancy_follows_lr_theory(hs_post):
    # Under the model the replicated chi-square is the LR statistic of a saturated model with
    # p(p+1)/2 = 45 moments, so its mean is 45 plus a small-sample (Bartlett) excess
    out = ppmc(hs_post, seed=3)
    assert out["discrepancy_rep"] == pytest.approx(45, rel=0.03)
    assert out["draws"] == 1000 and out["ppp"] < 0.01  # lavaan: p(chisq) < .001 for HS


def test_ppp_is_reproducible_with_a_seed(hs_post):
    a, b = ppmc(hs_post, seed=5), ppmc(hs_post, seed=5)
    assert a.equals(b)
    assert not np.array_equal(a.attrs["draws"]["rep"], ppmc(hs_post, seed=6).attrs["draws"]["rep"])


@pytest.fixture(scope="module")
def simulated():
    data, _ = lm.simulate(TWO_POP, n=400, seed=21)
    right = lm.parse_model(TWO, meanstructure=True)
    wrong = lm.parse_model("g =~ a1 + a2 + a3 + a4 + b1 + b2 + b3 + b4", meanstructure=True)
    return data, normal_posterior(right, data, seed=1), normal_posterior(wrong, data, seed=2)


def test_ppp_separates_true_and_misspecified_models(simulated):
    _, right, wrong = simulated
    assert 0.05 < ppmc(right, seed=1)["ppp"] < 0.95
    assert ppmc(wrong, seed=1)["ppp"] < 0.01


def test_custom_discrepancy(simulated):
    _, right, _ = simulated

    def max_residual(cov, mean, sigma, mu, n):
        return np.abs(cov - sigma).max(axis=(1, 2))

    out = ppmc(right, max_residual, seed=1)
    assert 0.05 < out["ppp"] < 0.95 and out["discrepancy_obs"] > 0


def test_fit_indices_hs_match_blavaan_and_lavaan(hs_post):
    table = fi.fit_indices(hs_post)
    m = table["mean"]
    # blavaan's approx_fi vignette (bcfa of the same model, posterior means)
    assert m["BRMSEA"] == pytest.approx(0.099, abs=0.005)
    assert m["BGammaHat"] == pytest.approx(0.956, abs=0.005)
    assert m["adjBGammaHat"] == pytest.approx(0.907, abs=0.01)
    assert m["BMc"] == pytest.approx(0.902, abs=0.01)
    # lavaan's ML values as plausibility anchors
    assert m["BRMSEA"] == pytest.approx(0.092, abs=0.01)
    assert m["BCFI"] == pytest.approx(0.931, abs=0.01)
    assert m["BTLI"] == pytest.approx(0.896, abs=0.03)
    assert table.attrs["baseline"].startswith("independence model at its ML solution (chisq 918.852, df 36)")
    assert table.attrs["pD"] == pytest.approx(21, abs=4) and table.attrs["p"] == 45
    assert list(table.columns) == ["mean", "median", "sd", "ci_lower", "ci_upper"]
    assert (table["ci_lower"] < table["median"]).all() and (table["median"] < table["ci_upper"]).all()


def test_brmsea_near_ml_rmsea_on_a_large_sample():
    pop = TWO_POP.replace("0.7*a4;", "0.7*a4 + 0.3*b1;")  # an omitted cross-loading
    data, _ = lm.simulate(pop, n=3000, seed=8)
    spec = lm.parse_model(TWO, meanstructure=True)
    fit = ml_fit(spec, data)
    chisq, df, n = fit[2], spec.df, len(data)
    rmsea = np.sqrt(max(chisq - df, 0) / (df * n))  # lavaan's RMSEA (N, not N - 1)
    post = normal_posterior(spec, data, fit=fit, seed=4)
    table = fi.fit_indices(post, pD="dic")
    assert rmsea > 0.02
    assert table.loc["BRMSEA", "mean"] == pytest.approx(rmsea, abs=0.004)


def test_baseline_posterior_gives_what_the_ml_baseline_gives(hs, hs_post):
    items = [f"x{k}" for k in range(1, 10)]
    null = lm.parse_model("; ".join(f"{v} ~~ {v}" for v in items))
    post0 = normal_posterior(null, hs, seed=9)
    with_post = fi.fit_indices(hs_post, baseline=post0)
    with_ml = fi.fit_indices(hs_post)
    for index in ("BCFI", "BTLI", "BNFI"):
        assert with_post.loc[index, "mean"] == pytest.approx(with_ml.loc[index, "mean"], abs=0.005)
    assert with_post.attrs["pD_null"] == pytest.approx(9, abs=2)
    with pytest.raises(DataError, match="draw as many"):
        fi.fit_indices(hs_post, baseline=normal_posterior(null, hs, draws=100))


def test_pd_choices_are_close_to_the_parameter_count(simulated):
    _, right, _ = simulated  # 25 free parameters
    for method in ("loo", "waic", "dic"):
        assert fi.effective_parameters(right, method) == pytest.approx(25, abs=3), method


def test_per_draw_indices(hs_post):
    draws = fi.fit_indices(hs_post, per_draw=True)
    assert draws.shape == (1000, 7) and draws.attrs["chisq"].shape == (1000,)
    assert (draws["BRMSEA"] >= 0).all() and (draws["BCFI"] <= 1).all()


def test_missing_values_saturated_model_has_zero_discrepancy():
    # A one-factor model of three items is saturated: at the parameters that reproduce the EM
    # (FIML saturated) moments, the FIML chi-square is 0. Those parameters are solved by hand.
    data, _ = lm.simulate("f =~ 0.8*a1 + 0.7*a2 + 0.6*a3", n=300, seed=12)
    data = data.mask(np.random.default_rng(0).random(data.shape) < 0.1)
    S, m, _ = saturated_moments(data.to_numpy())
    lam2, lam3 = S[1, 2] / S[0, 2], S[1, 2] / S[0, 1]
    phi = S[0, 1] * S[0, 2] / S[1, 2]
    theta_ = np.diag(S) - np.array([1, lam2, lam3]) ** 2 * phi
    spec = lm.parse_model("f =~ a1 + a2 + a3", meanstructure=True)
    free = spec.table[spec.table.free]
    by_name = {
        ("f", "=~", "a2"): lam2,
        ("f", "=~", "a3"): lam3,
        ("f", "~~", "f"): phi,
        **{(f"a{k}", "~~", f"a{k}"): theta_[k - 1] for k in (1, 2, 3)},
        **{(f"a{k}", "~1", ""): m[k - 1] for k in (1, 2, 3)},
    }
    theta = np.array([by_name[(r.lhs, r.op, r.rhs)] for r in free.itertuples()])
    out = ppmc(point_posterior(spec, theta, data), seed=1)
    assert out["discrepancy_obs"] == pytest.approx(0, abs=1e-6)


def test_missing_values_ppp_is_plausible_for_the_true_model():
    data, _ = lm.simulate(TWO_POP, n=300, seed=12)
    spec = lm.parse_model(TWO, meanstructure=True)
    holes = data.mask(np.random.default_rng(0).random(data.shape) < 0.05)
    post = normal_posterior(spec, data, chains=2, draws=50, seed=1)  # around the complete-data fit
    post["observed_data"] = post["observed_data"].to_dataset().assign(y=(("respondent", "item"), holes.to_numpy()))
    out = ppmc(post, seed=2)
    assert 0.05 < out["ppp"] < 0.95
    assert out["discrepancy_rep"] == pytest.approx(44, rel=0.15)  # 8 items: 44 moments


def test_unsupported_inputs_are_refused(hs, hs_post):
    with pytest.raises(lm.ArgumentError, match="discrepancy='srmr' is unknown"):
        ppmc(hs_post, "srmr")
    with pytest.raises(lm.ArgumentError, match="pD='aic'"):
        fi.effective_parameters(hs_post, "aic")
    with pytest.raises(lm.ArgumentError, match="pass both"):
        fi.bayes_chi_fit(np.array([30.0]), 21, p=54, n=301, nvar=9, chisq_null=np.array([900.0]))
    spec = lm.parse_model("f =~ x1 + x2 + x3; f ~ x4")
    theta = np.zeros(int(spec.table.par.max()) + 1)
    with pytest.raises(DataError, match="fixed-x"):
        ppmc(point_posterior(spec, theta, hs))
