"""The conditional form's pointwise log-likelihood integrated over the scores (bayes.integrated),
against exact marginal probabilities computed independently: with ordered-probit items and normal
scores, the items' latent responses are jointly normal, so a respondent's likelihood is a normal
density (continuous items) times a rectangle probability of the ordinal ones given them (scipy's
multivariate normal CDF, Genz's algorithm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import multivariate_normal, norm

import loyaltymodels as lm
from loyaltymodels.bayes.data import prepare
from loyaltymodels.bayes.draws import log_likelihood_block
from loyaltymodels.bayes.integrated import MIN_ESS, integrate_scores, integrated_block
from loyaltymodels.spec.layout import parameter_rows
from loyaltymodels.spec.provenance import spec_attrs

MODEL = """
f1 =~ u1 + u2 + u3 + x1
f2 =~ u4 + u5 + x2
f2 ~ f1
"""
ORD = ["u1", "u2", "u3", "u4", "u5"]
LAM = {"u1": 0.9, "u2": 0.7, "u3": 1.1, "x1": 0.8, "u4": 0.8, "u5": 1.0, "x2": 0.6}
FACTOR = {"u1": 0, "u2": 0, "u3": 0, "x1": 0, "u4": 1, "u5": 1, "x2": 1}
TAU = np.array([-1.2, 0.0, 0.9])  # four categories
BETA = 0.6
NU_X, THETA_X = {"x1": 3.0, "x2": -1.0}, {"x1": 0.5, "x2": 0.7}
N = 40


def _truth(rng: np.random.Generator, jitter: float = 0.0) -> dict:
    """One parameter value, optionally jittered (a draw's)."""
    j = lambda: jitter * rng.standard_normal()  # noqa: E731
    return {
        "lam": {k: v + j() for k, v in LAM.items()},
        "tau": {k: np.sort(TAU + np.array([j(), j(), j()])) for k in ORD},
        "beta": BETA + j(),
        "nu": {k: v + j() for k, v in NU_X.items()},
        "theta": {k: v * np.exp(j()) for k, v in THETA_X.items()},
    }


def _simulate(rng: np.random.Generator) -> pd.DataFrame:
    f1 = rng.standard_normal(N)
    f2 = BETA * f1 + rng.standard_normal(N)
    eta = np.column_stack([f1, f2])
    out = {}
    for item, lam in LAM.items():
        lat = eta[:, FACTOR[item]]
        if item in ORD:
            ystar = lam * lat + rng.standard_normal(N)
            out[item] = 1.0 + (ystar[:, None] > TAU).sum(1)
        else:
            out[item] = NU_X[item] + lam * lat + np.sqrt(THETA_X[item]) * rng.standard_normal(N)
    data = pd.DataFrame(out)
    data.loc[3, "u2"] = np.nan  # a skipped ordinal item
    data.loc[7, "x1"] = np.nan  # a skipped continuous one
    return data


def _row_values(table: pd.DataFrame, th: dict) -> np.ndarray:
    v = np.full(len(table), np.nan)
    for k, r in enumerate(table.itertuples()):
        if r.op == "=~":
            v[k] = th["lam"][r.rhs]
        elif r.op == "|":
            v[k] = th["tau"][r.lhs][int(r.rhs[1:]) - 1]
        elif r.op == "~":
            v[k] = th["beta"]
        elif r.op == "~~":
            v[k] = th["theta"].get(r.lhs, 1.0) if r.lhs == r.rhs else 0.0
        elif r.op == "~1":
            v[k] = th["nu"].get(r.lhs, 0.0)
    return v


def _posterior(data: pd.DataFrame, draws: int, rng: np.random.Generator) -> tuple[xr.DataTree, list[dict]]:
    """A posterior built by hand: jittered parameter draws and, per respondent, scores resampled
    from their exact conditional distribution under the central value (sampling importance
    resampling from the prior), as a sampler's would be."""
    spec, _ = prepare(MODEL, data, ordinal=ORD, std_lv=True)
    table = spec.table
    rows = parameter_rows(table)
    thetas = [_truth(rng, 0.03) for _ in range(draws)]
    values = np.stack([_row_values(table, th) for th in thetas])[:, rows.index.to_numpy()]
    # the scores: 20,000 prior draws weighted by each respondent's items under the central value
    th0 = _truth(rng)
    f1 = rng.standard_normal(20_000)
    cand = np.column_stack([f1, th0["beta"] * f1 + rng.standard_normal(20_000)])
    eta = np.empty((draws, N, 2))
    for i in range(N):
        lw = _items_loglik(data.iloc[i], cand, th0)
        w = np.exp(lw - lw.max())
        eta[:, i] = cand[rng.choice(len(cand), draws, p=w / w.sum())]
    post = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {
                    "param": (("chain", "draw", "parameter"), values[None]),
                    "eta": (("chain", "draw", "respondent", "factor"), eta[None]),
                },
                coords={
                    "chain": [0],
                    "draw": np.arange(draws),
                    "parameter": rows["name"].to_numpy(),
                    "respondent": np.arange(N),
                    "factor": ["f1", "f2"],
                },
            ),
            "observed_data": xr.Dataset(
                {"y": (("respondent", "item"), data[list(spec.observed)].to_numpy(float))},
                coords={"respondent": np.arange(N), "item": list(spec.observed)},
            ),
        }
    )
    post.attrs.update(spec_attrs(spec), likelihood_form="conditional")
    return post, thetas


