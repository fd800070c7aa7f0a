"""The item bank: established wordings of the questions, in English and French, with their sources.

The bank is data shipped with the package (``wordings/items.csv`` and ``wordings/scales.json``), so a
researcher can read, cite and extend it without reading code:

``items.csv``  one row per question: ``name`` (the variable), ``section`` (beliefs, experience,
               loyalty, index, behaviour), ``construct``, ``attribute`` (the attribute a promise /
               experience pair shares), ``force`` (the latent the answer reflects), ``scale``
               (``survey``: the questionnaire's scale; else the question's own, e.g. ``0-10`` for the
               NPS, or ``yes_no``, ``count``, ``percent``, ``years``), ``anchors`` (the label set),
               ``direction`` (-1 when the lowest code is the favourable answer, as in the Customer
               Loyalty Index), ``indices`` (``index:role`` of the loyalty indices that use the answer),
               ``text_en``, ``text_fr`` (``{brand}`` stands for the brand), ``source``, ``source_fr``.
``scales.json`` the answer labels of every label set and scale length (``"5"``, ``"7"``, or
               ``"ends"`` for the two ends of a 0-10 scale), and the questionnaire's fixed phrases.

Every construct item is worded so that agreeing is the favourable answer (no reverse-keyed items):
a question that runs against its construct in returned data then signals a reversed code, which
:meth:`~loyaltymodels.design.Questionnaire.validate_data` reports.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import SpecError

__all__ = [
    "item_bank",
    "bank_records",
    "value_labels",
    "phrase",
    "fill",
    "parse_range",
    "LANGUAGES",
    "SURVEY_SCALES",
    "CONSTRUCTS",
]

WORDINGS = Path(__file__).parent / "wordings"
LANGUAGES = ("en", "fr")
#: Scales a questionnaire's construct items can use (the indices keep their own).
SURVEY_SCALES = ("1-5", "1-7", "0-10")
#: Answer types that are not rating scales, with their allowed range (``None``: no upper bound).
OPEN_ANSWERS: dict[str, tuple[float, float | None]] = {
    "yes_no": (0, 1),
    "count": (0, None),
    "percent": (0, 100),
    "years": (0, None),
}
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


@functools.cache
def _items() -> pd.DataFrame:
    table = pd.read_csv(WORDINGS / "items.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    table["direction"] = table["direction"].astype(int)
    return table


@functools.cache
def _scales() -> dict[str, Any]:
    return json.loads((WORDINGS / "scales.json").read_text(encoding="utf-8"))


def _construct_forces() -> dict[str, str]:
    rows = _items()
    rows = rows[rows.section.isin(["beliefs", "experience", "loyalty"])]
    return dict(zip(rows.construct, rows.force))


#: construct -> the force it measures (Beliefs, Experience, Loyalty), in the bank's order.
CONSTRUCTS: dict[str, str] = _construct_forces()


def item_bank(language: str | None = None) -> pd.DataFrame:
    """The whole item bank as a table (a copy), one row per question.

    Parameters
    ----------
    language : {"en", "fr"}, optional
        Add a ``text`` column in this language (``{brand}`` left as a placeholder).

    Examples
    --------
    >>> bank = item_bank("fr")
    >>> bank.set_index("name").loc["img4", ["construct", "scale", "text"]].tolist()
    ['image', 'survey', '{brand} se soucie de ses clients.']
    >>> sorted(bank.query("section == 'beliefs'").construct.unique())
    ['image', 'promise', 'reputation', 'values']
    """
    table = _items().copy()
    if language is not None:
        table["text"] = table[f"text_{check_language(language)}"]
    return table


@functools.cache
def bank_records(language: str) -> tuple[dict[str, Any], ...]:
    """The bank as plain records (``text`` in ``language``), for the builder: filtering a few dozen
    rows by hand is faster than pandas' string columns, and a questionnaire is built in a loop."""
    rows = _items().to_dict("records")
    key = f"text_{check_language(language)}"
    return tuple({**r, "direction": int(r["direction"]), "text": r[key]} for r in rows)


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise SpecError(f"language={language!r}: the item bank has {', '.join(map(repr, LANGUAGES))}")
    return language


def parse_range(scale: str) -> tuple[int, int]:
    """``"1-5"`` -> ``(1, 5)``.

    Examples
    --------
    >>> parse_range("0-10")
    (0, 10)
    """
    m = _RANGE.match(scale)
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise SpecError(f"scale {scale!r} should look like '1-5', '1-7' or '0-10'")
    return int(m.group(1)), int(m.group(2))


def value_labels(anchors: str, language: str, lo: int, hi: int) -> dict[int, str]:
    """The labels of the answer codes ``lo..hi`` of one label set (every code, or the two ends).

    Examples
    --------
    >>> value_labels("agree", "en", 1, 5)[5], value_labels("nps", "fr", 0, 10)
    ('Strongly agree', {0: 'Pas du tout probable', 10: 'Extrêmement probable'})
    """
    sets = _scales()["anchors"]
    if anchors not in sets:
        raise SpecError(f"no answer labels {anchors!r} in the item bank (it has {', '.join(sets)})")
    labels = sets[anchors][check_language(language)]
    full = labels.get(str(hi - lo + 1))
    if full is not None:
        return {lo + k: text for k, text in enumerate(full)}
    if "ends" in labels:
        return {lo: labels["ends"][0], hi: labels["ends"][1]}
    raise SpecError(f"the answer labels {anchors!r} have no version for a {lo}-{hi} scale")


_VOWEL = re.compile(r"^[AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜaeiouyàâäéèêëîïôöùûü]")
_ELIDE = re.compile(r"\b([Dd]e|[Qq]ue) \{brand\}")


def fill(text: str, brand: str, language: str) -> str:
    """``text`` with the brand filled in; in French "de"/"que" elided before a vowel ("d'Acme").

    Examples
    --------
    >>> fill("Ce que {brand} promet aux clients de {brand}.", "Orange", "fr")
    "Ce qu'Orange promet aux clients d'Orange."
    >>> fill("Les clients de {brand}.", "Free", "fr")
    'Les clients de Free.'
    """
    if language == "fr" and _VOWEL.match(brand):
        text = _ELIDE.sub(lambda m: m.group(1)[:-1] + "'{brand}", text)  # de -> d', que -> qu'
    return text.replace("{brand}", brand)


def phrase(key: str, language: str, **fields: str) -> str:
    """One of the questionnaire's fixed phrases (a section title, an instruction), filled in.

    Examples
    --------
    >>> phrase("sections.experience", "fr", brand="Acme")
    'Votre expérience avec Acme'
    """
    node: Any = _scales()["text"]
    for part in key.split("."):
        node = node[part]
    text = str(node[check_language(language)])
    return fill(text, fields["brand"], language) if "brand" in fields else text
