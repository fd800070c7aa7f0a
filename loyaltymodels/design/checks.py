"""Returned data held against the questionnaire: every question there, every answer a code of its
scale, no question coded in reverse; and the loyalty indices computed from the answers.

What a fieldwork agency gets wrong, and how it is caught:

- a question missing from the file (renamed, dropped): its column is named, with the closest column;
- an answer that is not a code of the question's scale: a 6 on a 1-5 question (often a "don't know"
  code), answer labels exported instead of codes (``"Agree"``), a fraction, a sector the study does
  not have;
- a question coded in reverse: the file's value labels put the question's lowest answer at its
  highest code; or, without labels, the answers run against the other questions of the same
  construct (every question of the bank is worded so that its highest code is the favourable
  answer, the Customer Loyalty Index's excepted, whose direction the bank records).

Every problem found is named; the error raised is the first one's, with a count of the others.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..data.validate import suggest_column
from ..errors import DataError, plain

if TYPE_CHECKING:
    from .instrument import Questionnaire

__all__ = ["check_responses", "score_indices", "direction_problems", "MIN_ROWS_DIRECTION", "REVERSED_R"]

#: Fewest rows with answers before the answers' direction is judged.
MIN_ROWS_DIRECTION = 20
#: A question is called reversed when its correlation with its construct's other questions is below
#: this value and below zero at the one-sided 0.1% level: real items correlate positively, a reversed
#: one about as negatively, and noise around zero never passes both.
REVERSED_R = -0.1
_Z_REVERSED = 3.09  # one-sided 0.1% of the normal


#: (message, column, row, value) of one problem found
Problem = tuple[str, str, Any, Any]


def check_responses(q: Questionnaire, data: pd.DataFrame, *, check_direction: bool = True) -> None:
    """Raise :class:`~loyaltymodels.errors.DataError` on the first problem of returned data (see the
    module docstring), saying how many more there are.

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> q = questionnaire(["image", "intention"], scale="1-5", indices=[], outcomes=[], items_per_construct=3)
    >>> data, _ = q.simulate(100, seed=1)
    >>> check_responses(q, data)  # nothing to report
    >>> check_responses(q, data.assign(img2=data.img2.replace(5, 6)))
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.DataError: column 'img2', row 56: 6 is outside the 1-5 scale of this question ...
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas DataFrame (read the file with lm.read_survey), not {type(data).__name__}"
        )
    problems: list[Problem] = _columns(q, data)
    present = [c for c in q.questions if c in data.columns]
    bad_codes: set[str] = set()
    for r in q.items[q.items.name.isin(present)].itertuples():
        found = _codes(r, data[r.name])
        if found:
            bad_codes.add(r.name)
            problems.append(found)
    problems += _design_columns(q, data)
    problems += _labels_reversed(q, data)
    if check_direction and not problems:
        problems += direction_problems(q, data)
    if problems:
        message, column, row, value = problems[0]
        if len(problems) > 1:
            others = ", ".join(dict.fromkeys(str(p[1]) for p in problems[1:]))
            message += f" ({len(problems) - 1} more problem(s), in {others})"
        raise DataError(message, column=column, row=row, value=value)


def _columns(q: Questionnaire, data: pd.DataFrame) -> list[Problem]:
    expected = q.questions + (["sector"] if q.sectors else []) + (["wave"] if q.waves else [])
    columns = [str(c) for c in data.columns if c not in q.columns]  # a present question is no suggestion
    out = []
    for c in expected:
        if c not in data.columns:
            what = f"the question '{q.text(c)}'" if c in q.questions else "a column of the template"
            hint = suggest_column(c, columns) if columns else ""
            out.append(
                (
                    f"column {c!r} is missing from the returned data ({what}){hint}; "
                    "ask the fieldwork agency for it, or rename the column to the template's name",
                    c,
                    None,
                    None,
                )
            )
    return out


