"""The studies against the published numbers they reproduce.

The references are typed in ``loyaltymodels/datasets/published.py`` from the sources named there
(lavaan tutorial pages, plspm's published ECSI output); nothing in them is produced by this package.
The fast suite runs the Bayesian parts with short chains (``LOYALTYMODELS_FAST=1``, set by conftest):
their numbers are checked for shape and sense, not for precision.
"""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import published
from loyaltymodels.studies import Study, is_fast

PARAM_COLUMNS = {"lhs", "op", "rhs", "group", "estimator", "est", "se", "published", "difference"}


@pytest.fixture(scope="module")
def hs():
    return lm.studies.holzinger_swineford()


@pytest.fixture(scope="module")
def poldem():
    return lm.studies.political_democracy()


@pytest.fixture(scope="module")
def ecsi():
    return lm.studies.ecsi()  # fast mode from the environment: 2 chains x 150 draws, 100 resamples


@pytest.fixture(scope="module")
def be():
    return lm.studies.beliefs_experience()


def test_fast_mode_follows_the_environment(monkeypatch):
    monkeypatch.setenv("LOYALTYMODELS_FAST", "1")
    assert is_fast() and not is_fast(False)
    monkeypatch.setenv("LOYALTYMODELS_FAST", "0")
    assert not is_fast() and is_fast(True)


def test_lm_studies_is_lazy_attribute():
    assert lm.studies.ecsi is lm.studies.ecsi
    assert set(lm.studies.__all__) >= {"ecsi", "holzinger_swineford", "political_democracy", "beliefs_experience"}


# -- lavaan tutorial: Holzinger-Swineford ------------------------------------------------------------
def test_hs_every_published_parameter_within_1e3(hs):
    p = hs.parameters
    assert PARAM_COLUMNS <= set(p) and len(p) == len(published.HS_CFA) == 24
    assert p.published.notna().all()
    assert p.difference.abs().max() <= 1e-3
    assert p.se_difference.abs().max() <= 1e-3  # 21 free rows; markers have no published SE
    assert p.se_difference.notna().sum() == 21
    assert p.std_all_difference.abs().max() <= 1e-3


def test_hs_fit_measures_to_printed_precision(hs):
    f = hs.fit.dropna(subset=["published"])
    assert len(f) == len(published.HS_FIT)
    assert (f.difference.abs() <= f.tolerance + 1e-12).all(), f[f.difference.abs() > f.tolerance]


def test_hs_invariance_to_printed_precision(hs):
    inv = hs.tables["invariance"]
    assert set(inv.model) == {"configural", "metric", "scalar", "means"}
    assert (inv.difference.abs() <= inv.tolerance + 1e-12).all(), inv[inv.difference.abs() > inv.tolerance]
    lrt = inv.set_index(["model", "measure"]).value
    assert lrt[("metric", "df_diff")] == 6 and lrt[("scalar", "df_diff")] == 6 and lrt[("means", "df_diff")] == 3


def test_hs_configural_estimates_per_school(hs):
    conf = hs.tables["configural"]
    assert len(conf) == 18 and set(conf.school) == {"Pasteur", "Grant-White"}
    assert conf.difference.abs().max() <= 1e-3 and conf.se_difference.abs().max() <= 1e-3


def test_deviations_summarise_every_comparison(hs):
    d = hs.deviations()
    assert set(d.table) == {"parameters", "fit", "invariance", "configural"}
    assert d.within_tolerance.all()
    assert d.max_abs_difference.max() < 0.05  # the largest: an AIC printed to one decimal


# -- lavaan tutorial: Political Democracy -----------------------------------------------------------
def test_poldem_parameters_and_fit(poldem):
    p = poldem.parameters
    assert len(p) == len(published.POLDEM_SEM) and p.published.notna().all()
    for col in ("difference", "se_difference", "std_all_difference"):
        assert p[col].abs().max() <= 1e-3, col
    f = poldem.fit.dropna(subset=["published"])
    assert set(f.measure) == {"npar", "chisq", "df", "pvalue", "logl", "aic", "bic"}
    assert (f.difference.abs() <= f.tolerance + 1e-12).all()
    # measures the tutorial does not print are there, unpublished
    assert (
        poldem.fit.set_index("measure").loc["cfi", "published"]
        != poldem.fit.set_index("measure").loc["cfi", "published"]
    )


