"""Files out, and saved results back in: tables written in the format their extension names, every
path checked before the work that fills it, and saved JSON and netCDF read with errors that name
the file.

:func:`check_writable` is called by the command line before a fit runs, so that ``--out
missing/folder/post.nc`` fails at once ("cannot write") instead of after an hour of sampling;
:func:`write_table` writes ``.csv``, ``.tsv``, ``.json``, ``.xlsx`` (a real workbook, with
openpyxl), ``.parquet``, ``.sav`` and ``.dta``; :func:`read_json` and :func:`read_datatree`
turn a truncated or foreign file into one :class:`~loyaltymodels.errors.DataError` naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ArgumentError, DataError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CSV_FORMATS", "TABLE_FORMATS", "check_writable", "write_table", "read_json", "read_datatree"]

#: Extension -> what :func:`write_table` writes there.
TABLE_FORMATS = {
    ".csv": "CSV (comma-separated)",
    ".tsv": "tab-separated text",
    ".json": "JSON records",
    ".xlsx": "Excel workbook",
    ".parquet": "Parquet",
    ".sav": "SPSS file",
    ".dta": "Stata file",
}
#: The first bytes of an HDF5 file (netCDF-4, what ``post.to_netcdf`` writes with h5netcdf).
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_writable(path: str | os.PathLike[str], *, suffixes: Iterable[str] | None = None, what: str = "file") -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there, else a :class:`DataError`
    that says "cannot write" and why: a folder that does not exist, a path that is a folder, a
    folder without write permission, or an extension outside ``suffixes``. Nothing is created.

    Examples
    --------
    >>> check_writable("no/such/folder/out.csv")
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.DataError: cannot write 'no/such/folder/out.csv': the folder 'no/such/folder' does not ...
    """
    path = Path(path)
    allowed = list(suffixes) if suffixes is not None else None
    if allowed is not None and path.suffix.lower() not in allowed:
        raise DataError(
            f"cannot write the {what} '{path}': the extension '{path.suffix}' is not one of {', '.join(allowed)}; "
            f"name the file with one of them"
        )
    if path.is_dir():
        raise DataError(f"cannot write '{path}': it is a folder; give a file name inside it")
    folder = path.parent
    if not folder.exists():
        raise DataError(
            f"cannot write '{path}': the folder '{folder}' does not exist; create it first or choose another"
        )
    if not folder.is_dir():
        raise DataError(f"cannot write '{path}': '{folder}' is a file, not a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DataError(f"cannot write '{path}': permission denied; choose a folder you can write to")
    return path


#: CSV dialects of :func:`write_table`: ``standard`` (``,`` and ``.``, UTF-8), ``excel-fr``
#: (what French Excel writes and opens by double-click: ``;``, decimal comma, UTF-8 with a BOM,
#: without which Excel reads the accents as Windows-1252).
CSV_FORMATS: dict[str, dict[str, str]] = {
    "standard": {"sep": ",", "decimal": ".", "encoding": "utf-8"},
    "excel-fr": {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"},
}


def write_table(table: pd.DataFrame, path: str | os.PathLike[str], *, csv_format: str = "standard") -> Path:
    """Write ``table`` in the format its extension names (:data:`TABLE_FORMATS`); the path is
    checked first (:func:`check_writable`). The row index is not written. ``csv_format`` (for
    ``.csv``): a name of :data:`CSV_FORMATS`, ``"excel-fr"`` for French Excel.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> folder = tempfile.mkdtemp()
    >>> out = write_table(pd.DataFrame({"x": [1.5, 2.0]}), f"{folder}/t.xlsx")
    >>> pd.read_excel(out).x.tolist()
    [1.5, 2.0]
    """
    if csv_format not in CSV_FORMATS:
        raise ArgumentError(f"csv_format={csv_format!r}: choose {' or '.join(map(repr, CSV_FORMATS))}")
    path = check_writable(path, suffixes=TABLE_FORMATS, what="table")
    kind = path.suffix.lower()
    try:
        if kind == ".csv":
            table.to_csv(path, index=False, **CSV_FORMATS[csv_format])
        elif kind == ".tsv":
            table.to_csv(path, index=False, sep="\t")
        elif kind == ".json":
            path.write_text(table.to_json(orient="records", double_precision=15, indent=1), encoding="utf-8")
        elif kind == ".xlsx":
            table.to_excel(path, index=False, engine="openpyxl")
        elif kind == ".parquet":
            table.to_parquet(path, index=False)
        else:
            import pyreadstat  # 0.1 s; only needed for these formats

            writer = pyreadstat.write_sav if kind == ".sav" else pyreadstat.write_dta
            writer(table.reset_index(drop=True), os.fspath(path))
    except OSError as exc:
        raise DataError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    except Exception as exc:  # openpyxl, pyarrow and pyreadstat refuse some column types or names
        raise DataError(
            f"cannot write the table as {TABLE_FORMATS[kind]} '{path}' ({type(exc).__name__}: {exc}); "
            "save it as .csv instead"
        ) from exc
    return path


def read_json(path: str | os.PathLike[str], *, what: str = "saved result") -> Any:
    """The JSON document in ``path``, or a :class:`DataError` naming the file (missing, not UTF-8,
    truncated or not JSON, with the line and column where reading stopped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no {what} at '{path}'; check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{path}' is not a {what}: it is not UTF-8 text (byte {exc.start}); give the .json file"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""
        raise DataError(
            f"'{path}' is not a readable {what}: invalid JSON at line {exc.lineno}, column {exc.colno}{cut}; "
            "save the result again"
        ) from None


def read_datatree(
    path: str | os.PathLike[str], *, what: str = "saved posterior", posterior: bool = False
) -> xr.DataTree:
    """Every group of the netCDF-4 file ``path``, loaded into memory, or a :class:`DataError`
    naming the file: missing, not HDF5 (another format, or empty), or truncated; with
    ``posterior=True`` also a netCDF file that holds no posterior of fit_bayes or fit_loyalty
    (no ``posterior`` group or no model syntax in its attributes)."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no {what} at '{path}'; check the path")
    with path.open("rb") as fh:
        head = fh.read(len(_HDF5_SIGNATURE))
    if head != _HDF5_SIGNATURE:
        kind = "empty" if not head else "netCDF-3, not netCDF-4" if head.startswith(b"CDF") else "not a netCDF-4 file"
        raise DataError(f"'{path}' is not a {what}: the file is {kind}; give the .nc written by post.to_netcdf(...)")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as exc:  # h5py's OSError ("truncated file"), KeyError, ValueError on damaged files
        raise DataError(
            f"'{path}' could not be read as a {what} ({type(exc).__name__}: {exc}); the file may be truncated "
            "or damaged: save it again"
        ) from exc
    if posterior and ("model_syntax" not in tree.attrs or "posterior" not in tree.children):
        raise DataError(
            f"'{path}' is a netCDF file but not a posterior saved by fit_bayes or fit_loyalty (no model "
            "specification or no posterior group); give the .nc written by post.to_netcdf(...), "
            "'bayes --out' or 'loyalty --out'"
        )
    return tree
