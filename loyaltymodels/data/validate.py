"""The validation every fit runs: the model's variables, as numbers, with the missing-data policy.

:func:`validate_data` checks a data frame against a model (the variables exist, are numeric, finite and
not constant, enough rows remain), applies the missing-data policy and returns a new float frame of the
model's variables with a :class:`DataReport` saying what was done. Every message names the column,
the row (index label) and the value, and says what to do.
"""

from __future__ import annotations

import copy
import difflib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, DataWarning, plain
from ..spec.model import ModelSpec, as_spec
from ..spec.provenance import jsonable
from .values import _as_float, _check_finite, _fmt, _rows, _scalar

#: missing= value -> policy recorded in the report (lavaan's synonyms: "ml" is "fiml").
MISSING_POLICIES = {"listwise": "listwise", "fiml": "fiml", "ml": "fiml", "none": "none"}
#: ordinal="auto" takes integer-valued items with at most this many distinct values (0-10 scales).
AUTO_ORDINAL_MAX = 11

_POLICY_NAMES = {
    "listwise": "Listwise deletion",
    "fiml": "Full-information ML (missing='fiml')",
    "none": "No missing values (missing='none')",
}


@dataclass(frozen=True, eq=False)
class DataReport:
    """What :func:`validate_data` did to the data: rows used and dropped, missing values, groups.

    Attributes
    ----------
    n_total, n_used, n_dropped : int
        Rows given, rows kept, rows dropped by the missing-data policy.
    dropped_rows : tuple
        Index labels of the dropped rows.
    missing : pandas.Series
        Missing values per variable (and group column), counted before the policy.
    policy : str
        ``"listwise"``, ``"fiml"`` or ``"none"``.
    group : str or None
        The group column.
    group_sizes : dict
        Rows used per group, in order of first appearance.
    ordinal : dict
        ``{item: sorted categories}`` of the items treated as ordinal.
    source : dict or None
        ``data.attrs["source"]`` (set by :func:`read_survey`).
    """

    n_total: int
    n_used: int
    n_dropped: int
    dropped_rows: tuple
    missing: pd.Series = field(repr=False)
    policy: str
    group: str | None = None
    group_sizes: dict = field(default_factory=dict)
    ordinal: dict = field(default_factory=dict, repr=False)
    source: dict | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able Python (for saving with a result).

        Examples
        --------
        >>> import json, loyaltymodels as lm
        >>> from loyaltymodels.datasets import load_ecsi
        >>> _, report = lm.validate_data("F =~ sat1 + sat2 + sat3", load_ecsi())
        >>> json.loads(json.dumps(report.to_dict()))["missing"]
        {'sat1': 0, 'sat2': 0, 'sat3': 0}
        """
        return {
            "n_total": self.n_total,
            "n_used": self.n_used,
            "n_dropped": self.n_dropped,
            "dropped_rows": jsonable(list(self.dropped_rows)),
            "missing": {str(k): int(v) for k, v in self.missing.items()},
            "policy": self.policy,
            "group": self.group,
            "group_sizes": jsonable({k: int(v) for k, v in self.group_sizes.items()}),
            "ordinal": jsonable({k: list(v) for k, v in self.ordinal.items()}),
            "source": jsonable(self.source),
            "statement": self.statement,
        }

    @property
    def statement(self) -> str:
        """The missing-data policy and its effect, in one sentence."""
        counts = self.missing[self.missing > 0].sort_values(ascending=False, kind="stable")
        detail = ", ".join(f"{k} x{int(v)}" for k, v in counts.items())
        head = _POLICY_NAMES[self.policy]
        if self.policy == "none":
            return f"{head}: all {self.n_total} rows used."
        if counts.empty:
            return f"{head}: no missing values, all {self.n_total} rows used."
        if self.policy == "fiml":
            kept = (
                f"{self.n_used} of {self.n_total} rows kept, {int(counts.sum())} missing values "
                f"left to the estimator ({detail})"
            )
            if self.n_dropped:
                kept += f"; {_rows(self.n_dropped)} with no observed value dropped"
            return f"{head}: {kept}."
        return f"{head}: {self.n_dropped} of {self.n_total} rows dropped (missing values in {detail})."

    def __str__(self) -> str:
        lines = [self.statement]
        if self.group is not None:
            sizes = ", ".join(f"{k} {v}" for k, v in self.group_sizes.items())
            lines.append(f"Groups ({self.group}): {sizes}.")
        if self.ordinal:
            cats = [v for v in self.ordinal.values() if v]
            lo, hi = min(v[0] for v in cats), max(v[-1] for v in cats)
            k = sorted({len(v) for v in cats})
            count = f"{k[0]}" if len(k) == 1 else f"{k[0]}-{k[-1]}"
            lines.append(
                f"Ordinal items ({len(self.ordinal)}; values {lo}-{hi}, {count} categories "
                f"observed per item): {', '.join(self.ordinal)}."
            )
        if self.source:
            extra = ", ".join(
                f"{k} {self.source[k]!r}"
                for k in ("sheet", "sep", "decimal", "encoding")
                if self.source.get(k) is not None
            )
            lines.append(
                f"Source: {self.source.get('path')} ({self.source.get('format')}{', ' + extra if extra else ''})."
            )
        return "\n".join(lines)


def validate_data(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    group: str | None = None,
    missing: str = "listwise",
    ordinal: Sequence[str] | str | None = None,
    min_rows: int | None = None,
) -> tuple[pd.DataFrame, DataReport]:
    """Check data against a model and apply the missing-data policy (what every fit calls first).

    Parameters
    ----------
    model : str or ModelSpec
        lavaan syntax or a parsed spec; its observed variables are the columns checked.
    data : pandas.DataFrame
        One row per respondent. Never modified.
    group : str, optional
        Column holding the group (sector, country, ...) of a multigroup model.
    missing : {"listwise", "fiml", "ml", "none"}
        ``"listwise"`` drops rows with any missing value among the model's variables; ``"fiml"``
        (alias ``"ml"``) keeps every row with at least one observed value for a FIML estimator;
        ``"none"`` raises if anything is missing.
    ordinal : list of str or "auto", optional
        Items to treat as ordinal: checked to be integer-valued and their categories reported.
        ``"auto"`` takes integer-valued items with at most 11 distinct values; default: the items
        the spec declares ordinal (thresholds ``|`` or ``ordinal=``).
    min_rows : int, optional
        Fewest usable rows (per group with ``group``); default: one more than the number of observed
        variables, below which the sample covariance matrix is singular.

    Returns
    -------
    data : pandas.DataFrame
        A new frame: the model's observed variables in the spec's order as float (then the group
        column), the original index (so rows can be named) and ``attrs``.
    report : DataReport

    Raises
    ------
    DataError
        Naming the column (with the closest existing name), row and value: missing or duplicated
        column, non-numeric, infinite, non-integer ordinal or constant values, missing values under
        ``missing="none"``, too few rows.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import load_ecsi, BELIEFS_EXPERIENCE_MODEL
    >>> data, report = lm.validate_data(BELIEFS_EXPERIENCE_MODEL, load_ecsi(), ordinal="auto")
    >>> print(report)
    Listwise deletion: no missing values, all 250 rows used.
    Ordinal items (14; values 0-10, 8-11 categories observed per item): imag1, imag2, ..., loy4.
    >>> data.shape, str(data.dtypes.unique()[0])
    ((250, 14), 'float64')
    >>> lm.validate_data("F =~ Sat1 + sat2 + sat3", load_ecsi())
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.DataError: column 'Sat1' not found; did you mean 'sat1'? ...
    """
    spec = as_spec(model)
    policy = MISSING_POLICIES.get(str(missing).lower()) if isinstance(missing, str) else None
    if policy is None:
        raise DataError(
            f"missing={missing!r} is not a missing-data policy; choose among {', '.join(map(repr, MISSING_POLICIES))}"
        )
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas DataFrame with named columns, not {type(data).__name__}; "
            "e.g. pd.DataFrame(array, columns=[...])"
        )
    items = list(spec.observed)
    if group is not None and group in items:
        raise DataError(
            f"group column {group!r} is also a variable of the model; group by another column", column=group
        )
    _check_columns(data, items, group)
    if len(data) == 0:
        raise DataError("the data have no rows; read the survey's responses first")

    # build the output from one fresh float block, never from views of the caller's frame; the
    # screens below read that block (x) instead of selecting columns, each selection a full copy
    # (five copies of the items took 1.5 of fit_bayes's 2.8 s on a million respondents)
    x = np.empty((len(data), len(items)), order="F")  # column-major: what pandas stores a block as
    for j, c in enumerate(items):
        x[:, j] = _as_float(data[c], c)
    frame = pd.DataFrame(x, columns=items, index=data.index.copy(), copy=False)
    if group is not None:
        frame[group] = data[group].copy()  # same index: no realignment, dtype kept
    _check_finite(frame, items)
    isna = np.isnan(x)  # once, for the counts and the policy (pandas' isna built a frame of it)
    nmiss = pd.Series(isna.sum(axis=0), index=items).astype(int)
    if group is not None:  # the report counts the group column's missing cells too
        nmiss[group] = int(frame[group].isna().sum())
    for c in items:
        if nmiss[c] == len(frame):
            raise DataError(
                f"column {c!r} has no observed value (all {len(frame)} rows are missing); "
                "drop it from the model or check the file",
                column=c,
            )

    keep = _apply_policy(frame, isna, items, group, policy)
    everyone = bool(keep.all())
    used = frame if everyone else frame.loc[keep]
    dropped = tuple(frame.index[~keep])
    # groups present in the rows used (unused categories of a categorical column are not groups)
    sizes = {} if group is None else {_scalar(k): int(v) for k, v in used[group].value_counts(sort=False).items() if v}
    _check_groups(spec, group, sizes)
    _check_rows(used, items, group, sizes, min_rows, policy, len(dropped), len(frame))
    _check_constant(used, x if everyone else None, items, group)
    categories = _check_ordinal(used, items, ordinal, spec)

    used.attrs = copy.deepcopy(dict(data.attrs))
    report = DataReport(
        n_total=len(frame),
        n_used=len(used),
        n_dropped=len(dropped),
        dropped_rows=dropped,
        missing=nmiss.rename("missing"),
        policy=policy,
        group=group,
        group_sizes=sizes,
        ordinal=categories,
        source=copy.deepcopy(data.attrs.get("source")),
    )
    if dropped:
        fix = "; use missing='fiml' to keep them" if policy == "listwise" else ""
        warnings.warn(f"{report.statement.rstrip('.')}{fix}", DataWarning, stacklevel=2)
    return used, report


# -- columns ---------------------------------------------------------------------------------------
def _check_columns(data: pd.DataFrame, items: list[str], group: str | None) -> None:
    columns = [str(c) for c in data.columns]
    absent = [c for c in items if c not in data.columns]
    if absent:
        first = absent[0]
        more = f" (also missing: {', '.join(map(repr, absent[1:]))})" if len(absent) > 1 else ""
        raise DataError(
            f"column {first!r} not found{suggest_column(first, columns)}{more}; rename the "
            "column or fix the model syntax",
            column=first,
        )
    if group is not None and group not in data.columns:
        raise DataError(
            f"group column {group!r} not found{suggest_column(group, columns)}; "
            "give the name of the column holding the groups",
            column=group,
        )
    dup = data.columns[data.columns.duplicated()]
    for c in [*items, group]:
        if c is not None and c in dup:
            n = int((data.columns == c).sum())
            raise DataError(f"column {c!r} appears {n} times in the data; rename or drop the copies", column=c)


def suggest_column(name: str, columns: list[str]) -> str:
    """'; did you mean ...?' with the closest column, or the list of columns when none is close."""
    same_case = [c for c in columns if c.lower() == name.lower()]
    if same_case:
        return f"; did you mean {same_case[0]!r}? (names are case-sensitive)"
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return f" among the {len(columns)} columns ({shown})"


# -- rows ------------------------------------------------------------------------------------------
def _apply_policy(
    frame: pd.DataFrame, isna: np.ndarray, items: list[str], group: str | None, policy: str
) -> np.ndarray:
    """Boolean mask of the rows kept (``isna``: the items' missing cells, rows x items)."""
    group_na = frame[group].isna().to_numpy() if group is not None else np.zeros(len(frame), bool)
    if policy == "none":
        cells = np.column_stack([isna, group_na])
        if cells.any():
            r, c = np.argwhere(cells)[0]
            col = ([*items, group])[c]
            raise DataError(
                f"column {col!r}, row {plain(frame.index[r])!r} is missing ({int(cells.sum())} "
                "missing values in all) and missing='none'; use missing='listwise' or "
                "'fiml', or impute first",
                column=col,
                row=frame.index[r],
            )
        return np.ones(len(frame), dtype=bool)
    if policy == "fiml":
        return ~isna.all(axis=1) & ~group_na
    return ~isna.any(axis=1) & ~group_na


def _check_groups(spec: ModelSpec, group: str | None, sizes: dict) -> None:
    if spec.ngroups > 1 and group is None:
        raise DataError(f"the model has {spec.ngroups} groups but no group column was given; pass group='column name'")
    if spec.ngroups > 1 and len(sizes) != spec.ngroups:
        raise DataError(
            f"the model has {spec.ngroups} groups but column {group!r} has {len(sizes)} "
            f"({', '.join(map(repr, sizes))}); make them agree",
            column=group,
        )


def _check_rows(
    used: pd.DataFrame,
    items: list[str],
    group: str | None,
    sizes: dict,
    min_rows: int | None,
    policy: str,
    n_dropped: int,
    n_total: int,
) -> None:
    need = len(items) + 1 if min_rows is None else int(min_rows)
    why = f"{len(items)} observed variables" if min_rows is None else f"min_rows={min_rows}"
    after = f" after dropping {n_dropped} of {n_total} rows ({policy})" if n_dropped else ""
    fix = "; collect more responses"
    if policy == "listwise" and n_dropped:
        fix += ", or use missing='fiml'"
    if len(used) < need:
        raise DataError(f"only {len(used)} usable rows{after} for {why}; at least {need} are needed{fix}")
    for g, n in sizes.items():
        if n < need:
            raise DataError(
                f"group {g!r} has only {n} usable rows{after} for {why}; at least {need} are "
                f"needed per group{fix}, or merge groups",
                column=group,
            )


def _varies(used: pd.DataFrame, x: np.ndarray | None, items: list[str], group: str | None) -> bool:
    """True when every numeric item has two distinct observed values (in every group): the
    usual case, screened with NumPy; pandas' per-column ``nunique`` (the messages' path) cost a
    fifth of a small fit_sem call. ``x``: the used rows' item values when at hand (no copy)."""
    if x is None:
        block = used[items]
        if not all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
            return False
        x = block.to_numpy(dtype=float)
    parts = (
        [x] if group is None else [x[codes == k] for codes in [pd.factorize(used[group])[0]] for k in np.unique(codes)]
    )
    for part in parts:
        seen = ~np.isnan(part)
        if not seen.any(axis=0).all():
            return False
        with np.errstate(invalid="ignore"):
            if (np.nanmax(part, axis=0) == np.nanmin(part, axis=0)).any():
                return False
    return True


def _check_constant(used: pd.DataFrame, x: np.ndarray | None, items: list[str], group: str | None) -> None:
    if _varies(used, x, items, group):
        return
    for c in items:
        values = used[c].dropna()
        if values.empty:
            raise DataError(f"column {c!r} has no observed value in the rows used; drop it from the model", column=c)
        if values.min() == values.max():  # numeric columns: one pass, not a hash of every value
            raise DataError(
                f"column {c!r} is constant (every used row has {_fmt(values.iloc[0])}), so it "
                "carries no information; drop it from the model",
                column=c,
                value=values.iloc[0],
            )
    if group is None:
        return
    for g, rows in used.groupby(group, sort=False, observed=True):
        for c in items:
            values = rows[c].dropna()
            if values.empty or values.min() == values.max():
                value = _fmt(values.iloc[0]) if len(values) else "nothing observed"
                raise DataError(
                    f"column {c!r} is constant in group {_scalar(g)!r} (every row has {value}); "
                    "a multigroup fit needs variation in every group: drop the item or merge "
                    "groups",
                    column=c,
                    value=values.iloc[0] if len(values) else None,
                )


def _check_ordinal(
    used: pd.DataFrame, items: list[str], ordinal: Iterable[str] | str | None, spec: ModelSpec
) -> dict[str, list]:
    if isinstance(ordinal, str) and ordinal == "auto":

        def integer(c: str) -> bool:
            v = used[c].dropna().to_numpy()
            return bool(np.all(v == np.round(v))) and len(np.unique(v)) <= AUTO_ORDINAL_MAX

        chosen = [c for c in items if integer(c)]
    else:
        chosen = list(spec.ordinal) if ordinal is None else [ordinal] if isinstance(ordinal, str) else list(ordinal)
        unknown = [c for c in chosen if c not in items]
        if unknown:
            raise DataError(
                f"ordinal item {unknown[0]!r} is not an observed variable of the model"
                f"{suggest_column(unknown[0], items)}",
                column=unknown[0],
            )
    out = {}
    for c in chosen:
        v = used[c]
        frac = (v.notna() & (v != np.round(v))).to_numpy()
        if frac.any():
            pos = int(np.flatnonzero(frac)[0])
            raise DataError(
                f"ordinal column {c!r}, row {plain(v.index[pos])!r}: {_fmt(v.iloc[pos])} is not a whole "
                "number; ordinal items take integer categories (recode it, or treat the item "
                "as continuous)",
                column=c,
                row=v.index[pos],
                value=v.iloc[pos],
            )
        out[c] = sorted(int(x) for x in v.dropna().unique())
    return out


__all__ = ["validate_data", "DataReport", "MISSING_POLICIES", "AUTO_ORDINAL_MAX"]
