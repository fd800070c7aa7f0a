"""Loyalty indices: hand-computed examples for every index and scale, the interval formulas written
out independently of the package, input checks, groups, weights, the modelled index from a
hand-built posterior, and (slow) the coverage of the NPS intervals over simulated samples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import loyaltymodels as lm
from loyaltymodels import intervals as iv
from loyaltymodels.errors import DataError, DataWarning

Z95 = 1.959963984540054  # standard-normal 97.5% quantile, to 16 digits


def adjusted_wald_by_hand(pro: float, det: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Rocks (2016) written out from the paper's recipe, in NPS points, without clipping."""
    p, d, m = (pro + 0.75) / (n + 3), (det + 0.75) / (n + 3), n + 3
    se = math.sqrt((p + d - (p - d) ** 2) / m)
    return 100 * (p - d - z * se), 100 * (p - d + z * se)


def wilson_by_hand(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


# --- NPS: hand-computed examples -------------------------------------------------------------------

def test_nps_0_10_by_hand():
    # 0..10 once each: detractors 0-6 (7), passives 7-8 (2), promoters 9-10 (2); n = 11
    t = lm.nps(list(range(11)))
    row = t.iloc[0]
    assert row.estimate == pytest.approx(100 * (2 - 7) / 11)            # -45.4545...
    assert (row.promoters, row.passives, row.detractors) == pytest.approx(
        (100 * 2 / 11, 100 * 2 / 11, 100 * 7 / 11))
    # p' = 2.75/14, d' = 7.75/14, centre -5/14, var = (10.5/14 - 25/196) / 14
    se = math.sqrt((10.5 / 14 - 25 / 196) / 14)
    assert row.ci_lower == pytest.approx(100 * (-5 / 14 - Z95 * se))
    assert row.ci_upper == pytest.approx(100 * (-5 / 14 + Z95 * se))
    assert (row.n, row.n_missing, row.ci, row.method) == (11, 0, 0.95, "adjusted_wald")
    assert list(t.columns) == ["estimate", "ci_lower", "ci_upper", "ci", "method", "n", "n_missing",
                               "promoters", "passives", "detractors"]


@pytest.mark.parametrize("scale, cutoffs, answers, counts", [
    # counts = (detractors, passives, promoters), by hand from the scale's rule
    ("0-10", None, [0, 6, 7, 8, 9, 10, 10], (2, 2, 3)),
    ("1-10", None, [1, 6, 7, 8, 9, 10], (2, 2, 2)),
    ("1-7", None, [1, 5, 6, 7, 7], (2, 1, 2)),       # 1-5 / 6 / 7
    ("1-5", None, [1, 3, 4, 5, 5, 5], (2, 1, 3)),    # 1-3 / 4 / 5
    ((1, 9), (5, 8), [5, 6, 8, 9], (1, 1, 2)),       # custom: up to 5 / 6-7 / 8-9
    ("0-10", (4, 10), [4, 5, 9, 10], (1, 2, 1)),     # custom cut-offs on the usual scale
])
def test_nps_scales_by_hand(scale, cutoffs, answers, counts):
    det, pas, pro = counts
    n = det + pas + pro
    row = lm.nps(answers, scale=scale, cutoffs=cutoffs).iloc[0]
    assert row.estimate == pytest.approx(100 * (pro - det) / n)
    assert (row.detractors, row.passives, row.promoters) == pytest.approx(
        (100 * det / n, 100 * pas / n, 100 * pro / n))
    assert (row.ci_lower, row.ci_upper) == pytest.approx(adjusted_wald_by_hand(pro, det, n))


def test_nps_1_5_example_numbers():
    # 3 promoters, 1 passive, 2 detractors: NPS 100/6; p' = 3.75/9, d' = 2.75/9, se^2 = (6.5/9 - 1/81)/9
    row = lm.nps([1, 3, 4, 5, 5, 5], scale="1-5").iloc[0]
    assert row.estimate == pytest.approx(16.666666666666668)
    se = math.sqrt((6.5 / 9 - 1 / 81) / 9)
    assert row.ci_lower == pytest.approx(100 * (1 / 9 - Z95 * se))
    assert row.ci_lower == pytest.approx(-43.9339, abs=1e-4)   # the same, as a number
    assert row.ci_upper == pytest.approx(66.1562, abs=1e-4)


def test_nps_wald_and_its_defect():
    # 5 promoters, 3 passives, 2 detractors of 10: p - d = 0.3, var = (0.7 - 0.09) / 10
    row = lm.nps([9, 9, 10, 10, 10, 7, 8, 8, 0, 6], method="wald").iloc[0]
    se = math.sqrt(0.61 / 10)
    assert (row.ci_lower, row.ci_upper) == pytest.approx((100 * (0.3 - Z95 * se), 100 * (0.3 + Z95 * se)))
    # everyone a promoter: the Wald interval collapses to a point, the adjusted one does not
    wald = lm.nps([10] * 10, method="wald").iloc[0]
    assert wald.ci_lower == wald.ci_upper == 100
    adj = lm.nps([10] * 10).iloc[0]
    lo, hi = adjusted_wald_by_hand(10, 0, 10)       # centre 10/13, upper end beyond 100
    assert hi > 100 and adj.ci_upper == 100 and adj.ci_lower == pytest.approx(lo)


def test_nps_ci_mass():
    z90 = 1.6448536269514722
    row = lm.nps([10, 9, 8, 3, 0], ci=0.90).iloc[0]
    assert (row.ci_lower, row.ci_upper) == pytest.approx(adjusted_wald_by_hand(2, 2, 5, z=z90))
    assert row.ci == 0.90
    with pytest.raises(ValueError, match="ci must be"):
        lm.nps([10], ci=95)


# --- NPS: Bayesian interval -----------------------------------------------------------------------

def test_dirichlet_draws_match_closed_form_moments():
    # Dirichlet(a): E[p - d] = (a_p - a_d) / a0;
    # Var[p - d] = [a_p (a0 - a_p) + a_d (a0 - a_d) + 2 a_p a_d] / (a0^2 (a0 + 1))
    counts = np.array([4.0, 2.0, 7.0])
    a_d, _, a_p = counts + 1
    a0 = counts.sum() + 3
    draws = iv.nps_dirichlet_draws(counts, ndraws=400_000, rng=3)
    mean = (a_p - a_d) / a0
    var = (a_p * (a0 - a_p) + a_d * (a0 - a_d) + 2 * a_p * a_d) / (a0**2 * (a0 + 1))
    assert draws.mean() == pytest.approx(mean, abs=4 * math.sqrt(var / 400_000))
    assert draws.var() == pytest.approx(var, rel=0.01)


def test_nps_bayes_against_scipy_dirichlet():
    answers = [10, 10, 9, 9, 9, 8, 7, 7, 5, 3, 0, 10]     # det 3, pas 3, pro 6
    row = lm.nps(answers, method="bayes", ndraws=200_000, seed=11).iloc[0]
    ref = stats.dirichlet.rvs([1 + 3, 1 + 3, 1 + 6], size=200_000, random_state=5)
    diff = 100 * (ref[:, 2] - ref[:, 0])
    assert row.ci_lower == pytest.approx(np.quantile(diff, 0.025), abs=0.6)
    assert row.ci_upper == pytest.approx(np.quantile(diff, 0.975), abs=0.6)
    assert row.estimate == pytest.approx(100 * (6 - 3) / 12)      # the plain NPS, as the others
    assert row.method == "bayes"


def test_nps_bayes_seed_and_large_n():
    x = np.repeat([0, 7, 10], [300, 300, 400])
    a, b = lm.nps(x, method="bayes", seed=1), lm.nps(x, method="bayes", seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not lm.nps(x, method="bayes", seed=2).equals(a)
    # at n = 1000 the posterior interval and the adjusted Wald interval agree to ~0.3 points
    wald = lm.nps(x).iloc[0]
    assert a.iloc[0].ci_lower == pytest.approx(wald.ci_lower, abs=0.5)
    assert a.iloc[0].ci_upper == pytest.approx(wald.ci_upper, abs=0.5)


# --- groups, missing answers, input forms ---------------------------------------------------------

@pytest.fixture
def survey():
    return pd.DataFrame({
        "recommend": [10, 9, np.nan, 3, 7, 10, 0, np.nan, 8, 9],
        "wave": ["2025", "2025", "2025", "2024", "2024", "2024", "2026", "2026", None, "2025"],
        "w": [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0, 1.0],
    }, index=[f"r{i}" for i in range(10)])


def test_nps_by_group_hand_counts(survey):
    before = survey.copy(deep=True)
    t = lm.nps("recommend", data=survey, by="wave")
    # groups in order of first appearance, respondents without a wave in a last NaN group
    assert list(t.columns[:2]) == ["wave", "estimate"]
    assert t.wave.iloc[:3].tolist() == ["2025", "2024", "2026"] and pd.isna(t.wave.iloc[3])
    # 2025: 10, 9, NaN, 9 -> 3 promoters of 3, 1 missing; 2024: 3, 7, 10 -> NPS 0;
    # 2026: 0, NaN -> NPS -100; no wave: 8 -> NPS 0 (a passive)
    assert t.estimate.tolist() == pytest.approx([100.0, 0.0, -100.0, 0.0])
    assert t.n.tolist() == [3, 3, 1, 1] and t.n_missing.tolist() == [1, 0, 1, 0]
    assert (t.ci_lower.iloc[1], t.ci_upper.iloc[1]) == pytest.approx(adjusted_wald_by_hand(1, 1, 3))
    pd.testing.assert_frame_equal(survey, before)          # the input is never changed


def test_input_forms_agree(survey):
    ref = lm.nps("recommend", data=survey, by="wave", weights="w")
    series = lm.nps(survey["recommend"], by=survey["wave"], weights=survey["w"])
    arrays = lm.nps(survey["recommend"].to_numpy(), by=survey["wave"].to_list(),
                    weights=survey["w"].to_numpy())
    pd.testing.assert_frame_equal(ref, series)
    pd.testing.assert_frame_equal(ref.drop(columns="wave"), arrays.drop(columns="group"))
    nullable = lm.nps(pd.Series([10, None, 3], dtype="Int64"))
    objects = lm.nps(np.array([10, None, 3], dtype=object))
    pd.testing.assert_frame_equal(nullable, objects)
    assert nullable.n.iloc[0] == 2 and nullable.n_missing.iloc[0] == 1


def test_categorical_by_keeps_category_order():
    by = pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a", "z"])
    t = lm.nps([10, 0, 10, 8], by=by)
    assert t.group.tolist() == ["c", "b", "a"]                # observed categories, in their order
    assert t.estimate.tolist() == pytest.approx([0.0, 100.0, -100.0])
    # a labelled Series next to an unlabelled Categorical: read by position, order kept
    labelled = lm.nps(pd.Series([10, 0, 10, 8], index=list("pqrs")), by=by)
    pd.testing.assert_frame_equal(t, labelled)


def test_grouped_equals_separate_calls(survey):
    t = lm.nps("recommend", data=survey, by="wave", method="wald")
    for _, row in t.iloc[:3].iterrows():
        alone = lm.nps(survey.recommend[survey.wave == row.wave], method="wald").iloc[0]
        assert alone[["estimate", "ci_lower", "ci_upper", "n", "n_missing"]].tolist() == pytest.approx(
            row[["estimate", "ci_lower", "ci_upper", "n", "n_missing"]].tolist())


def test_empty_group_warns_and_is_nan():
    with pytest.warns(DataWarning, match="no usable answers in groups \\['b'\\] \\(none given"):
        t = lm.nps([10, np.nan], by=["a", "b"])
    assert t.n.tolist() == [1, 0] and t.n_missing.tolist() == [0, 1]
    assert math.isnan(t.estimate.iloc[1]) and math.isnan(t.ci_lower.iloc[1])


# --- weights ---------------------------------------------------------------------------------------

def test_weighted_nps_by_hand():
    # answers 10, 0, 8 with weights 2, 1, 1: promoters 2/4, detractors 1/4 -> NPS 25;
    # n_eff = 4^2 / (4 + 1 + 1) = 8/3, used as n in the adjusted Wald interval
    row = lm.nps([10, 0, 8], weights=[2, 1, 1]).iloc[0]
    assert row.estimate == pytest.approx(25.0)
    assert row.n_eff == pytest.approx(8 / 3) and row.n == 3
    lo, hi = adjusted_wald_by_hand(0.5 * 8 / 3, 0.25 * 8 / 3, 8 / 3)
    assert (row.ci_lower, row.ci_upper) == pytest.approx((lo, hi))
    assert (row.promoters, row.passives, row.detractors) == pytest.approx((50, 25, 25))


def test_integer_weights_give_the_shares_of_repeated_rows():
    answers, w = [10, 0, 8, 9, 3], [3, 1, 2, 1, 4]
    weighted = lm.nps(answers, weights=w).iloc[0]
    repeated = lm.nps(np.repeat(answers, w)).iloc[0]
    cols = ["estimate", "promoters", "passives", "detractors"]
    assert weighted[cols].tolist() == pytest.approx(repeated[cols].tolist())
    # ... but not their precision: n_eff = 11^2 / 31 = 3.9, not 11 rows
    assert weighted.n_eff == pytest.approx(121 / 31) and repeated.n == 11


def test_constant_weights_change_nothing(survey):
    plain = lm.nps("recommend", data=survey, by="wave")
    weighted = lm.nps("recommend", data=survey, by="wave", weights=np.full(10, 3.7))
    # Kish's n_eff of equal weights is n: the same table plus an n_eff column
    assert weighted.n_eff.tolist() == pytest.approx(plain.n.astype(float).tolist())
    pd.testing.assert_frame_equal(plain, weighted.drop(columns="n_eff"))


def test_zero_weight_group_is_nan_and_warned():
    with pytest.warns(DataWarning, match="groups \\['b'\\]"):
        t = lm.csat([5, 5, 1], by=["a", "b", "b"], weights=[1, 0, 0])
    assert t.n.tolist() == [1, 2] and math.isnan(t.estimate.iloc[1]) and math.isnan(t.n_eff.iloc[1])


@pytest.mark.parametrize("bad, what", [(-1.0, "-1"), (np.nan, "nan"), (np.inf, "inf")])
def test_bad_weights(bad, what):
    with pytest.raises(DataError, match=f"column 'wt' has the weight {what} at row 'b'") as e:
        lm.nps([10, 9], weights=pd.Series([1.0, bad], index=["a", "b"], name="wt"))
    assert e.value.row == "b" and e.value.column == "wt"


# --- bad input -------------------------------------------------------------------------------------

def test_out_of_scale_names_value_row_column(survey):
    df = survey.assign(recommend=survey.recommend.replace(7, 11))
    with pytest.raises(DataError) as e:
        lm.nps("recommend", data=df)
    msg = str(e.value)
    assert "column 'recommend' has the value 11 at row 'r4'" in msg
    assert "expected integers 0-10 for scale '0-10'" in msg
    assert (e.value.column, e.value.row, e.value.value) == ("recommend", "r4", 11)
    assert df.recommend.iloc[4] == 11                          # still there: nothing was changed


@pytest.mark.parametrize("values, shown, where", [
    ([1, 2, 7.5], "7.5", "row 2"),
    ([2, -1, 3], "-1", "row 1"),
    ([5, 0, 3], "0", "row 1"),                                 # 0 is off the 1-10 scale
    ([1, "7", 3], "'7'", "row 1"),                             # text is not a number
    (["very", "likely"], "'very'", "row 0 (and 1 more)"),
    ([True, 1], "True", "row 0"),
])
def test_bad_values(values, shown, where):
    with pytest.raises(DataError, match="expected integers 1-10") as e:
        lm.nps(values, scale="1-10")
    assert f" {shown} at {where}" in str(e.value)


def test_misaligned_or_missing_inputs(survey):
    with pytest.raises(DataError, match="by has 2 values but x has 3"):
        lm.nps([1, 2, 3], by=["a", "b"])
    with pytest.raises(DataError, match="different indexes"):
        lm.nps(survey.recommend, by=survey.wave.reset_index(drop=True))
    with pytest.raises(DataError, match="column 'ltr' not found"):
        lm.nps("ltr", data=survey)
    with pytest.raises(TypeError, match="pass data="):
        lm.nps("recommend")
    with pytest.raises(ValueError, match="no standard cut-offs for scale '1-9'"):
        lm.nps([1, 2], scale="1-9")
    with pytest.raises(ValueError, match="method must be one of"):
        lm.nps([1, 2], method="bootstrap")
    with pytest.raises(TypeError, match="by takes one column"):
        lm.nps("recommend", data=survey, by=["wave", "w"])


def test_arrays_are_not_changed():
    x = np.array([10.0, np.nan, 3.0])
    w = np.array([1.0, 2.0, 0.5])
    by = ["a", "a", "b"]
    lm.nps(x, by=by, weights=w)
    lm.secure_customer_index(x, x, x, scale="0-10", by=by, weights=w)
    lm.customer_loyalty_index(x // 2, x // 2, [1, 2, 3], by=by, weights=w)
    np.testing.assert_array_equal(x, [10.0, np.nan, 3.0])
    np.testing.assert_array_equal(w, [1.0, 2.0, 0.5])
    assert by == ["a", "a", "b"]


# --- NPS difference -------------------------------------------------------------------------------

def test_nps_difference_by_hand():
    a = [10, 9, 3, 5, 8, 8]            # 2 promoters, 2 passives, 2 detractors: NPS 0
    b = [10, 10, 9, 0, 8, np.nan]      # 3 promoters, 1 passive, 1 detractor: NPS 40
    row = lm.nps_difference(a, b).iloc[0]
    assert row.estimate == pytest.approx(40.0)
    assert (row.nps_a, row.nps_b, row.n_a, row.n_b, row.n_missing_b, row.n) == (0, 40, 6, 5, 1, 11)
    pa, da, pb, db = 2.75 / 9, 2.75 / 9, 3.75 / 8, 1.75 / 8
    va = (pa + da - (pa - da) ** 2) / 9
    vb = (pb + db - (pb - db) ** 2) / 8
    centre, se = (pb - db) - (pa - da), math.sqrt(va + vb)
    assert (row.ci_lower, row.ci_upper) == pytest.approx((100 * (centre - Z95 * se),
                                                          100 * (centre + Z95 * se)))
    assert row.p_value == pytest.approx(2 * (1 - stats.norm.cdf(centre / se)))
    assert math.isnan(row.prob_b_greater)


def test_nps_difference_bayes():
    a = np.repeat([0, 7, 10], [30, 40, 30])   # NPS 0
    b = np.repeat([0, 7, 10], [10, 30, 60])   # NPS 50
    row = lm.nps_difference(a, b, method="bayes", seed=4, ndraws=100_000).iloc[0]
    # independent reference: numpy's own Dirichlet sampler, posterior Dirichlet(1 + counts)
    rng = np.random.default_rng(99)
    da, db = rng.dirichlet([31, 41, 31], 100_000), rng.dirichlet([11, 31, 61], 100_000)
    diff = 100 * ((db[:, 2] - db[:, 0]) - (da[:, 2] - da[:, 0]))
    assert row.prob_b_greater == pytest.approx(np.mean(diff > 0), abs=0.002)
    assert row.ci_lower == pytest.approx(np.quantile(diff, 0.025), abs=0.6)
    assert row.ci_upper == pytest.approx(np.quantile(diff, 0.975), abs=0.6)
    same = lm.nps_difference(a, a, method="bayes", seed=4).iloc[0]
    assert same.prob_b_greater == pytest.approx(0.5, abs=0.02)
    assert same.ci_lower == pytest.approx(-same.ci_upper, abs=1.5)


def test_nps_difference_weighted_and_columns():
    df = pd.DataFrame({"before": [10, 9, 3, 5, 8, 8], "after": [10, 10, 9, 0, 8, 9]})
    plain = lm.nps_difference("before", "after", data=df, method="wald").iloc[0]
    # NPS 0 -> 50; plain Wald: var_a = (4/6 - 0) / 6, var_b = (5/6 - 1/4) / 6
    se = math.sqrt((4 / 6) / 6 + (5 / 6 - 0.25) / 6)
    assert plain.estimate == pytest.approx(50)
    assert (plain.ci_lower, plain.ci_upper) == pytest.approx((50 - 100 * Z95 * se, 50 + 100 * Z95 * se))
    # equal weights change nothing but add the effective sizes
    weighted = lm.nps_difference("before", "after", data=df, method="wald", weights_a=[2.0] * 6).iloc[0]
    assert (weighted.ci_lower, weighted.n_eff_a, weighted.n_eff_b) == pytest.approx((plain.ci_lower, 6, 6))


# --- Secure Customer Index ------------------------------------------------------------------------

def test_sci_segments_by_hand():
    sat = [5, 5, 5, 4, 4, 3, 5, 2, 5, np.nan]
    rep = [5, 5, 4, 4, 5, 3, 5, 5, 1, 5]
    rec = [5, 5, 5, 4, 3, 4, 5, 5, 5, 5]
    # minimum answer: 5, 5, 4, 4, 3, 3, 5, 2, 1, (missing)
    # secure 3, favourable 2, vulnerable 2, at risk 2 of n = 9
    row = lm.secure_customer_index(sat, rep, rec).iloc[0]
    assert (row.n, row.n_missing, row.method) == (9, 1, "wilson")
    assert [row.estimate, row.favourable, row.vulnerable, row.at_risk] == pytest.approx(
        [100 * 3 / 9, 100 * 2 / 9, 100 * 2 / 9, 100 * 2 / 9])
    assert (row.ci_lower, row.ci_upper) == pytest.approx(wilson_by_hand(3, 9))
    ref = stats.binomtest(3, 9).proportion_ci(0.95, method="wilson")
    assert (row.ci_lower, row.ci_upper) == pytest.approx((100 * ref.low, 100 * ref.high))


def test_sci_other_scale_and_columns():
    # 1-7: secure 7, favourable >= 6, vulnerable >= 4 (the middle), at risk below 4
    df = pd.DataFrame({"s": [7, 7, 6, 4, 3], "r": [7, 6, 7, 7, 7], "c": [7, 7, 7, 5, 7]})
    row = lm.secure_customer_index("s", "r", "c", scale="1-7", data=df).iloc[0]
    assert [row.estimate, row.favourable, row.vulnerable, row.at_risk] == pytest.approx([20, 40, 20, 20])
    with pytest.raises(DataError, match="column 'c' has the value 8 at row 3;"):
        lm.secure_customer_index("s", "r", df.c.replace(5, 8), scale="1-7", data=df)


# --- Customer Loyalty Index -----------------------------------------------------------------------

def test_cli_by_hand():
    rec = [1, 2, 6, 3]
    rep = [1, 1, 5, np.nan]
    oth = [6, 2, 1, 4]
    # scores: recommend 100, 80, 0; repurchase 100, 100, 20; try others (reversed) 100, 20, 0
    # respondents: 100, 66.667, 6.667; the fourth is missing a repurchase answer
    scores = [100.0, 200 / 3, 20 / 3]
    mean, sd = np.mean(scores), np.std(scores, ddof=1)
    t2 = 4.302652729749464                                   # t(2) 97.5% quantile
    row = lm.customer_loyalty_index(rec, rep, oth).iloc[0]
    assert row.estimate == pytest.approx((100 + 200 / 3 + 20 / 3) / 3)
    assert row.sd == pytest.approx(sd)
    assert (row.ci_lower, row.ci_upper) == pytest.approx((mean - t2 * sd / math.sqrt(3),
                                                          mean + t2 * sd / math.sqrt(3)))
    assert (row.n, row.n_missing, row.method) == (3, 1, "t")
    assert (row.recommend_score, row.repurchase_score, row.try_others_score) == pytest.approx(
        (60.0, 220 / 3, 40.0))


def test_cli_reverse_scoring_is_on_try_others_only():
    # the most loyal answers: very likely to recommend and repurchase, very unlikely to try others
    assert lm.customer_loyalty_index([1], [1], [6]).estimate.iloc[0] == 100
    assert lm.customer_loyalty_index([6], [6], [1]).estimate.iloc[0] == 0
    with pytest.raises(DataError, match="integers 1-6 for scale '1-6'"):
        lm.customer_loyalty_index([1], [0], [6])


# --- CSAT and CES ---------------------------------------------------------------------------------

def test_csat_by_hand():
    x = [5, 4, 4, 3, 2, 1, 5, np.nan]                        # 4 of 7 answer 4 or 5
    row = lm.csat(x).iloc[0]
    assert row.estimate == pytest.approx(100 * 4 / 7)
    assert (row.ci_lower, row.ci_upper) == pytest.approx(wilson_by_hand(4, 7))
    assert (row.n, row.n_missing) == (7, 1)
    assert lm.csat(x, top_box=1).estimate.iloc[0] == pytest.approx(100 * 2 / 7)
    assert lm.csat([7, 6, 5, 1], scale="1-7").estimate.iloc[0] == pytest.approx(50)
    # weighted: weights 3, 1 on a satisfied and a dissatisfied answer: 75%, n_eff = 16 / 10
    w = lm.csat([5, 1], weights=[3, 1]).iloc[0]
    assert (w.estimate, w.n_eff) == pytest.approx((75.0, 1.6))
    assert (w.ci_lower, w.ci_upper) == pytest.approx(wilson_by_hand(0.75 * 1.6, 1.6))


def test_ces_by_hand():
    x = [7, 6, 6, 5, 3, np.nan]                              # mean 27/5 = 5.4
    row = lm.ces(x).iloc[0]
    sd = math.sqrt(((1.6**2) + 2 * 0.6**2 + 0.4**2 + 2.4**2) / 4)
    t4 = 2.7764451051977987                                  # t(4) 97.5% quantile
    assert (row.estimate, row.sd) == pytest.approx((5.4, sd))
    assert (row.ci_lower, row.ci_upper) == pytest.approx((5.4 - t4 * sd / math.sqrt(5),
                                                          5.4 + t4 * sd / math.sqrt(5)))
    assert (row.n, row.n_missing) == (5, 1)
    assert lm.ces([1, 2, 5], scale="1-5").estimate.iloc[0] == pytest.approx(8 / 3)
    with pytest.raises(DataError, match="value 6 at row 1"):
        lm.ces([5, 6], scale="1-5")


def test_mean_and_share_indices_by_group():
    df = pd.DataFrame({"x": [7, 5, 1, 2, 4, np.nan], "g": ["q", "p", "q", "p", "p", "q"]})
    t = lm.ces("x", data=df, by="g")
    assert t.g.tolist() == ["q", "p"] and t.n.tolist() == [2, 3] and t.n_missing.tolist() == [1, 0]
    assert t.estimate.tolist() == pytest.approx([4.0, 11 / 3])
    c = lm.csat("x", data=df, by="g", scale="1-7")            # top-2 box on 1-7: 6 or 7
    assert c.estimate.tolist() == pytest.approx([50.0, 0.0])
    assert (c.ci_lower.iloc[1], c.ci_upper.iloc[1]) == pytest.approx(wilson_by_hand(0, 3))


def test_weighted_mean_by_hand():
    # CES answers 7, 4 with weights 2, 1: mean (14 + 4) / 3 = 6; n_eff = 9 / 5;
    # weighted variance sum w (x - m)^2 / sum w = (2 + 4) / 3 = 2, times n_eff / (n_eff - 1)
    row = lm.ces([7, 4], weights=[2, 1]).iloc[0]
    n_eff = 9 / 5
    sd = math.sqrt(2 * n_eff / (n_eff - 1))
    t_q = stats.t.ppf(0.975, n_eff - 1)
    assert (row.estimate, row.n_eff, row.sd) == pytest.approx((6.0, n_eff, sd))
    assert row.ci_upper == pytest.approx(6 + t_q * sd / math.sqrt(n_eff))


# --- properties -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10), st.just(None)), min_size=1, max_size=60),
       st.lists(st.sampled_from("abc"), min_size=60, max_size=60))
def test_nps_properties(answers, labels):
    labels = labels[:len(answers)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        t = lm.nps(answers, by=labels)
    for _, row in t.iterrows():
        mine = [a for a, g in zip(answers, labels) if g == row.group]
        given_ = [a for a in mine if a is not None]
        assert (row.n, row.n_missing) == (len(given_), len(mine) - len(given_))
        if not given_:
            continue
        pro, det = sum(a >= 9 for a in given_), sum(a <= 6 for a in given_)
        assert row.estimate == pytest.approx(100 * (pro - det) / len(given_))
        lo, hi = adjusted_wald_by_hand(pro, det, len(given_))
        assert (row.ci_lower, row.ci_upper) == pytest.approx((max(lo, -100), min(hi, 100)))
        assert -100 <= row.ci_lower <= row.ci_upper <= 100


# --- the modelled index ---------------------------------------------------------------------------

def _posterior(rows, draws, attrs=None):
    """A DataTree laid out as loyaltymodels.layout says, from (lhs, op, rhs, group) rows."""
    from loyaltymodels.layout import param_name
    names = [param_name(lhs, op, rhs, g) for lhs, op, rhs, g in rows]
    param = xr.DataArray(draws, dims=("chain", "draw", "parameter"), coords={
        "parameter": names, "lhs": ("parameter", [r[0] for r in rows]),
        "op": ("parameter", [r[1] for r in rows]), "rhs": ("parameter", [r[2] for r in rows]),
        "group": ("parameter", [r[3] for r in rows])})
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"param": param})})
    tree.attrs.update(attrs or {})
    return tree


