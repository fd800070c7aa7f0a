"""Survey files in: CSV (European exports too), Excel, SPSS and Stata, read into one DataFrame.

:func:`read_survey` reads a file as exported by survey tools and statistics packages, keeps codes as
numbers and puts what the file says about itself in ``DataFrame.attrs``:

``source``        ``path``, ``format`` and, for CSV, the ``sep``, ``decimal``, ``thousands`` and
                  ``encoding`` used; for Excel the ``sheet``; for SPSS/Stata the file ``encoding`` and
                  (SPSS) ``user_missing``: ``{column: {"codes": [[lo, hi], ...], "count": n}}``.
``value_labels``  ``{column: {code: label}}`` (SPSS, Stata; Excel templates' ``values`` sheet; a
                  CSV template's ``<name>_codebook.csv`` beside it).
``column_labels`` ``{column: label}`` (SPSS, Stata; Excel templates' ``variables`` sheet; the CSV
                  codebook), the question wording.

The validation every fit runs (:func:`validate_data`, :class:`DataReport`) lives in
:mod:`loyaltymodels.data.validate` and is re-exported here.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .validate import DataReport, validate_data

#: File extension -> reader. ``.txt``/``.tsv`` are read as CSV with the separator sniffed.
FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".sav": "spss",
    ".zsav": "spss",
    ".dta": "stata",
    ".parquet": "parquet",
}
_FORMAT_NAMES = {
    "csv": "CSV",
    "excel": "Excel workbook",
    "spss": "SPSS file",
    "stata": "Stata file",
    "parquet": "Parquet file",
}

# How much of a CSV file the separator and number-format sniffers look at (whole records).
_SNIFF_CHARS = 65_536
_SNIFF_RECORDS = 200
# European exports: UTF-8 (often with a BOM from Excel), else Windows-1252; latin-1 decodes anything.
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")

# Number shapes in a text field. A comma (or point) followed by exactly three digits ("1,234") is
# ambiguous between a decimal and a thousands separator, so it counts for neither mark.
_DEC_COMMA = re.compile(r"[+-]?(?:\d+,(?:\d{1,2}|\d{4,})|0,\d+|\d{1,3}(?:\.\d{3})+,\d+)")
_DEC_POINT = re.compile(r"[+-]?(?:\d*\.(?:\d{1,2}|\d{4,})|0?\.\d+|\d{1,3}(?:,\d{3})+\.\d+)")
_THOUSANDS_DOT = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_THOUSANDS_COMMA = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def read_survey(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a survey file (CSV, Excel, SPSS, Stata or Parquet) into a DataFrame, codes kept as numbers.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` (also ``.tsv``, ``.txt``), ``.xlsx``/``.xlsm``, ``.sav``/``.zsav``, ``.dta`` or ``.parquet``.
    sheet : str or int, optional
        Excel only: the sheet's name or 0-based position (default the first sheet).
    sep, decimal : str, optional
        CSV only: the field separator and decimal mark. By default both are sniffed from the first
        records: the separator among ``,`` ``;`` and tab, the decimal comma from fields such as
        ``3,5`` (and a ``.`` thousands separator from fields such as ``1.234,5``).
    encoding : str, optional
        CSV: the text encoding (default UTF-8, with or without a BOM, else cp1252, else latin-1).
        SPSS/Stata: overrides the encoding recorded in the file.

    Returns
    -------
    pandas.DataFrame
        One column per variable. SPSS and Stata codes stay numbers (no value labels applied); SPSS
        user-defined missing codes and Stata's ``.a``-``.z`` become NaN. In CSV files empty fields
        and pandas' missing markers (``NA``, ``N/A``, ``n/a``, ``NaN``, ``null``, ``#N/A``...) are
        NaN; other text is kept as text for :func:`validate_data` to judge. ``attrs`` holds
        ``source``, ``value_labels`` and ``column_labels`` (see the module's docstring).

    Raises
    ------
    DataError
        Missing file, unsupported extension, empty or unreadable file, duplicated column names.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import ecsi_path
    >>> df = lm.read_survey(ecsi_path())  # In R: read.csv(...) / haven::read_sav(...)
    >>> df.shape
    (250, 28)
    >>> {k: df.attrs["source"][k] for k in ("format", "sep", "decimal", "encoding")}
    {'format': 'csv', 'sep': ',', 'decimal': '.', 'encoding': 'utf-8'}
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"read_survey needs the path of a file (a str or a Path), not {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise DataError(f"no file at '{path}' (working directory: {os.getcwd()}); check the path")
    if path.is_dir():
        raise DataError(f"'{path}' is a directory; give the path of a survey file inside it")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = "; save it as .xlsx" if path.suffix.lower() == ".xls" else ""
        raise DataError(
            f"cannot read '{path.name}': unsupported extension '{path.suffix}' (supported: {', '.join(FORMATS)}){hint}"
        )
    if sheet is not None and fmt != "excel":
        raise DataError(f"sheet= applies to Excel files only, not to '{path.name}'")
    if (sep is not None or decimal is not None) and fmt != "csv":
        raise DataError(f"sep= and decimal= apply to CSV files only, not to '{path.name}'")
    if encoding is not None and fmt == "excel":
        raise DataError(f"encoding= does not apply to Excel workbooks ('{path.name}'); leave it unset")
    if path.stat().st_size == 0:
        raise DataError(f"'{path}' is empty (0 bytes); export the survey again")

    if fmt == "csv":
        df, header, source = _read_csv(path, sep=sep, decimal=decimal, encoding=encoding)
        value_labels, column_labels = _csv_labels(path, source)
    elif fmt == "excel":
        df, header, source, (value_labels, column_labels) = _read_excel(path, sheet)
    elif fmt == "parquet":
        if encoding is not None:
            raise DataError(f"encoding= does not apply to Parquet files ('{path.name}'); leave it unset")
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow's ArrowInvalid and OSError on damaged files
            raise DataError(
                f"'{path}' could not be read as a Parquet file ({type(exc).__name__}: {exc}); export it again"
            ) from exc
        header, source, value_labels, column_labels = [str(c) for c in df.columns], {}, {}, {}
    else:
        df, source, value_labels, column_labels = _read_readstat(path, fmt, encoding)
        header = [str(c) for c in df.columns]  # both formats forbid duplicated variable names
    _check_header(header, path)
    df = _drop_blank_columns(df, header)
    if df.shape[1] == 0 or len(df) == 0:
        what = "no columns" if df.shape[1] == 0 else "column names but no rows"
        raise DataError(f"'{path}' has {what}; export the survey again with its responses")
    df.attrs = {
        "source": {"path": str(path), "format": fmt, **source},
        "value_labels": value_labels,
        "column_labels": column_labels,
    }
    return df


# -- CSV -------------------------------------------------------------------------------------------
def _read_csv(
    path: Path, *, sep: str | None, decimal: str | None, encoding: str | None
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    raw = path.read_bytes()
    text, used = _decode(raw, encoding, path)
    # one line break for every reader below (the sniffers, the record check, pandas): a lone "\r"
    # (old Mac exports, or damage) is a line break, as pandas' parser takes it, not an error of csv's
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataError(f"'{path}' is empty (only blank lines); export the survey again")
    if "\x00" in text:  # UTF-16 exports, or a binary file under a text extension
        raise DataError(
            f"'{path}' holds NUL bytes: it is not CSV text (a UTF-16 export, or another format under a "
            "text extension); save it as CSV in UTF-8, or give the file its own extension"
        )
    head = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in head:  # whole records only
        head = head[: head.rindex("\n")]
    try:
        if sep is None:
            sep = sniff_separator(head)
        records = [r for r in csv.reader(io.StringIO(head), delimiter=sep) if any(f.strip() for f in r)]
        header = records[0] if records else []
        dec, thousands = sniff_number_format(records[1 : _SNIFF_RECORDS + 1], decimal=decimal, sep=sep)
        _check_field_counts(text, sep, path)
    except csv.Error as exc:  # a field beyond csv's size limit, a quote where none may be...
        raise DataError(f"'{path}' could not be read as CSV ({exc}); check that it is a CSV export") from exc
    try:
        # index_col=False: with one field more than the header on every row, pandas would
        # otherwise turn the first field into the index and shift every value one column left
        df = pd.read_csv(
            io.StringIO(text), sep=sep, decimal=dec, thousands=thousands, skip_blank_lines=True, index_col=False
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(
            f"'{path}' could not be parsed as CSV with sep={sep!r}, decimal={dec!r} "
            f"(pandas: {exc}); pass sep= and decimal= explicitly"
        ) from exc
    return df, header, {"sep": sep, "decimal": dec, "thousands": thousands, "encoding": used}


def _check_field_counts(text: str, sep: str, path: Path) -> None:
    """Every record has as many fields as the header (extra fields that are all blank excepted:
    the trailing separator of many exports). pandas fills a short record with NaN and, when every
    record has one field more than the header, silently reads the first field as the index: both
    would give wrong answers without a word, so both are refused with the line and the counts."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    width = None
    for record in reader:
        if not any(f.strip() for f in record):
            continue
        if width is None:
            width = len(record)
            continue
        if len(record) == width or (len(record) > width and not any(f.strip() for f in record[width:])):
            continue
        what = "more" if len(record) > width else "fewer"
        why = (
            "a field holds an unquoted separator, or the header lacks a column name"
            if what == "more"
            else "the file is truncated, or a text field holds an unquoted line break"
        )
        raise DataError(
            f"'{path}' line {reader.line_num} has {len(record)} fields, {what} than the {width} of the header "
            f"(sep={sep!r}): {why}; fix the file, export it again, or pass sep= if {sep!r} is not the separator",
            row=reader.line_num,
        )


