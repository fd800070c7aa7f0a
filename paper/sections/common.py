"""What every section generator returns, and the number formats the text uses.

A section is a function ``make(fast: bool) -> Section``. Its numbers are stored in
``generated/numbers.json`` as ``{"value": <float or str>, "text": <as printed>}`` under
``<section>.<key>``; the text quotes them as ``{{section.key}}``. Tables are DataFrames (written as
Markdown and CSV), figures matplotlib figures (written as PNG), texts verbatim blocks (code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Whether the samplers of the sections show their own progress bars: set by ``build.generate``
#: (``None``: automatic, on in a terminal or notebook; ``python -m paper.build --quiet``: off).
PROGRESS: bool | None = None


@dataclass
class Section:
    """The generated content of one section of the paper.

    Attributes
    ----------
    numbers : dict
        key -> ``{"value": ..., "text": ...}`` (see :func:`num`, :func:`word`).
    tables : dict of DataFrame
        name -> table, already rounded for print (the CSV keeps the same values).
    figures : dict
        name -> matplotlib Figure.
    texts : dict of str
        name -> verbatim text (lavaan syntax, ...).
    """

    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def num(value: float, digits: int = 3, *, percent: bool = False) -> dict[str, Any]:
    """A number and its printed form (``digits`` decimals; ``percent`` multiplies by 100).

    >>> num(0.12345, 2)
    {'value': 0.12345, 'text': '0.12'}
    >>> num(0.9, 1, percent=True)["text"]
    '90.0'
    """
    value = float(value)
    shown = 100 * value if percent else value
    text = "NaN" if math.isnan(shown) else f"{shown:.{digits}f}"
    return {"value": value, "text": text.replace("-", "\u2212") if shown < 0 else text}


def count(value: int) -> dict[str, Any]:
    """An integer, printed with thin-space thousands separators above 9999.

    >>> count(12000)["text"]
    '12\u2009000'
    """
    text = f"{int(value):,}".replace(",", "\u2009") if abs(int(value)) > 9999 else str(int(value))
    return {"value": int(value), "text": text}


def sci(value: float, digits: int = 1) -> dict[str, Any]:
    """A small number in powers of ten, e.g. ``4 × 10^-5`` (HTML superscript).

    >>> sci(3.7e-5)["text"]
    '3.7 × 10<sup>−5</sup>'
    >>> sci(0.0)["text"]
    '0'
    """
    value = float(value)
    if value == 0:
        return {"value": 0.0, "text": "0"}
    exp = math.floor(math.log10(abs(value)))
    mant = value / 10**exp
    return {"value": value, "text": f"{mant:.{digits}f} × 10<sup>{str(exp).replace('-', '−')}</sup>"}


def word(text: str) -> dict[str, Any]:
    """A string quoted in the text (versions, dates, names)."""
    return {"value": str(text), "text": str(text)}