def _codes(r: Any, column: pd.Series) -> Problem | None:
    """The first answer of one question that is not one of its codes, as a problem."""
    name, lo, hi = r.name, float(r.lo), float(r.hi)
    numbers = pd.to_numeric(column, errors="coerce")
    text = column.notna() & numbers.isna()
    if text.any():
        pos = int(np.flatnonzero(text.to_numpy())[0])
        value = column.iloc[pos]
        hint = (
            "the file holds answer labels, not codes: export the codes"
            if str(value).strip().casefold() in {str(v).casefold() for v in r.labels.values()}
            else "recode it or set it to missing"
        )
        return (
            f"column {name!r}, row {plain(column.index[pos])!r}: {value!r} is not a code of this question's "
            f"{r.scale} scale ({int(text.sum())} such answer(s)); {hint}",
            name,
            plain(column.index[pos]),
            value,
        )
    x = numbers.to_numpy(dtype=float)
    whole = r.kind in ("rating", "yes_no", "count")
    outside = (x < lo) | (x > hi if not math.isnan(hi) else False) | (whole & (x != np.round(x)))
    outside &= ~np.isnan(x)
    if not outside.any():
        return None
    pos = int(np.flatnonzero(outside)[0])
    value = x[pos]
    shown = int(value) if float(value).is_integer() else value
    if r.kind == "yes_no":
        scale = "0 = no, 1 = yes"
        hint = (
            "recode 2 (no) as 0 if the file codes 1 = yes, 2 = no" if set(np.unique(x[~np.isnan(x)])) <= {1, 2} else ""
        )
    elif r.kind == "rating":
        scale = f"the {int(lo)}-{int(hi)} scale of this question ('{r.text}')"
        hint = f"if {shown} means 'don't know' or 'refused', set it to missing (NaN, or user-missing in SPSS)"
    else:
        scale = f"the answers this question allows ({r.kind}: {int(lo)}{'' if math.isnan(hi) else f'-{int(hi)}'})"
        hint = "check the export"
    where = "outside" if value < lo or value > hi else "not a whole code of"  # 2.5 on 1-5 lies inside
    return (
        f"column {name!r}, row {plain(column.index[pos])!r}: {shown} is {where} {scale} "
        f"({int(outside.sum())} such answer(s)){'; ' + hint if hint else ''}",
        name,
        plain(column.index[pos]),
        value,
    )


def _design_columns(q: Questionnaire, data: pd.DataFrame) -> list[Problem]:
    out = []
    if q.sectors and "sector" in data.columns:
        codes = {float(k) for k in range(1, len(q.sectors) + 1)}
        for pos, v in enumerate(data["sector"]):
            if pd.isna(v) or v in q.sectors or (isinstance(v, (int, float, np.number)) and float(v) in codes):
                continue
            out.append(
                (
                    f"column 'sector', row {plain(data.index[pos])!r}: {v!r} is not one of the study's sectors "
                    f"({', '.join(q.sectors)}, or their codes 1-{len(q.sectors)}); correct the sector names",
                    "sector",
                    plain(data.index[pos]),
                    v,
                )
            )
            break
    if q.waves and "wave" in data.columns:
        w = pd.to_numeric(data["wave"], errors="coerce")
        bad = (data["wave"].notna() & ~w.isin(range(1, q.waves + 1))).to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            out.append(
                (
                    f"column 'wave', row {plain(data.index[pos])!r}: {data['wave'].iloc[pos]!r} is not a wave "
                    f"of the study (1-{q.waves})",
                    "wave",
                    plain(data.index[pos]),
                    data["wave"].iloc[pos],
                )
            )
    return out


def _norm(text: Any) -> str:
    return " ".join(str(text).casefold().split())


def _labels_reversed(q: Questionnaire, data: pd.DataFrame) -> list[Problem]:
    """Questions whose value labels in the file run opposite to the questionnaire's."""
    found = data.attrs.get("value_labels") or {}
    out = []
    for r in q.items[(q.items.kind == "rating") & q.items.name.isin(list(found))].itertuples():
        ours, theirs = r.labels, {int(float(k)): v for k, v in found[r.name].items()}
        lo, hi = int(r.lo), int(r.hi)
        if (
            lo in theirs
            and hi in theirs
            and _norm(theirs[lo]) == _norm(ours[hi])
            and _norm(theirs[hi]) == _norm(ours[lo])
        ):
            out.append(
                (
                    f"column {r.name!r} is coded in reverse: the file's value labels put {theirs[lo]!r} at {lo} "
                    f"and {theirs[hi]!r} at {hi}, the questionnaire the other way round; recode it as "
                    f"{lo + hi} - {r.name} (and its labels), or ask the agency for the template's coding",
                    r.name,
                    None,
                    None,
                )
            )
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = ~(np.isnan(a) | np.isnan(b))
    n = int(ok.sum())
    if n < MIN_ROWS_DIRECTION or a[ok].std() == 0 or b[ok].std() == 0:
        return float("nan"), n
    return float(np.corrcoef(a[ok], b[ok])[0, 1]), n


def _against(r: float, n: int) -> bool:
    return bool(r < REVERSED_R and math.atanh(max(r, -0.999999)) * math.sqrt(n - 3) < -_Z_REVERSED)