def _decode(raw: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(
                f"'{path}' cannot be decoded as {encoding} ({exc}); leave encoding= "
                "unset to detect it, or give the export's encoding"
            ) from exc
    for enc in _ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig":
            enc = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
        return text, enc
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def sniff_separator(head: str) -> str:
    """The field separator of CSV text: the candidate (tab, ``;``, ``,``) that splits every record
    into the same number (> 1) of fields, quotes respected; ``,`` when none does.

    Tab and ``;`` win ties over ``,`` because a decimal comma in every field of a ``;`` file makes
    the comma look consistent too, while stray tabs or semicolons are rare in comma files.

    Examples
    --------
    >>> sniff_separator('a;b;"c;d"\\n3,5;4,25;x\\n')
    ';'
    >>> sniff_separator("a,b\\n1,2\\n")
    ','
    """
    best, best_fields = ",", 0
    for cand in ("\t", ";", ","):
        counts = [len(r) for r in csv.reader(io.StringIO(head), delimiter=cand) if r][: _SNIFF_RECORDS + 1]
        if counts and counts[0] > 1 and all(c == counts[0] for c in counts):
            return cand
        # no consistent split: remember the candidate that splits the header most, as a fallback
        if counts and counts[0] > best_fields:
            best, best_fields = cand, counts[0]
    return best


def sniff_number_format(records: list[list[str]], decimal: str | None = None, sep: str = ",") -> tuple[str, str | None]:
    """The decimal mark and thousands separator of the fields of some CSV records.

    A decimal comma wins when more fields look like ``3,5`` than like ``3.5``; a thousands separator
    is used only when fields show it grouping digits in threes (``1.234,5``, ``"1,234"``) and no
    field contradicts it. In a ``;``-separated file ``1,234`` is read as a decimal comma: the
    semicolon is there because the comma is the decimal mark.

    Examples
    --------
    >>> sniff_number_format([["3,5", "4"], ["1.234,5", "2,25"]])
    (',', '.')
    >>> sniff_number_format([["3.5", "4"]])
    ('.', None)
    """
    counts: Counter[str] = Counter()
    comma = re.compile(r"[+-]?\d+,\d+") if sep == ";" else _DEC_COMMA
    for record in records:
        for f in record:
            f = f.strip()
            counts["comma"] += bool(comma.fullmatch(f))
            counts["point"] += bool(_DEC_POINT.fullmatch(f))
            counts["th_dot"] += bool(_THOUSANDS_DOT.fullmatch(f))
            counts["th_comma"] += bool(_THOUSANDS_COMMA.fullmatch(f))
    if decimal is None:
        decimal = "," if counts["comma"] > counts["point"] else "."
    thousands = None
    if decimal == "," and counts["th_dot"] and not counts["point"]:
        thousands = "."
    elif decimal == "." and counts["th_comma"] and not counts["comma"]:
        thousands = ","
    return decimal, thousands


def _csv_labels(path: Path, source: dict[str, Any]) -> tuple[dict[str, dict[Any, str]], dict[str, str]]:
    """Labels from the codebook a questionnaire's CSV template keeps beside it
    (``<name>_codebook.csv``: ``variable``, ``label``, ``values`` as ``"1 = Disagree; 2 = ..."``),
    written with the template's separator; files without one have no labels."""
    book_path = path.with_name(f"{path.stem}_codebook.csv")
    if not book_path.is_file():
        return {}, {}
    try:
        book = pd.read_csv(book_path, sep=source["sep"], dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"'{book_path}' (the codebook beside '{path.name}') could not be read ({exc}); "
            "write it again with the template or remove it"
        ) from exc
    if not {"variable", "label"} <= set(book.columns):
        return {}, {}
    column_labels = {v: lab for v, lab in zip(book.variable, book.label) if lab}
    value_labels: dict[str, dict[Any, str]] = {}
    for variable, values in zip(book.variable, book.get("values", [""] * len(book))):
        # split only before "<code> = ", so that a label may hold a ';'
        for part in re.split(r";\s*(?=-?\d+(?:\.\d+)? = )", values):
            code, eq, label = part.partition(" = ")
            if eq and re.fullmatch(r"-?\d+(?:\.\d+)?", code.strip()):
                value_labels.setdefault(variable, {})[_code(float(code))] = label.strip()
    return value_labels, column_labels


# -- Excel -----------------------------------------------------------------------------------------
def _read_excel(
    path: Path, sheet: str | int | None
) -> tuple[pd.DataFrame, list[str], dict[str, Any], tuple[dict[str, dict[Any, str]], dict[str, str]]]:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException... on bad files
        raise DataError(
            f"'{path}' could not be read as an Excel workbook (openpyxl: "
            f"{type(exc).__name__}: {exc}); open it in Excel and save it as .xlsx again"
        ) from exc
    with book:
        names = [str(n) for n in book.sheet_names]
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not -len(names) <= sheet < len(names):
                raise DataError(
                    f"'{path.name}' has {len(names)} sheet(s) ({', '.join(map(repr, names))}); "
                    f"sheet={sheet} is out of range"
                )
            name = names[sheet]
        elif str(sheet) in names:
            name = str(sheet)
        else:
            raise DataError(f"'{path.name}' has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}")
        # read_excel renames duplicated headers ("a", "a.1"): the raw first row shows them
        first = pd.read_excel(book, sheet_name=name, header=None, nrows=1)
        header = [] if first.empty else ["" if pd.isna(v) else str(v) for v in first.iloc[0]]
        df = pd.read_excel(book, sheet_name=name)
        labels = _excel_labels(book, names, name)
    return df, header, {"sheet": name}, labels


def _excel_labels(
    book: pd.ExcelFile, names: list[str], data_sheet: str
) -> tuple[dict[str, dict[Any, str]], dict[str, str]]:
    """Value and column labels kept beside the data, as the questionnaire templates of
    :mod:`loyaltymodels.design` write them: sheets ``variables`` (``variable``, ``label``) and
    ``values`` (``variable``, ``code``, ``label``). Workbooks without them have no labels."""
    column_labels: dict[str, str] = {}
    value_labels: dict[str, dict[Any, str]] = {}
    if "variables" in names and data_sheet != "variables":
        v = pd.read_excel(book, sheet_name="variables")
        if {"variable", "label"} <= set(v.columns):
            column_labels = {str(a): str(b) for a, b in zip(v.variable, v.label) if pd.notna(b) and str(b)}
    if "values" in names and data_sheet != "values":
        v = pd.read_excel(book, sheet_name="values")
        if {"variable", "code", "label"} <= set(v.columns):
            for var, code, label in zip(v.variable, v.code, v.label):
                value_labels.setdefault(str(var), {})[_code(code)] = str(label)
    return value_labels, column_labels


# -- SPSS and Stata (pyreadstat) -------------------------------------------------------------------
def _read_readstat(
    path: Path, fmt: str, encoding: str | None
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, dict[Any, str]], dict[str, str]]:
    import pyreadstat  # 0.1 s; only needed for these formats

    reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
    try:
        # user_missing=True keeps SPSS user-missing codes so they can be counted before becoming NaN
        df, meta = reader(os.fspath(path), apply_value_formats=False, user_missing=fmt == "spss", encoding=encoding)
    except Exception as exc:  # pyreadstat's ReadstatError / PyreadstatError carry the C library's message
        raise DataError(
            f"'{path}' could not be read as an {_FORMAT_NAMES[fmt]} (pyreadstat "
            f"{reader.__name__}: {exc}); check that the file is complete and not "
            "password-protected"
        ) from exc
    source: dict[str, Any] = {"encoding": meta.file_encoding}
    if fmt == "spss":
        # pyreadstat annotates missing_ranges' entries as bare values too, but its parser only ever
        # stores {"lo": ..., "hi": ...} dicts (with str bounds for string variables)
        source["user_missing"] = _apply_user_missing(df, meta.missing_ranges)  # type: ignore[arg-type]
    value_labels = {
        col: {_code(k): str(v) for k, v in labels.items()} for col, labels in (meta.variable_value_labels or {}).items()
    }
    column_labels = {col: lab for col, lab in (meta.column_names_to_labels or {}).items() if lab}
    return df, source, value_labels, column_labels