ROWS = [("Loyalty", "=~", "loy1", 1), ("Loyalty", "=~", "loy2", 1), ("Loyalty", "=~", "loy3", 1),
        ("loy1", "~1", "", 1), ("loy2", "~1", "", 1), ("loy3", "~1", "", 1), ("Loyalty", "~1", "", 1),
        ("Loyalty", "=~", "loy1", 2), ("Loyalty", "=~", "loy2", 2), ("Loyalty", "=~", "loy3", 2),
        ("loy1", "~1", "", 2), ("loy2", "~1", "", 2), ("loy3", "~1", "", 2), ("Loyalty", "~1", "", 2),
        ("Image", "=~", "img1", 1), ("img1", "~1", "", 1)]


def test_latent_index_exact_values():
    # group 1: loadings 1, .8, 1.2, intercepts 5, 6, 4, latent mean 0 -> implied means 5, 6, 4
    # group 2: the same with latent mean 0.5 -> 5.5, 6.4, 4.6; mean 5.5 on 1-7 -> (5.5 - 1) / 6 * 100
    const = [1, .8, 1.2, 5, 6, 4, 0, 1, .8, 1.2, 5, 6, 4, 0.5, 1, 3]
    post = _posterior(ROWS, np.tile(const, (2, 3, 1)))
    t = lm.latent_index(post, "Loyalty", items_scale=(1, 7))
    assert t.group.tolist() == [1, 2]
    assert t.estimate.tolist() == pytest.approx([(5 - 1) / 6 * 100, 75.0])
    assert t.ci_lower.tolist() == pytest.approx(t.estimate.tolist())
    assert t.sd.tolist() == pytest.approx([0, 0], abs=1e-12)
    assert (t.method == "posterior").all() and (t.n_draws == 6).all()
    ten = lm.latent_index(post, "Loyalty", scale=(0, 10), items_scale="1-7")
    assert ten.estimate.iloc[1] == pytest.approx(7.5)


