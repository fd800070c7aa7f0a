"""Full-information ML: identical to ML on complete data, unbiased under MCAR missingness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL

TRUE_MODEL = "F =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.7*x4\nG =~ 0.7*y1 + 0.6*y2 + 0.8*y3\nG ~ 0.5*F"
FIT_MODEL = "F =~ x1 + x2 + x3 + x4\nG =~ y1 + y2 + y3\nG ~ F"


def test_fiml_equals_ml_on_complete_data(hs):
    ml = lm.fit_sem(HS_MODEL, hs, meanstructure=True)
    fiml = lm.fit_sem(HS_MODEL, hs, missing="fiml")
    assert np.abs(ml.parameters.est - fiml.parameters.est).max() < 1e-7
    for name in ("chisq", "df", "logl", "unrestricted_logl", "cfi", "tli", "rmsea", "srmr", "aic", "bic"):
        assert fiml.fit_measures[name] == pytest.approx(ml.fit_measures[name], rel=1e-7, abs=1e-9)
    # lavaan's default information under FIML is the observed one; same information, same SEs
    assert fiml.info["information"] == "observed"
    ml_obs = lm.fit_sem(HS_MODEL, hs, meanstructure=True, information="observed")
    assert np.abs(ml_obs.parameters.se - fiml.parameters.se).max() < 1e-5
    fiml_exp = lm.fit_sem(HS_MODEL, hs, missing="fiml", information="expected")
    assert np.abs(ml.parameters.se - fiml_exp.parameters.se).max() < 1e-7
    assert ml.fit_measures["chisq"] == pytest.approx(85.306, abs=5e-4)  # lavaan, HS tutorial


def test_fiml_recovers_truth_under_mcar():
    data, truth = lm.simulate(TRUE_MODEL, n=2000, seed=5)
    rng = np.random.default_rng(6)
    holed = data.mask(rng.random(data.shape) < 0.15)  # 15% MCAR in every column
    fit = lm.fit_sem(FIT_MODEL, holed, missing="fiml")
    assert fit.data_report["n_used"] == 2000
    est = fit.parameters.merge(truth[["lhs", "op", "rhs", "value_marker"]], on=["lhs", "op", "rhs"])
    free = est[(est.par >= 0) & (est.op != "~1")]
    z = (free.est - free.value_marker) / free.se
    assert len(free) == 15 and np.abs(z).max() < 3.5
    listwise = lm.fit_sem(FIT_MODEL, holed)
    assert listwise.data_report["n_used"] < 800  # 0.85^7 of the rows survive listwise deletion
    se = lambda f: f.parameters.query("lhs == 'G' and op == '~'").se.iloc[0]  # noqa: E731
    assert se(fit) < se(listwise)  # FIML uses the incomplete rows


def test_fiml_pattern_expected_information_agrees_with_observed_asymptotically():
    data, _ = lm.simulate(TRUE_MODEL, n=3000, seed=8)
    holed = data.mask(np.random.default_rng(9).random(data.shape) < 0.1)
    obs = lm.fit_sem(FIT_MODEL, holed, missing="fiml")
    exp = lm.fit_sem(FIT_MODEL, holed, missing="fiml", information="expected")
    ratio = exp.parameters.se[obs.parameters.se > 0] / obs.parameters.se[obs.parameters.se > 0]
    assert ratio.between(0.9, 1.1).all()
    pd.testing.assert_series_equal(exp.parameters.est, obs.parameters.est)


def test_fiml_fit_saved_to_json_keeps_modindices_effects_and_summary(tmp_path):
    """The saved fit holds each missing-data pattern's moments, so nothing asks for the data again."""
    from loyaltymodels.sem.report import summary_text

    data, _ = lm.simulate(TRUE_MODEL, n=400, seed=5)
    holed = data.mask(np.random.default_rng(6).random(data.shape) < 0.1)
    holed["g"] = np.where(np.arange(400) % 2, "a", "b")
    for group in (None, "g"):
        fit = lm.fit_sem(FIT_MODEL, holed, missing="fiml", group=group)
        fit.to_json(tmp_path / "fiml.json")
        back = lm.SemFit.from_json(tmp_path / "fiml.json")
        pd.testing.assert_frame_equal(back.modindices(), fit.modindices())
        pd.testing.assert_frame_equal(back.effects(), fit.effects())
        assert summary_text(back) == summary_text(fit)
        # the pattern count, against an independent count of the distinct rows of the NaN mask
        observed = holed[list(fit.spec.observed)].isna().to_numpy()
        split = [observed] if group is None else [observed[holed.g == lab] for lab in fit.spec.group_labels]
        expected = sum(len(np.unique(m[~m.all(axis=1)], axis=0)) for m in split)
        line = next(ln for ln in summary_text(back).splitlines() if "missing patterns" in ln)
        assert int(line.split()[-1]) == expected > 1
