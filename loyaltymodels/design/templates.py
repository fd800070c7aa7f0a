"""Data templates for the fieldwork agency: SPSS, Excel and CSV files with the questionnaire's columns.

Each file carries what SPSS's variable view shows: the wording of every question as its variable
label, the answers as value labels, the measurement level; the agency returns the answers in the same
file, which :func:`loyaltymodels.read_survey` reads back with its labels. The Excel template keeps
the labels in two sheets (``variables`` and ``values``) and limits each question's cells to its codes;
CSV has no place for labels, so its codebook is written beside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .bank import phrase

if TYPE_CHECKING:
    from .instrument import Questionnaire

__all__ = ["codebook", "template_frame", "sector_codes", "to_sav", "to_xlsx", "to_csv", "SPSS_LABEL_BYTES"]

#: SPSS keeps at most this many bytes of a variable label (readstat cuts longer ones silently).
SPSS_LABEL_BYTES = 256
_MEASURE = {"rating": "ordinal", "yes_no": "nominal", "count": "scale", "percent": "scale", "years": "scale"}
_FORMAT = {"rating": "F2.0", "yes_no": "F1.0", "count": "F4.0", "percent": "F3.0", "years": "F5.1"}
#: Rows of the Excel template whose cells are limited to the questions' codes.
XLSX_ROWS = 5000


def _id_rows(q: Questionnaire) -> list[dict[str, Any]]:
    rows = [dict(variable="respondent_id", label=phrase("respondent_id", q.language), measure="nominal")]
    if q.sectors:
        values = "; ".join(q.sectors)
        rows.append(dict(variable="sector", label=phrase("sector", q.language), values=values, measure="nominal"))
    if q.waves:
        rows.append(
            dict(
                variable="wave",
                label=phrase("wave", q.language),
                scale=f"1-{q.waves}",
                values="; ".join(f"{w} = {w}" for w in range(1, q.waves + 1)),
                measure="ordinal",
            )
        )
    return rows


def codebook(q: Questionnaire) -> pd.DataFrame:
    """One row per column of the template (see :meth:`Questionnaire.codebook`).

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> book = questionnaire(items_per_construct=2).codebook()
    >>> book.set_index("variable").loc["nps", ["scale", "values", "measure"]].tolist()
    ['0-10', '0 = Not at all likely; 10 = Extremely likely', 'ordinal']
    """
    rows = _id_rows(q)
    for r in q.items.itertuples():
        values = "; ".join(f"{code} = {label}" for code, label in r.labels.items())
        rows.append(
            dict(
                variable=r.name,
                label=r.text,
                section=r.section,
                construct=r.construct,
                factor=r.factor,
                scale=r.scale,
                values=values,
                measure=_MEASURE[r.kind],
                direction=int(r.direction),
                indices=r.indices,
                source=r.source,
            )
        )
    cols = ["variable", "label", "section", "construct", "factor", "scale", "values", "measure", "direction"]
    book = pd.DataFrame(rows, columns=[*cols, "indices", "source"])
    return book.fillna({c: "" for c in book.columns if c != "direction"})


def template_frame(q: Questionnaire, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """The template's columns, empty or filled from ``data`` (which must hold every one of them)."""
    if data is None:
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in q.columns})
        if q.sectors:
            frame["sector"] = pd.Series(dtype=object)
        return frame
    missing = [c for c in q.columns if c not in data.columns]
    if missing:
        raise DataError(
            f"data have no column {missing[0]!r} of the questionnaire"
            f"{f' (nor {missing[1:]})' if len(missing) > 1 else ''}; fill every column of the template",
            column=missing[0],
        )
    return data[q.columns].copy()


def sector_codes(q: Questionnaire, sectors: pd.Series) -> pd.Series:
    """Sector names (or codes already) -> codes 1..K in the questionnaire's order of sectors."""
    codes = {s: float(k) for k, s in enumerate(q.sectors, start=1)}
    known = set(codes.values())
    out = [codes.get(v, v if isinstance(v, (int, float)) and float(v) in known else np.nan) for v in sectors]
    bad = [v for v, c in zip(sectors, out) if pd.isna(c) and not pd.isna(v)]
    if bad:
        raise DataError(
            f"column 'sector': {bad[0]!r} is not one of the study's sectors ({', '.join(q.sectors)})",
            column="sector",
            value=bad[0],
        )
    return pd.Series(out, index=sectors.index, dtype=float)


def _spss_label(text: str) -> str:
    """``text`` cut to what SPSS keeps, at a character boundary, with an ellipsis when cut."""
    if len(text.encode("utf-8")) <= SPSS_LABEL_BYTES:
        return text
    cut = text.encode("utf-8")[: SPSS_LABEL_BYTES - 3].decode("utf-8", errors="ignore")
    return cut.rstrip() + "…"