def test_latent_index_random_draws_against_names():
    rng = np.random.default_rng(7)
    draws = rng.normal(size=(4, 250, len(ROWS))) * 0.3 + np.array(
        [1, .8, 1.2, 5, 6, 4, 0, 1, .8, 1.2, 5, 6, 4, 0.5, 1, 3])
    post = _posterior(ROWS, draws, attrs={"items_scale": (0, 10)})
    t = lm.latent_index(post, "Loyalty", ci=0.9)
    # reference: look the parameters up by their lavaan names instead of lhs/op/rhs
    p = post["posterior"]["param"]
    for g, suffix in ((1, ""), (2, ".g2")):
        alpha = p.sel(parameter=f"Loyalty~1{suffix}").values
        implied = [p.sel(parameter=f"loy{j}~1{suffix}").values
                   + p.sel(parameter=f"Loyalty=~loy{j}{suffix}").values * alpha for j in (1, 2, 3)]
        index = (implied[0] + implied[1] + implied[2]) / 3 * 10       # 0-10 -> 0-100
        row = t[t.group == g].iloc[0]
        assert row.estimate == pytest.approx(index.mean())
        assert row.sd == pytest.approx(index.std(ddof=1))
        assert (row.ci_lower, row.ci_upper) == pytest.approx(tuple(np.quantile(index, [0.05, 0.95])))


