"""Robust ML (MLR, MLM) and sampling weights against computations written here from their
definitions: casewise scores and Hessians by finite differences of scipy's normal log-density
(with the implied covariance matrix built from the parameter table by LISREL algebra, not by the
package's RAM kernel), the Huber-White sandwich, the Yuan-Bentler (Mplus variant) and the
Satorra-Bentler traces, and the robust fit indices of Brosseau-Liard & Savalei.

lavaan's documented Holzinger-Swineford values (the ML solution) stay to 1e-5 under MLR and MLM:
only the standard errors and the tests change.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.errors import DataError, SemWarning, SpecError


# -- an independent model of the HS CFA: LISREL matrices from the parameter table -------------------
def implied(params: pd.DataFrame, theta: np.ndarray, observed: list[str], latents: list[str]):
    """``(mu, Sigma) = (nu, Lambda Phi Lambda' + Theta)`` of a CFA from the table's rows and ``theta``."""
    p, m = len(observed), len(latents)
    lam, phi, th, nu = np.zeros((p, m)), np.zeros((m, m)), np.zeros((p, p)), np.zeros(p)
    for r in params.itertuples():
        value = theta[r.par] if r.par >= 0 else r.est
        if r.op == "=~":
            lam[observed.index(r.rhs), latents.index(r.lhs)] = value
        elif r.op == "~~" and r.lhs in latents:
            i, j = latents.index(r.lhs), latents.index(r.rhs)
            phi[i, j] = phi[j, i] = value
        elif r.op == "~~":
            i, j = observed.index(r.lhs), observed.index(r.rhs)
            th[i, j] = th[j, i] = value
        elif r.op == "~1" and r.lhs in observed:
            nu[observed.index(r.lhs)] = value
    return nu, lam @ phi @ lam.T + th


def casewise_logl(fit, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Each row's log-density (marginal over its observed items) at ``theta``, by scipy."""
    obs, lat = list(fit.spec.observed), list(fit.spec.latents)
    nu, sigma = implied(fit.parameters, theta, obs, lat)
    if not fit.spec.meanstructure:
        nu = np.nanmean(y, axis=0)
    seen = ~np.isnan(y)
    out = np.empty(len(y))
    for key in np.unique(seen, axis=0):  # rows answering the same items, scored together
        rows = (seen == key).all(axis=1)
        o = key.astype(bool)
        out[rows] = stats.multivariate_normal.logpdf(y[np.ix_(rows, o)], nu[o], sigma[np.ix_(o, o)]).reshape(-1)
    return out


def numeric_scores(fit, y: np.ndarray, theta: np.ndarray | None = None, h: float = 1e-6) -> np.ndarray:
    theta = fit.theta if theta is None else theta
    out = np.empty((len(y), len(theta)))
    for k in range(len(theta)):
        e = np.zeros(len(theta))
        e[k] = h
        out[:, k] = (casewise_logl(fit, y, theta + e) - casewise_logl(fit, y, theta - e)) / (2 * h)
    return out


def numeric_hessian(fit, y: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Hessian of minus the average log-likelihood (central differences of the numeric scores)."""
    theta = fit.theta
    k = len(theta)
    H = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        up = numeric_scores(fit, y, theta + e).mean(axis=0)
        down = numeric_scores(fit, y, theta - e).mean(axis=0)
        H[j] = -(up - down) / (2 * h)
    return (H + H.T) / 2


def se_of(fit) -> np.ndarray:
    p = fit.parameters
    return p[p.par >= 0].drop_duplicates("par").sort_values("par")["se"].to_numpy()


@pytest.fixture(scope="module")
def hs_small(hs):
    return hs.iloc[::2].reset_index(drop=True)  # a smaller sample keeps the brute force quick


@pytest.fixture(scope="module")
def mlr(hs_small):
    return lm.fit_sem(HS_MODEL, hs_small, estimator="MLR")


def test_mlr_keeps_the_ml_estimates_and_lavaans_hs_solution(hs):
    ml, mlr, mlm = (lm.fit_sem(HS_MODEL, hs, estimator=e) for e in ("ML", "MLR", "MLM"))
    for fit in (mlr, mlm):
        assert np.abs(fit.parameters.est - ml.parameters.est).max() < 1e-9
        assert fit.fit_measures["chisq"] == pytest.approx(85.306, abs=5e-4)  # lavaan tutorial
    assert mlr.info["se"] == "robust.huber.white" and mlr.info["test"] == "yuan.bentler.mplus"
    assert mlr.info["information"] == "observed" and mlm.info["information"] == "expected"


# lavaan 0.6-20's printed output of ``cfa(HS.model, HolzingerSwineford1939, estimator = "MLR")``,
# as published in lavaanExtra's README (its ``cfa_fit_plot`` calls lavaan::cfa with estimator="MLR"):
# fit measures (Standard / Scaled columns and the robust indices) and every free estimate and SE.
LAVAAN_HS_MLR = {
    "npar": 21,
    "aic": 7517.490,
    "bic": 7595.339,
    "chisq_scaled": 87.132,
    "chisq_scaling_factor": 0.979,
    "baseline_chisq_scaled": 880.082,
    "baseline_chisq_scaling_factor": 1.044,
    "cfi_scaled": 0.925,
    "tli_scaled": 0.888,
    "cfi_robust": 0.930,
    "tli_robust": 0.895,
    "rmsea_scaled": 0.093,
    "rmsea_ci_lower_scaled": 0.073,
    "rmsea_ci_upper_scaled": 0.115,
    "rmsea_robust": 0.092,
    "rmsea_ci_lower_robust": 0.072,
    "rmsea_ci_upper_robust": 0.114,
}
LAVAAN_HS_MLR_PARAMS = """
visual =~ x2 0.554 0.132 | visual =~ x3 0.729 0.141 | textual =~ x5 1.113 0.066 | textual =~ x6 0.926 0.061
speed =~ x8 1.180 0.130 | speed =~ x9 1.082 0.266 | visual ~~ textual 0.408 0.099 | visual ~~ speed 0.262 0.060
textual ~~ speed 0.173 0.056 | x1 ~~ x1 0.549 0.156 | x2 ~~ x2 1.134 0.112 | x3 ~~ x3 0.844 0.100
x4 ~~ x4 0.371 0.050 | x5 ~~ x5 0.446 0.057 | x6 ~~ x6 0.356 0.047 | x7 ~~ x7 0.799 0.097
x8 ~~ x8 0.488 0.120 | x9 ~~ x9 0.566 0.119 | visual ~~ visual 0.809 0.180 | textual ~~ textual 0.979 0.121
speed ~~ speed 0.384 0.107
"""
# the same call with x2, x6, x7 removed (same README): the scaled test and robust indices
LAVAAN_HS6_MLR = {
    "npar": 15,
    "aic": 5106.235,
    "chisq": 13.109,
    "chisq_scaled": 13.560,
    "chisq_scaling_factor": 0.967,
    "baseline_chisq_scaled": 460.467,
    "cfi_scaled": 0.983,
    "tli_scaled": 0.958,
    "cfi_robust": 0.984,
    "tli_robust": 0.961,
    "rmsea_robust": 0.064,
    "rmsea_ci_lower_robust": 0.016,
    "rmsea_ci_upper_robust": 0.109,
}


def _printed(value: float) -> float:
    return 5e-4 + 1e-9 * abs(value)  # lavaan prints three decimals


def test_mlr_equals_lavaans_printed_hs_output(hs):
    fit = lm.fit_sem(HS_MODEL, hs, estimator="MLR")  # lavaan: no mean structure with complete data
    for name, value in LAVAAN_HS_MLR.items():
        assert fit.fit_measures[name] == pytest.approx(value, abs=_printed(value)), name
    table = fit.parameters.set_index(["lhs", "op", "rhs"])
    for row in LAVAAN_HS_MLR_PARAMS.replace("\n", " | ").split("|"):
        if not row.strip():
            continue
        lhs, op, rhs, est, se = row.split()
        assert table.loc[(lhs, op, rhs), "est"] == pytest.approx(float(est), abs=5e-4), row
        assert table.loc[(lhs, op, rhs), "se"] == pytest.approx(float(se), abs=5e-4), row


def test_mlr_equals_lavaans_printed_output_on_a_second_model(hs):
    model = "visual =~ x1 + x3\ntextual =~ x4 + x5\nspeed =~ x8 + x9"
    fit = lm.fit_sem(model, hs, estimator="MLR")
    for name, value in LAVAAN_HS6_MLR.items():
        assert fit.fit_measures[name] == pytest.approx(value, abs=_printed(value)), name
    table = fit.parameters.set_index(["lhs", "op", "rhs"])
    assert table.loc[("speed", "=~", "x9"), ["est", "se"]].tolist() == pytest.approx([1.754, 0.398], abs=5e-4)
    assert table.loc[("x4", "~~", "x4"), ["est", "se"]].tolist() == pytest.approx([0.107, 0.190], abs=5e-4)


def test_mlr_sandwich_equals_the_casewise_score_sandwich(mlr, hs_small):
    y = hs_small[list(mlr.spec.observed)].to_numpy(float)
    g = numeric_scores(mlr, y)
    A = numeric_hessian(mlr, y)
    B = g.T @ g / len(y)
    Ainv = np.linalg.inv(A)
    se = np.sqrt(np.diag(Ainv @ B @ Ainv) / len(y))
    np.testing.assert_allclose(se_of(mlr), se, rtol=1e-3)


def test_yuan_bentler_mplus_scaling_factor_from_its_formula(mlr, hs_small):
    """c = (tr(A1^-1 B1) - tr(E^-1 B0)) / df with A1, B1 the unrestricted model's information and
    first-order information at the sample moments, E the Hessian and B0 the scores' cross-products."""
    y = hs_small[list(mlr.spec.observed)].to_numpy(float)
    n, p = y.shape
    g = numeric_scores(mlr, y)
    A = numeric_hessian(mlr, y)
    # unrestricted model in vech(Sigma) (no mean structure: means at the sample means)
    S = np.cov(y.T, bias=True)
    rows, cols = np.tril_indices(p)

    def rows_logl(v):
        sig = np.zeros((p, p))
        sig[rows, cols] = v
        sig[cols, rows] = v
        return stats.multivariate_normal.logpdf(y, y.mean(axis=0), sig)

    v0, h = S[rows, cols], 1e-6
    s1 = np.empty((n, len(v0)))
    for k in range(len(v0)):
        e = np.zeros(len(v0))
        e[k] = h
        s1[:, k] = (rows_logl(v0 + e) - rows_logl(v0 - e)) / (2 * h)
    B1 = s1.T @ s1 / n
    A1 = np.zeros_like(B1)  # expected = observed information at the sample moments
    Si = np.linalg.inv(S)
    for a in range(len(v0)):
        Ea = np.zeros((p, p))
        Ea[rows[a], cols[a]] = Ea[cols[a], rows[a]] = 1
        for b in range(len(v0)):
            Eb = np.zeros((p, p))
            Eb[rows[b], cols[b]] = Eb[cols[b], rows[b]] = 1
            A1[a, b] = 0.5 * np.trace(Si @ Ea @ Si @ Eb)
    df = mlr.fit_measures["df"]
    c = (np.trace(np.linalg.solve(A1, B1)) - np.trace(np.linalg.solve(A, g.T @ g / n))) / df
    fm = mlr.fit_measures
    assert fm["chisq_scaling_factor"] == pytest.approx(c, rel=1e-3)
    assert fm["chisq_scaled"] == pytest.approx(fm["chisq"] / c, rel=1e-3)
    assert fm["pvalue_scaled"] == pytest.approx(stats.chi2.sf(fm["chisq"] / c, df), rel=1e-3)


def test_satorra_bentler_scaling_and_ses_from_their_formulas(hs_small):
    fit = lm.fit_sem(HS_MODEL, hs_small, estimator="MLM")
    y = hs_small[list(fit.spec.observed)].to_numpy(float)
    n, p = y.shape
    obs, lat = list(fit.spec.observed), list(fit.spec.latents)
    rows, cols = np.tril_indices(p)
    theta, h = fit.theta, 1e-6

    def vech_sigma(th):
        return implied(fit.parameters, th, obs, lat)[1][rows, cols]

    Delta = np.column_stack(
        [(vech_sigma(theta + h * e) - vech_sigma(theta - h * e)) / (2 * h) for e in np.eye(len(theta))]
    )
    sigma = implied(fit.parameters, theta, obs, lat)[1]
    Si = np.linalg.inv(sigma)
    D = np.zeros((p * p, len(rows)))
    D[rows * p + cols, np.arange(len(rows))] = 1
    D[cols * p + rows, np.arange(len(rows))] = 1
    W = 0.5 * D.T @ np.kron(Si, Si) @ D
    yc = y - y.mean(axis=0)
    z = yc[:, rows] * yc[:, cols]
    Gamma = np.cov(z.T, bias=True)  # Browne's ADF Gamma, N denominators
    E = Delta.T @ W @ Delta
    U = W - W @ Delta @ np.linalg.solve(E, Delta.T @ W)
    c = np.trace(U @ Gamma) / fit.fit_measures["df"]
    assert fit.fit_measures["chisq_scaling_factor"] == pytest.approx(c, rel=1e-3)
    Ei = np.linalg.inv(E)
    se = np.sqrt(np.diag(Ei @ Delta.T @ W @ Gamma @ W @ Delta @ Ei) / n)
    np.testing.assert_allclose(se_of(fit), se, rtol=1e-3)


def test_robust_fit_indices_follow_brosseau_liard_and_savalei(mlr):
    fm = mlr.fit_measures
    x2, df, xb, dfb = fm["chisq"], fm["df"], fm["baseline_chisq"], fm["baseline_df"]
    c, cb, n = fm["chisq_scaling_factor"], fm["baseline_chisq_scaling_factor"], fm["ntotal"]
    t, tb = x2 / c, xb / cb
    assert fm["cfi_scaled"] == pytest.approx(1 - max(t - df, 0) / max(t - df, tb - dfb), rel=1e-12)
    assert fm["tli_scaled"] == pytest.approx(1 - (t / df - 1) / (tb / dfb - 1), rel=1e-12)
    assert fm["cfi_robust"] == pytest.approx(1 - max(x2 - c * df, 0) / max(x2 - c * df, xb - cb * dfb), rel=1e-12)
    assert fm["tli_robust"] == pytest.approx(1 - ((x2 - c * df) / df) / ((xb - cb * dfb) / dfb), rel=1e-12)
    assert fm["rmsea_scaled"] == pytest.approx(np.sqrt(max(t - df, 0) / (n * df)), rel=1e-12)
    assert fm["rmsea_robust"] == pytest.approx(np.sqrt(max(x2 - c * df, 0) / (n * df)), rel=1e-12)
    assert fm["rmsea_ci_lower_robust"] == pytest.approx(fm["rmsea_ci_lower_scaled"] * np.sqrt(c), rel=1e-12)


def test_mlr_under_fiml_equals_the_casewise_score_sandwich():
    true = "F =~ 0.8*y1 + 0.7*y2 + 0.6*y3 + 0.7*y4"
    data, _ = lm.simulate(true, n=150, seed=3)
    rng = np.random.default_rng(4)
    data = data.mask(rng.random(data.shape) < 0.15)
    fit = lm.fit_sem("F =~ y1 + y2 + y3 + y4", data, missing="fiml", estimator="MLR")
    y = data[list(fit.spec.observed)].to_numpy(float)
    y = y[~np.isnan(y).all(axis=1)]
    g = numeric_scores(fit, y)
    A = numeric_hessian(fit, y)
    Ainv = np.linalg.inv(A)
    se = np.sqrt(np.diag(Ainv @ (g.T @ g / len(y)) @ Ainv) / len(y))
    np.testing.assert_allclose(se_of(fit), se, rtol=1e-3)
    assert fit.fit_measures["chisq_scaling_factor"] > 0 and np.isfinite(fit.fit_measures["cfi_robust"])


def test_equal_sampling_weights_change_nothing_and_integer_weights_replicate_rows(hs_small):
    plain = lm.fit_sem(HS_MODEL, hs_small, estimator="MLR")
    same = lm.fit_sem(HS_MODEL, hs_small.assign(w=3.7), sampling_weights="w")
    assert same.info["estimator"] == "MLR"  # lavaan: weights call for the robust estimator
    np.testing.assert_allclose(same.parameters.se, plain.parameters.se, rtol=1e-6)
    assert same.fit_measures["chisq_scaled"] == pytest.approx(plain.fit_measures["chisq_scaled"], rel=1e-6)
    w = np.random.default_rng(1).integers(1, 4, len(hs_small))
    weighted = lm.fit_sem(HS_MODEL, hs_small.assign(w=w), sampling_weights="w")
    repeated = lm.fit_sem(HS_MODEL, hs_small.loc[hs_small.index.repeat(w)], estimator="MLR")
    np.testing.assert_allclose(weighted.parameters.est, repeated.parameters.est, atol=1e-6)


def test_weighted_sandwich_equals_the_weighted_score_sandwich(hs_small):
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(hs_small))
    fit = lm.fit_sem(HS_MODEL, hs_small.assign(w=w), sampling_weights="w")
    y = hs_small[list(fit.spec.observed)].to_numpy(float)
    wn = w * len(w) / w.sum()  # lavaan: rescaled to sum to N
    mean = wn @ y / len(y)

    def logl(th):  # weighted pseudo-log-likelihood per row, means at the weighted means
        sigma = implied(fit.parameters, th, list(fit.spec.observed), list(fit.spec.latents))[1]
        return wn * stats.multivariate_normal.logpdf(y, mean, sigma)

    theta, k, h = fit.theta, len(fit.theta), 1e-6
    g = np.column_stack([(logl(theta + h * e) - logl(theta - h * e)) / (2 * h) for e in np.eye(k)])
    H = np.empty((k, k))
    for j, e in enumerate(np.eye(k)):
        up = np.column_stack(
            [(logl(theta + 1e-4 * e + h * f) - logl(theta + 1e-4 * e - h * f)) / (2 * h) for f in np.eye(k)]
        )
        dn = np.column_stack(
            [(logl(theta - 1e-4 * e + h * f) - logl(theta - 1e-4 * e - h * f)) / (2 * h) for f in np.eye(k)]
        )
        H[j] = -(up.mean(axis=0) - dn.mean(axis=0)) / 2e-4
    Hi = np.linalg.inv((H + H.T) / 2)
    se = np.sqrt(np.diag(Hi @ (g.T @ g / len(y)) @ Hi) / len(y))
    np.testing.assert_allclose(se_of(fit), se, rtol=1e-3)


def test_bad_weights_and_estimator_choices_are_named(hs_small):
    with pytest.raises(DataError, match="'wt' not found"):
        lm.fit_sem(HS_MODEL, hs_small, sampling_weights="wt")
    bad = hs_small.assign(w=1.0)
    bad.loc[5, "w"] = -1
    with pytest.raises(DataError, match=r"negative value.*row 5"):
        lm.fit_sem(HS_MODEL, bad, sampling_weights="w")
    with pytest.raises(SpecError, match=r"MLM.*complete"):
        lm.fit_sem(HS_MODEL, hs_small, estimator="MLM", missing="fiml")
    with pytest.raises(SpecError, match="not available; choose among ML, MLR, MLM, WLSMV"):
        lm.fit_sem(HS_MODEL, hs_small, estimator="GLS")


def test_unknown_options_name_fit_sem_and_list_what_is_accepted(hs_small):
    with pytest.raises(TypeError, match=r"fit_sem\(\) got unknown option\(s\) 'estimater'.*did you mean 'estimator'"):
        lm.fit_sem(HS_MODEL, hs_small, estimater="MLR")
    with pytest.raises(TypeError, match=r"accepts group, group_equal.*sampling_weights.*fixed_x"):
        lm.fit_sem(HS_MODEL, hs_small, ordred=True)


def test_spec_options_listed_by_fit_sem_are_parse_model_options():
    from loyaltymodels.sem.options import SPEC_OPTIONS

    known = set(lm.parse_model("f =~ a + b + c").options)
    assert set(SPEC_OPTIONS) <= known


def test_mlr_multigroup_scaling_factor_sums_the_groups_traces(hs):
    """Two groups with nothing in common: the scaled test's trace is the sum of the groups' own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        both = lm.fit_sem(HS_MODEL, hs, group="school", estimator="MLR")
        parts = [
            lm.fit_sem(HS_MODEL, hs[hs.school == s], estimator="MLR", meanstructure=True)
            for s in both.spec.group_labels
        ]
    traces = sum(f.fit_measures["chisq_scaling_factor"] * f.fit_measures["df"] for f in parts)
    fm = both.fit_measures
    assert fm["chisq_scaling_factor"] == pytest.approx(traces / fm["df"], rel=1e-6)
    assert fm["chisq"] == pytest.approx(115.851, abs=5e-4)  # lavaan tutorial, configural model


def test_robust_fit_saves_and_loads_without_loss(mlr, tmp_path):
    mlr.to_json(tmp_path / "fit.json")
    back = lm.SemFit.from_json(tmp_path / "fit.json")
    assert back.parameters.equals(mlr.parameters) and back.fit_measures.equals(mlr.fit_measures)
    assert (back.info["estimator"], back.info["se"], back.info["test"]) == (
        "MLR",
        "robust.huber.white",
        "yuan.bentler.mplus",
    )


@pytest.fixture(scope="module")
def holed():
    true = "F =~ 0.8*y1 + 0.7*y2 + 0.6*y3 + 0.7*y4"
    data, _ = lm.simulate(true, n=200, seed=13)
    return data.mask(np.random.default_rng(14).random(data.shape) < 0.15)


def test_weighted_fiml_with_equal_weights_is_fiml_and_integer_weights_replicate_rows(holed):
    model = "F =~ y1 + y2 + y3 + y4"
    plain = lm.fit_sem(model, holed, missing="fiml", estimator="MLR")
    same = lm.fit_sem(model, holed.assign(w=2.5), missing="fiml", sampling_weights="w")
    np.testing.assert_allclose(same.parameters.est, plain.parameters.est, atol=1e-7)
    np.testing.assert_allclose(same.parameters.se, plain.parameters.se, rtol=1e-5)
    for key in ("chisq", "chisq_scaled", "logl", "baseline_chisq", "cfi_robust"):
        assert same.fit_measures[key] == pytest.approx(plain.fit_measures[key], rel=1e-6)
    w = np.random.default_rng(15).integers(1, 4, len(holed))
    weighted = lm.fit_sem(model, holed.assign(w=w), missing="fiml", sampling_weights="w")
    repeated = lm.fit_sem(model, holed.loc[holed.index.repeat(w)], missing="fiml")
    np.testing.assert_allclose(weighted.parameters.est, repeated.parameters.est, atol=1e-6)
    # weights rescaled to sum to N: the weighted log-likelihood is the repeated one times N / sum(w)
    scale = len(holed) / w.sum()
    assert weighted.fit_measures["chisq"] == pytest.approx(repeated.fit_measures["chisq"] * scale, rel=1e-6)


def test_weighted_fiml_sandwich_equals_the_weighted_casewise_score_sandwich(holed):
    w = np.random.default_rng(16).uniform(0.5, 2.0, len(holed))
    fit = lm.fit_sem("F =~ y1 + y2 + y3 + y4", holed.assign(w=w), missing="fiml", sampling_weights="w")
    y = holed[list(fit.spec.observed)].to_numpy(float)
    wn = w * len(w) / w.sum()
    g = numeric_scores(fit, y) * wn[:, None]
    theta, k, h = fit.theta, len(fit.theta), 1e-4
    H = np.empty((k, k))
    for j, e in enumerate(np.eye(k)):
        up = (numeric_scores(fit, y, theta + h * e) * wn[:, None]).mean(axis=0)
        dn = (numeric_scores(fit, y, theta - h * e) * wn[:, None]).mean(axis=0)
        H[j] = -(up - dn) / (2 * h)
    Hi = np.linalg.inv((H + H.T) / 2)
    se = np.sqrt(np.diag(Hi @ (g.T @ g / len(y)) @ Hi) / len(y))
    np.testing.assert_allclose(se_of(fit), se, rtol=1e-3)
