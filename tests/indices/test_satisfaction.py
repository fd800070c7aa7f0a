"""The Secure Customer Index, the Customer Loyalty Index, CSAT and CES: hand-computed examples,
Wilson and t intervals written out independently of the package (and against SciPy), groups,
weights and bad input. NPS is tested in test_indices.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.errors import DataError

Z95 = 1.959963984540054  # standard-normal 97.5% quantile, to 16 digits


def wilson_by_hand(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


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
        [100 * 3 / 9, 100 * 2 / 9, 100 * 2 / 9, 100 * 2 / 9]
    )
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


# The source's table (QuestionPro, "Customer Loyalty Index"): every question scored the same way,
# 1 -> 100, 2 -> 80, 3 -> 60, 4 -> 40, 5 -> 20, 6 -> 0; higher = more loyal.
SOURCE_TABLE = {1: 100, 2: 80, 3: 60, 4: 40, 5: 20, 6: 0}


def test_cli_by_hand():
    rec = [1, 2, 6, 3]
    rep = [1, 1, 5, np.nan]
    oth = [6, 2, 1, 4]
    # scores: recommend 100, 80, 0; repurchase 100, 100, 20; try our other products 0, 80, 100
    # respondents: 66.667, 86.667, 40; the fourth is missing a repurchase answer
    scores = [200 / 3, 260 / 3, 40.0]
    mean, sd = np.mean(scores), np.std(scores, ddof=1)
    t2 = 4.302652729749464  # t(2) 97.5% quantile
    row = lm.customer_loyalty_index(rec, rep, oth).iloc[0]
    assert row.estimate == pytest.approx(mean)
    assert row.sd == pytest.approx(sd)
    assert (row.ci_lower, row.ci_upper) == pytest.approx((mean - t2 * sd / math.sqrt(3), mean + t2 * sd / math.sqrt(3)))
    assert (row.n, row.n_missing, row.method) == (3, 1, "t")
    assert (row.recommend_score, row.repurchase_score, row.try_others_score) == pytest.approx((60.0, 220 / 3, 60.0))


def test_cli_scores_every_question_on_the_source_table():
    rng = np.random.default_rng(4)
    answers = rng.integers(1, 7, size=(3, 50))
    by_table = np.vectorize(SOURCE_TABLE.get)(answers).astype(float)
    row = lm.customer_loyalty_index(*answers).iloc[0]
    assert row.estimate == pytest.approx(by_table.mean())
    assert [row.recommend_score, row.repurchase_score, row.try_others_score] == pytest.approx(by_table.mean(axis=1))
    # the most loyal answers: very likely to recommend, to repurchase and to try our other products
    assert lm.customer_loyalty_index([1], [1], [1]).estimate.iloc[0] == 100
    assert lm.customer_loyalty_index([6], [6], [6]).estimate.iloc[0] == 0
    with pytest.raises(DataError, match="integers 1-6 for scale '1-6'"):
        lm.customer_loyalty_index([1], [0], [6])


def test_cli_reverses_only_what_the_user_asks():
    rev = lm.customer_loyalty_index([1, 2], [1, 2], [6, 5], reverse=["try_others"]).iloc[0]
    assert rev.try_others_score == pytest.approx((100 + 80) / 2)  # 6 -> 100, 5 -> 80
    assert rev.recommend_score == pytest.approx(90)
    with pytest.raises(ValueError, match=r"reverse=.*'loyalty'.*recommend, repurchase, try_others"):
        lm.customer_loyalty_index([1], [1], [1], reverse=["loyalty"])


# --- CSAT and CES ---------------------------------------------------------------------------------


def test_csat_by_hand():
    x = [5, 4, 4, 3, 2, 1, 5, np.nan]  # 4 of 7 answer 4 or 5
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
    x = [7, 6, 6, 5, 3, np.nan]  # mean 27/5 = 5.4
    row = lm.ces(x).iloc[0]
    sd = math.sqrt(((1.6**2) + 2 * 0.6**2 + 0.4**2 + 2.4**2) / 4)
    t4 = 2.7764451051977987  # t(4) 97.5% quantile
    assert (row.estimate, row.sd) == pytest.approx((5.4, sd))
    assert (row.ci_lower, row.ci_upper) == pytest.approx((5.4 - t4 * sd / math.sqrt(5), 5.4 + t4 * sd / math.sqrt(5)))
    assert (row.n, row.n_missing) == (5, 1)
    assert lm.ces([1, 2, 5], scale="1-5").estimate.iloc[0] == pytest.approx(8 / 3)
    with pytest.raises(DataError, match="value 6 at row 1"):
        lm.ces([5, 6], scale="1-5")


def test_mean_and_share_indices_by_group():
    df = pd.DataFrame({"x": [7, 5, 1, 2, 4, np.nan], "g": ["q", "p", "q", "p", "p", "q"]})
    t = lm.ces("x", data=df, by="g")
    assert t.g.tolist() == ["q", "p"] and t.n.tolist() == [2, 3] and t.n_missing.tolist() == [1, 0]
    assert t.estimate.tolist() == pytest.approx([4.0, 11 / 3])
    c = lm.csat("x", data=df, by="g", scale="1-7")  # top-2 box on 1-7: 6 or 7
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
