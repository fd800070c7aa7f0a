"""Multigroup models and measurement invariance on Holzinger-Swineford by school.

References: the lavaan tutorial, "Measurement invariance" (lavaan.ugent.be/tutorial/groups.html):
configural 115.851 on 48 df (AIC 7484.4, BIC 7706.8), metric 124.044 on 54 (AIC 7480.6, BIC
7680.8), scalar 164.103 on 60 (AIC 7508.6, BIC 7686.6); lavTestLRT: metric vs configural
8.192 on 6 df (p = .2244), scalar vs metric 40.059 on 6 df (p = 4.435e-07).
"""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.errors import DataError

LAVAAN = {
    "configural": (115.851, 48, 7484.4, 7706.8),
    "metric": (124.044, 54, 7480.6, 7680.8),
    "scalar": (164.103, 60, 7508.6, 7686.6),
}


@pytest.fixture(scope="module")
def table_and_fits(hs):
    return lm.invariance(
        HS_MODEL, hs, group="school", levels=("configural", "metric", "scalar", "strict"), return_fits=True
    )


@pytest.mark.parametrize("level", sorted(LAVAAN))
def test_invariance_levels_match_lavaan(table_and_fits, level):
    table, _ = table_and_fits
    chisq, df, aic, bic = LAVAAN[level]
    r = table.loc[level]
    assert r.chisq == pytest.approx(chisq, abs=5e-4) and r.df == df
    assert (r.aic, r.bic) == (pytest.approx(aic, abs=0.05), pytest.approx(bic, abs=0.05))


def test_lrt_matches_lavtestlrt(table_and_fits):
    table, _ = table_and_fits
    assert table.loc["metric", "chisq_diff"] == pytest.approx(8.192, abs=5e-4)
    assert table.loc["metric", "df_diff"] == 6 and table.loc["metric", "pvalue_diff"] == pytest.approx(0.2244, abs=5e-5)
    assert table.loc["scalar", "chisq_diff"] == pytest.approx(40.059, abs=5e-4)
    assert table.loc["scalar", "pvalue_diff"] == pytest.approx(4.435e-07, rel=1e-3)
    assert np.isnan(table.loc["configural", "chisq_diff"])
    assert table.loc["strict", "df"] == 69  # 9 residual variances tied


def test_ties_are_one_parameter(table_and_fits):
    _, fits = table_and_fits
    p = fits["metric"].parameters
    loads = p[(p.op == "=~") & (p.rhs == "x2")]
    assert loads.est.nunique() == 1 and loads.par.nunique() == 1
    scalar = fits["scalar"].parameters
    # lavaan frees the latent means of later groups when intercepts are equal
    means = scalar[(scalar.op == "~1") & (scalar.lhs == "visual")].set_index("group")
    assert means.loc[1, "est"] == 0 and means.loc[2, "free"] and means.loc[2, "se"] > 0


def test_configural_is_the_sum_of_separate_fits(hs, table_and_fits):
    _, fits = table_and_fits
    separate = sum(lm.fit_sem(HS_MODEL, hs[hs.school == s]).fit_measures["chisq"] for s in hs.school.unique())
    assert fits["configural"].fit_measures["chisq"] == pytest.approx(separate, rel=1e-8)
    # multigroup RMSEA carries lavaan's sqrt(G) (lav_fit_rmsea.R)
    fm = fits["configural"].fit_measures
    assert fm["rmsea"] == pytest.approx(np.sqrt((fm["chisq"] / fm["ntotal"] / fm["df"] - 1 / fm["ntotal"]) * 2))


def test_group_partial_frees_one_intercept(hs):
    fit = lm.fit_sem(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts"), group_partial=["x3 ~1"])
    p = fit.parameters
    assert p[(p.op == "~1") & (p.lhs == "x3")].est.nunique() == 2
    assert fit.fit_measures["df"] == 59


def test_a_group_column_with_one_level_is_refused(hs):
    one = hs.assign(school="Pasteur")
    with pytest.raises(DataError, match=r"column 'school' has only one level \('Pasteur'\)"):
        lm.invariance(HS_MODEL, one, group="school")
    with pytest.raises(DataError, match="'shcool' not found"):
        lm.invariance(HS_MODEL, hs, group="shcool")
    with pytest.raises(lm.ArgumentError, match="levels='metric'"):
        lm.invariance(HS_MODEL, hs, group="school", levels="metric")
