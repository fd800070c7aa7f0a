"""Survey answers for the indices (:mod:`loyaltymodels.indices.promoter`,
:mod:`loyaltymodels.indices.satisfaction`): the input checks, in one place, that turn
array-likes or DataFrame columns into validated float arrays, group codes and survey weights; and
the grouped sums (shares and means per group) that the indices share.

Convention: every argument that carries data (answers, ``by``, ``weights``) is either an
array-like (list, NumPy array, pandas Series) of one value per respondent, or, when ``data=`` is a
DataFrame, the name of one of its columns. Missing answers are NaN (or ``None``/``pd.NA``); they are
excluded from the index and counted. Nothing passed in is modified.
"""

from __future__ import annotations

import numbers
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..defaults import labelled_interval
from ..errors import ArgumentError, DataError, DataWarning
from . import intervals as iv

__all__ = ["parse_scale", "Responses", "read_responses", "share_table", "mean_table"]

_SCALE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def parse_scale(scale: str | tuple[int, int]) -> tuple[int, int, str]:
    """Response range ``(lo, hi, name)`` from ``"1-5"`` or ``(1, 5)``.

    Examples
    --------
    >>> parse_scale("0-10"), parse_scale((1, 7))
    ((0, 10, '0-10'), (1, 7, '1-7'))
    """
    if isinstance(scale, str) and (m := _SCALE.match(scale)):
        lo, hi = int(m.group(1)), int(m.group(2))
    elif isinstance(scale, (tuple, list)) and len(scale) == 2 and all(isinstance(v, numbers.Integral) for v in scale):
        lo, hi = int(scale[0]), int(scale[1])
    else:
        raise ArgumentError(f"scale must look like '1-5' or (1, 5); got {scale!r}")
    if lo >= hi:
        raise ArgumentError(f"scale {scale!r}: the lowest answer must be below the highest")
    return lo, hi, f"{lo}-{hi}"


