"""The Net Promoter Score: hand-computed examples for every scale, the interval formulas written
out independently of the package, the Bayesian interval, input checks, groups, weights, the
difference of two NPS and properties. The other indices are tested in test_other_indices.py, the
modelled index in test_modelled_index.py, the intervals' coverage in test_index_coverage.py."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.errors import DataError, DataWarning
from loyaltymodels.indices import intervals as iv

Z95 = 1.959963984540054  # standard-normal 97.5% quantile, to 16 digits


def adjusted_wald_by_hand(pro: float, det: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Rocks (2016) written out from the paper's recipe, in NPS points, without clipping."""
    p, d, m = (pro + 0.75) / (n + 3), (det + 0.75) / (n + 3), n + 3
    se = math.sqrt((p + d - (p - d) ** 2) / m)
    return 100 * (p - d - z * se), 100 * (p - d + z * se)


# --- NPS: hand-computed examples -------------------------------------------------------------------


def test_nps_0_10_by_hand():
    # 0..10 once each: detractors 0-6 (7), passives 7-8 (2), promoters 9-10 (2); n = 11
    t = lm.nps(list(range(11)))
    row = t.iloc[0]
    assert row.estimate == pytest.approx(100 * (2 - 7) / 11)  # -45.4545...
    assert (row.promoters, row.passives, row.detractors) == pytest.approx((100 * 2 / 11, 100 * 2 / 11, 100 * 7 / 11))
    # p' = 2.75/14, d' = 7.75/14, centre -5/14, var = (10.5/14 - 25/196) / 14
    se = math.sqrt((10.5 / 14 - 25 / 196) / 14)
    assert row.ci_lower == pytest.approx(100 * (-5 / 14 - Z95 * se))
    assert row.ci_upper == pytest.approx(100 * (-5 / 14 + Z95 * se))
    assert (row.n, row.n_missing, row.ci, row.method) == (11, 0, 0.95, "adjusted_wald")
    assert list(t.columns) == [
        "estimate",
        "ci_lower",
        "ci_upper",
        "ci",
        "method",
        "n",
        "n_missing",
        "promoters",
        "passives",
        "detractors",
    ]


@pytest.mark.parametrize(
    "scale, cutoffs, answers, counts",
    [
        # counts = (detractors, passives, promoters), by hand from the scale's rule
        ("0-10", None, [0, 6, 7, 8, 9, 10, 10], (2, 2, 3)),
        ("1-10", None, [1, 6, 7, 8, 9, 10], (2, 2, 2)),
        ("1-7", None, [1, 5, 6, 7, 7], (2, 1, 2)),  # 1-5 / 6 / 7
        ("1-5", None, [1, 3, 4, 5, 5, 5], (2, 1, 3)),  # 1-3 / 4 / 5
        ((1, 9), (5, 8), [5, 6, 8, 9], (1, 1, 2)),  # custom: up to 5 / 6-7 / 8-9
        ("0-10", (4, 10), [4, 5, 9, 10], (1, 2, 1)),  # custom cut-offs on the usual scale
    ],
)
def test_nps_scales_by_hand(scale, cutoffs, answers, counts):
    det, pas, pro = counts
    n = det + pas + pro
    row = lm.nps(answers, scale=scale, cutoffs=cutoffs).iloc[0]
    assert row.estimate == pytest.approx(100 * (pro - det) / n)
    assert (row.detractors, row.passives, row.promoters) == pytest.approx((100 * det / n, 100 * pas / n, 100 * pro / n))
    assert (row.ci_lower, row.ci_upper) == pytest.approx(adjusted_wald_by_hand(pro, det, n))