def test_poldem_reports_the_collinearity_warning(poldem):
    assert any("dem60 and dem65" in w for w in poldem.warnings)
    assert "Political Democracy" in poldem.title and "lavaan" in poldem.notes


# -- ECSI --------------------------------------------------------------------------------------------
def test_ecsi_pls_paths_and_r2_equal_plspm_to_1e6(ecsi):
    pls = ecsi.paths[ecsi.paths.estimator == "PLS"]
    assert len(pls) == 10 and pls.published.notna().all()
    assert pls.difference.abs().max() <= 1e-6
    r2 = ecsi.tables["r2"].query("estimator == 'PLS'")
    assert len(r2) == 5 and r2.difference.abs().max() <= 1e-6


def test_an_unknown_published_table_lists_the_names():
    with pytest.raises(lm.ArgumentError, match="no published table 'HS_FIT_2'; choose among"):
        published.table("HS_FIT_2")


def test_ecsi_reference_is_plspm_not_our_code():
    from loyaltymodels.datasets import load_ecsi_pls_reference

    ref, raw = published.ecsi_pls(), load_ecsi_pls_reference()
    assert (ref.est.to_numpy() == raw.path_coefficient.to_numpy()).all()  # the CSV, untouched
    # typed here from plspm-python's satisfaction.inner-model.csv: SAT <- VAL
    assert ref.query("lhs == 'SAT' and rhs == 'VAL'").est.iloc[0] == pytest.approx(0.589330650016017, abs=1e-15)


def test_ecsi_three_estimators_side_by_side(ecsi):
    p = ecsi.paths
    assert PARAM_COLUMNS <= set(p)
    assert list(p.estimator.unique()) == ["PLS", "ML", "Bayes", "Bayes-reg"]
    assert (p.groupby("estimator").size() == 10).all()
    # only PLS has a published counterpart
    assert p.loc[p.estimator != "PLS", "published"].isna().all()
    # PLS intervals come from the bootstrap and cover the estimate
    pls = p[p.estimator == "PLS"]
    assert (pls.se > 0).all() and ((pls.ci_lower < pls.est) & (pls.est < pls.ci_upper)).all()
    assert {"r_hat", "ess_bulk", "est_unstd", "se_unstd"} <= set(p)


def test_ecsi_ml_flags_the_collinearity_and_shows_it(ecsi):
    assert any("EXPE and QUAL are nearly collinear" in w for w in ecsi.warnings)
    cor = ecsi.tables["latent_correlations"].set_index(["construct_a", "construct_b"])
    assert cor.loc[("EXPE", "QUAL"), "ML"] > 0.98
    assert cor.loc[("EXPE", "QUAL"), "PLS_scores"] < 0.9  # composites keep measurement error
    ml = ecsi.paths[ecsi.paths.estimator == "ML"].set_index(["lhs", "rhs"])
    assert ml.loc[("VAL", "EXPE"), "se"] > 1 and ml.loc[("VAL", "QUAL"), "se"] > 1


def test_ecsi_joint_effect_is_well_determined(ecsi):
    j = ecsi.tables["joint_effects"].set_index(["outcome", "estimator"])
    ml = ecsi.paths[ecsi.paths.estimator == "ML"].set_index(["lhs", "rhs"])
    assert j.loc[("VAL", "ML"), "est"] == pytest.approx(ml.loc[("VAL", "EXPE"), "est"] + ml.loc[("VAL", "QUAL"), "est"])
    assert j.loc[("VAL", "ML"), "se"] < 0.1 < ml.loc[("VAL", "EXPE"), "se"]
    assert abs(j.loc[("VAL", "Bayes-reg"), "est"] - j.loc[("VAL", "ML"), "est"]) < 0.1