@dataclass(frozen=True)
class Responses:
    """Validated answers of one call, ready for grouped sums.

    ``answers`` holds one float array per question (NaN = missing); ``complete`` marks respondents
    who answered every question; ``codes`` gives each respondent's group (0 .. len(groups) - 1);
    ``weights`` is None for an unweighted call.
    """

    answers: list[NDArray[np.float64]]
    complete: NDArray[np.bool_]
    codes: NDArray[np.intp]
    groups: pd.Index
    by_name: str | None
    weights: NDArray[np.float64] | None

    @property
    def ngroups(self) -> int:
        return len(self.groups)

    def count(self, mask: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
        """Respondents per group (all, or those where ``mask``)."""
        codes = self.codes if mask is None else self.codes[mask]
        return np.bincount(codes, minlength=self.ngroups)

    def table(self, columns: dict[str, Any], func: str) -> pd.DataFrame:
        """One row per group: the group column (when ``by`` was given) then ``columns``.

        Warns (``DataWarning``) about groups whose estimate is NaN: no answer, or weights all 0.
        """
        out = pd.DataFrame(columns)
        if self.by_name is not None:
            out.insert(0, self.by_name, self.groups)
        empty = np.flatnonzero(np.isnan(np.asarray(columns["estimate"], dtype=float)))
        if empty.size:
            where = f"groups {list(self.groups[empty])}" if self.by_name is not None else "the input"
            warnings.warn(
                f"{func}: no usable answers in {where} (none given, or all weighted 0); the estimate is NaN",
                DataWarning,
                stacklevel=3,
            )
        return labelled_interval(out, float(np.asarray(columns["ci"]).ravel()[0]))


def _show(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def _fail(func: str, name: str, what: str, labels: pd.Index, bad: NDArray, value: Any, expected: str) -> DataError:
    label, value = labels[int(bad[0])], value.item() if isinstance(value, np.generic) else value
    label = label.item() if isinstance(label, np.generic) else label
    more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
    return DataError(
        f"{func}: column {name!r} has {what} {_show(value)} at row {label!r}{more}; expected {expected}",
        column=name,
        row=label,
        value=value,
    )


def _to_series(arg: Any, data: pd.DataFrame | None, role: str, func: str) -> pd.Series:
    if isinstance(arg, str):
        if data is None:
            raise ArgumentError(f"{func}: {role}={arg!r} is a column name, so pass data=<DataFrame> too")
        if arg not in data.columns:
            from ..data.validate import suggest_column

            raise DataError(
                f"{func}: column {arg!r} not found{suggest_column(arg, list(map(str, data.columns)))}", column=arg
            )
        return data[arg]
    if isinstance(arg, pd.Series):
        return arg
    if (
        data is not None
        and isinstance(arg, (list, tuple))
        and arg
        and all(isinstance(a, str) and a in data.columns for a in arg)
    ):
        raise ArgumentError(
            f"{func}: {role} takes one column; to group by several, combine them first "
            f"(e.g. data[{list(arg)!r}].astype(str).agg(' / '.join, axis=1))"
        )
    if isinstance(arg, pd.DataFrame) or np.ndim(arg) != 1:
        raise ArgumentError(
            f"{func}: {role} must be one-dimensional (a list, array, Series or a "
            f"column name with data=); got {type(arg).__name__}"
        )
    return pd.Series(arg, copy=False)


def _numbers(s: pd.Series, name: str, func: str, expected: str) -> NDArray[np.float64]:
    """Float copy of ``s`` with NaN for missing; DataError at the first non-numeric value."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    values = s.to_numpy(dtype=object)
    missing = pd.isna(values)
    numeric = np.fromiter(
        (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values),
        dtype=bool,
        count=values.size,
    )
    bad = np.flatnonzero(~(numeric | missing))
    if bad.size:
        raise _fail(
            func,
            name,
            "the non-numeric value",
            s.index,
            bad,
            values[bad[0]],
            expected + " (convert the column with pd.to_numeric or recode the value)",
        )
    out = np.full(values.size, np.nan)
    out[~missing] = values[~missing].astype(np.float64)
    return out


def _answers(s: pd.Series, name: str, func: str, lo: int, hi: int, scale: str) -> NDArray[np.float64]:
    expected = f"integers {lo}-{hi} for scale '{scale}', NaN for a missing answer"
    x = _numbers(s, name, func, expected)
    # NaN fails every comparison, so `ok` is False for it; it is put back through `isnan`.
    ok = (x >= lo) & (x <= hi)
    if not (isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu"):  # NumPy ints: no NaN, no 7.5
        ok &= x == np.floor(x)
        ok |= np.isnan(x)
    bad = np.flatnonzero(~ok)
    if bad.size:
        raise _fail(func, name, "the value", s.index, bad, x[bad[0]], expected + " (recode the value or set it to NaN)")
    _check_range_used(x, name, func, lo, hi, scale)
    return x


#: Fewest answers before the range they use is judged, and the share of the scale's top that
#: must be used: a 0-10 question whose answers never pass 5 was most likely asked on 1-5.
_RANGE_MIN_ANSWERS = 20
_RANGE_TOP_SHARE = 0.4


def _check_range_used(x: NDArray[np.float64], name: str, func: str, lo: int, hi: int, scale: str) -> None:
    """Warn when the answers do not look like the stated scale (the top of it never used): a 1-5
    item read as 0-10 makes every respondent a detractor, an NPS of -100, without any error."""
    seen = x[~np.isnan(x)]
    if seen.size < _RANGE_MIN_ANSWERS or hi - lo < 4:
        return
    top = seen.max()
    if top < hi - _RANGE_TOP_SHARE * (hi - lo):
        warnings.warn(
            f"{func}: the answers in {name!r} run from {seen.min():g} to {top:g} only, on the stated scale "
            f"'{scale}' ({seen.size} answers): check the scale; if the question was asked on "
            f"{seen.min():g}-{top:g} or similar, pass scale='{seen.min():g}-{top:g}'",
            DataWarning,
            stacklevel=5,  # the user's call of nps(), csat() ...
        )


def _groups(s: pd.Series) -> tuple[NDArray[np.intp], pd.Index]:
    """Group codes in order of first appearance (categories: in category order); NaN last."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        raw = s.cat.codes.to_numpy()
        present = np.flatnonzero(np.bincount(raw[raw >= 0], minlength=len(s.cat.categories)))
        remap = np.full(len(s.cat.categories), -1, dtype=np.intp)
        remap[present] = np.arange(present.size)
        codes = np.where(raw >= 0, remap[raw], -1)
        uniques = pd.Index(s.cat.categories[present])
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        uniques = pd.Index(uniques)
    if (codes < 0).any():  # respondents without a group keep a row of their own, not dropped
        codes = np.where(codes < 0, len(uniques), codes)
        uniques = uniques.append(pd.Index([np.nan]))
    return codes.astype(np.intp, copy=False), uniques


def _weights(s: pd.Series, func: str, name: str) -> NDArray[np.float64]:
    w = _numbers(s, name, func, "non-negative finite survey weights")
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if bad.size:
        raise _fail(
            func,
            name,
            "the weight",
            s.index,
            bad,
            w[bad[0]],
            "non-negative finite survey weights (a respondent without a weight "
            "cannot be counted: impute the weight or drop the row)",
        )
    return w


def _name(arg: Any, s: pd.Series, default: str) -> str:
    if isinstance(arg, str):
        return arg
    return str(s.name) if s.name is not None else default


def read_responses(
    func: str,
    questions: dict[str, Any],
    *,
    scale: tuple[int, int, str],
    data: pd.DataFrame | None = None,
    by: Any = None,
    weights: Any = None,
) -> Responses:
    """Validate the answers to ``questions`` (role -> array-like or column name), ``by`` and
    ``weights``, all of one length and, for Series, on one index.

    Examples
    --------
    >>> r = read_responses("nps", {"x": [9, 10, float("nan"), 3]}, scale=(0, 10, "0-10"),
    ...                    by=["a", "b", "a", "a"])
    >>> r.count(r.complete).tolist(), r.count(~r.complete).tolist(), list(r.groups)
    ([2, 1], [1, 0], ['a', 'b'])
    """
    lo, hi, scale_name = scale
    if data is not None and not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"{func}: data must be a pandas DataFrame; got {type(data).__name__}")
    arg_of = dict(questions) | {"by": by, "weights": weights}
    series = {
        role: _to_series(arg, data, role, func) for role, arg in arg_of.items() if arg is not None or role in questions
    }
    first_role, first = next(iter(series.items()))
    # Series and columns carry row labels that must agree; lists and arrays are read position by
    # position and take those labels (or data's) for the messages.
    labelled = {role: s for role, s in series.items() if isinstance(arg_of[role], (str, pd.Series))}
    ref_role, ref = next(iter(labelled.items()), (None, None))
    index = data.index if ref is None and data is not None else None if ref is None else ref.index
    for role, s in series.items():
        if len(s) != len(first):
            raise DataError(
                f"{func}: {role} has {len(s)} values but {first_role} has {len(first)}; pass one value per respondent"
            )
        if role in labelled and ref is not None and not s.index.equals(ref.index):
            raise DataError(
                f"{func}: {role} and {ref_role} have different indexes; align them "
                "(e.g. take both from one DataFrame) or pass NumPy arrays"
            )
        if role not in labelled and index is not None and len(s) == len(index):
            series[role] = s.set_axis(index)  # a new Series: the caller's object is untouched
    names = {role: _name(arg, series[role], role) for role, arg in questions.items()}
    answers = [_answers(series[role], names[role], func, lo, hi, scale_name) for role in questions]
    complete = ~np.isnan(answers[0])
    for x in answers[1:]:
        complete &= ~np.isnan(x)
    if by is None:
        codes, groups, by_name = np.zeros(len(first), dtype=np.intp), pd.Index([0]), None
    else:
        codes, groups = _groups(series["by"])
        by_name = _name(by, series["by"], "group")
    w = None if weights is None else _weights(series["weights"], func, _name(weights, series["weights"], "weights"))
    return Responses(answers, complete, codes, groups, by_name, w)


# --- grouped sums shared by the indices -------------------------------------------------------


def _totals(
    r: Responses,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Complete answers' group codes and weights, with per group the total weight, the count,
    the effective count (n, or Kish's n_eff when weighted) and the common table columns."""
    ok = r.complete
    codes = r.codes[ok]
    w = np.ones(codes.size) if r.weights is None else r.weights[ok]
    total = np.bincount(codes, weights=w, minlength=r.ngroups)
    n = np.bincount(codes, minlength=r.ngroups)
    n_used = (
        n.astype(float)
        if r.weights is None
        else iv.kish_n_eff(total, np.bincount(codes, weights=w * w, minlength=r.ngroups))
    )
    counts = {"n": n, "n_missing": r.count() - n} | ({} if r.weights is None else {"n_eff": n_used})
    return ok, codes, w, total, n_used, counts


def share_table(
    r: Responses, hit: np.ndarray, ci: float, func: str, extra: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Weighted share (percent) of ``hit`` among complete answers, per group, Wilson interval;
    ``extra`` shares (percent) as further columns."""
    ok, codes, w, total, n_used, counts = _totals(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = {
            name: np.bincount(codes, weights=w * v[ok], minlength=r.ngroups) / total
            for name, v in {"estimate": hit, **(extra or {})}.items()
        }
    lo, hi = iv.wilson(share["estimate"], n_used, ci)
    cols = {
        "estimate": 100 * share.pop("estimate"),
        "ci_lower": 100 * lo,
        "ci_upper": 100 * hi,
        "ci": ci,
        "method": "wilson",
        **counts,
    }
    return r.table(cols | {name: 100 * v for name, v in share.items()}, func)


def mean_table(
    r: Responses, score: np.ndarray, ci: float, func: str, extra: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Weighted mean of ``score`` among complete answers, per group, with a t interval; the
    weighted means of ``extra`` as further columns."""
    ok, codes, w, total, n_used, counts = _totals(r)
    x = score[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes, weights=w * x, minlength=r.ngroups) / total
        # two passes (mean, then squared deviations) rather than sum(x^2) - n mean^2
        ss = np.bincount(codes, weights=w * (x - mean[codes]) ** 2, minlength=r.ngroups) / total
        sd = np.sqrt(ss * n_used / (n_used - 1))
        means = {
            name: np.bincount(codes, weights=w * v[ok], minlength=r.ngroups) / total
            for name, v in (extra or {}).items()
        }
    lo, hi = iv.t_interval(mean, sd, n_used, ci)
    cols = {"estimate": mean, "ci_lower": lo, "ci_upper": hi, "ci": ci, "method": "t", **counts, "sd": sd}
    return r.table(cols | means, func)