def test_nps_1_5_example_numbers():
    # 3 promoters, 1 passive, 2 detractors: NPS 100/6; p' = 3.75/9, d' = 2.75/9, se^2 = (6.5/9 - 1/81)/9
    row = lm.nps([1, 3, 4, 5, 5, 5], scale="1-5").iloc[0]
    assert row.estimate == pytest.approx(16.666666666666668)
    se = math.sqrt((6.5 / 9 - 1 / 81) / 9)
    assert row.ci_lower == pytest.approx(100 * (1 / 9 - Z95 * se))
    assert row.ci_lower == pytest.approx(-43.9339, abs=1e-4)  # the same, as a number
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
    lo, hi = adjusted_wald_by_hand(10, 0, 10)  # centre 10/13, upper end beyond 100
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
    answers = [10, 10, 9, 9, 9, 8, 7, 7, 5, 3, 0, 10]  # det 3, pas 3, pro 6
    row = lm.nps(answers, method="bayes", ndraws=200_000, seed=11).iloc[0]
    ref = stats.dirichlet.rvs([1 + 3, 1 + 3, 1 + 6], size=200_000, random_state=5)
    diff = 100 * (ref[:, 2] - ref[:, 0])
    assert row.ci_lower == pytest.approx(np.quantile(diff, 0.025), abs=0.6)
    assert row.ci_upper == pytest.approx(np.quantile(diff, 0.975), abs=0.6)
    assert row.estimate == pytest.approx(100 * (6 - 3) / 12)  # the plain NPS, as the others
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
    return pd.DataFrame(
        {
            "recommend": [10, 9, np.nan, 3, 7, 10, 0, np.nan, 8, 9],
            "wave": ["2025", "2025", "2025", "2024", "2024", "2024", "2026", "2026", None, "2025"],
            "w": [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0, 1.0],
        },
        index=[f"r{i}" for i in range(10)],
    )


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
    pd.testing.assert_frame_equal(survey, before)  # the input is never changed


def test_input_forms_agree(survey):
    ref = lm.nps("recommend", data=survey, by="wave", weights="w")
    series = lm.nps(survey["recommend"], by=survey["wave"], weights=survey["w"])
    arrays = lm.nps(survey["recommend"].to_numpy(), by=survey["wave"].to_list(), weights=survey["w"].to_numpy())
    pd.testing.assert_frame_equal(ref, series)
    pd.testing.assert_frame_equal(ref.drop(columns="wave"), arrays.drop(columns="group"))
    nullable = lm.nps(pd.Series([10, None, 3], dtype="Int64"))
    objects = lm.nps(np.array([10, None, 3], dtype=object))
    pd.testing.assert_frame_equal(nullable, objects)
    assert nullable.n.iloc[0] == 2 and nullable.n_missing.iloc[0] == 1


def test_categorical_by_keeps_category_order():
    by = pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a", "z"])
    t = lm.nps([10, 0, 10, 8], by=by)
    assert t.group.tolist() == ["c", "b", "a"]  # observed categories, in their order
    assert t.estimate.tolist() == pytest.approx([0.0, 100.0, -100.0])
    # a labelled Series next to an unlabelled Categorical: read by position, order kept
    labelled = lm.nps(pd.Series([10, 0, 10, 8], index=list("pqrs")), by=by)
    pd.testing.assert_frame_equal(t, labelled)


def test_grouped_equals_separate_calls(survey):
    t = lm.nps("recommend", data=survey, by="wave", method="wald")
    for _, row in t.iloc[:3].iterrows():
        alone = lm.nps(survey.recommend[survey.wave == row.wave], method="wald").iloc[0]
        assert alone[["estimate", "ci_lower", "ci_upper", "n", "n_missing"]].tolist() == pytest.approx(
            row[["estimate", "ci_lower", "ci_upper", "n", "n_missing"]].tolist()
        )


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
    assert df.recommend.iloc[4] == 11  # still there: nothing was changed


@pytest.mark.parametrize(
    "values, shown, where",
    [
        ([1, 2, 7.5], "7.5", "row 2"),
        ([2, -1, 3], "-1", "row 1"),
        ([5, 0, 3], "0", "row 1"),  # 0 is off the 1-10 scale
        ([1, "7", 3], "'7'", "row 1"),  # text is not a number
        (["very", "likely"], "'very'", "row 0 (and 1 more)"),
        ([True, 1], "True", "row 0"),
    ],
)
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
    a = [10, 9, 3, 5, 8, 8]  # 2 promoters, 2 passives, 2 detractors: NPS 0
    b = [10, 10, 9, 0, 8, np.nan]  # 3 promoters, 1 passive, 1 detractor: NPS 40
    row = lm.nps_difference(a, b).iloc[0]
    assert row.estimate == pytest.approx(40.0)
    assert (row.nps_a, row.nps_b, row.n_a, row.n_b, row.n_missing_b, row.n) == (0, 40, 6, 5, 1, 11)
    pa, da, pb, db = 2.75 / 9, 2.75 / 9, 3.75 / 8, 1.75 / 8
    va = (pa + da - (pa - da) ** 2) / 9
    vb = (pb + db - (pb - db) ** 2) / 8
    centre, se = (pb - db) - (pa - da), math.sqrt(va + vb)
    assert (row.ci_lower, row.ci_upper) == pytest.approx((100 * (centre - Z95 * se), 100 * (centre + Z95 * se)))
    assert row.p_value == pytest.approx(2 * (1 - stats.norm.cdf(centre / se)))
    assert math.isnan(row.prob_b_greater)