def test_ecsi_regularising_priors_shrink_the_unstable_paths(ecsi):
    reg = ecsi.tables["regularisation"]
    unstable = reg[reg.unstable]
    assert len(unstable) == 4
    assert (unstable["sd_ratio_Bayes-reg"] < 0.5).all()
    assert "blavaan" in ecsi.notes and "NOT the mobile-phone" in ecsi.notes


def test_ecsi_ml_standardized_se_matches_delta_method_covariance(ecsi):
    from loyaltymodels.studies._common import std_all_covariance

    sem = ecsi.fits["sem"]
    est, cov = std_all_covariance(sem, [("SAT", "~", "VAL"), ("LOY", "~", "SAT")])
    ml = ecsi.paths[ecsi.paths.estimator == "ML"].set_index(["lhs", "rhs"])
    assert est == pytest.approx([ml.loc[("SAT", "VAL"), "est"], ml.loc[("LOY", "SAT"), "est"]])
    assert np.sqrt(np.diag(cov)) == pytest.approx(
        [ml.loc[("SAT", "VAL"), "se"], ml.loc[("LOY", "SAT"), "se"]], rel=1e-6
    )


def test_ecsi_without_bayes_is_quick_and_still_checks_pls():
    study = lm.studies.ecsi(bayes=False, bootstrap=20)
    assert set(study.paths.estimator) == {"PLS", "ML"}
    assert study.deviations().query("estimator == 'PLS'").within_tolerance.all()


# -- beliefs + experience ---------------------------------------------------------------------------
def test_beliefs_experience_weights_and_tests(be):
    w = be.tables["weights"]
    assert len(w) == 8  # 2 variants x 2 estimators x 2 predictors
    assert ((w.ci_lower < w.std_all) & (w.std_all < w.ci_upper)).all()
    c = be.tables["comparison"].set_index(["variant", "estimator"])
    ml = c.loc[("quality", "ML")]
    assert ml.pvalue == pytest.approx(2 * (1 - __import__("scipy").stats.norm.cdf(abs(ml.z))))
    assert 0 <= c.loc[("satisfaction", "Bayes"), "prob_experience_larger"] <= 1
    # ML and Bayes agree on the weights (vague priors, N = 250): within a few posterior SDs
    ws = w.set_index(["variant", "predictor", "estimator"]).std_all.unstack()
    assert (ws.ML - ws.Bayes).abs().max() < 0.1


def test_beliefs_experience_wald_uses_the_covariance(be):
    sem = be.fits["sem_quality"]
    p = sem.parameters.set_index(["lhs", "op", "rhs"])
    a, b = p.loc[("Loyalty", "~", "Beliefs")], p.loc[("Loyalty", "~", "Experience")]
    se_independent = np.hypot(a.std_all_se, b.std_all_se)
    c = be.tables["comparison"].set_index(["variant", "estimator"]).loc[("quality", "ML")]
    # the two weights are negatively correlated (correlated causes): ignoring it understates the SE
    assert c.se > se_independent


def test_beliefs_experience_has_no_published_numbers(be):
    assert be.parameters.published.isna().all()
    assert {"quality", "satisfaction"} == set(be.parameters.variant)
    assert "No published analysis" in be.notes


def test_study_is_frozen_and_prints(hs, capsys):
    assert isinstance(hs, Study)
    with pytest.raises(AttributeError):
        hs.notes = "x"
    hs.summary()
    out = capsys.readouterr().out
    assert "Holzinger" in out and "invariance" in out
    assert "largest deviation" in repr(hs)
    assert list(hs.frames()) == ["parameters", "fit", "invariance", "configural"]


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant"):
        lm.studies.beliefs_experience(variants=("loyalty",), bayes=False)


# -- full size ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ecsi_full_size_bayes_converges_where_identified():
    study = lm.studies.ecsi(fast=False)
    p = study.paths
    reg = p[p.estimator == "Bayes-reg"]
    assert reg.r_hat.max() < 1.05
    assert study.paths.query("estimator == 'PLS'").difference.abs().max() <= 1e-6
