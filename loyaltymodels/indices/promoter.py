"""The Net Promoter Score and the difference of two NPS, with intervals whose coverage is checked.

The other survey indices (Secure Customer Index, Customer Loyalty Index, CSAT, CES) live in
:mod:`loyaltymodels.indices.satisfaction` and follow the same conventions, set out here once.

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

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ..defaults import CI_ML, check_seed, labelled_interval
from ..errors import ArgumentError, DataWarning
from . import intervals as iv
from .responses import Responses, parse_scale, read_responses

__all__ = ["nps", "nps_difference", "NPS_CUTOFFS"]

#: Highest detractor answer and lowest promoter answer of the usual NPS scales.
NPS_CUTOFFS: dict[str, tuple[int, int]] = {"0-10": (6, 9), "1-10": (6, 9), "1-7": (5, 7), "1-5": (3, 5)}

NpsMethod = Literal["adjusted_wald", "wald", "bayes"]
_NPS_METHODS = ("adjusted_wald", "wald", "bayes")


def _nps_scale(scale: str | tuple[int, int], cutoffs: tuple[int, int] | None) -> tuple[tuple[int, int, str], int, int]:
    lo, hi, name = parse_scale(scale)
    if cutoffs is None:
        if name not in NPS_CUTOFFS:
            raise ArgumentError(
                f"nps: no standard cut-offs for scale '{name}'; pass cutoffs=(highest "
                f"detractor answer, lowest promoter answer), e.g. cutoffs=(6, 9)"
            )
        cutoffs = NPS_CUTOFFS[name]
    d_max, p_min = cutoffs
    if not lo <= d_max < p_min <= hi:
        raise ArgumentError(
            f"nps: cutoffs {cutoffs!r} must satisfy {lo} <= highest detractor answer < lowest promoter answer <= {hi}"
        )
    return (lo, hi, name), d_max, p_min


def _nps_shares(r: Responses, d_max: int, p_min: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
        rows = fine[start : start + 256]
        draws[rows] = iv.nps_dirichlet_draws(shares[rows] * n_used[rows, None], prior, ndraws, rng)
    lo, hi = iv.equal_tailed(draws, ci, axis=1)
    lo, hi = iv.containing(lo, hi, pro - det)  # every answer a promoter: the posterior interval stops short of 1
    return lo, hi, draws if keep_draws else None


def _check_method(method: str, prior: Any = (1.0, 1.0, 1.0), ndraws: Any = 4000, seed: Any = None) -> None:
    if method not in _NPS_METHODS:
        raise ArgumentError(f"nps: method must be one of {_NPS_METHODS}; got {method!r}")
    if method != "bayes":
        return
    values = np.asarray(prior, dtype=object).ravel()
    ok = len(values) == 3 and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v) and v > 0
        for v in values
    )
    if not ok:  # a negative prior used to be accepted whenever the counts made up for it
        raise ArgumentError(
            f"nps: prior={prior!r}: give three positive numbers, the Dirichlet concentrations of "
            "(detractors, passives, promoters), e.g. (1, 1, 1)"
        )
    if not isinstance(ndraws, (int, np.integer)) or isinstance(ndraws, bool) or ndraws < 2:
        raise ArgumentError(f"nps: ndraws={ndraws!r}: give the number of posterior draws, an integer (4000 is usual)")
    check_seed(seed, generator=True)


def nps(
    x: Any,
    scale: str | tuple[int, int] = "0-10",
    ci: float = CI_ML,
    method: NpsMethod = "adjusted_wald",
    by: Any = None,
    weights: Any = None,
    *,
    data: pd.DataFrame | None = None,
    cutoffs: tuple[int, int] | None = None,
    prior: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ndraws: int = 4000,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
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
        Interval ends are clipped to [-100, 100], and every interval holds its estimate: where a
        shrunk centre leaves out an NPS on the boundary (every answer a promoter, or a detractor)
        the interval is extended to it (:func:`~loyaltymodels.indices.intervals.containing`).

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
    _check_method(method, prior, ndraws, seed)
    scale_t, d_max, p_min = _nps_scale(scale, cutoffs)
    r = read_responses("nps", {"x": x}, scale=scale_t, data=data, by=by, weights=weights)
    shares, n, n_missing, n_used = _nps_shares(r, d_max, p_min)
    lo, hi, _ = _nps_interval(shares, n_used, ci, method, prior, ndraws, np.random.default_rng(seed))
    cols = {
        "estimate": 100 * (shares[:, 2] - shares[:, 0]),
        "ci_lower": 100 * lo,
        "ci_upper": 100 * hi,
        "ci": ci,
        "method": method,
        "n": n,
        "n_missing": n_missing,
    }
    if r.weights is not None:
        cols["n_eff"] = n_used
    cols |= {"promoters": 100 * shares[:, 2], "passives": 100 * shares[:, 1], "detractors": 100 * shares[:, 0]}
    return r.table(cols, "nps")


def nps_difference(
    a: Any,
    b: Any,
    scale: str | tuple[int, int] = "0-10",
    ci: float = CI_ML,
    method: NpsMethod = "adjusted_wald",
    *,
    weights_a: Any = None,
    weights_b: Any = None,
    data: pd.DataFrame | None = None,
    cutoffs: tuple[int, int] | None = None,
    prior: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ndraws: int = 4000,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
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
    _check_method(method, prior, ndraws, seed)
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
        (ca, va), (cb, vb) = (
            iv.nps_centre_var(s[0, 2], s[0, 0], u[0], method == "adjusted_wald") for s, u in ((sa, ua), (sb, ub))
        )
        half = iv.z_value(ci) * np.sqrt(va + vb)
        lo, hi = np.maximum(cb - ca - half, -2.0), np.minimum(cb - ca + half, 2.0)
        if va + vb > 0:
            p_value = float(2 * stats.norm.sf(abs(cb - ca) / np.sqrt(va + vb)))
        else:  # every answer in one category in both samples: the plain Wald test has no variance
            warnings.warn(
                f"nps_difference(method={method!r}): both samples sit in a single category (NPS "
                f"{100 * nps_a:.0f} and {100 * nps_b:.0f}), so the Wald variance is 0 and its interval "
                "and p-value mean nothing (p_value is NaN); use method='adjusted_wald' or 'bayes'",
                DataWarning,
                stacklevel=2,
            )
    # a sample on a boundary (one detractor of one against three promoters of four) puts the plain
    # difference outside an interval centred on the shrunk one
    lo, hi = iv.containing(lo, hi, nps_b - nps_a)
    row = {
        "estimate": 100 * (nps_b - nps_a),
        "ci_lower": 100 * float(lo),
        "ci_upper": 100 * float(hi),
        "ci": ci,
        "method": method,
        "n": na[0] + nb[0],
        "n_missing": ma[0] + mb[0],
        "nps_a": 100 * nps_a,
        "nps_b": 100 * nps_b,
        "n_a": na[0],
        "n_b": nb[0],
        "n_missing_a": ma[0],
        "n_missing_b": mb[0],
    }
    if ra.weights is not None or rb.weights is not None:
        row |= {"n_eff_a": ua[0], "n_eff_b": ub[0]}
    row |= {"p_value": p_value, "prob_b_greater": prob}
    return labelled_interval(pd.DataFrame([row]), ci)
