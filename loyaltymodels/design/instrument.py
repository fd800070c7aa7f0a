"""The questionnaire: which questions to ask, on which scale, and the model that analyses the answers.

:func:`questionnaire` picks established wordings from the item bank (:mod:`loyaltymodels.design.bank`)
for the constructs of both forces (beliefs: image, reputation, values, promise; experience: quality,
satisfaction; loyalty: intention, recommendation, repurchase), adds the loyalty indices' own questions
and behaviour questions, and returns a :class:`Questionnaire`: the questions in the order asked, the
factors they measure, and everything that follows from them -- the lavaan model, empty data templates
for the fieldwork agency (SPSS, Excel, CSV), the questionnaire as a respondent reads it, the checks
of returned data, and simulated answers for planning.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ..data.validate import DataReport

__all__ = ["Questionnaire", "questionnaire", "DEFAULT_CONSTRUCTS", "INDICES", "BEHAVIOURS"]

#: The constructs asked by default: one or two per force, the promise paired with experience.
DEFAULT_CONSTRUCTS = ("image", "promise", "quality", "satisfaction", "intention")
#: Index -> its questions' roles, in the argument order of the package's index functions.
INDICES: dict[str, tuple[str, ...]] = {
    "nps": ("x",),
    "sci": ("satisfaction", "repurchase", "recommend"),
    "cli": ("recommend", "repurchase", "try_others"),
    "csat": ("x",),
    "ces": ("x",),
}
#: Other names of the indices: "csi" (customer secure index) is the Secure Customer Index.
INDEX_ALIASES = {"csi": "sci"}
BEHAVIOURS = tuple(item_bank().query("section == 'behaviour'").name)
#: The factor each force's constructs measure; paired promise items measure their own factor.
PROMISE_FACTOR = "Promise"
_SECTIONS = ("beliefs", "experience", "loyalty", "index", "behaviour")
_ID = "respondent_id"


@dataclass(frozen=True, eq=False)
class Questionnaire:
    """A questionnaire: the questions in the order asked and the model that analyses the answers.

    Build one with :func:`questionnaire`.

    Attributes
    ----------
    items : DataFrame
        One row per question: ``name`` (the data column), ``section``, ``construct``, ``factor`` (the
        latent it measures, empty for index and behaviour questions), ``attribute`` and ``pair`` (for
        promise / experience pairs: the shared attribute and the other question), ``kind``
        (``rating``, ``yes_no``, ``count``, ``percent``, ``years``), ``scale``, ``lo``, ``hi``,
        ``labels`` (code -> answer label), ``direction`` (-1 when the lowest code is the favourable
        answer), ``force`` (the latent the answer reflects), ``indices`` (``index:role`` entries),
        ``text`` (in the questionnaire's language, brand filled in), ``source``.
    factors : dict
        Latent factor -> the questions that measure it.
    paths : dict
        Loyalty factor -> the factors it is regressed on.
    language, scale, brand : str
    sectors : tuple of str
        The study's sectors (a ``sector`` column in the templates), possibly empty.
    waves : int or None
        Number of survey waves (a ``wave`` column), if any.
    """

    items: pd.DataFrame = field(repr=False)
    factors: Mapping[str, tuple[str, ...]]
    paths: Mapping[str, tuple[str, ...]]
    language: str
    scale: str
    brand: str
    sectors: tuple[str, ...] = ()
    waves: int | None = None

    # -- what it asks ------------------------------------------------------------------------------
    @property
    def questions(self) -> list[str]:
        """The question columns, in the order asked."""
        return list(self.items.name)

    @property
    def columns(self) -> list[str]:
        """Every column of the data template: the respondent, sector and wave, then the questions."""
        ids = [_ID] + (["sector"] if self.sectors else []) + (["wave"] if self.waves else [])
        return ids + self.questions

    @property
    def drivers(self) -> tuple[str, ...]:
        """The driver factors (beliefs and experience), in the model's order."""
        return tuple(dict.fromkeys(x for xs in self.paths.values() for x in xs))

    @property
    def loyalty(self) -> str:
        """The (first) loyalty factor."""
        return next(iter(self.paths))

    @property
    def beliefs(self) -> str | None:
        """The beliefs factor the beliefs-versus-experience questions compare (``Beliefs``, else the
        promise factor), or None."""
        forces = self._factor_forces()
        found = [f for f in self.drivers if forces[f] == "Beliefs"]
        return "Beliefs" if "Beliefs" in found else (found[0] if found else None)

    @property
    def experience(self) -> str | None:
        """The experience factor (``Experience`` when present), or None."""
        forces = self._factor_forces()
        found = [f for f in self.drivers if forces[f] == "Experience"]
        return "Experience" if "Experience" in found else (found[0] if found else None)

    @property
    def promise_pairs(self) -> dict[str, str]:
        """``{promise question: experience question}`` on the same attributes (empty without pairs):
        what a measured promise gap needs (the ``promise_pairs=`` of the loyalty model)."""
        rows = self.items[self.items.pair != ""]
        return {a: b for a, b, c in zip(rows.name, rows.pair, rows.construct) if c == "promise"}

    @property
    def index_columns(self) -> dict[str, dict[str, str]]:
        """``{index: {role: column}}``: which columns feed each loyalty index.

        Examples
        --------
        >>> q = questionnaire(indices=("cli",), outcomes=())
        >>> q.index_columns
        {'cli': {'recommend': 'cli_rec', 'repurchase': 'cli_rpu', 'try_others': 'cli_try'}}
        """
        out: dict[str, dict[str, str]] = {}
        for name, entries in zip(self.items.name, self.items.indices):
            for entry in filter(None, entries.split(";")):
                index, role = entry.split(":")
                out.setdefault(index, {})[role] = name
        return {k: {r: out[k][r] for r in INDICES[k]} for k in INDICES if k in out}

    def _factor_forces(self) -> dict[str, str]:
        rows = self.items[self.items.factor != ""]
        return dict(zip(rows.factor, rows.force))

    def labels(self, name: str) -> dict[int, str]:
        """Code -> answer label of one question."""
        return dict(self.items.set_index("name").at[name, "labels"])

    def text(self, name: str) -> str:
        """The wording of one question."""
        return str(self.items.set_index("name").at[name, "text"])

    # -- the model ---------------------------------------------------------------------------------
    def to_syntax(self, commensurate: bool = False) -> str:
        """The lavaan model that analyses the answers: one factor per force (the promise pairs' own
        factor), the loyalty factor regressed on the drivers.

        This is the model :func:`~loyaltymodels.fit_sem`, :func:`~loyaltymodels.fit_bayes` and
        :func:`~loyaltymodels.fit_loyalty` take (with ``group="sector"`` / ``sector="sector"`` for a
        study in several sectors). The index and behaviour questions stay out of it: the indices are
        computed from their own questions (:meth:`score_indices`), and behaviours are the loyalty
        model's ``outcomes=``.

        Parameters
        ----------
        commensurate : bool
            With promise pairs: give each pair's two questions the same loading and intercept (the
            first pair is both factors' marker) and free the experience factor's mean, so that its
            mean is the promise gap (experience minus promise) in the first pair's units. For ML with
            marker identification (``fit_sem``'s default).

        Examples
        --------
        >>> q = questionnaire(["image", "quality", "intention"], promise_pairs=False, items_per_construct=3)
        >>> print(q.to_syntax())
        Beliefs =~ img1 + img2 + img3
        Experience =~ qual1 + qual2 + qual3
        Loyalty =~ itn1 + itn2 + itn3
        Loyalty ~ Beliefs + Experience
        >>> print(questionnaire(items_per_construct=2).to_syntax(commensurate=True))  # doctest: +ELLIPSIS
        Beliefs =~ img1 + img2
        Promise =~ lam_rel*prm_rel + lam_rsp*prm_rsp
        Experience =~ lam_rel*prf_rel + lam_rsp*prf_rsp + qual1 + qual2 + sat1 + sat2
        Loyalty =~ itn1 + itn2
        Loyalty ~ Beliefs + Promise + Experience
        prm_rel ~ nu_rel*1
        prf_rel ~ nu_rel*1
        ...
        Experience ~ 1
        """
        pairs = self.promise_pairs
        if commensurate and not pairs:
            raise SpecError(
                "commensurate=True needs promise / experience pairs: build the questionnaire with "
                "'promise' among its constructs and promise_pairs=True"
            )
        key = {**{p: _pair_key(p) for p in pairs}, **{e: _pair_key(p) for p, e in pairs.items()}}
        lines = []
        for factor, names in self.factors.items():
            terms = [f"lam_{key[n]}*{n}" if commensurate and n in key else n for n in names]
            lines.append(f"{factor} =~ " + " + ".join(terms))
        lines += [f"{y} ~ " + " + ".join(xs) for y, xs in self.paths.items()]
        if commensurate:
            for p, e in pairs.items():
                lines += [f"{p} ~ nu_{key[p]}*1", f"{e} ~ nu_{key[p]}*1"]
            lines.append(f"{self.items.set_index('name').at[next(iter(pairs.values())), 'factor']} ~ 1")
        return "\n".join(lines)

    # -- files and views (implemented beside this module) ------------------------------------------
    def codebook(self) -> pd.DataFrame:
        """One row per column of the data template: ``variable, label, section, construct, factor,
        scale, values, measure, direction, indices, source`` (what SPSS's variable view shows)."""
        from .templates import codebook

        return codebook(self)

    def to_sav(self, path: str | Path, data: pd.DataFrame | None = None) -> Path:
        """An SPSS data template: the columns with variable labels (the wording) and value labels
        (the answers); ``data`` fills it (simulated or returned answers). Read back by
        :func:`~loyaltymodels.read_survey` with its labels."""
        from .templates import to_sav

        return to_sav(self, path, data)

    def to_xlsx(self, path: str | Path, data: pd.DataFrame | None = None) -> Path:
        """An Excel data template: sheet ``data`` (the columns, cells limited to each question's
        codes), ``variables`` (labels) and ``values`` (answer labels), which
        :func:`~loyaltymodels.read_survey` reads back as the file's labels."""
        from .templates import to_xlsx

        return to_xlsx(self, path, data)

    def to_csv(self, path: str | Path, data: pd.DataFrame | None = None, *, sep: str = ",") -> Path:
        """A CSV data template (the header row, or ``data``) and its codebook beside it
        (``<name>_codebook.csv``): CSV has no place for labels."""
        from .templates import to_csv

        return to_csv(self, path, data, sep=sep)

    def to_markdown(self) -> str:
        """The questionnaire as a respondent reads it (Markdown)."""
        from .render import to_markdown

        return to_markdown(self)

    def to_html(self) -> str:
        """The questionnaire as a respondent reads it (a standalone HTML page)."""
        from .render import to_html

        return to_html(self)

    # -- returned data -----------------------------------------------------------------------------
    def validate_data(
        self, data: pd.DataFrame, *, missing: str = "listwise", check_direction: bool = True
    ) -> tuple[pd.DataFrame, DataReport]:
        """Check returned data against the questionnaire, then against its model.

        Every question's column must be there; every answer a code of its question's scale (a 6 on a
        1-5 question, an ``"Agree"`` where a code was expected, a sector the study does not have are
        errors); no question may be coded in reverse (its value labels, when the file has them, in
        the opposite order to the questionnaire's; or, with ``check_direction``, answers that run
        against the other questions of the same construct). Then
        :func:`~loyaltymodels.validate_data` checks the model's columns (grouped by ``sector`` when
        the study has sectors) and applies ``missing``.

        Returns
        -------
        data, report
            As :func:`~loyaltymodels.validate_data`: the model's columns as float, and the report.

        Raises
        ------
        DataError
            Naming the column (and row and value) of the first problem, with the count of the others.
        """
        from ..data.validate import validate_data as validate_model_data
        from .checks import check_responses

        check_responses(self, data, check_direction=check_direction)
        group = "sector" if self.sectors and len(self.sectors) > 1 else None
        return validate_model_data(self.to_syntax(), data, group=group, missing=missing)

    def score_indices(self, data: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
        """Every loyalty index the questionnaire asks, computed from returned data (one row per index
        and group of ``by``), with the package's index functions and their 95% intervals."""
        from .checks import score_indices

        return score_indices(self, data, by)

    def simulate(
        self,
        n: int | Mapping[str, int] = 300,
        *,
        weights: Mapping[str, Any] | Sequence[float] | None = None,
        rho: float = 0.4,
        loading: float = 0.75,
        gap: float = 0.0,
        seed: int | np.random.Generator | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Answers to the questionnaire simulated from its model, with the truth (for planning and
        for trying the analysis before fieldwork). See :func:`loyaltymodels.design.responses.simulate_responses`."""
        from .responses import simulate_responses

        return simulate_responses(self, n, weights=weights, rho=rho, loading=loading, gap=gap, seed=seed)

    def __str__(self) -> str:
        counts = ", ".join(f"{f} {len(v)}" for f, v in self.factors.items())
        sections = self.items.section.value_counts()
        extra = [f"{sections.get(s, 0)} {s}" for s in ("index", "behaviour") if sections.get(s, 0)]
        where = f"; sectors {', '.join(self.sectors)}" if self.sectors else ""
        return (
            f"Questionnaire ({self.language}, scale {self.scale}, {len(self.items)} questions): "
            f"{counts}{'; ' + ', '.join(extra) if extra else ''}{where}"
        )


def _pair_key(name: str) -> str:
    return name.split("_", 1)[1]


# -- the builder -----------------------------------------------------------------------------------
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
