"""The diagnostics on real MCMC fits from ``lm.fit_bayes`` (slow: each model compiles in ~20 s),
and the calibration of the posterior predictive p-value over replications."""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.bayes import diagnostics as dg
from loyaltymodels.bayes import global_fit as fi
from loyaltymodels.bayes.draws import log_likelihood_block
from loyaltymodels.bayes.predictive_checks import ppmc
from loyaltymodels.bayes.scores import factor_scores
from loyaltymodels.datasets import HS_MODEL
from tests.bayes.posteriors import normal_posterior

pytestmark = pytest.mark.slow
needs_bayes = pytest.mark.skipif(
    "fit_bayes" not in dir(lm), reason="loyaltymodels.bayes.fit (fit_bayes) is not merged yet"
)


@pytest.fixture(scope="module")
def hs_fit(hs):
    return lm.fit_bayes(HS_MODEL, hs, draws=1000, tune=1000, chains=4, seed=1, progressbar=False, check=False)


@needs_bayes
def test_real_fit_passes_the_checks_and_matches_blavaan(hs_fit):
    assert dg.check_convergence(hs_fit).empty
    # the pointwise log-likelihood, whole or by blocks of respondents, is the same numbers
    whole = dg.add_log_likelihood(hs_fit)["log_likelihood"]["y"].values.reshape(4000, -1)
    block, _labels = log_likelihood_block(hs_fit, slice(100, 180))
    np.testing.assert_array_equal(block, whole[:, 100:180])
    half = dg.add_log_likelihood(hs_fit, dtype="float32")["log_likelihood"]["y"].values.reshape(4000, -1)
    assert half.dtype == np.float32 and np.abs(half - whole).max() < 1e-3
    table = fi.fit_indices(hs_fit)
    assert table.loc["BRMSEA", "mean"] == pytest.approx(0.099, abs=0.01)  # blavaan vignette
    assert table.loc["BCFI", "mean"] == pytest.approx(0.931, abs=0.015)  # lavaan CFI
    out = ppmc(hs_fit, seed=1)
    assert out["ppp"] < 0.01 and out["discrepancy_rep"] == pytest.approx(54, rel=0.03)


@needs_bayes
def test_real_fit_factor_scores_track_the_regression_scores(hs, hs_fit):
    from loyaltymodels.algebra.matrices import implied_moments, ram_layout
    from loyaltymodels.bayes.draws import model_spec, row_draws

    spec = model_spec(hs_fit)
    values = row_draws(hs_fit, spec).mean(axis=0, keepdims=True)
    cov, mean = implied_moments(ram_layout(spec), values, full=True)
    p = len(spec.observed)
    gain = np.linalg.solve(cov[0, :p, :p], cov[0, :p, p:])
    regression = (hs[spec.observed].to_numpy() - mean[0, :p]) @ gain
    got = factor_scores(hs_fit, seed=1)["mean"].to_numpy().reshape(len(hs), -1)
    for k in range(regression.shape[1]):
        assert np.corrcoef(got[:, k], regression[:, k])[0, 1] > 0.99


@needs_bayes
def test_real_fits_loo_prefers_three_factors(hs, hs_fit):
    one = lm.fit_bayes(
        "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9",
        hs,
        draws=500,
        tune=500,
        chains=2,
        seed=2,
        progressbar=False,
        check=False,
    )
    table = dg.compare({"three factors": hs_fit, "one factor": one})
    assert table.index[0] == "three factors"
    assert -table.loc["one factor", "elpd_diff"] > 4 * table.loc["one factor", "dse"]


def test_ppp_is_calibrated_over_replications():
    # data from the model itself: ppp should sit around 0.5 (it is conservative, never near 0)
    model = "f1 =~ 0.8*a1 + 0.7*a2 + 0.6*a3; f2 =~ 0.8*b1 + 0.7*b2 + 0.6*b3; f1 ~~ 0.4*f2"
    spec = lm.parse_model("f1 =~ a1 + a2 + a3; f2 =~ b1 + b2 + b3", meanstructure=True)
    ppps = []
    for rep in range(20):
        data, _ = lm.simulate(model, n=300, seed=100 + rep)
        ppps.append(ppmc(normal_posterior(spec, data, chains=2, draws=200, seed=rep), seed=rep)["ppp"])
    ppps = np.array(ppps)
    assert 0.35 < ppps.mean() < 0.65 and (ppps > 0.01).all()