def _items_loglik(row: pd.Series, eta: np.ndarray, th: dict) -> np.ndarray:
    out = np.zeros(len(eta))
    for item, lam in th["lam"].items():
        if np.isnan(row[item]):
            continue
        mu = lam * eta[:, FACTOR[item]]
        if item in ORD:
            cuts = np.concatenate([[-np.inf], th["tau"][item], [np.inf]])
            c = int(row[item]) - 1
            out += np.log(norm.cdf(cuts[c + 1] - mu) - norm.cdf(cuts[c] - mu))
        else:
            out += norm.logpdf(row[item], th["nu"][item] + mu, np.sqrt(th["theta"][item]))
    return out


def _exact(row: pd.Series, th: dict) -> float:
    """log P(ordinal answers, continuous answers): the latent responses are jointly normal."""
    items = [v for v in LAM if not np.isnan(row[v])]
    lam = np.zeros((len(items), 2))
    for k, v in enumerate(items):
        lam[k, FACTOR[v]] = th["lam"][v]
    T = np.array([[1.0, 0.0], [th["beta"], 1.0]])
    cov_eta = T @ T.T
    resid = np.diag([th["theta"].get(v, 1.0) for v in items])
    cov = lam @ cov_eta @ lam.T + resid
    mean = np.array([th["nu"].get(v, 0.0) for v in items])
    o = [k for k, v in enumerate(items) if v in ORD]
    c = [k for k, v in enumerate(items) if v not in ORD]
    xc = np.array([row[items[k]] for k in c])
    out = multivariate_normal(mean[c], cov[np.ix_(c, c)]).logpdf(xc)
    # the ordinal responses given the continuous ones
    gain = cov[np.ix_(o, c)] @ np.linalg.inv(cov[np.ix_(c, c)])
    m = mean[o] + gain @ (xc - mean[c])
    s = cov[np.ix_(o, o)] - gain @ cov[np.ix_(c, o)]
    lo = np.array([np.concatenate([[-np.inf], th["tau"][items[k]]])[int(row[items[k]]) - 1] for k in o])
    hi = np.array([np.concatenate([th["tau"][items[k]], [np.inf]])[int(row[items[k]]) - 1] for k in o])
    p = multivariate_normal(m, s, abseps=1e-8, releps=1e-6, maxpts=1_000_000).cdf(hi, lower_limit=lo)
    return float(out + np.log(p))


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(20)
    data = _simulate(rng)
    post, thetas = _posterior(data, 200, rng)
    return data, post, thetas


