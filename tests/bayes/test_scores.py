"""Factor scores: against the regression (Thurstone) factor score written out with LISREL matrices,
against known latent values simulated with high reliability, and for new rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import loyaltymodels as lm
from loyaltymodels.bayes.scores import factor_scores
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.errors import DataError
from tests.bayes.posteriors import cached, hs_posterior, ml_fit, point_posterior


@pytest.fixture(scope="module")
def hs_point(hs):
    spec = lm.parse_model(HS_MODEL, meanstructure=True)
    theta, _, _ = cached(("hs_fit", True), lambda: ml_fit(spec, hs))
    return spec, theta, point_posterior(spec, theta, hs)


def _lisrel(spec, theta):
    """Lambda, Phi, Theta, nu, alpha of a CFA, filled by hand from the free parameters."""
    t = spec.table.copy()
    t["v"] = [theta[p] if p >= 0 else v for p, v in zip(t.par, t.value)]
    items, factors = spec.observed, spec.latents
    lam, phi = np.zeros((len(items), len(factors))), np.zeros((len(factors), len(factors)))
    th, nu = np.zeros((len(items), len(items))), np.zeros(len(items))
    for r in t.itertuples():
        if r.op == "=~":
            lam[items.index(r.rhs), factors.index(r.lhs)] = r.v
        elif r.op == "~~" and r.lhs in factors:
            i, j = factors.index(r.lhs), factors.index(r.rhs)
            phi[i, j] = phi[j, i] = r.v
        elif r.op == "~~":
            i, j = items.index(r.lhs), items.index(r.rhs)
            th[i, j] = th[j, i] = r.v
        elif r.op == "~1" and r.lhs in items:
            nu[items.index(r.lhs)] = r.v
    return lam, phi, th, nu


def test_one_draw_gives_the_regression_factor_score(hs, hs_point):
    spec, theta, post = hs_point
    lam, phi, th, nu = _lisrel(spec, theta)
    sigma = lam @ phi @ lam.T + th
    y = hs[spec.observed].to_numpy()
    expected = (y - nu) @ np.linalg.solve(sigma, lam @ phi)  # Phi Lambda' Sigma^-1 (y - nu)
    cvar = phi - phi @ lam.T @ np.linalg.solve(sigma, lam @ phi)
    got = factor_scores(post, seed=1)
    assert list(got.columns) == ["respondent", "factor", "mean", "sd", "ci_lower", "ci_upper"]
    assert got.factor.tolist()[:3] == ["visual", "textual", "speed"] and len(got) == 301 * 3
    np.testing.assert_allclose(got["mean"].to_numpy().reshape(301, 3), expected, atol=1e-10)
    np.testing.assert_allclose(got["sd"].to_numpy().reshape(301, 3)[0], np.sqrt(np.diag(cvar)), rtol=1e-10)


def test_known_latent_scores_are_recovered_and_covered():
    rng = np.random.default_rng(7)
    n, lam = 600, np.array([0.95, 0.9, 0.9, 0.85])
    eta = rng.standard_normal(n)
    y = eta[:, None] * lam + rng.standard_normal((n, 4)) * np.sqrt(1 - lam**2) + 2.0
    data = pd.DataFrame(y, columns=["q1", "q2", "q3", "q4"])
    spec = lm.parse_model("F =~ q1 + q2 + q3 + q4", std_lv=True, meanstructure=True)
    free = spec.table[spec.table.free]
    truth = {"=~": dict(zip(["q1", "q2", "q3", "q4"], lam))}
    theta = np.array(
        [
            truth["=~"][r.rhs] if r.op == "=~" else (1 - truth["=~"][r.lhs] ** 2 if r.op == "~~" else 2.0)
            for r in free.itertuples()
        ]
    )
    got = factor_scores(point_posterior(spec, theta, data), ci=0.9, seed=3)
    assert np.corrcoef(got["mean"], eta)[0, 1] > 0.95
    covered = ((got.ci_lower <= eta) & (eta <= got.ci_upper)).mean()
    assert covered == pytest.approx(0.9, abs=0.04)  # binomial sd 0.012 over 600 scores


def test_posterior_uncertainty_widens_the_scores(hs, hs_point):
    _spec, _, point = hs_point
    post = hs_posterior(meanstructure=True)
    a, b = factor_scores(point, seed=1), factor_scores(post, seed=1)
    # mixing over draws adds the spread of the conditional means (the conditional variances
    # themselves move a little with the draws, so a few sds may shrink slightly)
    assert (b["sd"] - a["sd"]).median() > 0 and (b["sd"] > a["sd"] - 0.01).all()
    assert np.corrcoef(a["mean"], b["mean"])[0, 1] > 0.99


def test_new_rows_with_missing_items(hs, hs_point):
    spec, theta, post = hs_point
    lam, phi, th, nu = _lisrel(spec, theta)
    new = hs[spec.observed].iloc[:3].copy()
    new.index = ["a", "b", "c"]
    new.loc["b", ["x1", "x2"]] = np.nan
    new.loc["c", :] = np.nan
    got = factor_scores(post, new, seed=1).set_index(["respondent", "factor"])
    o = [2, 3, 4, 5, 6, 7, 8]  # x3..x9 answered by "b"
    sigma = (lam @ phi @ lam.T + th)[np.ix_(o, o)]
    expected = (new.loc["b"].to_numpy()[o] - nu[o]) @ np.linalg.solve(sigma, lam[o] @ phi)
    np.testing.assert_allclose(got.loc["b", "mean"].to_numpy(), expected, atol=1e-10)
    # nothing answered: the latent's own distribution (mean 0, sd sqrt(phi))
    np.testing.assert_allclose(got.loc["c", "mean"].to_numpy(), 0, atol=1e-12)
    np.testing.assert_allclose(got.loc["c", "sd"].to_numpy(), np.sqrt(np.diag(phi)), rtol=1e-10)


def test_new_rows_are_validated(hs, hs_point):
    _, _, post = hs_point
    bad = hs.rename(columns={"x3": "X3"})
    with pytest.raises(DataError, match="'x3'; did you mean 'X3'"):
        factor_scores(post, bad)
    words = hs.astype({"x5": object})
    words.loc[4, "x5"] = "n/a"
    with pytest.raises(DataError, match="non-numeric value 'n/a' in row 4"):
        factor_scores(post, words)


def test_sampled_scores_are_summarised_directly():
    rng = np.random.default_rng(0)
    eta = rng.normal(loc=[[[[0.0, 1.0]]]], size=(2, 500, 3, 2))
    post = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {"eta": (("chain", "draw", "respondent", "factor"), eta)},
                coords={"respondent": ["r1", "r2", "r3"], "factor": ["Beliefs", "Loyalty"]},
            )
        }
    )
    got = factor_scores(post, ci=0.9)
    assert got.respondent.tolist() == ["r1", "r1", "r2", "r2", "r3", "r3"]
    np.testing.assert_allclose(got["mean"], np.tile([0.0, 1.0], 3), atol=0.1)
    np.testing.assert_allclose(got.ci_upper - got.ci_lower, 2 * 1.645, rtol=0.1)


def test_multigroup_scores_use_each_groups_parameters():
    model = "f =~ c(1, 1)*y1 + c(0.5, 2)*y2 + c(1, 1)*y3; f ~~ c(1, 1)*f; f ~ c(0, 1)*1"
    spec = lm.parse_model(
        model + "; y1 ~~ 1*y1; y2 ~~ 1*y2; y3 ~~ 1*y3; y1 + y2 + y3 ~ 0*1", ngroups=2, group_labels=["north", "south"]
    )
    data = pd.DataFrame({"y1": [1.0, 1.0], "y2": [1.0, 1.0], "y3": [1.0, 1.0], "group": ["north", "south"]})
    post = point_posterior(spec, np.zeros(0), data)
    got = factor_scores(post, data, seed=1)
    assert got.group.tolist() == ["north", "south"]
    for g, (l2, alpha) in enumerate([(0.5, 0.0), (2.0, 1.0)]):
        lam = np.array([1.0, l2, 1.0])
        sigma = np.outer(lam, lam) + np.eye(3)
        expected = alpha + lam @ np.linalg.solve(sigma, np.ones(3) - lam * alpha)
        assert got["mean"].iloc[g] == pytest.approx(expected, abs=1e-10)