def direction_problems(q: Questionnaire, data: pd.DataFrame) -> list[Problem]:
    """Questions whose answers run against their construct (see :data:`REVERSED_R`): each construct
    question against the mean of its factor's other questions; each index question against its
    factor; each driver factor's mean against the loyalty factor's (a whole block reversed)."""
    x = {c: pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in q.questions}
    direction = dict(zip(q.items.name, q.items.direction))
    out: list[Problem] = []
    blocks = {f: np.column_stack([x[n] * direction[n] for n in names]) for f, names in q.factors.items()}
    means = {f: np.nanmean(b, axis=1) for f, b in blocks.items()}
    flipped = set()
    for driver in q.drivers:  # a whole block first: its questions agree with each other
        r, n = _corr(means[driver], means[q.loyalty])
        if _against(r, n):
            flipped.add(driver)
            out.append(
                (
                    f"the questions of {driver} ({', '.join(q.factors[driver])}) run against those of "
                    f"{q.loyalty} (correlation {r:.2f} over {n} rows): the whole block looks coded in reverse; "
                    "check the agency's coding of these questions",
                    q.factors[driver][0],
                    None,
                    None,
                )
            )
    for factor, names in q.factors.items():
        block = blocks[factor]
        for k, name in enumerate(names):
            rest = np.nanmean(np.delete(block, k, axis=1), axis=1) if len(names) > 1 else means[factor]
            r, n = _corr(block[:, k], rest)
            if _against(r, n):
                out.append(_reversed(q, name, r, n, f"the other questions of {factor}"))
    for row in q.items[(q.items.factor == "") & (q.items.kind == "rating")].itertuples():
        home = q.experience if row.force == "Experience" and q.experience else q.loyalty
        if home in flipped:
            continue  # judged against a block that is itself reversed: no verdict
        r, n = _corr(x[row.name] * row.direction, means[home])
        if _against(r, n):
            out.append(_reversed(q, row.name, r, n, f"the questions of {home}"))
    return out


def _reversed(q: Questionnaire, name: str, r: float, n: int, against: str) -> Problem:
    row = q.items.set_index("name").loc[name]
    lo, hi = int(row.lo), int(row.hi)
    best = hi if row.direction > 0 else lo
    return (
        f"column {name!r} runs against {against} (correlation {r:.2f} over {n} rows, where a question of "
        f"the same construct correlates positively): its codes look reversed ({best} should be "
        f"{row.labels.get(best, 'the favourable answer')!r}); if the agency reversed it, recode it as "
        f"{lo + hi} - {name}",
        name,
        None,
        None,
    )


def score_indices(q: Questionnaire, data: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """The questionnaire's loyalty indices computed from returned data (see
    :meth:`Questionnaire.score_indices`): one block of rows per index, an ``index`` column first.

    The Customer Loyalty Index is computed by :func:`loyaltymodels.customer_loyalty_index` as its
    source defines it, all three questions scored alike (1 = very likely -> 100, ..., 6 -> 0): the
    questionnaire asks the third as QuestionPro does (trying the brand's other products).

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> q = questionnaire(["image", "intention"], indices=["nps", "csat"], outcomes=[], items_per_construct=3)
    >>> data, _ = q.simulate(300, seed=1)
    >>> q.score_indices(data)[["index", "estimate", "ci_lower", "ci_upper", "n"]].round(1)  # doctest: +SKIP
    """
    from ..indices import ces, csat, customer_loyalty_index, nps, secure_customer_index

    columns = q.index_columns
    parts = []
    for index, roles in columns.items():
        if index == "nps":
            table = nps(roles["x"], data=data, by=by)
        elif index == "sci":
            table = secure_customer_index(
                roles["satisfaction"], roles["repurchase"], roles["recommend"], data=data, by=by
            )
        elif index == "cli":
            table = customer_loyalty_index(
                roles["recommend"], roles["repurchase"], roles["try_others"], data=data, by=by
            )
        elif index == "csat":
            table = csat(roles["x"], data=data, by=by)
        else:
            table = ces(roles["x"], data=data, by=by)
        parts.append(table.assign(index=index))
    if not parts:
        raise DataError("the questionnaire asks no loyalty index; build it with indices=('nps', ...)")
    out = pd.concat(parts, ignore_index=True)
    out = out[["index", *[c for c in out.columns if c != "index"]]]
    out.attrs["ci"] = parts[0].attrs.get("ci")
    return out
