"""fit_retention against what it did not write: truth on data drawn here in NumPy (not by the
package's generator), lifelines' Cox model and Kaplan-Meier curves on the same customers, and the
closed-form survival of the true scores; each claim with an arm where the truth has no such effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm

MODEL = """
B =~ b1 + b2 + b3
E =~ e1 + e2 + e3
L =~ l1 + l2 + l3
L ~ B + E
"""
SECTORS = ("s1", "s2", "s3")


def draw(n: int, beta: dict, delta: dict, seed: int, periods: int = 10, link: str = "cloglog") -> tuple:
    """Customers of 3 sectors, latent B, E (corr 0.4), L = 0.4 B + 0.4 E + noise (var 1 overall),
    three items each (loading 0.8), hazard per period from the true scores; random censoring."""
    rng = np.random.default_rng(seed)
    N = 3 * n
    be = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], N)
    resid = 1 - (0.16 + 0.16 + 2 * 0.4 * 0.16)
    L = 0.4 * be[:, 0] + 0.4 * be[:, 1] + rng.normal(0, np.sqrt(resid), N)
    X = np.column_stack([be, L])
    tenure = rng.integers(0, 25, N)
    b = np.array([beta[k] for k in "BEL"])
    d = np.array([delta[k] for k in "BEL"])  # per 12 periods of tenure, around tenure 12
    t = np.arange(periods)
    ten = (tenure[:, None] + t[None, :] - 12) / 12
    eta = np.log(0.06) + (X @ b)[:, None] + ten * (X @ d)[:, None]
    h = -np.expm1(-np.exp(eta)) if link == "cloglog" else 1 / (1 + np.exp(-eta))
    left = rng.random(h.shape) < h
    leave = np.where(left.any(1), left.argmax(1) + 1, periods + 1)
    end = np.minimum(rng.geometric(0.04, N), periods)
    data = pd.DataFrame({"sector": np.repeat(SECTORS, n), "tenure": tenure})
    for k, name in enumerate("BEL"):
        for j in range(1, 4):
            data[f"{name.lower()}{j}"] = 0.8 * X[:, k] + rng.normal(0, 0.6, N)
    data["time"] = np.minimum(leave, end)
    data["event"] = (leave <= end).astype(int)
    surv_true = np.concatenate([np.ones((N, 1)), np.cumprod(1 - h, axis=1)], axis=1)
    return data, X, surv_true


ON = {"B": 0.0, "E": -0.5, "L": -0.4}, {"B": 0.0, "E": -0.7, "L": 0.0}


@pytest.fixture(scope="module")
def fitted():
    data, X, surv = draw(200, *ON, seed=11)
    post = lm.fit_retention(
        MODEL, data, sector="sector", tenure="tenure", draws=300, tune=400, chains=2, seed=3, check=False
    )
    return data, X, surv, post


def z(est, truth, sd):
    return abs(est - truth) / sd


def test_recovers_the_truth_experience_retains_more_over_time_and_beliefs_have_no_direct_path(fitted):
    _data, _X, _surv, post = fitted
    p = post.posterior
    mean = p["hazard_mean"].mean(("chain", "draw")).to_numpy()
    sd = p["hazard_mean"].std(("chain", "draw")).to_numpy()
    truth = np.array(list(ON[0].values()))
    assert np.all(z(mean, truth, sd) < 3), (mean, sd)
    dl = p["tenure_change"].mean(("chain", "draw")).to_numpy()
    ds = p["tenure_change"].std(("chain", "draw")).to_numpy()
    assert np.all(z(dl, np.array(list(ON[1].values())), ds) < 3), (dl, ds)
    tab = lm.retention_effects(post).query("per == 'sd'")
    change = tab.query("effect == 'tenure_change'").set_index("factor")
    assert change.loc["E", "ci_upper"] < 1  # experience retains more over time: found
    assert change.loc["B", "ci_lower"] < 1 < change.loc["B", "ci_upper"]  # beliefs: no such change, none found
    direct = tab.query("effect == 'direct' and sector == 's1'").set_index("factor")
    assert direct.loc["B", "ci_lower"] < 1 < direct.loc["B", "ci_upper"]  # the gap is off for beliefs...
    assert direct.loc["E", "ci_upper"] < 1  # ...and on for experience (a direct path beside loyalty's)
    assert tab.attrs.get("ci_level") is not None or "ci_level" in tab.columns or tab.attrs


def _long(data: pd.DataFrame, X: np.ndarray) -> pd.DataFrame:
    """Person-period rows for lifelines' time-varying Cox model, with the tenure interactions."""
    t = data.time.to_numpy()
    rows = np.repeat(np.arange(len(data)), t)
    start = np.arange(len(rows)) - np.repeat(np.cumsum(t) - t, t)
    ten = (data.tenure.to_numpy()[rows] + start - 12) / 12
    out = pd.DataFrame({"id": rows, "start": start, "stop": start + 1})
    out["event"] = ((start + 1 == t[rows]) & (data.event.to_numpy()[rows] == 1)).astype(int)
    for k, name in enumerate("BEL"):
        out[name] = X[rows, k]
        out[f"{name}_ten"] = X[rows, k] * ten
    return out


