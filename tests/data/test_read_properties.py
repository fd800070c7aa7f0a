"""Property-based tests of ``read_survey`` on generated files: well-formed exports (any separator,
decimal comma or point, BOM, quoting, blank lines, missing values) read back exactly, and damaged
ones (truncated, bytes inserted or replaced, records widened or narrowed, a format that is not what
the extension says) give a :class:`DataError` naming the file, never another exception and never a
silently different table."""

from __future__ import annotations

import csv
import io
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import assume, event
from hypothesis import strategies as st

import loyaltymodels as lm
from loyaltymodels.errors import DataError, DataWarning
from tests.properties import fast_and_slow

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèàçÉ_", min_size=1, max_size=8)
CELLS = st.one_of(
    st.integers(-999, 999).map(float),
    st.floats(-1000, 1000, allow_nan=False).map(lambda x: round(x, 2)),
    st.just(math.nan),
)


@st.composite
def surveys(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique_by=str.lower))
    rows = draw(st.integers(1, 12))
    data = {n: [draw(CELLS) for _ in range(rows)] for n in names}
    frame = pd.DataFrame(data)
    # a column never entirely empty: pandas cannot tell its type, and a blank export is refused
    return frame.fillna({n: 0.0 for n in names if frame[n].isna().all()})


@st.composite
def exports(draw: st.DrawFn) -> tuple[pd.DataFrame, bytes, str]:
    """A survey and the bytes of its CSV export, as survey tools write them."""
    frame = draw(surveys())
    sep = draw(st.sampled_from([",", ";", "\t"]))
    # one column with decimal commas ("a\n1,5") is the same text as two comma-separated fields
    # under a one-name header: ambiguous, and refused (sep= decides); not a well-formed export
    decimal = "," if sep == ";" and frame.shape[1] > 1 and draw(st.booleans()) else "."
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_NONNUMERIC, csv.QUOTE_ALL]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, quoting=quoting, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        cells = ["" if math.isnan(v) else _number(v, decimal) for v in row]
        writer.writerow(cells)
        if draw(st.integers(0, 9)) == 0:
            buffer.write("\n")  # a blank line
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    suffix = ".tsv" if sep == "\t" and draw(st.booleans()) else ".csv"
    return frame, text.encode(encoding), suffix


def _number(v: float, decimal: str) -> str:
    text = str(int(v)) if float(v).is_integer() else repr(v)
    return text.replace(".", decimal)


def _read(content: bytes, suffix: str) -> tuple[pd.DataFrame | None, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"survey{suffix}"
        path.write_bytes(content)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            try:
                return lm.read_survey(path), str(path)
            except DataError as err:
                assert str(path.name) in str(err), f"the error does not name the file: {err}"
                return None, str(err)


def well_formed_exports_read_back(export: tuple[pd.DataFrame, bytes, str]) -> None:
    frame, content, suffix = export
    back, message = _read(content, suffix)
    assert back is not None, message
    assert list(back.columns) == list(frame.columns)
    np.testing.assert_array_equal(back.to_numpy(dtype=float), frame.to_numpy(dtype=float))


test_well_formed_exports_read_back, test_well_formed_exports_read_back_many = fast_and_slow(
    exports(), fast=60, slow=2000
)(well_formed_exports_read_back)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[pd.DataFrame, bytes, str, str]:
    frame, content, suffix = draw(exports())
    how = draw(st.sampled_from(["truncate", "insert", "replace", "widen", "narrow", "foreign", "extension"]))
    if how == "truncate":
        content = content[: draw(st.integers(0, max(len(content) - 1, 0)))]
    elif how in ("insert", "replace"):
        at = draw(st.integers(0, len(content)))
        junk = draw(st.binary(min_size=1, max_size=4))
        content = content[:at] + junk + content[at + (len(junk) if how == "replace" else 0) :]
    elif how in ("widen", "narrow"):
        # in a one-column file neither edit can be seen: "0,9" is also 0.9 with a decimal comma,
        # and a record narrowed to nothing is a blank line, which every CSV reader skips
        assume(frame.shape[1] > 1)
        lines = content.split(b"\n")
        k = draw(st.integers(1, max(len(lines) - 1, 1)))
        if k < len(lines) and lines[k].strip():
            sep = b"\t" if b"\t" in lines[0] else b";" if b";" in lines[0] else b","
            end = b"\r" if lines[k].endswith(b"\r") else b""  # keep the record's own line break
            cells = lines[k].removesuffix(b"\r").split(sep)
            lines[k] = sep.join(cells + [b"9"] if how == "widen" else cells[:-1]) + end
            assume(lines[k].strip(b' ,;\t\r"'))  # a record narrowed to nothing is a blank line
        content = b"\n".join(lines)
    elif how == "foreign":  # another format's bytes under a survey extension
        content = draw(st.sampled_from([b"PK\x03\x04garbage", b"\x89HDF\r\n\x1a\n\x00\x00", b"$FL2@(#) SPSS", b""]))
        suffix = draw(st.sampled_from([".csv", ".xlsx", ".sav", ".dta", ".tsv"]))
    else:  # the right bytes under a wrong extension
        suffix = draw(st.sampled_from([".xlsx", ".sav", ".dta", ".xls", ".json"]))
    return frame, content, suffix, how


def _same_or_text(back: pd.DataFrame, frame: pd.DataFrame, rows: slice = slice(None)) -> None:
    """Every cell of ``back`` equals the original, or is text that is not a number (which
    ``validate_data`` refuses, naming the row and the value): never a different number."""
    got, want = back.iloc[rows], frame.iloc[rows]
    assert got.shape == want.shape and list(got.columns) == list(frame.columns)
    for col in frame.columns:
        for a, b in zip(got[col], want[col]):
            number = pd.to_numeric(pd.Series([a]), errors="coerce").iloc[0]
            if isinstance(a, str) and pd.isna(number) and a.strip():
                continue  # kept as text: validation names it
            assert (pd.isna(number) and pd.isna(b)) or number == b, (col, a, b)


def damaged_files_give_data_errors(case: tuple[pd.DataFrame, bytes, str, str]) -> None:
    """A DataError naming the file (checked in ``_read``) and no other exception, whatever the
    damage; and where the damage can be seen, no silently different table:

    * a record widened or narrowed: refused (or, in a one-column file, the extra field kept as text);
    * a truncated file: every record before the last one as written (a cut inside the last record
      that removes no field cannot be told from a shorter file by any reader);
    * another format's bytes, or a survey under a binary extension: refused.

    Bytes inserted into or replaced in a number ("12" -> "192") cannot be seen either; for those
    only the kind of error is checked."""
    frame, content, suffix, how = case
    back, _ = _read(content, suffix)
    event(f"{how}: {'read' if back is not None else 'DataError'}")
    if how in ("widen", "narrow") and back is not None:
        _same_or_text(back, frame)
    elif how == "truncate" and back is not None:
        assert len(back) <= len(frame)
        _same_or_text(back, frame.iloc[: len(back)], slice(0, max(len(back) - 1, 0)))
    elif how == "extension" or (how == "foreign" and suffix not in (".csv", ".tsv")):
        assert back is None, f"{how} {suffix}: a table was read from {content[:20]!r}"


test_damaged_files_give_data_errors, test_damaged_files_give_data_errors_many = fast_and_slow(
    damaged(), fast=80, slow=3000
)(damaged_files_give_data_errors)
