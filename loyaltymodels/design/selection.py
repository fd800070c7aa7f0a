"""Choosing the questions: the item bank filtered to the constructs asked, ordered as they are asked.

:func:`questionnaire` turns a researcher's choices (constructs of both forces and loyalty, promise
pairs, indices, behaviours, language, scale) into a :class:`~loyaltymodels.design.Questionnaire`:
which bank questions measure which factor, in which order, with which answers. The bank is filtered as
plain records: a few dozen rows, and a questionnaire is built in loops (every combination of
constructs is built by the tests).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from .bank import (
    CONSTRUCTS,
    OPEN_ANSWERS,
    SURVEY_SCALES,
    bank_records,
    check_language,
    fill,
    item_bank,
    parse_range,
    value_labels,
)
from .instrument import INDICES, Questionnaire

__all__ = ["questionnaire", "DEFAULT_CONSTRUCTS", "INDEX_ALIASES", "BEHAVIOURS", "PROMISE_FACTOR"]

#: The constructs asked by default: one or two per force, the promise paired with experience.
DEFAULT_CONSTRUCTS = ("image", "promise", "quality", "satisfaction", "intention")
#: Other names of the indices: "csi" (customer secure index) is the Secure Customer Index.
INDEX_ALIASES = {"csi": "sci"}
BEHAVIOURS = tuple(item_bank().query("section == 'behaviour'").name)
#: The factor of the paired promise questions (a belief, measured apart so that its gap to
#: experience is measurable).
PROMISE_FACTOR = "Promise"
_SECTIONS = ("beliefs", "experience", "loyalty", "index", "behaviour")


def questionnaire(
    constructs: Sequence[str] | Mapping[str, Sequence[str]] = DEFAULT_CONSTRUCTS,
    language: str = "en",
    scale: str = "1-7",
    promise_pairs: bool = True,
    indices: Sequence[str] = ("nps", "sci", "cli", "csat", "ces"),
    outcomes: Sequence[str] = ("bought_12m", "purchases_12m"),
    *,
    brand: str | None = None,
    sectors: Sequence[str] | None = None,
    waves: int | None = None,
    items_per_construct: int | None = None,
) -> Questionnaire:
    """A questionnaire that measures both forces of loyalty, from the package's item bank.

    Parameters
    ----------
    constructs : sequence of str, or mapping factor -> constructs
        Among ``image, reputation, values, promise`` (beliefs), ``quality, satisfaction,
        performance`` (experience) and ``intention, recommendation, repurchase`` (loyalty). A sequence
        gives one factor per force (``Beliefs``, ``Experience``, ``Loyalty``); a mapping names the
        factors (``{"Image": ["image"], "Service": ["quality"], "Loyalty": ["intention"]}``), each
        holding constructs of one force. Every loyalty factor is regressed on every driver factor.
    language : {"en", "fr"}
        Language of the wordings and answer labels (the French ones are the package's translations).
    scale : {"1-5", "1-7", "0-10"}
        Scale of the construct questions (0-10: the two ends labelled). The indices keep their own
        (NPS 0-10, CLI 1-6, SCI and CSAT 1-5, CES 1-7).
    promise_pairs : bool
        When ``promise`` is asked, ask it as promises on the same attributes as experience questions
        (reliability, responsiveness, assurance, empathy, value for money; after SERVQUAL), on the same
        scale, so that the promise gap is measurable. The promise questions then measure their own
        factor, ``Promise`` (a belief), and the experience side joins ``Experience``. False: the ECSI
        expectations questions, in the beliefs factor.
    indices : sequence of {"nps", "sci", "cli", "csat", "ces"}
        Loyalty indices whose standard questions to add (``"csi"`` is accepted for the Secure
        Customer Index). A question the constructs already ask in the same words and scale is not
        asked twice.
    outcomes : sequence of str
        Behaviour questions: ``bought_12m``, ``purchases_12m``, ``wallet_share``, ``switched_12m``,
        ``tenure_years``.
    brand : str, optional
        The brand named in the questions (default ``[brand]`` / ``[marque]``).
    sectors : sequence of str, optional
        The study's sectors: a ``sector`` column in the templates, whose answers are checked.
    waves : int, optional
        Number of survey waves: a ``wave`` column (1, 2, ...).
    items_per_construct : int, optional
        Ask only the first ``k`` questions of each construct (the bank orders them by priority);
        default: all (3 to 5).

    Returns
    -------
    Questionnaire

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> q = lm.questionnaire(language="fr", scale="1-5", brand="Acme", sectors=["banque", "télécom"])
    >>> print(q)
    Questionnaire (fr, scale 1-5, 36 questions): Beliefs 5, Promise 5, Experience 13, Loyalty 3; 8 index, 2 behaviour;
    sectors banque, télécom
    >>> q.text("prf_rel"), q.labels("prf_rel")[5]
    ('Acme fait bien les choses du premier coup.', "Tout à fait d'accord")
    >>> q.promise_pairs["prm_rel"]
    'prf_rel'
    """
    language = check_language(language)
    if scale not in SURVEY_SCALES:
        raise SpecError(f"scale={scale!r}: choose one of {', '.join(map(repr, SURVEY_SCALES))}")
    if items_per_construct is not None and (not isinstance(items_per_construct, int) or items_per_construct < 1):
        raise SpecError(f"items_per_construct={items_per_construct!r}: give a whole number of 1 or more")
    chosen_indices = _indices(indices)
    chosen_outcomes = _names(outcomes, BEHAVIOURS, "outcomes", "behaviour question")
    groups = _factor_groups(constructs, promise_pairs)
    paired = promise_pairs and any("promise" in cs for cs in groups.values())
    bank = [
        {**r, "scale": scale if r["scale"] == "survey" else r["scale"], "factor": ""} for r in bank_records(language)
    ]
    core = [r for r in bank if r["section"] in ("beliefs", "experience", "loyalty")]
    promise = [r for r in core if r["construct"] == "promise" and (r["attribute"] != "") == paired]
    promise = promise[:items_per_construct] if items_per_construct else promise
    attributes = {r["attribute"] for r in promise}
    rows, factors = [], {}
    for factor, cs in groups.items():
        names = []
        for c in cs:
            if c == "promise":
                pool = promise
            elif c == "performance" and paired:  # the experience side of the pairs asked
                pool = [r for r in core if r["construct"] == c and r["attribute"] in attributes]
            else:
                pool = [r for r in core if r["construct"] == c][: items_per_construct or None]
            rows += [dict(r, factor=factor) for r in pool]
            names += [r["name"] for r in pool]
        factors[factor] = names
    _check_factor_sizes(factors)
    forces = {f: CONSTRUCTS[cs[0]] for f, cs in groups.items()}
    drivers = tuple(f for f in groups if forces[f] != "Loyalty")
    outcomes_f = [f for f in groups if forces[f] == "Loyalty"]
    if not drivers or not outcomes_f:
        missing = "beliefs or experience construct" if not drivers else "loyalty construct"
        raise SpecError(
            f"constructs={_show(constructs)} has no {missing}: a loyalty study asks both, e.g. "
            f"{list(DEFAULT_CONSTRUCTS)}"
        )
    rows = _order_questions(rows, paired)
    rows = _add_index_and_behaviour(rows, bank, chosen_indices, chosen_outcomes)
    table = _finish(rows, language, brand if brand is not None else ("[marque]" if language == "fr" else "[brand]"))
    order = {n: k for k, n in enumerate(table.name)}
    return Questionnaire(
        items=table,
        factors={f: tuple(sorted(v, key=order.__getitem__)) for f, v in factors.items()},
        paths={y: drivers for y in outcomes_f},
        language=language,
        scale=scale,
        brand=str(table.attrs["brand"]),
        sectors=tuple(str(s) for s in (sectors or ())),
        waves=_waves(waves),
    )


def _show(constructs: Any) -> str:
    return repr(dict(constructs) if isinstance(constructs, Mapping) else list(constructs))


def _unknown(name: str, known: Sequence[str], what: str, argument: str) -> SpecError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return SpecError(f"{argument}: {name!r} is not a {what} of the item bank; {hint}choose among {', '.join(known)}")


def _names(values: Sequence[str], known: Sequence[str], argument: str, what: str) -> list[str]:
    values = [values] if isinstance(values, str) else list(values)
    for v in values:
        if v not in known:
            raise _unknown(str(v), known, what, argument)
    return list(dict.fromkeys(values))


def _indices(indices: Sequence[str]) -> list[str]:
    values = [indices] if isinstance(indices, str) else list(indices)
    return _names(
        [INDEX_ALIASES.get(str(v).lower(), str(v).lower()) for v in values], list(INDICES), "indices", "index"
    )


def _waves(waves: int | None) -> int | None:
    if waves is None:
        return None
    if not isinstance(waves, (int, np.integer)) or waves < 1:
        raise SpecError(f"waves={waves!r}: give the number of survey waves (1 or more)")
    return int(waves)


def _factor_groups(constructs: Sequence[str] | Mapping[str, Sequence[str]], pairs: bool) -> dict[str, list[str]]:
    """Factor -> its constructs (each of one force); the promise pairs' performance side placed."""
    known = list(CONSTRUCTS)
    if isinstance(constructs, Mapping):
        groups = {str(f): _names(cs, known, f"constructs[{f!r}]", "construct") for f, cs in constructs.items()}
    else:
        groups = {}
        for c in _names(constructs, known, "constructs", "construct"):
            factor = PROMISE_FACTOR if c == "promise" and pairs else CONSTRUCTS[c]
            groups.setdefault(factor, []).append(c)
        groups = {f: groups[f] for f in ("Beliefs", PROMISE_FACTOR, "Experience", "Loyalty") if f in groups}
    seen = [c for cs in groups.values() for c in cs]
    twice = sorted({c for c in seen if seen.count(c) > 1})
    if twice:
        raise SpecError(f"constructs: {twice[0]!r} is in more than one factor; give each construct one factor")
    for f, cs in groups.items():
        if not cs:
            raise SpecError(f"constructs: factor {f!r} has no construct")
        mixed = sorted({CONSTRUCTS[c] for c in cs})
        if len(mixed) > 1:
            raise SpecError(
                f"constructs: factor {f!r} mixes forces ({', '.join(f'{c} ({CONSTRUCTS[c]})' for c in cs)}); "
                "give beliefs, experience and loyalty constructs factors of their own"
            )
    promise = next((f for f, cs in groups.items() if "promise" in cs), None)
    if pairs and promise is not None:
        if groups[promise] != ["promise"]:
            raise SpecError(
                f"constructs: with promise_pairs=True the promise questions measure a factor of their own, "
                f"but {promise!r} also holds {[c for c in groups[promise] if c != 'promise']}; move them to "
                "another factor or pass promise_pairs=False"
            )
        if "performance" not in seen:
            home = next((f for f, cs in groups.items() if CONSTRUCTS[cs[0]] == "Experience"), None)
            if home is None:
                groups["Experience"] = ["performance"]
            else:
                groups[home].insert(0, "performance")
    return groups


def _check_factor_sizes(factors: Mapping[str, Sequence[str]]) -> None:
    for f, names in factors.items():
        if len(names) < 2:
            raise SpecError(
                f"factor {f!r} would be measured by {len(names)} question(s) ({', '.join(names) or 'none'}); "
                "a factor needs at least 2 (3 or more is safer): add a construct or raise items_per_construct"
            )


def _order_questions(rows: list[dict[str, Any]], paired: bool) -> list[dict[str, Any]]:
    """Sections in the order beliefs, experience, loyalty; the promise questions last among the
    beliefs and their experience side first among the experience questions, so pairs sit close."""

    def key(item: tuple[int, dict[str, Any]]) -> tuple[int, int]:
        k, r = item
        shift = (r["construct"] == "promise") - (r["construct"] == "performance") if paired else 0
        return _SECTIONS.index(r["section"]), k + shift * 10**6

    return [r for _, r in sorted(enumerate(rows), key=key)]


def _add_index_and_behaviour(
    rows: list[dict[str, Any]], bank: list[dict[str, Any]], indices: list[str], outcomes: list[str]
) -> list[dict[str, Any]]:
    rows = [dict(r, indices="") for r in rows]
    for index in indices:
        for r in (b for b in bank if b["section"] == "index" and b["construct"] == index):
            same = [x for x in rows if (x["text"], x["anchors"], x["scale"]) == (r["text"], r["anchors"], r["scale"])]
            if same:  # the constructs already ask it: one answer serves both
                same[0]["indices"] = ";".join(filter(None, [same[0]["indices"], r["indices"]]))
            else:
                rows.append(dict(r))
    by_name = {b["name"]: b for b in bank}
    return rows + [dict(by_name[n], indices="") for n in outcomes]


_COLUMNS = (
    "name",
    "section",
    "construct",
    "factor",
    "attribute",
    "pair",
    "kind",
    "scale",
    "lo",
    "hi",
    "labels",
    "anchors",
    "direction",
    "force",
    "indices",
    "text",
    "source",
)


def _finish(rows: list[dict[str, Any]], language: str, brand: str) -> pd.DataFrame:
    """Answer ranges and labels attached, texts filled in, pairs linked: the questionnaire's table."""
    attribute_of: dict[str, list[str]] = {}
    for r in rows:
        if r["attribute"]:
            attribute_of.setdefault(r["attribute"], []).append(r["name"])
    partner = {a: b for names in attribute_of.values() if len(names) == 2 for a, b in (names, names[::-1])}
    out = []
    for r in rows:
        if r["scale"] in OPEN_ANSWERS:
            lo, hi = OPEN_ANSWERS[r["scale"]]
            kind, labels = r["scale"], value_labels(r["anchors"], language, 0, 1) if r["anchors"] else {}
        else:
            lo, hi = parse_range(r["scale"])
            kind, labels = "rating", value_labels(r["anchors"], language, lo, hi)
        source = r["source"]
        if language != "en" and r[f"source_{language}"] != source:  # the original's source, and who translated it
            source = f"{source}; {r[f'source_{language}']}"
        out.append(
            dict(
                r,
                kind=kind,
                lo=float(lo),
                hi=math.nan if hi is None else float(hi),
                labels=labels,
                text=fill(r["text"], brand, language),
                source=source,
                pair=partner.get(r["name"], ""),
            )
        )
    table = pd.DataFrame(out, columns=list(_COLUMNS))
    table.attrs["brand"] = brand
    return table