def test_hazard_ratios_agree_with_lifelines_cox_on_the_true_scores(fitted):
    from lifelines import CoxTimeVaryingFitter

    data, X, _surv, post = fitted
    cox = CoxTimeVaryingFitter().fit(_long(data, X), id_col="id", start_col="start", stop_col="stop", event_col="event")
    p = post.posterior
    ours = {k: p["hazard_mean"].sel(factor_=k) for k in "BEL"} | {
        f"{k}_ten": p["tenure_change"].sel(factor_=k) for k in "BEL"
    }
    diffs = {}
    for name, draws in ours.items():
        m, s = float(draws.mean()), float(draws.std())
        c, se = cox.params_[name], cox.standard_errors_[name]
        diffs[name] = (m - c, s / se)
        assert abs(m - c) < 2.5 * np.hypot(s, se), (name, m, c, s, se)
    # measuring the drivers with 3 items costs precision: posterior SD above Cox's SE on the true scores
    assert np.mean([r for _, r in diffs.values()]) > 1.0, diffs


def test_population_survival_agrees_with_kaplan_meier_and_honours_censoring(fitted):
    from lifelines import KaplanMeierFitter

    data, _X, surv, post = fitted
    curves = lm.survival_curves(post)
    for name in SECTORS:
        mine = data.sector == name
        km = KaplanMeierFitter().fit(data.time[mine], data.event[mine])
        ours = curves.query("sector == @name").set_index("period")
        periods = np.arange(1, 11)
        km_s = km.survival_function_at_times(periods).to_numpy()
        ci = km.confidence_interval_survival_function_
        half = (ci.iloc[:, 1] - ci.iloc[:, 0]).reindex(periods, method="ffill").to_numpy() / 2
        assert np.all(np.abs(ours.survival.loc[periods].to_numpy() - km_s) < half + 0.01)
        # the truth: mean over these customers of prod (1 - h), from the true scores
        true = surv[mine.to_numpy()].mean(0)
        gap = np.abs(ours.survival.to_numpy() - true)
        width = (ours.ci_upper - ours.ci_lower).to_numpy()
        assert np.all(gap <= width + 1e-9), (name, gap.round(3), (ours.ci_upper - ours.ci_lower).to_numpy().round(3))
        # ignoring censoring (censored customers counted as staying) overstates survival at the end
        naive = 1 - ((data.event == 1) & mine & (data.time <= 10)).sum() / mine.sum()
        assert naive > true[10] and abs(ours.survival.loc[10] - true[10]) < abs(naive - true[10]), (naive, true[10])


def test_summaries_say_what_a_point_is_worth(fitted):
    _data, _X, _surv, post = fitted
    life = lm.expected_lifetime(post, "E", sector="s1", horizon=24)
    by = life.set_index("level").est
    assert by["-1.0"] < by["0.0"] < by["1.0"] <= 24
    assert life.set_index("level").loc["+1 point", "ci_lower"] > 0
    curves = lm.survival_curves(post, "E", sector="s2", levels=(-1, 1))
    last = curves.query("period == 10").set_index("level").survival
    assert last[1] > last[-1]
    ax = lm.plot_survival_curves(post, "E", sector="s1")
    assert len(ax.lines) == 3


@pytest.mark.slow
def test_off_arm_and_misspecified_link():
    """No direct path, no tenure change, and a logit (not cloglog) hazard: the package finds no
    effect where there is none, and recovers the sign of the one there is."""
    data, _X, _surv = draw(250, {"B": 0.0, "E": 0.0, "L": -0.5}, {"B": 0.0, "E": 0.0, "L": 0.0}, seed=5, link="logit")
    post = lm.fit_retention(
        MODEL, data, sector="sector", tenure="tenure", draws=400, tune=500, chains=2, seed=4, check=False
    )
    tab = lm.retention_effects(post).query("per == 'sd'")
    for _f in "BE":
        row = tab.query("effect == 'direct' and sector == 's1' and factor == @f").iloc[0]
        assert row.ci_lower < 1 < row.ci_upper
        row = tab.query("effect == 'tenure_change' and factor == @f").iloc[0]
        assert row.ci_lower < 1 < row.ci_upper
    assert tab.query("effect == 'direct' and factor == 'L'").ci_upper.max() < 1


@pytest.mark.slow
def test_a_new_data_set_of_the_same_structure_reuses_the_compiled_graph_and_its_own_data():
    """The cached graph with new data swapped in gives the draws a fresh compile on that data gives
    (not the first data set's): the person-period rows, prospects and purchases all change."""
    from loyaltymodels.retention.fit import clear_retention_cache

    kw = dict(
        sector="sector",
        tenure="tenure",
        acquisition="became_customer",
        purchases=("frequency", "recency", "T"),
        draws=50,
        tune=50,
        chains=2,
        seed=1,
        check=False,
    )
    how = {"prospects": 10, "purchases": True}
    d1, truth = lm.loyalty_scenario(40, sectors=2, follow_up=6, behaviour=how, seed=1)
    d2, _ = lm.loyalty_scenario(40, sectors=2, follow_up=6, behaviour=how, seed=2)
    assert d1.time.sum() != d2.time.sum()  # a different number of person-period rows
    model = truth.attrs["model"]
    clear_retention_cache()
    first = lm.fit_retention(model, d1, **kw)
    cached = lm.fit_retention(model, d2, **kw)
    assert first.attrs["compile_seconds"] > 0 and cached.attrs["compile_seconds"] == 0
    clear_retention_cache()
    fresh = lm.fit_retention(model, d2, **kw)
    for v in ("hazard", "conversion", "purchase_rate", "scores"):
        assert float(np.abs(cached.posterior[v] - fresh.posterior[v]).max()) == 0.0, v
        assert float(np.abs(first.posterior[v] - fresh.posterior[v]).max()) > 0.0, v
    assert fresh.attrs["density"] == "pytensor" and "compiled density" in fresh.attrs["density_reason"]
