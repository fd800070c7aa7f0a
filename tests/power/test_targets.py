"""Scenarios, targets, replication records and the power summary, without Dask: the pieces a
power analysis is made of, checked against references computed here (bootstrap, scipy, hand counts)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.errors import DataError
from loyaltymodels.power.analysis import Job, replication_seed, run_replication
from loyaltymodels.power.targets import as_targets
from loyaltymodels.sem.inference import std_all_vcov

WEIGHTS = {"retail": (0.5, 0.2), "banking": (0.35, 0.35)}


@pytest.fixture(scope="module")
def loyalty_fit():
    data, truth = lm.loyalty_scenario(250, weights=WEIGHTS, seed=3)
    fit = lm.fit_sem(truth.attrs["model"], data, group="sector", group_equal=("loadings", "intercepts"))
    return fit, truth


def test_std_all_vcov_matches_the_bootstrap_covariance():
    data, _ = lm.simulate("y ~ 0.4*x1 + 0.3*x2; x1 ~~ 0.5*x2", n=300, seed=1)
    fit = lm.fit_sem("y ~ x1 + x2", data, bootstrap=400, seed=3, n_jobs=1)
    rows = fit.parameters.query("op == '~'").index
    v = std_all_vcov(fit, rows).to_numpy()
    np.testing.assert_allclose(np.sqrt(np.diag(v)), fit.parameters.loc[rows, "std_all_se"], rtol=1e-10)
    boot = np.array(fit.bootstrap["std_all"])[:, rows]
    diff = boot[:, 0] - boot[:, 1]
    # MC error of a bootstrap SD with B = 400 is about 3.5%; correlated predictors -> negative covariance
    assert np.sqrt(v[0, 0] + v[1, 1] - 2 * v[0, 1]) == pytest.approx(diff.std(ddof=1), rel=0.1)
    assert v[0, 1] < 0 and v[0, 1] == pytest.approx(np.cov(boot.T)[0, 1], rel=0.35)


def test_weights_differ_is_the_wald_test_of_the_standardized_difference(loyalty_fit):
    fit, truth = loyalty_fit
    p = fit.parameters
    out = lm.weights_differ("retail").check(fit, truth, "sem")
    rows = p.index[(p.op == "~") & (p.group == 1)]
    b, e = p.loc[rows, "std_all"]
    v = std_all_vcov(fit, rows).to_numpy()
    se = np.sqrt(v[0, 0] + v[1, 1] - 2 * v[0, 1])
    assert out["estimate"] == pytest.approx(b - e) and out["se"] == pytest.approx(se)
    assert out["detected"] == (2 * stats.norm.sf(abs(b - e) / se) < 0.05)
    assert out["truth"] == pytest.approx(0.5 - 0.2)
    assert [q["truth"] for q in out["parameters"]] == [0.5, 0.2]
    assert lm.weights_differ("banking").check(fit, truth, "sem")["truth"] == 0.0
    with pytest.raises(ValueError, match="not among the fitted groups"):
        lm.weights_differ("luxury").check(fit, truth, "sem")
    with pytest.raises(ValueError, match="name the one to test"):
        lm.weights_differ().check(fit, truth, "sem")


def test_parameter_nonzero_reads_simulate_truth_and_group_labels(loyalty_fit):
    fit, truth = loyalty_fit
    t = lm.parameter_nonzero("Loyalty", "~", "Beliefs", group="banking", standardized=True)
    out = t.check(fit, truth, "sem")
    row = fit.parameters.query("op == '~' and rhs == 'Beliefs' and group == 2").iloc[0]
    assert out["estimate"] == pytest.approx(row.std_all) and out["truth"] == 0.35 and out["detected"]
    data, sim_truth = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3; y ~ 0.1*f", n=200, seed=2)
    sfit = lm.fit_sem("f =~ x1 + x2 + x3; y ~ f", data)
    out = lm.parameter_nonzero("y", "~", "f").check(sfit, sim_truth, "sem")
    assert out["truth"] == pytest.approx(0.1 / 0.8)  # marker scaling: f = 0.8 f_marker, b / lambda_1
    assert out["detected"] == (sfit.parameters.query("op == '~'").pvalue.item() < 0.05)


def _posterior(diff_draws: np.ndarray) -> xr.DataTree:
    """A fake two-group posterior whose beliefs - experience difference in group 2 is ``diff_draws``."""
    names = ["Loyalty~Beliefs", "Loyalty~Experience", "Loyalty~Beliefs.g2", "Loyalty~Experience.g2"]
    x = np.zeros((2, len(diff_draws) // 2, 4))
    x[..., 2] = 0.3 + diff_draws.reshape(2, -1)
    x[..., 3] = 0.3
    post = xr.Dataset({"std_all": (("chain", "draw", "parameter"), x)}, coords={"parameter": names})
    return xr.DataTree.from_dict({"posterior": post})


def test_bayes_rules_of_weights_differ():
    tree = _posterior(np.linspace(-0.02, 0.98, 1000))  # 2% of the draws below 0
    tree.attrs["group_labels"] = json.dumps(["retail", "banking"])
    interval = lm.weights_differ("banking").check(tree, None, "bayes")
    prob = lm.weights_differ("banking", bayes_rule="probability", probability=0.95).check(tree, None, "bayes")
    assert interval["detected"] and prob["detected"]
    assert interval["estimate"] == pytest.approx(0.48, abs=1e-9)
    tree = _posterior(np.linspace(-0.04, 0.96, 1000))  # 4%: outside a 95% interval, but P(d>0) = 0.96
    tree.attrs["group_labels"] = json.dumps(["retail", "banking"])
    assert not lm.weights_differ("banking").check(tree, None, "bayes")["detected"]
    assert lm.weights_differ("banking", bayes_rule="probability").check(tree, None, "bayes")["detected"]


def test_scenarios_and_targets_are_plain_and_picklable():
    sc = lm.loyalty_power_scenario(weights=WEIGHTS, scale=None)
    targets = as_targets([lm.weights_differ("retail"), lm.parameter_nonzero("Loyalty", "~", "Beliefs")])
    again = pickle.loads(pickle.dumps((sc, targets)))
    assert again[0] == sc and [t.name for t in again[1]] == [t.name for t in targets]
    assert json.loads(json.dumps(sc.describe()))["kwargs"]["weights"] == {"retail": [0.5, 0.2], "banking": [0.35, 0.35]}
    with pytest.raises(ValueError, match="choose one of"):
        lm.Scenario("lavaan")
    with pytest.raises(ValueError, match="needs kwargs"):
        lm.Scenario("simulate")
    with pytest.raises(ValueError, match="unique"):
        as_targets([lm.weights_differ("retail"), lm.weights_differ("retail")])


def _always(fit, truth):
    return True


def _constant_items(n, rng):
    data, truth = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3", n=n, seed=rng)
    if n < 30:
        data["x3"] = 1.0  # unusable: the fit must fail, and the failure must be counted
    return data, truth


def test_replications_are_reproducible_and_failures_are_records():
    sc = lm.loyalty_power_scenario(weights=WEIGHTS)
    job = Job(sc, tuple(as_targets([lm.weights_differ("retail"), _always])), "sem", dict(sc.fit_options), 11)
    first, again = run_replication(job, 80, 3), run_replication(job, 80, 3)
    drop = ("elapsed", "setup", "worker")
    assert [{k: v for k, v in r.items() if k not in drop} for r in first] == [
        {k: v for k, v in r.items() if k not in drop} for r in again
    ]
    assert {r["quantity"] for r in first} == {
        "weights_differ[retail]",
        "_always",
        "Loyalty~Beliefs[retail] std_all",
        "Loyalty~Experience[retail] std_all",
    }
    assert all(r["spawn_key"] == "80,3" and r["seed_entropy"] == "11" for r in first)
    other = run_replication(job, 80, 4)
    assert other[0]["estimate"] != first[0]["estimate"]
    bad = Job(lm.Scenario(_constant_items, model="f =~ x1 + x2 + x3"), (as_targets(_always)[0],), "sem", {}, 1)
    (row,) = run_replication(bad, 20, 0)
    assert not row["converged"] and row["detected"] is None and row["error"].startswith(DataError.__name__)


def test_power_summary_counts_every_replication():
    rec = pd.DataFrame(
        {
            "n": [100] * 5,
            "rep": range(5),
            "kind": "target",
            "quantity": "t",
            "detected": pd.array([True, True, False, None, True], dtype="boolean"),
            "converged": [True, True, True, False, True],
            "error": ["", "", "", "Err: x", ""],
            "estimate": [0.2, 0.4, 0.0, np.nan, 0.2],
            "se": 0.1,
            "truth": 0.25,
        }
    )
    s = lm.power_summary(rec, n_label="n_per_sector").iloc[0]
    assert (s.reps, s.n_converged, s.n_failed, s.n_detected) == (5, 4, 1, 3)
    assert s.power == 0.75 and s.power_all == 0.6 and s.failure == "Err: x"
    ref = stats.binomtest(3, 4).proportion_ci(0.95, method="wilson")
    assert (s.power_lower, s.power_upper) == pytest.approx((ref.low, ref.high))
    assert s.bias == pytest.approx(0.2 - 0.25) and s.rmse == pytest.approx(
        np.sqrt(np.mean(np.square([0.2 - 0.25, 0.4 - 0.25, -0.25, 0.2 - 0.25])))
    )
    assert "n_per_sector" in lm.power_summary(rec, n_label="n_per_sector").columns


def test_replication_seed_is_the_spawned_stream():
    root = np.random.SeedSequence(99)
    assert (
        replication_seed(99, 3, 2).generate_state(2).tolist() == root.spawn(4)[3].spawn(3)[2].generate_state(2).tolist()
    )