def test_latent_index_scale_sources_and_errors():
    const = np.tile([1, .8, 1.2, 5, 6, 4, 0, 1, .8, 1.2, 5, 6, 4, 0.5, 1, 3], (1, 2, 1))
    post = _posterior(ROWS, const)
    with pytest.raises(ValueError, match="items_scale=\\(lowest, highest answer\\)"):
        lm.latent_index(post, "Loyalty")
    post["observed_data"] = xr.DataTree(xr.Dataset(attrs={"items_scale": (1, 7)}))
    assert lm.latent_index(post, "Loyalty").estimate.iloc[0] == pytest.approx(400 / 6)
    # a latent without a mean row is at 0; the Dataset of the posterior group works too
    image = lm.latent_index(post["posterior"].to_dataset(), "Image", items_scale=(1, 5))
    assert image.estimate.iloc[0] == pytest.approx(50.0)
    with pytest.raises(DataError, match="no indicators of 'Brand'.*\\['Image', 'Loyalty'\\]"):
        lm.latent_index(post, "Brand", items_scale=(1, 7))
    no_means = _posterior(ROWS[:3] + ROWS[4:6], np.ones((1, 2, 5)))
    with pytest.raises(DataError, match="no intercept of indicator 'loy1' in group 1"):
        lm.latent_index(no_means, "Loyalty", items_scale=(1, 7))


