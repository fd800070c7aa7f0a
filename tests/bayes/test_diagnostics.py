"""Convergence checks, pointwise log-likelihood, LOO, WAIC and model comparison.

References: lavaan's published Holzinger-Swineford fit (chi-square 85.306, logL -3737.745), the
E-BFMI formula written out (Betancourt 2016), and constructed chains whose failures are known by
construction. (The normal density and the saturated EM are pinned in tests/algebra.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.bayes import diagnostics as dg
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.errors import ConvergenceWarning, DataError, LoyaltyModelsWarning
from tests.bayes.posteriors import cached, hs_posterior, ml_fit, normal_posterior, point_posterior, with_sample_stats


@pytest.fixture(scope="module")
def hs_post():
    return hs_posterior(meanstructure=True)


def _replace_param(post, x):
    out = post.copy()
    ds = post["posterior"].dataset
    out["posterior"] = ds.assign(param=(ds["param"].dims, x))
    return out


# -- the test posteriors themselves ----------------------------------------------------------------
def test_ml_helper_and_log_likelihood_reproduce_lavaan(hs):
    spec = lm.parse_model(HS_MODEL, meanstructure=True)
    theta, _, chisq = cached(("hs_fit", True), lambda: ml_fit(spec, hs))
    assert chisq == pytest.approx(85.306, abs=1e-3)  # lavaan: chisq 85.306, df 24
    post = dg.add_log_likelihood(point_posterior(spec, theta, hs))
    ll = post["log_likelihood"]["y"]
    assert ll.dims == ("chain", "draw", "respondent") and ll.sizes["respondent"] == 301
    assert float(ll.sum()) == pytest.approx(-3737.745, abs=1e-3)  # lavaan: logl -3737.745


def test_log_likelihood_without_mean_structure_uses_sample_means(hs):
    spec = lm.parse_model(HS_MODEL)  # no intercepts in the table
    theta, _, _ = cached(("hs_fit", False), lambda: ml_fit(spec, hs))
    post = dg.add_log_likelihood(point_posterior(spec, theta, hs))
    assert float(post["log_likelihood"]["y"].sum()) == pytest.approx(-3737.745, abs=1e-3)


# -- convergence -----------------------------------------------------------------------------------
def test_good_draws_pass_silently(hs_post):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = dg.check_convergence(hs_post)
    assert table.empty and list(table.columns) == ["check", "parameter", "value", "threshold", "advice"]


def test_identical_chains_have_rhat_one():
    post = hs_posterior(meanstructure=True, draws=1000, seed=4)
    x = post["posterior"]["param"].values.copy()
    x[:] = x[0]  # four copies of one chain of independent draws
    table = dg.check_convergence(_replace_param(post, x), warn=False)
    assert "rhat" not in set(table.check)


def test_shifted_chain_is_named_with_advice(hs_post):
    x = hs_post["posterior"]["param"].values.copy()
    names = list(hs_post["posterior"]["parameter"].values)
    k = names.index("visual=~x2")
    x[2, :, k] += 4 * x[..., k].std()
    with pytest.warns(ConvergenceWarning, match=r"rhat <= 1.01: visual=~x2 \(") as rec:
        table = dg.check_convergence(_replace_param(hs_post, x))
    rhat = table[table.check == "rhat"]
    assert rhat.parameter.tolist() == ["visual=~x2"] and rhat.value.iloc[0] > 1.5
    assert "longer" in str(rec[0].message) and "identification" in str(rec[0].message)
    # fixed rows (marker loadings, constant) are never reported
    assert not table.parameter.isin(["visual=~x1", "textual=~x4", "speed=~x7"]).any()


def test_flipped_chain_is_recognised_as_reflection(hs_post):
    post = hs_post
    x = post["posterior"]["param"].values.copy()
    da = post["posterior"]["param"]
    free_loadings = (da["op"].values == "=~") & (da["lhs"].values == "textual") & (x.std((0, 1)) > 0)
    x[1][:, free_loadings] *= -1
    with pytest.warns(ConvergenceWarning, match=r"reflected .*factor textual in chain\(s\) 1") as rec:
        table = dg.check_convergence(_replace_param(post, x))
    assert set(table.parameter[table.check == "rhat"]) == {"textual=~x5", "textual=~x6"}
    assert "visual" not in str(rec[0].message).split("Try:")[1]


def test_sampler_checks_pymc_names(hs_post):
    rng = np.random.default_rng(1)
    div = np.zeros((4, 250), bool)
    div[0, [3, 50, 70]] = True
    energy = rng.normal(size=(4, 250))
    energy[2] = np.cumsum(rng.normal(size=250))  # a random walk: E-BFMI near 0
    depth = np.full((4, 250), 5)
    depth[3, :25] = 10
    post = with_sample_stats(hs_post, diverging=div, energy=energy, tree_depth=depth, reached_max_treedepth=depth == 10)
    with pytest.warns(ConvergenceWarning, match="3 divergent") as rec:
        table = dg.check_convergence(post)
    msg = str(rec[0].message)
    assert "target_accept" in msg and "E-BFMI" in msg and "tree depth" in msg
    got = table.set_index("check")
    assert got.loc["divergences", "value"] == 3
    assert got.loc["tree_depth", "value"] == pytest.approx(25 / 1000)
    e = energy[2]
    ebfmi = np.sum(np.diff(e) ** 2) / np.sum((e - e.mean()) ** 2)  # Betancourt (2016), eq. 3
    assert got.loc["ebfmi", "parameter"] == "chain 2"
    assert got.loc["ebfmi", "value"] == pytest.approx(ebfmi, rel=1e-6)


def test_sampler_checks_nutpie_names(hs_post):
    import json

    depth = np.full((4, 250), 3)
    depth[0, :10] = 6
    post = with_sample_stats(
        hs_post, depth=depth, diverging=np.zeros((4, 250), bool), energy=np.random.default_rng(2).normal(size=(4, 250))
    )
    post["sample_stats"].attrs["inference_library_settings"] = json.dumps({"settings": {"maxdepth": 6}})
    with pytest.warns(ConvergenceWarning, match="maximum tree depth"):
        table = dg.check_convergence(post)
    assert table.check.tolist() == ["tree_depth"] and table.value.iloc[0] == pytest.approx(0.01)
    flagged = with_sample_stats(hs_post, maxdepth_reached=depth == 6)
    assert dg.check_convergence(flagged, warn=False).check.tolist() == ["tree_depth"]


def test_missing_variable_is_named(hs_post):
    with pytest.raises(DataError, match="no variable 'eta'"):
        dg.check_convergence(hs_post, var_names=("eta",))


# -- LOO, WAIC, compare ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_factor():
    model = "f1 =~ 0.8*a1 + 0.7*a2 + 0.6*a3; f2 =~ 0.8*b1 + 0.7*b2 + 0.6*b3; f1 ~~ 0.3*f2"
    data, _ = lm.simulate(model, n=300, seed=11)
    true = lm.parse_model("f1 =~ a1 + a2 + a3; f2 =~ b1 + b2 + b3", meanstructure=True)
    wrong = lm.parse_model("g =~ a1 + a2 + a3 + b1 + b2 + b3", meanstructure=True)
    return data, normal_posterior(true, data, seed=1), normal_posterior(wrong, data, seed=2)


@pytest.mark.filterwarnings("ignore::loyaltymodels.errors.LoyaltyModelsWarning")  # a few k > 0.67
def test_loo_prefers_the_true_model(two_factor):
    _, true, wrong = two_factor
    table = dg.compare({"two factors": true, "one factor": wrong})
    assert table.index[0] == "two factors"
    diff = table.loc["one factor"]
    assert -diff["elpd_diff"] > 4 * diff["dse"]
    assert table["looic"].to_dict()["two factors"] == pytest.approx(-2 * table.loc["two factors", "elpd"])
    res = dg.loo(true)
    assert res.p == pytest.approx(19, abs=3)  # 19 free parameters, vague "prior"


@pytest.mark.filterwarnings("ignore::loyaltymodels.errors.LoyaltyModelsWarning")
def test_waic_agrees_with_loo_on_a_well_behaved_model(two_factor):
    _, true, _ = two_factor
    w, lo = dg.waic(true), dg.loo(true)
    assert w.elpd == pytest.approx(lo.elpd, abs=1.0) and w.p == pytest.approx(lo.p, abs=1.0)
    assert w.elpd_i.dims == ("respondent",) and w.elpd_i.size == 300


def test_loo_names_influential_respondents(two_factor):
    data, _, _ = two_factor
    spec = lm.parse_model("f1 =~ a1 + a2 + a3; f2 =~ b1 + b2 + b3", meanstructure=True)
    bad = data.copy()
    bad.index = [f"r{k}" for k in range(len(bad))]
    bad.loc["r7", ["a1", "b1"]] = [9.0, -9.0]  # an aberrant respondent
    post = normal_posterior(spec, bad, seed=3)
    with pytest.warns(LoyaltyModelsWarning, match=r"Pareto k > .*r7 \(k="):
        dg.loo(post)


def test_compare_refuses_models_of_different_items(two_factor):
    data, true, _ = two_factor
    with pytest.raises(lm.ArgumentError, match=r"compare\(\) got 1 model\(s\); give at least two"):
        dg.compare({"all": true})
    part = lm.parse_model("f1 =~ a1 + a2 + a3", meanstructure=True)
    with pytest.raises(DataError, match="different items"):
        dg.compare({"all": true, "part": normal_posterior(part, data[["a1", "a2", "a3"]])})


def test_loo_in_blocks_of_respondents_equals_loo_on_the_whole_matrix(hs_post, monkeypatch):
    # PSIS is per respondent: blocks (what large data get, with memory flat in N) give the same numbers
    whole = dg.loo(hs_post)
    monkeypatch.setattr(dg, "LOO_BLOCK", 50 * 1000)  # 1000 draws: blocks of 50 respondents
    blocks = dg.loo(hs_post.drop_nodes("log_likelihood") if "log_likelihood" in hs_post.children else hs_post)
    assert blocks.elpd == pytest.approx(whole.elpd, rel=1e-12) and blocks.p == pytest.approx(whole.p, rel=1e-10)
    np.testing.assert_allclose(blocks.pareto_k.values, whole.pareto_k.values, rtol=1e-10)
    np.testing.assert_array_equal(blocks.elpd_i["respondent"].values, whole.elpd_i["respondent"].values)
