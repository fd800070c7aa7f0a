"""Cell-level helpers for :mod:`loyaltymodels.data.validate`: columns as numbers, and values as text or JSON.

:func:`_as_float` turns one data column into a float array (numbers stored as text, including a
decimal comma, are parsed; anything else is a :class:`~loyaltymodels.errors.DataError` naming the
column, row and value), :func:`_check_finite` rejects infinite values, and the small helpers format
values for messages and for :meth:`DataReport.to_dict <loyaltymodels.data.validate.DataReport.to_dict>`.
They live apart from the checks so that ``validate.py`` stays within the project's module size.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, plain

# Numbers as text: "3.5", "-2", "1e3", "inf", "nan", and with a decimal comma "3,5" or "1.234,5".
_POINT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_COMMA = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+")


# -- numbers ---------------------------------------------------------------------------------------
def _as_float(s: pd.Series, name: str) -> np.ndarray:
    """The column as a float64 array (NaN for missing), or a DataError naming the first bad cell.

    A float64 column comes back as a view of its values, not a copy: the caller (validate_data)
    writes it into a block of its own, and a copy first doubled the fresh memory a million
    respondents need."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if dtype.ordered and pd.api.types.is_numeric_dtype(cats.dtype):
            return s.astype(float).to_numpy(copy=True)  # the category values themselves
        kind = "ordered" if dtype.ordered else "unordered"
        raise DataError(
            f"column {name!r} is categorical ({kind}, categories "
            f"{', '.join(map(repr, list(cats)[:5]))}{', ...' if len(cats) > 5 else ''}); "
            f"give numbers, e.g. df[{name!r}].cat.codes (with -1 set to NaN)",
            column=name,
        )
    if pd.api.types.is_bool_dtype(dtype):
        return s.to_numpy(dtype=float, na_value=np.nan, copy=True)  # True/False -> 1/0
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return _parse_numbers(s, name)
    pos = int(np.flatnonzero(s.notna().to_numpy())[0]) if s.notna().any() else 0
    raise DataError(
        f"column {name!r}, row {plain(s.index[pos])!r}: {plain(s.iloc[pos])!r} is not a number "
        f"(the column is {dtype}); give the model numeric items",
        column=name,
        row=s.index[pos],
        value=s.iloc[pos],
    )


def _parse_numbers(s: pd.Series, name: str) -> np.ndarray:
    """Numbers stored as text ("3", "3.5", "3,5", blank = missing); anything else is an error."""
    text = s.astype("string").str.strip().fillna("")
    blank = (text == "").to_numpy(dtype=bool)
    point = text.str.fullmatch(_POINT).to_numpy(dtype=bool, na_value=False)
    comma = text.str.fullmatch(_COMMA).to_numpy(dtype=bool, na_value=False)
    bad = ~(blank | point | comma)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        others = sorted({str(v) for v in s[bad].iloc[1:4]} - {str(s.iloc[pos])})
        also = f" (also {', '.join(map(repr, others))}{' ...' if bad.sum() > 4 else ''})" if others else ""
        raise DataError(
            f"column {name!r}, row {plain(s.index[pos])!r}: {plain(s.iloc[pos])!r} is not a number{also}; "
            "recode it or set it to NaN",
            column=name,
            row=s.index[pos],
            value=s.iloc[pos],
        )
    values = np.full(len(s), np.nan)
    numeric = ~blank
    # decimal comma: drop "." thousands groups, then the comma becomes the decimal point
    fixed = text.where(~comma, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    values[numeric] = fixed[numeric].astype(float).to_numpy()
    return values


def _check_finite(frame: pd.DataFrame, items: list[str]) -> None:
    for c in items:
        inf = np.isinf(frame[c].to_numpy())
        if inf.any():
            pos = int(np.flatnonzero(inf)[0])
            row, value = frame.index[pos], frame[c].iloc[pos]
            raise DataError(
                f"column {c!r}, row {plain(row)!r}: {value} is infinite; recode it or set it to NaN",
                column=c,
                row=row,
                value=value,
            )


# -- small helpers ---------------------------------------------------------------------------------
def _rows(n: int) -> str:
    return f"{n} row" + ("" if n == 1 else "s")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _scalar(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x