# --- coverage --------------------------------------------------------------------------------------

def exact_nps_coverage(n: int, shares: tuple[float, float, float], method: str) -> float:
    """Coverage summed over every possible sample of size n (each trinomial outcome once, built
    as answers 0 / 7 / 10 and passed through lm.nps as one group), weighted by its probability."""
    outcomes = [(d, p) for d in range(n + 1) for p in range(n + 1 - d)]
    answers = np.concatenate([np.repeat([0, 7, 10], [d, n - d - p, p]) for d, p in outcomes])
    t = lm.nps(answers, by=np.repeat(np.arange(len(outcomes)), n), method=method)
    d, p = np.array(outcomes).T
    pmf = stats.multinomial.pmf(np.column_stack([d, n - d - p, p]), n, shares)
    truth = 100 * (shares[2] - shares[0])
    return float(pmf[(t.ci_lower <= truth) & (truth <= t.ci_upper)].sum())


@pytest.mark.parametrize("n", [30, 100])
@pytest.mark.parametrize("shares", [(0.3, 0.4, 0.3), (0.1, 0.3, 0.6)])   # true NPS 0 and 50
def test_adjusted_wald_exact_coverage(n, shares):
    assert 0.94 <= exact_nps_coverage(n, shares, "adjusted_wald") <= 0.96