def test_nps_difference_plain_wald_without_variance_warns_and_gives_no_p_value():
    # all promoters in a, all detractors in b: the plain Wald variance is 0 in both samples
    with pytest.warns(DataWarning, match="adjusted_wald"):
        row = lm.nps_difference([10, 10, 9], [0, 1], method="wald").iloc[0]
    assert row.estimate == -200.0 and math.isnan(row.p_value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the shrunk variance is never 0: no warning, a real test
        shrunk = lm.nps_difference([10, 10, 9], [0, 1]).iloc[0]
    assert 0 < shrunk.p_value < 0.05 and shrunk.ci_upper < 0


def test_nps_difference_bayes():
    a = np.repeat([0, 7, 10], [30, 40, 30])  # NPS 0
    b = np.repeat([0, 7, 10], [10, 30, 60])  # NPS 50
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


# --- properties -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 10), st.just(None)), min_size=1, max_size=60),
    st.lists(st.sampled_from("abc"), min_size=60, max_size=60),
)
def test_nps_properties(answers, labels):
    labels = labels[: len(answers)]
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
        est = 100 * (pro - det) / len(given_)  # the interval is extended to hold it (n = 1)
        assert (row.ci_lower, row.ci_upper) == pytest.approx((min(max(lo, -100), est), max(min(hi, 100), est)))
        assert row.ci_lower <= row.estimate <= row.ci_upper
        assert -100 <= row.ci_lower <= row.ci_upper <= 100


def _answers(promoters: int, passives: int, detractors: int) -> list[int]:
    return [10] * promoters + [8] * passives + [0] * detractors


def test_every_interval_holds_its_estimate():
    """Every sample of up to 12 answers (each count of promoters, passives, detractors) and the
    boundary samples of up to 60: the estimate lies in its interval, for each method. One promoter
    of one used to give 100 with the adjusted Wald interval [-48.5, 98.5]."""
    counts = [(p, q, d) for n in range(1, 13) for p in range(n + 1) for d in range(n + 1 - p) for q in [n - p - d]]
    counts += [(n, 0, 0) for n in range(13, 61)] + [(0, 0, n) for n in range(13, 61)]
    for method in ("adjusted_wald", "wald", "bayes"):
        for c in counts:
            row = lm.nps(_answers(*c), method=method, ndraws=400, seed=1).iloc[0]
            assert row.ci_lower <= row.estimate <= row.ci_upper, (method, c, row.to_dict())
    one = lm.nps([10]).iloc[0]
    assert (one.estimate, one.ci_upper) == (100.0, 100.0) and one.ci_lower == pytest.approx(-48.4986, abs=1e-4)
    # away from the boundary nothing changes: the adjusted Wald interval of Rocks (2016) by hand
    p, d, n = (3 + 0.75) / 8, (1 + 0.75) / 8, 8
    half = stats.norm.ppf(0.975) * math.sqrt((p + d - (p - d) ** 2) / n)
    row = lm.nps(_answers(3, 1, 1)).iloc[0]
    assert (row.ci_lower, row.ci_upper) == pytest.approx((100 * (p - d - half), 100 * (p - d + half)), abs=1e-9)


def test_every_difference_interval_holds_its_estimate():
    small = [(p, q, d) for n in range(1, 4) for p in range(n + 1) for d in range(n + 1 - p) for q in [n - p - d]]
    small += [(4, 0, 0), (3, 0, 1), (0, 0, 5), (1, 4, 0)]
    for method in ("adjusted_wald", "wald"):
        for a in small:
            for b in small:
                row = lm.nps_difference(_answers(*a), _answers(*b), method=method).iloc[0]
                assert row.ci_lower <= row.estimate <= row.ci_upper, (method, a, b)
    row = lm.nps_difference([0], [10], method="bayes", ndraws=400, seed=1).iloc[0]
    assert row.estimate == 200 and row.ci_upper == 200


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"prior": (-1, 1, 1)}, r"prior=\(-1, 1, 1\): give three positive numbers"),
        ({"prior": (1, 1)}, "three positive numbers"),
        ({"ndraws": 0}, "ndraws=0"),
        ({"seed": -1}, "seed=-1"),
    ],
)
def test_bayes_settings_are_checked(kwargs, fragment):
    with pytest.raises(lm.ArgumentError, match=fragment):
        lm.nps([0, 6, 10], method="bayes", **kwargs)
    with pytest.raises(lm.ArgumentError, match=fragment):
        lm.nps_difference([0, 6, 10], [9, 10], method="bayes", **kwargs)
