"""The questionnaire: which questions to ask, on which scale, and the model that analyses the answers.

:func:`~loyaltymodels.design.questionnaire` (:mod:`loyaltymodels.design.selection`) picks established
wordings from the item bank (:mod:`loyaltymodels.design.bank`)
for the constructs of both forces (beliefs: image, reputation, values, promise; experience: quality,
satisfaction; loyalty: intention, recommendation, repurchase), adds the loyalty indices' own questions
and behaviour questions, and returns a :class:`Questionnaire`: the questions in the order asked, the
factors they measure, and everything that follows from them -- the lavaan model, empty data templates
for the fieldwork agency (SPSS, Excel, CSV), the questionnaire as a respondent reads it, the checks
of returned data, and simulated answers for planning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SpecError

if TYPE_CHECKING:
    from ..data.validate import DataReport

__all__ = ["Questionnaire", "INDICES"]

#: Index -> its questions' roles, in the argument order of the package's index functions.
INDICES: dict[str, tuple[str, ...]] = {
    "nps": ("x",),
    "sci": ("satisfaction", "repurchase", "recommend"),
    "cli": ("recommend", "repurchase", "try_others"),
    "csat": ("x",),
    "ces": ("x",),
}
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
        >>> from loyaltymodels.design import questionnaire
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
        >>> from loyaltymodels.design import questionnaire
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

    def to_csv(self, path: str | Path, data: pd.DataFrame | None = None, *, sep: str | None = None) -> Path:
        """A CSV data template (the header row, or ``data``) and its codebook beside it
        (``<name>_codebook.csv``, which :func:`~loyaltymodels.read_survey` reads the labels from): CSV
        has no place for labels. ``sep``: default ``";"`` (with decimal commas) for a French
        questionnaire, as French Excel writes CSV, ``","`` otherwise."""
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
            As :func:`~loyaltymodels.validate_data`: the model's columns as float (and ``sector``, by
            name where the file holds the template's codes 1..K), and the report.

        Raises
        ------
        DataError
            Naming the column (and row and value) of the first problem, with the count of the others.
        """
        from ..data.validate import validate_data as validate_model_data
        from .checks import check_responses

        check_responses(self, data, check_direction=check_direction)
        group = "sector" if self.sectors and len(self.sectors) > 1 else None
        if group and pd.api.types.is_numeric_dtype(data[group]):  # SPSS codes 1..K: the sectors' names
            names = dict(enumerate(self.sectors, start=1))
            data = data.assign(sector=[names.get(int(v), v) if pd.notna(v) else v for v in data[group]])
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
