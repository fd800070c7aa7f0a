"""fit_sem against lavaan's published solutions, a second engine (semopy at a tight tolerance),
closed forms, and the trust checks.

Reference numbers are typed from these sources (never produced by this package):
- [HS]  lavaan tutorial, "A CFA example" (lavaan.ugent.be/tutorial/cfa.html), cfa(HS.model,
        HolzingerSwineford1939): summary(fit, fit.measures = TRUE, standardized = TRUE).
- [PD]  lavaan tutorial, "A SEM example" (lavaan.ugent.be/tutorial/sem.html), Bollen's
        Political Democracy model.
- [PDs] lavaan's estimates shipped with semopy (semopy/examples/pd_lavaan_params.csv,
        ``political_democracy.get_params()``), full precision; that file is the PD model
        without ``y4 ~~ y8``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import ECSI_MODEL, HS_MODEL, POLDEM_MODEL
from loyaltymodels.errors import ConvergenceError, DataError, SemWarning, SpecError


def row(fit, lhs, op, rhs, group=1):
    p = fit.parameters
    hit = p[(p.lhs == lhs) & (p.op == op) & (p.rhs == rhs) & (p.group == group)]
    assert len(hit) == 1, (lhs, op, rhs)
    return hit.iloc[0]


@pytest.fixture(scope="module")
def hs_fit(hs):
    return lm.fit_sem(HS_MODEL, hs)


@pytest.fixture(scope="module")
def pd_fit(poldem):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)  # dem60/dem65 r = .97, tested below
        return lm.fit_sem(POLDEM_MODEL, poldem)


# -- Holzinger-Swineford CFA -----------------------------------------------------------------------
HS_FIT = {  # [HS] fit measures, printed to 3 decimals
    "chisq": 85.306,
    "df": 24,
    "cfi": 0.931,
    "tli": 0.896,
    "rmsea": 0.092,
    "rmsea_ci_lower": 0.071,
    "rmsea_ci_upper": 0.114,
    "srmr": 0.065,
    "aic": 7517.490,
    "bic": 7595.339,
    "logl": -3737.745,
    "unrestricted_logl": -3695.092,
    "baseline_chisq": 918.852,
    "baseline_df": 36,
    "npar": 21,
    "bic2": 7528.739,
}


@pytest.mark.parametrize("name", sorted(HS_FIT))
def test_hs_fit_measures_match_lavaan(hs_fit, name):
    # published to 3 decimals: agreement within half a unit of the last digit
    assert hs_fit.fit_measures[name] == pytest.approx(HS_FIT[name], abs=5e-4)


HS_EST = [  # [HS] lhs op rhs est se std_all
    ("visual", "=~", "x2", 0.554, 0.100, 0.424),
    ("visual", "=~", "x3", 0.729, 0.109, 0.581),
    ("textual", "=~", "x5", 1.113, 0.065, None),
    ("textual", "=~", "x6", 0.926, 0.055, None),
    ("speed", "=~", "x8", 1.180, 0.165, None),
    ("speed", "=~", "x9", 1.082, 0.151, None),
    ("visual", "~~", "textual", 0.408, 0.074, None),
    ("visual", "=~", "x1", 1.000, 0.0, 0.772),
    ("textual", "=~", "x4", 1.000, 0.0, 0.852),
]


@pytest.mark.parametrize("lhs,op,rhs,est,se,std", HS_EST)
def test_hs_estimates_match_lavaan(hs_fit, lhs, op, rhs, est, se, std):
    r = row(hs_fit, lhs, op, rhs)
    assert r.est == pytest.approx(est, abs=5e-4)
    assert r.se == pytest.approx(se, abs=5e-4)
    if std is not None:
        assert r.std_all == pytest.approx(std, abs=5e-4)


def test_hs_row_set_is_lavaans(hs_fit):
    p = hs_fit.parameters
    # parameterEstimates(): 9 loadings, 9 + 3 variances, 3 covariances; fixed rows included
    assert len(p) == 24 and list(p.columns[:4]) == ["id", "lhs", "op", "rhs"]
    assert {"est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_lv", "std_all", "std_all_se"} <= set(p)
    marker = row(hs_fit, "visual", "=~", "x1")
    assert marker.se == 0 and np.isnan(marker.z) and marker.std_all_se > 0
    assert hs_fit.converged and hs_fit.warnings == ()
    assert hs_fit.r2["x1"] == pytest.approx(1 - row(hs_fit, "x1", "~~", "x1").std_all)


# -- Political Democracy ---------------------------------------------------------------------------
PD_FIT = {"chisq": 38.125, "df": 35, "logl": -1547.791, "aic": 3157.582, "bic": 3229.424}  # [PD]
PD_EST = [  # [PD]
    ("dem60", "~", "ind60", 1.483, 0.399),
    ("dem65", "~", "ind60", 0.572, 0.221),
    ("dem65", "~", "dem60", 0.837, 0.098),
    ("ind60", "=~", "x2", 2.180, 0.139),
    ("ind60", "=~", "x3", 1.819, 0.152),
    ("dem60", "=~", "y2", 1.257, 0.182),
    ("y1", "~~", "y5", 0.624, 0.358),
    ("dem65", "~~", "dem65", 0.172, 0.215),
]


@pytest.mark.parametrize("name", sorted(PD_FIT))
def test_poldem_fit_measures_match_lavaan(pd_fit, name):
    assert pd_fit.fit_measures[name] == pytest.approx(PD_FIT[name], abs=5e-4)


@pytest.mark.parametrize("lhs,op,rhs,est,se", PD_EST)
def test_poldem_estimates_match_lavaan(pd_fit, lhs, op, rhs, est, se):
    r = row(pd_fit, lhs, op, rhs)
    assert (r.est, r.se) == (pytest.approx(est, abs=5e-4), pytest.approx(se, abs=5e-4))


def test_poldem_full_precision_lavaan_estimates(poldem):
    from semopy.examples import political_democracy

    ref = political_democracy.get_params()  # [PDs]: the model without y4 ~~ y8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        fit = lm.fit_sem(POLDEM_MODEL.replace("y4 ~~ y8", ""), poldem)
    both = fit.parameters.merge(ref, left_on=["lhs", "op", "rhs"], right_on=["lval", "op", "rval"])
    assert len(both) == len(ref) == 33
    assert np.abs(both.est - both.Estimate).max() < 5e-5


def test_poldem_warns_about_collinear_latents(poldem):
    with pytest.warns(SemWarning, match="dem60 and dem65 are nearly collinear"):
        fit = lm.fit_sem(POLDEM_MODEL, poldem)
    assert any("dem60 and dem65" in w for w in fit.warnings)


# -- a second engine: semopy at ftol 1e-12 (docs/findings.md: agrees with lavaan to 4e-5) ------------------
def _semopy_reference(model, data):
    import semopy
    from threadpoolctl import threadpool_limits

    m = semopy.Model(model)
    with threadpool_limits(1, user_api="blas"):  # BLAS threads: 10x slower on a shared 2-core machine
        m.fit(data, options={"ftol": 1e-12})
    est = m.inspect()
    return m, est[est.op.isin(["=~", "~", "~~"])]


@pytest.mark.parametrize("which", ["hs", "ecsi"])
def test_estimates_and_se_agree_with_semopy(which, hs, ecsi):
    import semopy

    model, data = (HS_MODEL, hs) if which == "hs" else (ECSI_MODEL, ecsi)
    m, ref = _semopy_reference(model, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        fit = lm.fit_sem(model, data)
    p = fit.parameters.copy()
    # semopy writes regressions and loadings as lval ~ rval with lval the dependent variable
    p["key"] = [f"{r}~{l}" if o == "=~" else f"{l}{o}{r}" for l, o, r in zip(p.lhs, p.op, p.rhs)]
    key = [f"{l}~{r}" if o in ("~", "=~") else f"{l}~~{r}" for l, o, r in zip(ref.lval, ref.op, ref.rval)]
    ref = ref.assign(key=key).set_index("key")
    p = p.set_index("key")
    p.index = [k if k in ref.index else "~~".join(k.split("~~")[::-1]) for k in p.index]
    common = p.index.intersection(ref.index)
    assert len(common) == len(p)  # every row, fixed ones too
    est_diff = np.abs(p.loc[common, "est"] - ref.loc[common, "Estimate"].astype(float)).max()
    free = ref.loc[common, "Std. Err"] != "-"
    se_diff = np.abs(p.loc[common, "se"][free] - ref.loc[common, "Std. Err"][free].astype(float)).max()
    assert est_diff < 1e-4 and se_diff < 1e-4  # measured: 7e-6 and 3e-5 (ECSI VAL ~ EXPE)
    stats = semopy.calc_stats(m).T["Value"]
    assert fit.fit_measures["chisq"] == pytest.approx(stats["chi2"], rel=1e-6)
    n = fit.fit_measures["ntotal"]
    # semopy's RMSEA uses N - 1 (docs/findings.md); lavaan's uses N
    assert fit.fit_measures["rmsea"] == pytest.approx(stats["RMSEA"] * np.sqrt((n - 1) / n), rel=1e-5)
    assert fit.fit_measures["cfi"] == pytest.approx(stats["CFI"], rel=1e-6)
    assert fit.fit_measures["tli"] == pytest.approx(stats["TLI"], rel=1e-6)


def test_ecsi_collinear_expe_qual_is_flagged(ecsi):
    with pytest.warns(SemWarning, match="EXPE and QUAL are nearly collinear"):
        fit = lm.fit_sem(ECSI_MODEL, ecsi)
    assert fit.fit_measures["chisq"] == pytest.approx(1165.691, abs=1e-3)  # docs/findings.md: = semopy ftol 1e-12


# -- closed forms ----------------------------------------------------------------------------------
def test_saturated_regression_is_ols_with_n():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    y = 0.5 + x @ [0.7, -0.3] + rng.normal(scale=0.8, size=200)
    data = pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1]})
    fit = lm.fit_sem("y ~ x1 + x2", data)
    X = np.column_stack([np.ones(200), x])
    beta, rss = np.linalg.lstsq(X, y, rcond=None)[:2]
    sigma2 = rss[0] / 200  # ML: N, not N - 3
    assert row(fit, "y", "~", "x1").est == pytest.approx(beta[1], rel=1e-8)
    assert row(fit, "y", "~", "x2").est == pytest.approx(beta[2], rel=1e-8)
    assert row(fit, "y", "~~", "y").est == pytest.approx(sigma2, rel=1e-8)
    xc = x - x.mean(axis=0)
    se = np.sqrt(sigma2 * np.diag(np.linalg.inv(xc.T @ xc)))
    assert row(fit, "y", "~", "x1").se == pytest.approx(se[0], rel=1e-6)
    assert fit.fit_measures["chisq"] == pytest.approx(0, abs=1e-8) and fit.fit_measures["df"] == 0
    assert row(fit, "x1", "~~", "x1").est == pytest.approx(x[:, 0].var(), rel=1e-12)  # fixed.x


def test_defined_parameter_delta_method(poldem):
    model = (
        POLDEM_MODEL.replace("dem60 ~ ind60", "dem60 ~ a*ind60").replace(
            "dem65 ~ ind60 + dem60", "dem65 ~ ind60 + b*dem60"
        )
        + "\nind := a*b"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        fit = lm.fit_sem(model, poldem)
    a, b, ind = row(fit, "dem60", "~", "ind60"), row(fit, "dem65", "~", "dem60"), row(fit, "ind", ":=", "a*b", 0)
    v = fit.vcov.to_numpy()
    va, vb, cab = v[a.par, a.par], v[b.par, b.par], v[a.par, b.par]
    assert ind.est == pytest.approx(a.est * b.est, rel=1e-12)
    assert ind.se == pytest.approx(np.sqrt(b.est**2 * va + a.est**2 * vb + 2 * a.est * b.est * cab), rel=1e-5)
    assert ind.std_all == pytest.approx(a.std_all * b.std_all, rel=1e-9)


# -- labels, constraints and the semopy mapping ----------------------------------------------------
def test_equal_labels_and_equality_constraint_agree(hs):
    shared = lm.fit_sem(HS_MODEL.replace("x2 + x3", "a*x2 + a*x3"), hs)
    constrained = lm.fit_sem(HS_MODEL.replace("x2 + x3", "a*x2 + b*x3") + "\na == b", hs)
    assert shared.fit_measures["npar"] == constrained.fit_measures["npar"] == 20
    assert shared.fit_measures["df"] == constrained.fit_measures["df"] == 25
    assert constrained.fit_measures["chisq"] == pytest.approx(shared.fit_measures["chisq"], rel=1e-9)
    assert row(constrained, "visual", "=~", "x3").est == pytest.approx(row(shared, "visual", "=~", "x2").est, rel=1e-7)
    assert row(constrained, "visual", "=~", "x2").se == pytest.approx(row(shared, "visual", "=~", "x2").se, rel=1e-6)


def test_std_lv_gives_the_same_fit(hs, hs_fit):
    fit = lm.fit_sem(HS_MODEL, hs, std_lv=True)
    assert fit.fit_measures["chisq"] == pytest.approx(hs_fit.fit_measures["chisq"], rel=1e-9)
    assert row(fit, "visual", "=~", "x1").est == pytest.approx(row(hs_fit, "visual", "=~", "x1").std_lv, rel=1e-6)
    assert row(fit, "visual", "=~", "x2").std_all == pytest.approx(row(hs_fit, "visual", "=~", "x2").std_all, rel=1e-6)


def test_semopy_may_not_add_parameters(hs, monkeypatch):
    from loyaltymodels.sem import semopy_models as sem_semopy

    original = sem_semopy.semopy_description
    # drop a covariance row from the description: semopy then adds its own default
    monkeypatch.setattr(
        sem_semopy,
        "semopy_description",
        lambda t, g, f: "\n".join(
            x for x in original(t, g, f).splitlines() if not x.startswith("visual ~~ _p") or "textual" not in x
        ),
    )
    with pytest.raises(SpecError, match="added by semopy"):
        lm.fit_sem(HS_MODEL, hs)


# -- trust -----------------------------------------------------------------------------------------
def test_heywood_case_is_named():
    data, _ = lm.simulate("F =~ 0.9*x1 + 0.9*x2 + 0.2*x3", n=60, seed=11)
    data["x1"] = data["x2"] + np.random.default_rng(0).normal(scale=0.01, size=60)
    with pytest.warns(SemWarning, match="Heywood case: the residual variance of x[12]"):
        fit = lm.fit_sem("F =~ x1 + x2 + x3", data)
    assert any("Heywood" in w for w in fit.warnings)


def test_non_convergence_raises_with_advice(hs):
    with pytest.raises(ConvergenceError, match="start values"):
        lm.fit_sem(HS_MODEL + "\nx1 ~~ start(-50)*x1", hs)


def test_data_and_spec_errors(hs):
    with pytest.raises(DataError, match="x10"):
        lm.fit_sem(HS_MODEL.replace("x9", "x10"), hs)
    with pytest.raises(SpecError, match="ordinal"):
        lm.fit_sem("f =~ x1 + x2 + x3\nx1 | t1", hs)


def test_input_frame_not_modified(hs):
    before = hs.copy()
    lm.fit_sem(HS_MODEL, hs)
    pd.testing.assert_frame_equal(hs, before)


def test_latent_correlation_above_one_is_named():
    data, _ = lm.simulate("F =~ 0.6*a1 + 0.6*a2 + 0.6*a3\nG =~ 0.6*b1 + 0.6*b2 + 0.6*b3\nF ~~ 0.98*G", n=80, seed=1)
    with pytest.warns(SemWarning, match=r"correlation between latents F and G is 1\.\d+, outside \[-1, 1\]"):
        fit = lm.fit_sem("F =~ a1 + a2 + a3\nG =~ b1 + b2 + b3", data)
    assert any("improper" in w for w in fit.warnings)


def test_unidentified_models_are_refused_before_the_fit():
    data, _ = lm.simulate("F =~ 0.7*x1 + 0.7*x2\nG =~ 0.7*x3 + 0.7*x4\nF ~~ 0.5*G", n=200, seed=1)
    # df < 0 (4 parameters, 3 moments): lavaan would report fit measures on df = -1
    with pytest.raises(SpecError, match=r"4 free parameters .* only 3 sample moments \(df = -1\)"):
        lm.fit_sem("F =~ x1 + x2", data)
    # df = 2 >= 0, and still not identified: each orthogonal two-indicator factor has 4 parameters
    # for 3 moments; every parameter of both factors moves on the null space of the Jacobian
    with pytest.raises(SpecError, match=r"not identified: F=~x2, G=~x4, x1~~x1, x2~~x2, x3~~x3, x4~~x4, F~~F, G~~G"):
        lm.fit_sem("F =~ x1 + x2\nG =~ x3 + x4\nF ~~ 0*G", data)
    # a latent without a scale: all loadings and the variance free
    with pytest.raises(SpecError, match="'F' has no scale"):
        lm.fit_sem("F =~ NA*x1 + x2 + x3 + x4", data)
    # the same models with what identifies them fit
    assert lm.fit_sem("F =~ x1 + x2\nG =~ x3 + x4", data).fit_measures["df"] == 1
    assert lm.fit_sem("F =~ NA*x1 + x2 + x3 + x4", data, std_lv=True).fit_measures["df"] == 2


def test_saved_fits_that_cannot_be_read_name_the_file(hs, tmp_path):
    fit = lm.fit_sem(HS_MODEL, hs)
    good = tmp_path / "fit.json"
    fit.to_json(good)
    text = good.read_text()
    cases = {
        "truncated.json": (text[: len(text) // 2], r"truncated.json' is not a readable saved ML fit: invalid JSON .*"),
        "other.json": ('{"format": "something else"}', r"other.json' is not a saved ML fit \(it holds format"),
        "list.json": ("[1, 2]", r"list.json' is not a saved ML fit \(it holds a JSON list"),
        "damaged.json": (text.replace('"parameters"', '"parametres"'), r"damaged.json' is a damaged saved ML fit"),
    }
    for name, (content, pattern) in cases.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(DataError, match=pattern):
            lm.SemFit.from_json(tmp_path / name)
    (tmp_path / "latin.json").write_bytes('{"é": 1}'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        lm.SemFit.from_json(tmp_path / "latin.json")
    with pytest.raises(DataError, match=r"cannot write .*the folder .*nowhere' does not exist"):
        fit.to_json(tmp_path / "nowhere" / "fit.json")
