"""What lavaan users reach for after a fit: modification indices, effects, bootstrap, the
printed summary, saving and reloading, and the path diagram.

Modification indices of the HS CFA are lavaan's (lavaan tutorial, ``modindices(fit, sort =
TRUE, maximum.number = 5)``): lhs op rhs mi epc sepc.lv sepc.all.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL, POLDEM_MODEL
from loyaltymodels.errors import SemWarning

HS_MI = [
    ("visual", "=~", "x9", 36.411, 0.577, 0.519, 0.515),
    ("x7", "~~", "x8", 34.145, 0.536, 0.536, 0.859),
    ("visual", "=~", "x7", 18.631, -0.422, -0.380, -0.349),
    ("x8", "~~", "x9", 14.946, -0.423, -0.423, -0.805),
    ("textual", "=~", "x3", 9.151, -0.272, -0.269, -0.238),
]

MEDIATION = "m ~ a*x\ny ~ b*m + c*x\nind := a*b\ntotal := c + a*b"


@pytest.fixture(scope="module")
def hs_fit(hs):
    return lm.fit_sem(HS_MODEL, hs)


@pytest.fixture(scope="module")
def mediation():
    data, truth = lm.simulate("m ~ 0.5*x; y ~ 0.4*m + 0.2*x", n=400, seed=7)
    return data, truth


def test_modindices_match_lavaan(hs_fit):
    mi = hs_fit.modindices(sort=True)
    top = mi.head(5)
    for (lhs, op, rhs, m, epc, slv, sall), r in zip(HS_MI, top.itertuples()):
        assert (r.lhs, r.op, r.rhs) == (lhs, op, rhs)
        assert r.mi == pytest.approx(m, abs=5e-4)
        assert (r.epc, r.sepc_lv, r.sepc_all) == (
            pytest.approx(epc, abs=5e-4),
            pytest.approx(slv, abs=5e-4),
            pytest.approx(sall, abs=5e-4),
        )
    # marker loadings are not identified when freed alone: dropped, as lavaan does
    assert not ((mi.lhs == "visual") & (mi.rhs == "x1")).any()
    assert not mi[["lhs", "op", "rhs"]].duplicated().any()


def test_epc_predicts_the_refit(hs, hs_fit):
    mi = hs_fit.modindices().set_index(["lhs", "op", "rhs"])
    refit = lm.fit_sem(HS_MODEL + "\nvisual =~ x9", hs)
    freed = refit.parameters.query("lhs == 'visual' and rhs == 'x9'").iloc[0]
    assert np.sign(freed.est) == np.sign(mi.loc[("visual", "=~", "x9"), "epc"])
    drop = hs_fit.fit_measures["chisq"] - refit.fit_measures["chisq"]
    assert drop == pytest.approx(mi.loc[("visual", "=~", "x9"), "mi"], rel=0.15)  # score ~ LR test


def test_effects_match_defined_parameters(mediation):
    data, _ = mediation
    fit = lm.fit_sem(MEDIATION, data)
    eff = fit.effects().set_index(["lhs", "rhs"])
    p = fit.parameters.set_index("lhs")
    assert eff.loc[("y", "x"), "indirect"] == pytest.approx(p.loc["ind", "est"], rel=1e-10)
    assert eff.loc[("y", "x"), "indirect_se"] == pytest.approx(p.loc["ind", "se"], rel=1e-5)
    assert eff.loc[("y", "x"), "total"] == pytest.approx(p.loc["total", "est"], rel=1e-10)
    assert eff.loc[("y", "x"), "total_se"] == pytest.approx(p.loc["total", "se"], rel=1e-5)
    assert eff.loc[("m", "x"), "indirect"] == 0 and np.isnan(eff.loc[("m", "x"), "indirect_pvalue"])


def test_effects_of_latents_on_latents(poldem):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        fit = lm.fit_sem(POLDEM_MODEL, poldem)
    eff = fit.effects().set_index(["lhs", "rhs"])
    assert set(eff.index) == {("dem60", "ind60"), ("dem65", "ind60"), ("dem65", "dem60")}
    p = fit.parameters
    a = p.query("lhs == 'dem60' and rhs == 'ind60'").est.iloc[0]
    b = p.query("lhs == 'dem65' and rhs == 'dem60'").est.iloc[0]
    c = p.query("lhs == 'dem65' and rhs == 'ind60'").est.iloc[0]
    assert eff.loc[("dem65", "ind60"), "total"] == pytest.approx(c + a * b, rel=1e-10)


def test_bootstrap_reproducible_and_independent_of_processes(mediation):
    data, _ = mediation
    one = lm.fit_sem(MEDIATION, data, bootstrap=30, seed=42, n_jobs=1)
    two = lm.fit_sem(MEDIATION, data, bootstrap=30, seed=42, n_jobs=2)
    other = lm.fit_sem(MEDIATION, data, bootstrap=30, seed=43, n_jobs=1)
    cols = ["boot_se", "boot_ci_lower", "boot_ci_upper", "std_all_boot_lower", "std_all_boot_upper"]
    pd.testing.assert_frame_equal(one.parameters[cols], two.parameters[cols])
    assert not one.parameters["boot_ci_lower"].equals(other.parameters["boot_ci_lower"])
    ind = one.parameters.set_index("lhs").loc["ind"]
    assert ind.boot_ci_lower < ind.est < ind.boot_ci_upper
    assert one.bootstrap["failed"] == 0 and one.bootstrap["succeeded"] == 30
    eff = one.effects().set_index(["lhs", "rhs"])
    assert eff.loc[("y", "x"), "indirect_boot_lower"] == pytest.approx(ind.boot_ci_lower, rel=1e-10)


def test_bootstrap_failures_are_counted(mediation, monkeypatch):
    from loyaltymodels.sem import bootstrap

    data, _ = mediation
    original = bootstrap.optimize
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        res = original(*args, **kwargs)
        if calls["n"] % 5 == 0:
            res.converged = False
        return res

    monkeypatch.setattr(bootstrap, "optimize", flaky)
    with pytest.warns(SemWarning, match="2 of 10 replicates failed"):
        fit = lm.fit_sem(MEDIATION, data, bootstrap=10, seed=1, n_jobs=1)
    assert fit.bootstrap["failed"] == 2 and any("failed to converge" in w for w in fit.warnings)


def test_summary_prints_lavaans_sections(hs_fit, capsys):
    hs_fit.summary()
    out = capsys.readouterr().out
    for heading in (
        "Model Test User Model:",
        "Model Test Baseline Model:",
        "Comparative Fit Index (CFI)",
        "Loglikelihood user model (H0)",
        "RMSEA",
        "SRMR",
        "Latent Variables:",
        "Covariances:",
        "Variances:",
        "Std.lv",
        "Std.all",
        "R-Square:",
    ):
        assert heading in out
    assert "85.306" in out and "7517.490" in out and "   .x1" in out


def test_json_round_trip_is_lossless(hs_fit, tmp_path):
    path = tmp_path / "fit.json"
    hs_fit.to_json(path)
    back = lm.SemFit.from_json(path)
    pd.testing.assert_frame_equal(back.parameters, hs_fit.parameters)
    pd.testing.assert_series_equal(back.fit_measures, hs_fit.fit_measures)
    pd.testing.assert_series_equal(back.r2, hs_fit.r2)
    pd.testing.assert_frame_equal(back.vcov, hs_fit.vcov)
    assert back.spec.partable.equals(hs_fit.spec.partable)
    assert back.warnings == hs_fit.warnings and back.converged
    doc = json.loads(path.read_text())  # standard JSON: no bare NaN
    assert doc["package_versions"]["semopy"] and doc["package_versions"]["python"]
    # what needs the objective works from the saved sample moments
    pd.testing.assert_frame_equal(back.modindices(), hs_fit.modindices())


def test_json_round_trip_multigroup_with_bootstrap(hs, tmp_path):
    fit = lm.fit_sem(HS_MODEL, hs, group="school", group_equal="loadings", bootstrap=4, seed=3, n_jobs=1)
    fit.to_json(tmp_path / "mg.json")
    back = lm.SemFit.from_json(tmp_path / "mg.json")
    pd.testing.assert_frame_equal(back.parameters, fit.parameters)
    pd.testing.assert_series_equal(back.r2, fit.r2)
    assert back.bootstrap["estimates"] == fit.bootstrap["estimates"]


def test_path_diagram_draws_the_model(hs_fit, poldem):
    import matplotlib.pyplot as plt

    fig = lm.path_diagram(hs_fit)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"visual", "textual", "x1", "x9"} <= set(texts)
    assert "0.77" in texts  # std.all of visual =~ x1
    plt.close(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        fig = lm.path_diagram(lm.fit_sem(POLDEM_MODEL, poldem), standardized=False, residuals=True)
    assert "1.48*" in [t.get_text() for t in fig.axes[0].texts]  # dem60 ~ ind60, unstandardized
    plt.close(fig)