def _apply_user_missing(df: pd.DataFrame, ranges: dict[str, list[dict]]) -> dict[str, dict]:
    """Set SPSS user-missing codes (discrete values or lo-hi ranges) to NaN in place (``df`` is the
    reader's fresh frame); return what was declared and how many cells each column lost."""
    out = {}
    for col, declared in (ranges or {}).items():
        s = df[col]
        mask = np.zeros(len(s), dtype=bool)
        for r in declared:
            lo, hi = r["lo"], r["hi"]
            if pd.api.types.is_numeric_dtype(s):
                mask |= ((s >= lo) & (s <= hi)).to_numpy(dtype=bool, na_value=False)
            else:  # string variables declare discrete missing strings
                mask |= (s == lo).to_numpy(dtype=bool, na_value=False)
        if mask.any():
            df[col] = s.mask(mask)
        out[col] = {"codes": [[_code(r["lo"]), _code(r["hi"])] for r in declared], "count": int(mask.sum())}
    return out


def _code(value: Any) -> Any:
    """A value-label code as JSON-friendly Python: 3.0 -> 3, strings unchanged."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value.item() if isinstance(value, np.generic) else value


# -- checks shared by the readers ------------------------------------------------------------------
def _check_header(header: list[str], path: Path) -> None:
    names = [h.strip() for h in header if h.strip()]  # blank headers are not names
    dups = [name for name, n in Counter(names).items() if n > 1]
    if dups:
        raise DataError(
            f"'{path.name}' has duplicated column names: "
            f"{', '.join(f'{d!r} ({names.count(d)} times)' for d in dups)}; "
            "rename them so that each column has its own name",
            column=dups[0],
        )


def _drop_blank_columns(df: pd.DataFrame, header: list[str]) -> pd.DataFrame:
    """Drop columns with a blank header and no value: the trailing separator of many exports."""
    blank = [
        col for i, col in enumerate(df.columns) if i < len(header) and not header[i].strip() and df[col].isna().all()
    ]
    return df.drop(columns=blank) if blank else df


__all__ = ["read_survey", "validate_data", "DataReport", "FORMATS", "sniff_separator", "sniff_number_format"]