def test_wald_under_covers_where_adjusted_does_not():
    # n = 10: the plain Wald interval misses its 95% badly, the adjusted one does not
    for shares in ((0.1, 0.3, 0.6), (0.05, 0.1, 0.85)):                  # NPS 50 and 80
        assert exact_nps_coverage(10, shares, "wald") < 0.90
        assert 0.94 <= exact_nps_coverage(10, shares, "adjusted_wald") <= 0.96


def test_wilson_exact_coverage():
    # every binomial outcome of n = 50 at p = 0.3, passed through lm.csat as one group each
    n, p = 50, 0.3
    k = np.arange(n + 1)
    answers = np.concatenate([np.repeat([5, 1], [j, n - j]) for j in k])
    t = lm.csat(answers, by=np.repeat(k, n))
    cover = stats.binom.pmf(k, n, p)[(t.ci_lower <= 30) & (30 <= t.ci_upper)].sum()
    assert 0.93 <= cover <= 0.97

@pytest.mark.slow
@pytest.mark.parametrize("n", [30, 100, 1000])
@pytest.mark.parametrize("shares", [(0.3, 0.4, 0.3), (0.1, 0.3, 0.6)])   # true NPS 0 and 50
def test_adjusted_wald_coverage(n, shares):
    reps = 2000
    rng = np.random.default_rng(20261110 + n)
    answers = rng.choice(np.array([0, 7, 10]), p=shares, size=(reps, n)).ravel()
    t = lm.nps(answers, by=np.repeat(np.arange(reps), n))
    truth = 100 * (shares[2] - shares[0])
    cover = np.mean((t.ci_lower <= truth) & (truth <= t.ci_upper))
    assert 0.93 <= cover <= 0.97, f"coverage {cover:.3f} at n={n}, NPS {truth:.0f}"
