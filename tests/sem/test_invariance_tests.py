"""Multigroup models and measurement invariance on Holzinger-Swineford by school.

References: the lavaan tutorial, "Measurement invariance" (lavaan.ugent.be/tutorial/groups.html):
configural 115.851 on 48 df (AIC 7484.4, BIC 7706.8), metric 124.044 on 54 (AIC 7480.6, BIC
7680.8), scalar 164.103 on 60 (AIC 7508.6, BIC 7686.6); lavTestLRT: metric vs configural
8.192 on 6 df (p = .2244), scalar vs metric 40.059 on 6 df (p = 4.435e-07).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL
from loyaltymodels.errors import DataError, SemWarning

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


# -- robust estimators: lavTestLRT's scaled difference tests ------------------------------------------
@pytest.mark.parametrize("estimator", ["MLR", "MLM"])
def test_robust_invariance_uses_the_satorra_bentler_2001_difference(hs, estimator):
    table = lm.invariance(HS_MODEL, hs, group="school", levels=("configural", "metric"), estimator=estimator)
    c1, m = table.loc["configural"], table.loc["metric"]
    assert (c1.chisq, m.chisq) == (pytest.approx(115.851, abs=5e-4), pytest.approx(124.044, abs=5e-4))
    cd = (m.df * m.chisq_scaling_factor - c1.df * c1.chisq_scaling_factor) / (m.df - c1.df)
    assert m.chisq_diff == pytest.approx((m.chisq - c1.chisq) / cd, rel=1e-12)
    assert m.pvalue_diff == pytest.approx(stats.chi2.sf((m.chisq - c1.chisq) / cd, 6), rel=1e-12)
    assert m.diff_method == "satorra.bentler.2001"


def test_satorra_2000_traces_are_those_of_the_difference_of_projections():
    """With Delta0 = Delta1 H, W Delta1 P A'(A P A')^-1 A P Delta1' W = U0 - U1 (U_j the residual
    projections of each model): the A-method traces equal tr((U0 - U1) Gamma) and its square."""
    from loyaltymodels.sem.polychoric import OrdinalStats
    from loyaltymodels.sem.wlsmv import _difference_traces

    rng = np.random.default_rng(3)
    q, k1, k0 = 12, 6, 4
    D1 = rng.normal(size=(q, k1))
    H = rng.normal(size=(k1, k0))
    D0 = D1 @ H
    root = rng.normal(size=(q, q))
    gamma = root @ root.T / q + np.eye(q)
    st = OrdinalStats(300, np.zeros(q), gamma, np.eye(2), (2,))
    u, _, _ = np.linalg.svd(H, full_matrices=True)
    A = u[:, k0:].T
    trace, trace2 = _difference_traces(D1, A, [st], np.array([1.0]))
    W = np.diag(1 / np.diag(gamma))

    def U(D):
        return W - W @ D @ np.linalg.solve(D.T @ W @ D, D.T @ W)

    M = (U(D0) - U(D1)) @ gamma
    assert trace == pytest.approx(np.trace(M), rel=1e-10)
    assert trace2 == pytest.approx(np.trace(M @ M), rel=1e-10)


def test_ordered_invariance_adds_thresholds_at_the_scalar_level():
    from tests.sem.test_wlsmv import simulate

    data = pd.concat([simulate(300, 3).assign(g="a"), simulate(300, 4, shift=0.4).assign(g="b")])
    table = lm.invariance(
        "F =~ y1 + y2 + y3 + y4 + y5", data, group="g", ordered=True, levels=("configural", "metric", "scalar")
    )
    assert "thresholds" in table.loc["scalar", "group_equal"]
    assert (table.diff_method.iloc[1:] == "satorra.2000").all()
    assert table.df_diff.tolist()[1:] == [4, 9]  # 4 loadings; 15 thresholds - 5 scales - 1 mean
    assert np.isfinite(table.pvalue_diff.iloc[1:]).all()


def test_strict_with_every_item_ordered_is_left_out_with_a_warning():
    """Delta parameterization: ordered items have no residual variances, so strict would repeat
    scalar with a 0-df difference; it is dropped, and said so."""
    from tests.sem.test_wlsmv import simulate

    data = pd.concat([simulate(300, 5).assign(g="a"), simulate(300, 6).assign(g="b")])
    with pytest.warns(SemWarning, match="'strict' adds no equality constraint.*delta parameterization"):
        table = lm.invariance("F =~ y1 + y2 + y3 + y4 + y5", data, group="g", ordered=True)
    assert list(table.index) == ["configural", "metric", "scalar"]
    assert (table.df_diff.iloc[1:] > 0).all()


@pytest.mark.slow
def test_satorra_2000_difference_is_calibrated_under_equal_loadings():
    """300 pairs of groups with equal loadings and thresholds: metric vs configural rejects ~5%."""
    from tests.sem.test_wlsmv import simulate

    pvalues = []
    for rep in range(300):
        data = pd.concat([simulate(300, 2 * rep).assign(g="a"), simulate(300, 2 * rep + 1).assign(g="b")])
        table = lm.invariance(
            "F =~ y1 + y2 + y3 + y4 + y5", data, group="g", ordered=True, levels=("configural", "metric")
        )
        pvalues.append(table.loc["metric", "pvalue_diff"])
    assert 0.02 <= (np.array(pvalues) < 0.05).mean() <= 0.09


def test_invariance_with_sampling_weights_is_robust_by_default(hs):
    weighted = lm.invariance(
        HS_MODEL, hs.assign(w=2.0), group="school", levels=("configural", "metric"), sampling_weights="w"
    )
    mlr = lm.invariance(HS_MODEL, hs, group="school", levels=("configural", "metric"), estimator="MLR")
    cols = ["chisq", "chisq_scaled", "chisq_diff", "pvalue_diff"]
    np.testing.assert_allclose(weighted[cols].to_numpy(float)[1], mlr[cols].to_numpy(float)[1], rtol=1e-6)
    assert weighted.loc["metric", "diff_method"] == "satorra.bentler.2001"


def test_a_group_column_with_one_level_is_refused(hs):
    one = hs.assign(school="Pasteur")
    with pytest.raises(DataError, match=r"column 'school' has only one level \('Pasteur'\)"):
        lm.invariance(HS_MODEL, one, group="school")
    with pytest.raises(DataError, match="'shcool' not found"):
        lm.invariance(HS_MODEL, hs, group="shcool")
    with pytest.raises(lm.ArgumentError, match="levels='metric'"):
        lm.invariance(HS_MODEL, hs, group="school", levels="metric")