def to_sav(q: Questionnaire, path: str | os.PathLike[str], data: pd.DataFrame | None = None) -> Path:
    """Write the SPSS template (see :meth:`Questionnaire.to_sav`).

    Examples
    --------
    >>> import tempfile, pyreadstat
    >>> from loyaltymodels.design import questionnaire
    >>> q = questionnaire(items_per_construct=2, sectors=["retail", "banking"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _, meta = pyreadstat.read_sav(q.to_sav(f"{tmp}/template.sav"))
    >>> meta.column_names[:4], meta.variable_value_labels["nps"]
    (['respondent_id', 'sector', 'img1', 'img2'], {0.0: 'Not at all likely', 10.0: 'Extremely likely'})
    """
    import pyreadstat  # only needed for this format

    path = Path(path)
    frame = template_frame(q, data)
    labels: dict[str, str | None] = {"respondent_id": phrase("respondent_id", q.language)}
    measure = {"respondent_id": "nominal"}
    formats = {"respondent_id": "F8.0"}
    value_labels: dict[str, dict[int | float, str]] = {}
    if q.sectors:  # SPSS's way: codes 1..K with the sectors' names as value labels
        labels["sector"], measure["sector"], formats["sector"] = phrase("sector", q.language), "nominal", "F2.0"
        value_labels["sector"] = {k: s for k, s in enumerate(q.sectors, start=1)}
        frame["sector"] = sector_codes(q, frame["sector"])
    if q.waves:
        labels["wave"], measure["wave"], formats["wave"] = phrase("wave", q.language), "ordinal", "F2.0"
    for r in q.items.itertuples():
        labels[r.name] = _spss_label(r.text)
        measure[r.name], formats[r.name] = _MEASURE[r.kind], _FORMAT[r.kind]
        if r.labels:
            value_labels[r.name] = {int(k): v for k, v in r.labels.items()}
    for c in frame.columns:
        frame[c] = pd.to_numeric(frame[c], errors="raise").astype(float)
    pyreadstat.write_sav(
        frame,
        os.fspath(path),
        file_label=phrase("title", q.language, brand=q.brand)[:64],
        column_labels=labels,
        variable_value_labels=value_labels,
        variable_measure=measure,
        variable_format=formats,
    )
    return path


def to_xlsx(q: Questionnaire, path: str | os.PathLike[str], data: pd.DataFrame | None = None) -> Path:
    """Write the Excel template (see :meth:`Questionnaire.to_xlsx`): sheets ``data``, ``variables``,
    ``values``; each question's cells in ``data`` accept only its codes (Excel data validation).

    Examples
    --------
    >>> import tempfile
    >>> from loyaltymodels.design import questionnaire
    >>> q = questionnaire(items_per_construct=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     book = pd.read_excel(q.to_xlsx(f"{tmp}/template.xlsx"), sheet_name=None)
    >>> list(book), book["data"].columns[:3].tolist()
    (['data', 'variables', 'values'], ['respondent_id', 'img1', 'img2'])
    """
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    path = Path(path)
    frame = template_frame(q, data)
    book = codebook(q)
    values = pd.DataFrame(
        [
            dict(variable=r.name, code=int(code), label=label)
            for r in q.items.itertuples()
            for code, label in r.labels.items()
        ],
        columns=["variable", "code", "label"],
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="data", index=False)
        book[["variable", "label", "scale", "values", "measure", "source"]].to_excel(
            writer, sheet_name="variables", index=False
        )
        values.to_excel(writer, sheet_name="values", index=False)
        sheet = writer.sheets["data"]
        last = max(XLSX_ROWS, len(frame) + 1)
        for k, name in enumerate(frame.columns, start=1):
            if name not in q.questions:
                continue
            r = q.items.set_index("name").loc[name]
            kind, lo, hi, message = _validation(r.kind, float(r.lo), float(r.hi), q.language)
            dv = DataValidation(type=kind, operator="between", formula1=lo, formula2=hi, allow_blank=True)
            dv.error, dv.errorTitle, dv.showErrorMessage = message, name, True
            column = get_column_letter(k)
            dv.add(f"{column}2:{column}{last}")
            sheet.add_data_validation(dv)
    return path


_RULE = {
    "en": ("Enter a code from {lo} to {hi}, or leave the cell empty.", "Enter a number of 0 or more."),
    "fr": ("Saisissez un code de {lo} à {hi}, ou laissez la cellule vide.", "Saisissez un nombre positif ou nul."),
}


def _validation(kind: str, lo: float, hi: float, language: str) -> tuple[str, str, str, str]:
    """Excel's rule for one question's cells: (type, lowest, highest, message)."""
    bounded, unbounded = _RULE[language]
    if np.isnan(hi):  # counts and years: no upper bound, Excel needs one
        return ("decimal" if kind == "years" else "whole"), str(int(lo)), str(10**9), unbounded
    return "whole", str(int(lo)), str(int(hi)), bounded.format(lo=int(lo), hi=int(hi))


def to_csv(
    q: Questionnaire, path: str | os.PathLike[str], data: pd.DataFrame | None = None, *, sep: str | None = None
) -> Path:
    """Write the CSV template and ``<name>_codebook.csv`` beside it (see :meth:`Questionnaire.to_csv`)."""
    path = Path(path)
    sep = sep if sep is not None else (";" if q.language == "fr" else ",")
    decimal = "," if sep == ";" else "."
    template_frame(q, data).to_csv(path, index=False, sep=sep, decimal=decimal, encoding="utf-8")
    codebook(q).to_csv(path.with_name(f"{path.stem}_codebook.csv"), index=False, sep=sep, encoding="utf-8")
    return path
