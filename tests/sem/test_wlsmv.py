"""WLSMV (ordered items) against DWLS written here from its definition: a one-factor model's
thresholds and correlations built by hand, the weighted least-squares fit by scipy, the robust
("sandwich") standard errors, and Asparouhov & Muthen's scaled-and-shifted statistic; the
sample statistics themselves are checked in test_polychoric.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import loyaltymodels as lm
from loyaltymodels.errors import DataError, SemWarning, SpecError
from loyaltymodels.sem.polychoric import ordinal_stats

LAMBDA = np.array([0.8, 0.7, 0.6, 0.75, 0.65])
CUTS = [-1.0, 0.0, 0.8]
ITEMS = [f"y{j}" for j in range(1, 6)]


def simulate(n: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = shift + scale * rng.normal(size=n)
    ystar = f[:, None] * LAMBDA + rng.normal(size=(n, 5)) * np.sqrt(1 - LAMBDA**2)
    return pd.DataFrame(np.column_stack([np.digitize(ystar[:, j], CUTS) for j in range(5)]), columns=ITEMS)


@pytest.fixture(scope="module")
def data():
    return simulate(400, 11)


@pytest.fixture(scope="module")
def fit(data):
    return lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", data, ordered=True, std_lv=True)


def model_stats(theta: np.ndarray) -> np.ndarray:
    """Thresholds (3 per item, free) then the correlations lambda_j lambda_l, tril(-1) order."""
    lam, tau = theta[:5], theta[5:]
    j, l = np.tril_indices(5, -1)
    return np.concatenate([tau, lam[j] * lam[l]])


@pytest.fixture(scope="module")
def by_hand(data):
    st = ordinal_stats(data[ITEMS].to_numpy(), [4] * 5)
    w = 1 / np.diag(st.gamma)
    res = optimize.minimize(
        lambda th: (st.stats - model_stats(th)) @ (w * (st.stats - model_stats(th))),
        np.r_[np.full(5, 0.7), st.stats[:15]],
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 10_000},
    )
    theta = res.x
    h = 1e-7
    D = np.column_stack([(model_stats(theta + h * e) - model_stats(theta - h * e)) / (2 * h) for e in np.eye(20)])
    E = D.T @ (w[:, None] * D)
    Ei = np.linalg.inv(E)
    V = Ei @ D.T @ (w[:, None] * st.gamma * w[None, :]) @ D @ Ei / st.n
    U = np.diag(w) - (w[:, None] * D) @ Ei @ (D.T * w[None, :])
    UG = U @ st.gamma
    df = 10 - 5  # 15 thresholds + 10 correlations - 20 parameters
    a = np.sqrt(df / np.trace(UG @ UG))
    b = df - a * np.trace(UG)
    T = st.n * res.fun
    return dict(theta=theta, se=np.sqrt(np.diag(V)), T=T, a=a, b=b, df=df)


def test_wlsmv_is_the_default_for_ordered_items_with_lavaans_delta_parameterization(fit):
    assert fit.info["estimator"] == "WLSMV" and fit.info["parameterization"] == "delta"
    p = fit.parameters
    lam = p[p.op == "=~"].est.to_numpy()
    resid = p[(p.op == "~~") & p.lhs.isin(ITEMS) & (p.lhs == p.rhs)].est.to_numpy()
    np.testing.assert_allclose(resid, 1 - lam**2, atol=1e-12)  # Var(y*) = 1
    assert (p[p.op == "|"].shape[0], fit.fit_measures["npar"], fit.fit_measures["df"]) == (15, 20, 5)


def test_dwls_estimates_equal_a_direct_weighted_least_squares_fit(fit, by_hand):
    p = fit.parameters
    est = np.r_[p[p.op == "=~"].est, p[p.op == "|"].est]
    np.testing.assert_allclose(est, by_hand["theta"], atol=1e-6)


def test_robust_standard_errors_equal_the_sandwich(fit, by_hand):
    p = fit.parameters
    se = np.r_[p[p.op == "=~"].se, p[p.op == "|"].se]
    np.testing.assert_allclose(se, by_hand["se"], rtol=1e-4)


def test_scaled_shifted_statistic_equals_asparouhov_muthen(fit, by_hand):
    fm = fit.fit_measures
    assert fm["chisq"] == pytest.approx(by_hand["T"], rel=1e-6)
    assert fm["chisq_scaling_factor"] == pytest.approx(1 / by_hand["a"], rel=1e-6)
    assert fit.info["chisq_shift_parameter"] == pytest.approx(by_hand["b"], rel=1e-5, abs=1e-8)
    assert fm["chisq_scaled"] == pytest.approx(by_hand["a"] * by_hand["T"] + by_hand["b"], rel=1e-6)
    assert np.isnan(fm["logl"]) and np.isnan(fm["cfi_robust"])


def test_configural_groups_are_the_separate_fits():
    data = pd.concat([simulate(300, 1).assign(g="a"), simulate(250, 2).assign(g="b")], ignore_index=True)
    both = lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", data, ordered=True, group="g")
    parts = [lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", data[data.g == g], ordered=True) for g in "ab"]
    assert both.fit_measures["chisq"] == pytest.approx(sum(f.fit_measures["chisq"] for f in parts), rel=1e-6)
    for k, part in enumerate(parts, start=1):
        est = both.parameters.query(f"group == {k} and op in ['=~', '|']").est.to_numpy()
        np.testing.assert_allclose(est, part.parameters.query("op in ['=~', '|']").est.to_numpy(), atol=1e-6)


def test_equal_thresholds_free_the_scales_and_latent_means_of_group_two():
    data = pd.concat([simulate(400, 3).assign(g="a"), simulate(400, 4, shift=0.5, scale=1.3).assign(g="b")])
    fit = lm.fit_sem(
        "F =~ y1 + y2 + y3 + y4 + y5", data, ordered=True, group="g", group_equal=["loadings", "thresholds"]
    )
    p = fit.parameters
    scales = p[(p.op == "~*~") & (p.group == 2)]
    assert (scales.par >= 0).all() and (p[(p.op == "~*~") & (p.group == 1)].est == 1).all()
    mean2 = p.query("lhs == 'F' and op == '~1' and group == 2").iloc[0]
    var1, var2 = (p.query(f"lhs == 'F' and op == '~~' and group == {g}").est.iloc[0] for g in (1, 2))
    assert mean2.par >= 0 and mean2.est / np.sqrt(var1) == pytest.approx(0.5, abs=0.15)
    assert var2 / var1 == pytest.approx(1.3**2, rel=0.3)
    # df: 2 x (15 + 10) statistics - (4 loadings + 15 thresholds + 2 variances + 1 mean + 5 scales)
    assert fit.fit_measures["df"] == 50 - 27


def test_ordered_input_errors_say_what_to_do(data):
    with pytest.raises(SpecError, match="treats items as continuous"):
        lm.fit_sem("F =~ y1 + y2 + y3", data, ordered=True, estimator="MLR")
    with pytest.raises(SpecError, match="pass ordered=True"):
        lm.fit_sem("F =~ y1 + y2 + y3", data, estimator="WLSMV")
    with pytest.raises(SpecError, match="not an observed variable"):
        lm.fit_sem("F =~ y1 + y2 + y3", data, ordered=["y9"])
    with pytest.raises(SpecError, match="predict other variables"):
        lm.fit_sem("F =~ y1 + y2 + y3\ny5 ~ F\ny4 ~ y5", data, ordered=True)
    with pytest.raises(SpecError, match=r"conditional\.x"):
        lm.fit_sem("F =~ y1 + y2 + y3\nF ~ y4", data, ordered=True)
    sparse = pd.concat([data.assign(g="a"), data.assign(g="b", y1=data.y1.clip(1))], ignore_index=True)
    with pytest.raises(DataError, match=r"'y1' has no response in category 0.* group 'b'"):
        lm.fit_sem("F =~ y1 + y2 + y3", sparse, ordered=True, group="g")


def test_sampling_weights_enter_the_polychorics(data):
    w = np.random.default_rng(8).integers(1, 4, len(data))
    weighted = lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", data.assign(w=w), ordered=True, sampling_weights="w")
    repeated = lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", data.loc[data.index.repeat(w)], ordered=True)
    # the same thresholds and polychorics; the DWLS weights differ (a weighted row is not w
    # independent rows: pseudo-ML counts it w^2 times in Gamma), so the estimates differ a little
    np.testing.assert_allclose(weighted.sample["thresholds"], repeated.sample["thresholds"], atol=1e-9)
    np.testing.assert_allclose(weighted.sample["cov"], repeated.sample["cov"], atol=1e-8)
    np.testing.assert_allclose(weighted.parameters.est, repeated.parameters.est, atol=5e-3)


@pytest.mark.slow
def test_scaled_shifted_test_and_ses_are_calibrated():
    """200 samples of N = 500 from the model: the scaled-and-shifted statistic has mean df and
    variance 2 df, rejects ~5% at 0.05, and the SEs match the sampling SDs."""
    stats, est, se = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        for rep in range(200):
            fit = lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", simulate(500, 1000 + rep), ordered=True, std_lv=True)
            stats.append(fit.fit_measures[["chisq_scaled", "pvalue_scaled"]].to_numpy())
            p = fit.parameters
            est.append(p[p.op == "=~"].est.to_numpy())
            se.append(p[p.op == "=~"].se.to_numpy())
    t, pv = np.array(stats).T
    assert t.mean() == pytest.approx(5, rel=0.15)
    assert t.var() == pytest.approx(10, rel=0.35)
    assert 0.01 <= (pv < 0.05).mean() <= 0.10
    np.testing.assert_allclose(np.std(est, axis=0) / np.mean(se, axis=0), 1, atol=0.15)


def test_wlsmv_fit_saves_and_loads_and_refuses_ml_modification_indices(fit, tmp_path):
    fit.to_json(tmp_path / "fit.json")
    back = lm.SemFit.from_json(tmp_path / "fit.json")
    assert back.parameters.equals(fit.parameters) and back.fit_measures.equals(fit.fit_measures)
    assert back.info["estimator"] == "WLSMV" and back.info["ordered"] == ITEMS
    with pytest.raises(SpecError, match="modification indices of a WLSMV fit"):
        fit.modindices()


def test_ordered_and_continuous_items_together_equal_dwls_written_here():
    """Three ordered items and two continuous ones (polyserial covariances): lavaan's statistics
    (thresholds or means, then the continuous variances, then the pairs) fitted by hand."""
    rng = np.random.default_rng(5)
    f = rng.normal(size=600)
    ystar = f[:, None] * LAMBDA + rng.normal(size=(600, 5)) * np.sqrt(1 - LAMBDA**2)
    data = pd.DataFrame({f"y{j + 1}": np.digitize(ystar[:, j], CUTS) for j in range(3)})
    data["y4"], data["y5"] = 2 + 1.5 * ystar[:, 3], -1 + 0.5 * ystar[:, 4]
    fit = lm.fit_sem("F =~ y1 + y2 + y3 + y4 + y5", data, ordered=["y1", "y2", "y3"], std_lv=True)
    codes = np.column_stack([data[f"y{j}"].to_numpy() for j in (1, 2, 3)] + [data.y4, data.y5])
    st = ordinal_stats(codes, [4, 4, 4, 0, 0])

    def stats_of(th):  # lambda(5), tau(9), nu4, nu5, theta4, theta5
        lam, tau, nu, res = th[:5], th[5:14], th[14:16], th[16:18]
        cov = np.outer(lam, lam)
        j, l = np.tril_indices(5, -1)
        return np.concatenate([tau, nu, lam[3:] ** 2 + res, cov[j, l]])

    w = 1 / np.diag(st.gamma)
    start = np.r_[np.full(5, 0.7), st.stats[:9], st.stats[9:11], st.stats[11:13] / 2]
    res = optimize.minimize(
        lambda th: (st.stats - stats_of(th)) @ (w * (st.stats - stats_of(th))),
        start,
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 20_000},
    )
    p = fit.parameters
    est = np.r_[
        p[p.op == "=~"].est,
        p[p.op == "|"].est,
        p.query("op == '~1' and lhs in ['y4', 'y5']").est,
        p.query("op == '~~' and lhs in ['y4', 'y5'] and lhs == rhs").est,
    ]
    np.testing.assert_allclose(est, res.x, atol=1e-5)
    assert fit.fit_measures["chisq"] == pytest.approx(st.n * res.fun, rel=1e-6)
    assert fit.fit_measures["df"] == 23 - 18


def test_a_wlsmv_fits_spec_can_be_passed_back(fit, data):
    again = lm.fit_sem(fit.spec, data, ordered=True, std_lv=True)
    assert again.parameters.equals(fit.parameters)