def test_the_integrated_likelihood_is_the_exact_marginal_probability(case):
    data, post, thetas = case
    ll, labels = integrated_block(post, points=512)
    assert ll.shape == (200, N) and list(labels) == list(range(N))
    for d in (0, 199):  # two draws, every respondent (two with a skipped item)
        exact = np.array([_exact(data.iloc[i], thetas[d]) for i in range(N)])
        np.testing.assert_allclose(ll[d], exact, atol=0.01)
        # the sum over respondents, what LOO adds up (measured: 0.05 at 256 points, 0.004 at 1,024)
        assert abs(ll[d].sum() - exact.sum()) < 0.05


def test_the_default_points_are_close_to_many_and_the_conditional_density_is_not_the_marginal(case):
    data, post, thetas = case
    ll64, _ = integrated_block(post)
    ll1k, _ = integrated_block(post, points=1024)
    assert np.abs(ll64 - ll1k).max() < 0.05
    assert np.abs(ll64.sum(1) - ll1k.sum(1)).max() < 0.3  # measured 0.12 on the first draw
    # the density given each draw's own scores is larger: it leaves the scores' uncertainty out
    eta = post["posterior"]["eta"].values[0]
    cond = np.array([[_items_loglik(data.iloc[i], eta[d, i][None], thetas[d])[0] for i in range(N)] for d in (0, 1)])
    assert (cond.sum(1) > ll64[:2].sum(1) + 10).all()


def test_loo_computes_it_when_asked_and_blocks_agree_with_the_whole(case):
    _, post, _ = case
    whole, _ = log_likelihood_block(post)
    part, who = log_likelihood_block(post, np.arange(5, 17))
    np.testing.assert_allclose(part, whole[:, 5:17])
    assert list(who) == list(range(5, 17))
    res = lm.loo(post)
    assert np.isfinite(res.elpd) and res.pareto_k.max() < 0.7


@pytest.mark.parametrize("shift, spread", [(0.0, 1.0), (0.0, 0.05), (2.0, 0.2), (3.0, 0.1)])
def test_a_misplaced_proposal_is_either_still_right_or_flagged(shift, spread):
    # the scores' draws (which place the proposal) from the exact posterior N(y/2, 1/2), or too
    # narrow, or shifted away as a stuck chain's would be; the marginal is N(0, 2)
    y = np.array([0.3, -1.0])
    rng = np.random.default_rng(0)
    sd = np.sqrt(0.5)
    eta = (y / 2 + shift * sd + spread * sd * rng.standard_normal((400, 2)))[..., None]
    ll, ess = integrate_scores(eta, lambda e: norm.logpdf(y, e[:, 0], 1)[None], lambda e: norm.logpdf(e[:, 0])[None])
    error = np.abs(ll[0] - norm.logpdf(y, 0, np.sqrt(2)))
    assert ((error < 0.1) | (ess[0] < MIN_ESS)).all(), (error, ess)
    if shift == 0 and spread == 1:
        assert (error < 0.02).all() and (ess > 60).all()


def test_other_data_than_the_fit_is_refused(case):
    data, post, _ = case
    other = data.copy()
    other["u1"] = other["u1"].replace({4.0: 5.0, 1.0: 0.0}).fillna(2.0)
    other.loc[0, "u1"] = 7.0
    with pytest.raises(lm.errors.DataError, match="u1"):
        integrated_block(post, data=other)


def test_data_in_another_order_is_matched_to_the_scores_by_respondent(case):
    data, post, _ = case
    whole, _ = integrated_block(post)
    order = np.random.default_rng(3).permutation(N)
    shuffled, who = integrated_block(post, data=data.iloc[order])
    assert list(who) == list(order)
    np.testing.assert_allclose(shuffled, whole[:, order])
