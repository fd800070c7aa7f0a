"""The industry's loyalty and satisfaction indices, each with an interval whose coverage is checked.

Every function takes the answers as array-likes (list, NumPy array, pandas Series; one value per
respondent) or, with ``data=<DataFrame>``, as column names, and returns a tidy DataFrame with one
row per group of ``by`` (a first column named after ``by``, groups in order of first appearance,
categories in category order, respondents without a group in a last NaN group) and at least the
columns ``estimate, ci_lower, ci_upper, ci, method, n, n_missing``. Shares are in percent (0-100),
the NPS on -100..100, the CES on its response scale, the Customer Loyalty Index in points (0-100).

Missing answers (NaN, None, pd.NA) are left out and counted in ``n_missing``; for the indices built
from several questions a respondent counts only when every question is answered. A value off the
scale or not a number raises :class:`~loyaltymodels.errors.DataError` naming the column, the row
and the value. Survey ``weights`` give weighted shares and means; the interval then uses Kish's
effective sample size ``n_eff = (sum w)^2 / sum w^2`` in place of ``n`` (reported as ``n_eff``).

The coverage of the intervals is measured in ``benchmarks/indices_coverage.py`` (committed output
in ``benchmarks/results/indices_coverage.txt``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from . import intervals as iv
from .responses import Responses, mean_table, parse_scale, read_responses, share_table

__all__ = ["nps", "nps_difference", "secure_customer_index", "customer_loyalty_index", "csat", "ces",
           "NPS_CUTOFFS"]

#: Highest detractor answer and lowest promoter answer of the usual NPS scales.
NPS_CUTOFFS: dict[str, tuple[int, int]] = {"0-10": (6, 9), "1-10": (6, 9), "1-7": (5, 7), "1-5": (3, 5)}

NpsMethod = Literal["adjusted_wald", "wald", "bayes"]
_NPS_METHODS = ("adjusted_wald", "wald", "bayes")


def _nps_scale(scale: str | tuple[int, int], cutoffs: tuple[int, int] | None):
    lo, hi, name = parse_scale(scale)
    if cutoffs is None:
        if name not in NPS_CUTOFFS:
            raise ValueError(f"nps: no standard cut-offs for scale '{name}'; pass cutoffs=(highest "
                             f"detractor answer, lowest promoter answer), e.g. cutoffs=(6, 9)")
        cutoffs = NPS_CUTOFFS[name]
    d_max, p_min = cutoffs
    if not lo <= d_max < p_min <= hi:
        raise ValueError(f"nps: cutoffs {cutoffs!r} must satisfy {lo} <= highest detractor answer "
                         f"< lowest promoter answer <= {hi}")
    return (lo, hi, name), d_max, p_min


def _nps_shares(r: Responses, d_max: int, p_min: int):
    """Per group: shares (detractors, passives, promoters; 0-1), n, n_missing and (effective) n."""
    x = r.answers[0]
    # cells 0-3 = detractor, passive, promoter, missing (NaN fails both comparisons): one
    # bincount counts all four per group, without copying the answers that are present
    cell = (x > d_max).astype(np.intp) + (x >= p_min) + 3 * np.isnan(x)
    cell += 4 * r.codes
    table = np.bincount(cell, minlength=4 * r.ngroups).reshape(-1, 4)
    n, n_missing = table[:, :3].sum(axis=1), table[:, 3]
    counts = table[:, :3].astype(float)
    if r.weights is not None:
        counts = np.bincount(cell, weights=r.weights, minlength=4 * r.ngroups).reshape(-1, 4)[:, :3]
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / total[:, None]
    if r.weights is None:
        return shares, n, n_missing, n.astype(float)
    w2 = np.bincount(cell, weights=r.weights**2, minlength=4 * r.ngroups).reshape(-1, 4)[:, :3]
    return shares, n, n_missing, iv.kish_n_eff(total, w2.sum(axis=1))


def _nps_interval(shares, n_used, ci, method, prior, ndraws, rng, keep_draws=False):
    det, pro = shares[:, 0], shares[:, 2]
    if method == "adjusted_wald":
        return (*iv.nps_adjusted_wald(pro, det, n_used, ci), None)
    if method == "wald":
        return (*iv.nps_wald(pro, det, n_used, ci), None)
    draws = np.full((len(shares), ndraws), np.nan)
    fine = np.flatnonzero(n_used > 0)
    for start in range(0, fine.size, 256):  # bounded memory: 256 groups of draws at a time
        rows = fine[start:start + 256]
        draws[rows] = iv.nps_dirichlet_draws(shares[rows] * n_used[rows, None], prior, ndraws, rng)
    lo, hi = iv.equal_tailed(draws, ci, axis=1)
    return lo, hi, draws if keep_draws else None


def _check_method(method: str) -> None:
    if method not in _NPS_METHODS:
        raise ValueError(f"nps: method must be one of {_NPS_METHODS}; got {method!r}")


def nps(x: Any, scale: str | tuple[int, int] = "0-10", ci: float = 0.95,
        method: NpsMethod = "adjusted_wald", by: Any = None, weights: Any = None, *,
        data: pd.DataFrame | None = None, cutoffs: tuple[int, int] | None = None,
        prior: tuple[float, float, float] = (1.0, 1.0, 1.0), ndraws: int = 4000,
        seed: int | np.random.Generator | None = None) -> pd.DataFrame:
    """Net Promoter Score with an interval, overall or by group.

    Respondents are detractors, passives or promoters by their answer to "How likely are you to
    recommend ...": on 0-10 and 1-10 detractors answer up to 6, passives 7-8, promoters 9-10; on
    1-7: 1-5 / 6 / 7; on 1-5: 1-3 / 4 / 5. The NPS is the percentage of promoters minus the
    percentage of detractors (-100..100).

    Parameters
    ----------
    x : array-like or str
        Answers (NaN = missing), or a column of ``data``.
    scale : str or (int, int)
        ``"0-10"``, ``"1-10"``, ``"1-7"``, ``"1-5"``, or any range with ``cutoffs``.
    ci : float
        Mass of the interval.
    method : {"adjusted_wald", "wald", "bayes"}
        ``"adjusted_wald"`` (default): the adjusted Wald interval of Rocks (2016): 3/4 of a
        respondent added to promoters and to detractors, 3/2 to passives (n + 3), centred on the
        adjusted NPS with the multinomial variance; it keeps its coverage at small n.
        ``"wald"``: the plain Wald interval (under-covers at small n; for comparison).
        ``"bayes"``: equal-tailed posterior interval of ``promoters - detractors`` under a
        Dirichlet(``prior``) prior on the three shares, from ``ndraws`` draws (with weights,
        the counts are the weighted shares times ``n_eff``).
    by, weights : array-like or str, optional
        Groups (e.g. survey wave, country) and survey weights (non-negative).
    data : DataFrame, optional
        Where to find the columns named by ``x``, ``by``, ``weights``.
    cutoffs : (int, int), optional
        Highest detractor answer and lowest promoter answer (default: the scale's usual ones).
    prior : 3 floats
        Dirichlet prior of (detractors, passives, promoters) for ``"bayes"``. The default
        Dirichlet(1, 1, 1) is uniform over all possible shares: it adds one pseudo-respondent to
        each group, close to the 3/4-3/2-3/4 of the adjusted Wald, and pulls small samples a
        little towards NPS 0.
    ndraws, seed
        Number of posterior draws and their seed (``"bayes"`` only).

    Returns
    -------
    DataFrame
        One row per group: ``estimate`` (the plain NPS, for every method), ``ci_lower``,
        ``ci_upper``, ``ci``, ``method``, ``n`` (answers used), ``n_missing``, ``n_eff`` (when
        weighted), and the ``promoters``, ``passives``, ``detractors`` shares in percent.
        Interval ends are clipped to [-100, 100].

    References
    ----------
    Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review*, 81(12).
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician*, 70(4), 365-372.

    Examples
    --------
    Four promoters, three passives, three detractors: NPS = 40 - 30 = 10. Spreadsheet equivalent:
    ``=(COUNTIF(A:A,">=9") - COUNTIF(A:A,"<=6")) / COUNT(A:A) * 100``.

    >>> import loyaltymodels as lm
    >>> t = lm.nps([10, 9, 9, 10, 7, 8, 8, 3, 6, 0, None])
    >>> t[["estimate", "ci_lower", "ci_upper", "n", "n_missing", "promoters"]].round(2)
       estimate  ci_lower  ci_upper   n  n_missing  promoters
    0      10.0    -36.06     51.45  10          1       40.0
    """
    iv.check_ci(ci)
    _check_method(method)
    scale_t, d_max, p_min = _nps_scale(scale, cutoffs)
    r = read_responses("nps", {"x": x}, scale=scale_t, data=data, by=by, weights=weights)
    shares, n, n_missing, n_used = _nps_shares(r, d_max, p_min)
    lo, hi, _ = _nps_interval(shares, n_used, ci, method, prior, ndraws, np.random.default_rng(seed))
    cols = {"estimate": 100 * (shares[:, 2] - shares[:, 0]), "ci_lower": 100 * lo,
            "ci_upper": 100 * hi, "ci": ci, "method": method, "n": n, "n_missing": n_missing}
    if r.weights is not None:
        cols["n_eff"] = n_used
    cols |= {"promoters": 100 * shares[:, 2], "passives": 100 * shares[:, 1],
             "detractors": 100 * shares[:, 0]}
    return r.table(cols, "nps")


def nps_difference(a: Any, b: Any, scale: str | tuple[int, int] = "0-10", ci: float = 0.95,
                   method: NpsMethod = "adjusted_wald", *, weights_a: Any = None,
                   weights_b: Any = None, data: pd.DataFrame | None = None,
                   cutoffs: tuple[int, int] | None = None,
                   prior: tuple[float, float, float] = (1.0, 1.0, 1.0), ndraws: int = 4000,
                   seed: int | np.random.Generator | None = None) -> pd.DataFrame:
    """Difference ``NPS(b) - NPS(a)`` between two independent samples (two groups or two waves).

    Parameters
    ----------
    a, b : array-like or str
        Answers of the two samples (or columns of ``data``).
    method : {"adjusted_wald", "wald", "bayes"}
        ``"adjusted_wald"``: each sample adjusted as in :func:`nps` (3/4 promoter, 3/4 detractor,
        n + 3), the variances of the two adjusted NPS added (as in Lewis & Sauro's comparison
        of two NPS), with a two-sided z test of equal NPS (``p_value``). ``"wald"``: the same
        without the adjustment. ``"bayes"``: independent Dirichlet posteriors of the two samples;
        the interval of the difference and ``prob_b_greater`` = P(NPS_b > NPS_a | data).
    scale, ci, cutoffs, prior, ndraws, seed, data
        As in :func:`nps`.
    weights_a, weights_b : array-like or str, optional
        Survey weights of each sample.

    Returns
    -------
    DataFrame
        One row: ``estimate`` (plain NPS_b - NPS_a), ``ci_lower``, ``ci_upper``, ``ci``,
        ``method``, ``n``, ``n_missing`` (both samples), ``nps_a``, ``nps_b``, ``n_a``, ``n_b``,
        ``n_missing_a``, ``n_missing_b``, ``p_value`` (Wald methods) and ``prob_b_greater``
        (bayes); the column that does not apply is NaN.

    Examples
    --------
    Wave a: NPS 0 (2 promoters, 2 detractors of 4); wave b: NPS 50 (3 promoters, 1 detractor):

    >>> import loyaltymodels as lm
    >>> d = lm.nps_difference([10, 9, 3, 5], [10, 10, 9, 0])
    >>> d[["estimate", "ci_lower", "ci_upper", "nps_a", "nps_b", "n"]].round(2)
       estimate  ci_lower  ci_upper  nps_a  nps_b  n
    0      50.0    -61.85    118.99    0.0   50.0  8
    """
    iv.check_ci(ci)
    _check_method(method)
    scale_t, d_max, p_min = _nps_scale(scale, cutoffs)
    rng = np.random.default_rng(seed)
    parts = []
    for name, x, w in (("a", a, weights_a), ("b", b, weights_b)):
        r = read_responses("nps_difference", {name: x}, scale=scale_t, data=data, weights=w)
        parts.append((r, *_nps_shares(r, d_max, p_min)))
    (ra, sa, na, ma, ua), (rb, sb, nb, mb, ub) = parts
    nps_a, nps_b = sa[0, 2] - sa[0, 0], sb[0, 2] - sb[0, 0]
    p_value = prob = np.nan
    if method == "bayes":
        da = _nps_interval(sa, ua, ci, method, prior, ndraws, rng, keep_draws=True)[2][0]
        db = _nps_interval(sb, ub, ci, method, prior, ndraws, rng, keep_draws=True)[2][0]
        lo, hi = iv.equal_tailed(db - da, ci)
        prob = float(np.mean(db > da))
    else:
        (ca, va), (cb, vb) = (iv.nps_centre_var(s[0, 2], s[0, 0], u[0], method == "adjusted_wald")
                              for s, u in ((sa, ua), (sb, ub)))
        half = iv.z_value(ci) * np.sqrt(va + vb)
        lo, hi = max(cb - ca - half, -2.0), min(cb - ca + half, 2.0)
        p_value = float(2 * stats.norm.sf(abs(cb - ca) / np.sqrt(va + vb)))
    row = {"estimate": 100 * (nps_b - nps_a), "ci_lower": 100 * float(lo),
           "ci_upper": 100 * float(hi), "ci": ci, "method": method, "n": na[0] + nb[0],
           "n_missing": ma[0] + mb[0], "nps_a": 100 * nps_a, "nps_b": 100 * nps_b,
           "n_a": na[0], "n_b": nb[0], "n_missing_a": ma[0], "n_missing_b": mb[0]}
    if ra.weights is not None or rb.weights is not None:
        row |= {"n_eff_a": ua[0], "n_eff_b": ub[0]}
    row |= {"p_value": p_value, "prob_b_greater": prob}
    return pd.DataFrame([row])


def secure_customer_index(satisfaction: Any, repurchase: Any, recommend: Any,
                          scale: str | tuple[int, int] = "1-5", ci: float = 0.95, by: Any = None,
                          weights: Any = None, *, data: pd.DataFrame | None = None,
                          favourable: int | None = None,
                          vulnerable: int | None = None) -> pd.DataFrame:
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
        As in :func:`nps`.

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
        raise ValueError(f"secure_customer_index: need {lo} < vulnerable ({vulnerable}) <= "
                         f"favourable ({favourable}) < {hi}")
    r = read_responses("secure_customer_index", {"satisfaction": satisfaction,
                       "repurchase": repurchase, "recommend": recommend},
                       scale=(lo, hi, name), data=data, by=by, weights=weights)
    low = np.fmin(np.fmin(r.answers[0], r.answers[1]), r.answers[2])
    return share_table(r, low >= hi, ci, "secure_customer_index", {
        "favourable": (low >= favourable) & (low < hi),
        "vulnerable": (low >= vulnerable) & (low < favourable), "at_risk": low < vulnerable})


def customer_loyalty_index(recommend: Any, repurchase: Any, try_others: Any, ci: float = 0.95,
                           by: Any = None, weights: Any = None, *,
                           data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customer Loyalty Index (0-100 points) from three questions on 1-6 (1 = very likely).

    The questions are the likelihood to recommend, to buy again, and to try other brands. Answers
    to the first two score 1 -> 100, 2 -> 80, 3 -> 60, 4 -> 40, 5 -> 20, 6 -> 0. The third is
    **reverse-scored** (1 -> 0, ..., 6 -> 100): a customer very likely to try other brands is
    not loyal. A respondent's score is the mean of the three; the index is the mean over
    respondents who answered all three, with a Student-t interval.

    Parameters
    ----------
    recommend, repurchase, try_others : array-like or str
        Answers on 1-6 (or columns of ``data``).
    ci, by, weights, data
        As in :func:`nps`.

    Returns
    -------
    DataFrame
        ``estimate`` (points), ``ci_lower``, ``ci_upper``, ``ci``, ``method`` (``"t"``), ``n``,
        ``n_missing``, ``n_eff`` (weighted), ``sd`` (of respondents' scores), and the mean
        score of each question: ``recommend_score``, ``repurchase_score``, ``try_others_score``.

    Examples
    --------
    Scores (100 + 80 + 100) / 3 and (60 + 60 + 0) / 3; index (93.33 + 40) / 2:

    >>> import loyaltymodels as lm
    >>> t = lm.customer_loyalty_index([1, 3], [2, 3], [6, 1])
    >>> t[["estimate", "n", "recommend_score", "try_others_score"]].round(2)
       estimate  n  recommend_score  try_others_score
    0     66.67  2             80.0              50.0
    """
    iv.check_ci(ci)
    r = read_responses("customer_loyalty_index", {"recommend": recommend, "repurchase": repurchase,
                       "try_others": try_others}, scale=(1, 6, "1-6"), data=data, by=by,
                       weights=weights)
    rec, rep, oth = (6 - r.answers[0]) * 20, (6 - r.answers[1]) * 20, (r.answers[2] - 1) * 20
    return mean_table(r, (rec + rep + oth) / 3, ci, "customer_loyalty_index", {
        "recommend_score": rec, "repurchase_score": rep, "try_others_score": oth})


def csat(x: Any, scale: str | tuple[int, int] = "1-5", ci: float = 0.95, by: Any = None,
         weights: Any = None, *, data: pd.DataFrame | None = None,
         top_box: int = 2) -> pd.DataFrame:
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
        As in :func:`nps`.

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
        raise ValueError(f"csat: top_box must be an integer from 1 to {hi - lo}; got {top_box!r}")
    r = read_responses("csat", {"x": x}, scale=(lo, hi, name), data=data, by=by, weights=weights)
    return share_table(r, r.answers[0] > hi - top_box, ci, "csat")


def ces(x: Any, scale: str | tuple[int, int] = "1-7", ci: float = 0.95, by: Any = None,
        weights: Any = None, *, data: pd.DataFrame | None = None) -> pd.DataFrame:
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
        As in :func:`nps`.

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
    r = read_responses("ces", {"x": x}, scale=parse_scale(scale), data=data, by=by,
                       weights=weights)
    return mean_table(r, r.answers[0], ci, "ces")
