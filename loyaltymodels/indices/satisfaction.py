"""Satisfaction and loyalty indices other than the NPS, with intervals whose coverage is checked.

The Secure Customer Index, the Customer Loyalty Index, CSAT and CES.

Split from :mod:`loyaltymodels.indices.promoter` (which keeps the NPS) to keep modules short; the
conventions for inputs, groups, missing answers, weights and the returned table are described
there and are the same here. Shares use the Wilson interval, means the Student-t interval (both
on Kish's ``n_eff`` when weighted), through :func:`~loyaltymodels.indices.responses.share_table` and
:func:`~loyaltymodels.indices.responses.mean_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import CI_ML
from ..errors import ArgumentError
from . import intervals as iv
from .responses import mean_table, parse_scale, read_responses, share_table

__all__ = ["secure_customer_index", "customer_loyalty_index", "csat", "ces"]


def secure_customer_index(
    satisfaction: Any,
    repurchase: Any,
    recommend: Any,
    scale: str | tuple[int, int] = "1-5",
    ci: float = CI_ML,
    by: Any = None,
    weights: Any = None,
    *,
    data: pd.DataFrame | None = None,
    favourable: int | None = None,
    vulnerable: int | None = None,
) -> pd.DataFrame:
    """Burke's Secure Customer Index: share giving the top answer on all three questions.

    The three questions are overall satisfaction, likelihood to repurchase (or continue) and
    likelihood to recommend, on one scale whose highest answer is the most favourable. Each
    respondent falls in one segment by their *lowest* answer of the three:

    - secure: the top answer on all three (the index, Wilson interval);
    - favourable: at least ``favourable`` (default: the second-best answer) on all three;
    - vulnerable: at least ``vulnerable`` (default: the middle answer, rounded up) on all three;
    - at risk: below ``vulnerable`` on at least one.

    Parameters
    ----------
    satisfaction, repurchase, recommend : array-like or str
        Answers (or columns of ``data``); a respondent counts when all three are answered.
    scale : str or (int, int)
        Response range of the three questions.
    favourable, vulnerable : int, optional
        Lowest answer of the favourable and vulnerable segments (1-5: 4 and 3).
    ci, by, weights, data
        As in :func:`~loyaltymodels.indices.promoter.nps`.

    Returns
    -------
    DataFrame
        ``estimate`` (secure, percent), ``ci_lower``, ``ci_upper``, ``ci``, ``method``, ``n``,
        ``n_missing``, ``n_eff`` (weighted), ``favourable``, ``vulnerable``, ``at_risk`` (percent;
        the four segments add to 100).

    Examples
    --------
    Of four customers, one is secure (5, 5, 5), one favourable, one vulnerable, one at risk:

    >>> import loyaltymodels as lm
    >>> t = lm.secure_customer_index([5, 5, 3, 5], [5, 4, 5, 1], [5, 5, 4, 5])
    >>> t[["estimate", "favourable", "vulnerable", "at_risk", "n"]]
       estimate  favourable  vulnerable  at_risk  n
    0      25.0        25.0        25.0     25.0  4
    """
    iv.check_ci(ci)
    lo, hi, name = parse_scale(scale)
    favourable = hi - 1 if favourable is None else favourable
    vulnerable = -(-(lo + hi) // 2) if vulnerable is None else vulnerable
    if not lo < vulnerable <= favourable < hi:
        raise ArgumentError(
            f"secure_customer_index: need {lo} < vulnerable ({vulnerable}) <= favourable ({favourable}) < {hi}"
        )
    r = read_responses(
        "secure_customer_index",
        {"satisfaction": satisfaction, "repurchase": repurchase, "recommend": recommend},
        scale=(lo, hi, name),
        data=data,
        by=by,
        weights=weights,
    )
    low = np.fmin(np.fmin(r.answers[0], r.answers[1]), r.answers[2])
    return share_table(
        r,
        low >= hi,
        ci,
        "secure_customer_index",
        {
            "favourable": (low >= favourable) & (low < hi),
            "vulnerable": (low >= vulnerable) & (low < favourable),
            "at_risk": low < vulnerable,
        },
    )


def customer_loyalty_index(
    recommend: Any,
    repurchase: Any,
    try_others: Any,
    ci: float = CI_ML,
    by: Any = None,
    weights: Any = None,
    *,
    data: pd.DataFrame | None = None,
    reverse: Sequence[str] = (),
) -> pd.DataFrame:
    """Customer Loyalty Index (0-100 points) from three questions on 1-6 (1 = very likely).

    As its published source (QuestionPro's description of the index) defines it: the likelihood
    to recommend us, to buy from us again, and to try our other products or services, each scored
    on one table, 1 -> 100, 2 -> 80, 3 -> 60, 4 -> 40, 5 -> 20, 6 -> 0 (higher = more loyal). All
    three ask about *our* brand, so none is reversed: a customer very likely to try our other
    products is loyal. A respondent's score is the mean of the three; the index is the mean over
    respondents who answered all three, with a Student-t interval.

    Parameters
    ----------
    recommend, repurchase, try_others : array-like or str
        Answers on 1-6 (or columns of ``data``).
    ci, by, weights, data
        As in :func:`~loyaltymodels.indices.promoter.nps`.
    reverse : sequence of {"recommend", "repurchase", "try_others"}
        Questions to score the other way (1 -> 0, ..., 6 -> 100), for a questionnaire that departs
        from the source, e.g. one asking the likelihood to try *other brands*
        (``reverse=["try_others"]``). Not the source's index: say so when reporting it.

    Returns
    -------
    DataFrame
        ``estimate`` (points), ``ci_lower``, ``ci_upper``, ``ci``, ``method`` (``"t"``), ``n``,
        ``n_missing``, ``n_eff`` (weighted), ``sd`` (of respondents' scores), and the mean
        score of each question: ``recommend_score``, ``repurchase_score``, ``try_others_score``.

    Examples
    --------
    Scores (100 + 80 + 0) / 3 and (60 + 60 + 100) / 3; index (60 + 73.33) / 2:

    >>> import loyaltymodels as lm
    >>> t = lm.customer_loyalty_index([1, 3], [2, 3], [6, 1])
    >>> t[["estimate", "n", "recommend_score", "try_others_score"]].round(2)
       estimate  n  recommend_score  try_others_score
    0     66.67  2             80.0              50.0
    """
    iv.check_ci(ci)
    questions = ("recommend", "repurchase", "try_others")
    reverse = [reverse] if isinstance(reverse, str) else list(reverse)
    unknown = [q for q in reverse if q not in questions]
    if unknown:
        raise ValueError(f"reverse={unknown!r}: name questions among {', '.join(questions)}")
    r = read_responses(
        "customer_loyalty_index",
        dict(zip(questions, (recommend, repurchase, try_others))),
        scale=(1, 6, "1-6"),
        data=data,
        by=by,
        weights=weights,
    )
    scores = {f"{q}_score": (a - 1) * 20 if q in reverse else (6 - a) * 20 for q, a in zip(questions, r.answers)}
    total = np.sum(list(scores.values()), axis=0)
    return mean_table(r, total / 3, ci, "customer_loyalty_index", scores)


def csat(
    x: Any,
    scale: str | tuple[int, int] = "1-5",
    ci: float = CI_ML,
    by: Any = None,
    weights: Any = None,
    *,
    data: pd.DataFrame | None = None,
    top_box: int = 2,
) -> pd.DataFrame:
    """Customer satisfaction score (CSAT): percent of satisfied answers, Wilson interval.

    Satisfied = one of the ``top_box`` highest answers (top-2 box: 4-5 on 1-5, 6-7 on 1-7).

    Parameters
    ----------
    x : array-like or str
        Answers (or a column of ``data``); the highest answer is the most satisfied.
    scale : str or (int, int)
        Response range.
    top_box : int
        How many of the highest answers count as satisfied.
    ci, by, weights, data
        As in :func:`~loyaltymodels.indices.promoter.nps`.

    Returns
    -------
    DataFrame
        ``estimate`` (percent), ``ci_lower``, ``ci_upper``, ``ci``, ``method`` (``"wilson"``),
        ``n``, ``n_missing``, ``n_eff`` (weighted).

    Examples
    --------
    Three of four answers are 4 or 5. Spreadsheet: ``=COUNTIF(A:A,">=4") / COUNT(A:A) * 100``.

    >>> import loyaltymodels as lm
    >>> lm.csat([5, 4, 2, 4])[["estimate", "ci_lower", "ci_upper", "n"]].round(2)
       estimate  ci_lower  ci_upper  n
    0      75.0     30.06     95.44  4
    """
    iv.check_ci(ci)
    lo, hi, name = parse_scale(scale)
    if not (isinstance(top_box, int) and 1 <= top_box <= hi - lo):
        raise ArgumentError(f"csat: top_box must be an integer from 1 to {hi - lo}; got {top_box!r}")
    r = read_responses("csat", {"x": x}, scale=(lo, hi, name), data=data, by=by, weights=weights)
    return share_table(r, r.answers[0] > hi - top_box, ci, "csat")


def ces(
    x: Any,
    scale: str | tuple[int, int] = "1-7",
    ci: float = CI_ML,
    by: Any = None,
    weights: Any = None,
    *,
    data: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Customer Effort Score (CES): mean answer on its own scale, Student-t interval.

    The direction is that of the question: with the CES 2.0 wording ("The company made it easy
    for me to handle my issue", 1 = strongly disagree ... 7 = strongly agree) higher is better;
    with the original "How much effort did you personally have to put forth" higher is worse.

    Parameters
    ----------
    x : array-like or str
        Answers (or a column of ``data``).
    scale : str or (int, int)
        Response range (``"1-7"`` for CES 2.0, ``"1-5"`` for the original CES).
    ci, by, weights, data
        As in :func:`~loyaltymodels.indices.promoter.nps`.

    Returns
    -------
    DataFrame
        ``estimate`` (mean), ``ci_lower``, ``ci_upper``, ``ci``, ``method`` (``"t"``), ``n``,
        ``n_missing``, ``n_eff`` (weighted), ``sd``.

    Examples
    --------
    Mean 5, sd sqrt(4/3) of four answers; t(3) = 3.182446, so 5 -/+ 3.182446 * 1.1547 / 2.
    Spreadsheet: ``=AVERAGE(A:A)`` and ``=CONFIDENCE.T(0.05, STDEV.S(A:A), COUNT(A:A))``.

    >>> import loyaltymodels as lm
    >>> lm.ces([4, 6, 6, 4])[["estimate", "ci_lower", "ci_upper", "sd"]].round(4)
       estimate  ci_lower  ci_upper      sd
    0       5.0    3.1626    6.8374  1.1547
    """
    iv.check_ci(ci)
    r = read_responses("ces", {"x": x}, scale=parse_scale(scale), data=data, by=by, weights=weights)
    return mean_table(r, r.answers[0], ci, "ces")
