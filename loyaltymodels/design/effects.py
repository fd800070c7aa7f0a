"""The client's questions as effects to detect: what to simulate, what counts as a detection, and the
large-sample standard deviation behind the quick analytic answer.

Each :class:`Effect` carries a :class:`~loyaltymodels.Scenario` (picklable: Dask ships it to the
workers), a :class:`~loyaltymodels.Target`, and the estimator (``"sem"``, or ``"none"`` when the
target computes its own statistic from the data). The kinds:

``within``      beliefs versus experience in one sector (:func:`~loyaltymodels.weights_differ`);
``between``     one driver's weight in two sectors (:func:`~loyaltymodels.sectors_differ`);
``congruence``  loyalty highest where experience meets the promise: the polynomial regression on
                composite scores with Humberg, Nestler & Back's conditions (:mod:`loyaltymodels.design.surface`);
``nps``         the NPS of two waves (:func:`~loyaltymodels.nps_difference`);
``parameter``   one parameter of a lavaan model differs from 0 (:func:`~loyaltymodels.parameter_nonzero`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..power.between import sectors_differ
from ..power.scenarios import Scenario
from ..power.targets import Target, parameter_nonzero, weights_differ
from .responses import congruence_surface, simulate_responses, surface_responses

if TYPE_CHECKING:
    from .instrument import Questionnaire

__all__ = ["Effect", "QuestionnaireDraw", "SurfaceDraw", "NpsDraw", "KINDS"]

KINDS = ("within", "between", "congruence", "nps", "parameter")


@dataclass(frozen=True)
class Effect:
    """One of the client's questions, ready to plan for.

    ``unit`` says what ``n`` counts (``"per sector"``, ``"per wave"``, ``"respondents"``); ``sides``
    and ``factor`` shape the analytic power (see :func:`~loyaltymodels.design.analytic.wald_power`);
    ``min_n`` is the smallest sample the estimator can use.
    """

    name: str
    kind: str
    question: str
    unit: str
    scenario: Scenario
    target: Target
    estimator: str
    sides: int = 2
    factor: float = 1.0
    min_n: int = 30
    group: str = ""

    @property
    def simulation(self) -> str:
        """Effects with the same key share their simulated replications."""
        return self.group or self.name


# -- generators (module-level classes: picklable, and their repr is their description) -------------
@dataclass(frozen=True)
class QuestionnaireDraw:
    """``(n, rng) -> (data, truth)``: the questionnaire's construct questions from its model
    (:func:`~loyaltymodels.design.responses.simulate_responses`), ``n`` per sector."""

    questionnaire: Questionnaire = dataclasses.field(repr=False)
    weights: Any
    rho: float
    loading: float

    def __call__(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
        return simulate_responses(
            self.questionnaire, n, weights=self.weights, rho=self.rho, loading=self.loading, seed=rng
        )


@dataclass(frozen=True)
class SurfaceDraw:
    """``(n, rng) -> (data, truth)``: ratings under a congruence surface
    (:func:`~loyaltymodels.design.responses.surface_responses`)."""

    beliefs: tuple[str, ...]
    experience: tuple[str, ...]
    loyalty: tuple[str, ...]
    surface: tuple[tuple[str, float], ...]
    rho: float
    loading: float
    scale: tuple[int, int]

    def __call__(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
        return surface_responses(
            n,
            rng,
            beliefs=self.beliefs,
            experience=self.experience,
            loyalty=self.loyalty,
            surface=dict(self.surface),
            rho=self.rho,
            loading=self.loading,
            scale=self.scale,
        )


@dataclass(frozen=True)
class NpsDraw:
    """``(n, rng) -> (data, truth)``: ``n`` NPS answers (0-10) in each of two waves, drawn from the
    waves' ``(detractors, passives, promoters)`` shares; within a group, answers are spread evenly
    over its codes (0-6, 7-8, 9-10)."""

    waves: tuple[tuple[float, float, float], ...]

    def __call__(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
        frames = []
        for w, shares in enumerate(self.waves, start=1):
            group = rng.choice(3, size=int(n), p=np.asarray(shares) / np.sum(shares))
            low, width = np.array([0, 7, 9])[group], np.array([7, 2, 2])[group]
            answer = low + np.floor(rng.random(int(n)) * width).astype(int)
            frames.append(pd.DataFrame({"wave": w, "nps": answer}))
        truth = pd.DataFrame(
            {
                "parameter": [f"nps_wave{w}" for w in range(1, len(self.waves) + 1)],
                "value": [100 * (s[2] - s[0]) for s in self.waves],
            }
        )
        return pd.concat(frames, ignore_index=True), truth


# -- targets that read the data themselves (estimator "none") --------------------------------------
def _congruence_check(
    data: pd.DataFrame,
    truth: pd.DataFrame | None,
    estimator: str,
    *,
    beliefs: Sequence[str],
    experience: Sequence[str],
    loyalty: Sequence[str],
    alpha: float,
    **_: Any,
) -> dict:
    from .surface import composite_surface, congruence_holds

    table = composite_surface(data, beliefs, experience, loyalty, ci=1 - alpha).set_index("quantity")
    verdict = congruence_holds(table.reset_index())
    true = dict(zip(truth.parameter, truth.value)) if truth is not None else {}
    a4 = true.get("b3", np.nan) - true.get("b4", np.nan) + true.get("b5", np.nan)
    keep = {"p10": 0.0, "p11": 1.0, "a3": 0.0}
    return {
        "detected": verdict["supported"],
        "estimate": float(table.at["a4", "estimate"]),
        "se": float(table.at["a4", "se"]),
        "truth": float(a4),
        "parameters": [
            {
                "quantity": f"congruence {k}",
                "estimate": float(table.at[k, "estimate"]),
                "se": float(table.at[k, "se"]),
                "truth": v,
            }
            for k, v in keep.items()
        ],
    }


def _nps_check(
    data: pd.DataFrame, truth: pd.DataFrame | None, estimator: str, *, alpha: float, method: str, **_: Any
) -> dict:
    from scipy import stats

    from ..indices.promoter import nps_difference

    a, b = (data.loc[data.wave == w, "nps"] for w in (1, 2))
    row = nps_difference(a, b, method=method, ci=1 - alpha).iloc[0]  # type: ignore[arg-type]
    true = dict(zip(truth.parameter, truth.value)) if truth is not None else {}
    se = (row.ci_upper - row.ci_lower) / (2 * stats.norm.ppf(1 - alpha / 2))
    return {
        "detected": bool(row.p_value < alpha),
        "estimate": float(row.estimate),
        "se": float(se),
        "truth": float(true.get("nps_wave2", np.nan) - true.get("nps_wave1", np.nan)),
        "parameters": [],
    }


# -- building the effects --------------------------------------------------------------------------
def _spec(item: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        kind = item.strip()
        return {"kind": kind} if kind in KINDS else {"kind": "parameter", "parameter": kind}
    if not isinstance(item, Mapping) or "kind" not in item:
        raise SpecError(f"targets: {item!r} is neither a name ({', '.join(KINDS)}) nor a mapping with a 'kind'")
    if item["kind"] not in KINDS:
        raise SpecError(f"targets: kind {item['kind']!r} is not one of {', '.join(KINDS)}")
    return dict(item)


def questionnaire_effects(
    q: Questionnaire,
    targets: Sequence[str | Mapping[str, Any]] | None,
    weights: Mapping[str | None, Mapping[str, float]],
    *,
    alpha: float,
    rho: float,
    loading: float,
    congruence: float | Mapping[str, float],
    nps: Sequence[Sequence[float]] | None,
    nps_method: str,
) -> list[Effect]:
    """The effects of a questionnaire study (see :func:`loyaltymodels.sample_size`)."""
    sectors = [s for s in weights if s is not None]
    if targets is None:
        targets = ["within"] + (["between"] if len(sectors) > 1 else [])
        targets += ["congruence"] if q.promise_pairs else []
        targets += ["nps"] if nps is not None else []
    core = dataclasses.replace(q, items=q.items[q.items.factor != ""].reset_index(drop=True))
    options = {"group": "sector", "group_equal": ("loadings", "intercepts")} if len(sectors) > 1 else {}
    draw = QuestionnaireDraw(core, {s: dict(w) for s, w in weights.items()} if sectors else weights[None], rho, loading)
    sem = Scenario(draw, model=q.to_syntax(), fit_options=options, n_label="n")
    unit = "per sector" if sectors else "respondents"
    min_sem = len(core.items) + 1
    out: list[Effect] = []
    for item in targets:
        spec = _spec(item)
        kind = spec["kind"]
        if kind == "within":
            if q.beliefs is None or q.experience is None:
                raise SpecError(
                    "targets: 'within' compares beliefs with experience; the questionnaire asks only one of them"
                )
            chosen: list[str | None] = [spec["sector"]] if "sector" in spec else [*sectors] or [None]
            for s in chosen:
                t = weights_differ(s, alpha, beliefs=q.beliefs, experience=q.experience, outcome=q.loyalty)
                where = f" in {s}" if s else ""
                question = f"Do {q.beliefs} and {q.experience} weigh differently on {q.loyalty}{where}?"
                out.append(Effect(t.name, "within", question, unit, sem, t, "sem", min_n=min_sem, group="sem"))
        elif kind == "between":
            if len(sectors) < 2:
                raise SpecError("targets: 'between' compares sectors; give sample_size at least two sectors")
            pairs = [(spec["driver"], tuple(spec["sectors"]))] if "driver" in spec else _widest(q, weights)
            for driver, (a, b) in pairs:
                t = sectors_differ(driver, (a, b), alpha, outcome=q.loyalty)
                question = f"Does {driver} weigh differently on {q.loyalty} in {a} and in {b}?"
                out.append(Effect(t.name, "between", question, "per sector", sem, t, "sem", min_n=min_sem, group="sem"))
        elif kind == "congruence":
            out.append(_congruence_effect(q, spec, congruence, rho=rho, loading=loading, alpha=alpha, unit=unit))
        elif kind == "nps":
            out.append(_nps_effect(spec.get("waves", nps), alpha, nps_method))
        else:
            what = spec.get("parameter") or spec.get("kind")
            raise SpecError(
                f"targets: {what!r} is not one of within, between, congruence, nps (a parameter such as "
                "'y ~ x' is planned on a lavaan model: sample_size('<syntax with values>', ...))"
            )
    return out


def _widest(q: Questionnaire, weights: Mapping[str | None, Mapping[str, float]]) -> list[tuple[str, tuple[str, str]]]:
    """For beliefs and for experience: the two sectors whose weights differ most (if they differ)."""
    pairs = []
    for driver in dict.fromkeys(d for d in (q.beliefs, q.experience) if d):
        values = {s: w[driver] for s, w in weights.items() if s is not None}
        hi, lo = max(values, key=values.__getitem__), min(values, key=values.__getitem__)
        if values[hi] != values[lo]:
            pairs.append((driver, (hi, lo)))
    if not pairs:
        raise SpecError("targets: 'between' needs weights that differ between sectors; give sectors={name: weights}")
    return pairs


def _congruence_effect(
    q: Questionnaire,
    spec: Mapping[str, Any],
    congruence: float | Mapping[str, float],
    *,
    rho: float,
    loading: float,
    alpha: float,
    unit: str,
) -> Effect:
    pairs = q.promise_pairs
    if pairs:
        beliefs, experience = tuple(pairs), tuple(pairs.values())
    elif q.beliefs and q.experience:
        beliefs, experience = q.factors[q.beliefs], q.factors[q.experience]
    else:
        raise SpecError("targets: 'congruence' needs promise (or beliefs) and experience questions")
    given = {k: v for k, v in spec.items() if k != "kind"} or congruence
    surface = (
        congruence_surface(**given)
        if isinstance(given, Mapping) and "b1" not in given
        else dict(given)
        if isinstance(given, Mapping)
        else congruence_surface(float(given))
    )
    lo, hi = (int(x) for x in q.scale.split("-"))
    draw = SurfaceDraw(beliefs, experience, q.factors[q.loyalty], tuple(surface.items()), rho, loading, (lo, hi))
    target = Target(
        "congruence",
        partial(_congruence_check, beliefs=beliefs, experience=experience, loyalty=q.factors[q.loyalty], alpha=alpha),
        {"kind": "congruence", "surface": surface, "alpha": alpha},
    )
    side = "the promise" if pairs else q.beliefs
    question = f"Is {q.loyalty} highest where experience meets {side} (a congruence effect)?"
    return Effect(
        "congruence",
        "congruence",
        question,
        unit,
        Scenario(draw, n_label="n"),
        target,
        "none",
        sides=1,
        factor=(1 - alpha) ** 3,  # p10, p11 and a3 must also hold: about 1 - alpha each when true
        min_n=30,
    )


def _nps_effect(waves: Sequence[Sequence[float]] | None, alpha: float, method: str) -> Effect:
    if waves is None:
        raise SpecError(
            "targets: 'nps' needs the NPS of the two waves as (detractors, passives, promoters) shares, "
            "e.g. nps=[(0.30, 0.35, 0.35), (0.25, 0.35, 0.40)]"
        )
    given = [tuple(float(x) for x in w) for w in waves]
    if len(given) != 2 or any(len(w) != 3 or min(w) < 0 or abs(sum(w) - 1) > 1e-6 for w in given):
        raise SpecError(f"nps={waves!r}: give two waves of (detractors, passives, promoters) shares, each adding to 1")
    shares = tuple((w[0], w[1], w[2]) for w in given)
    target = Target(
        "nps_change",
        partial(_nps_check, alpha=alpha, method=method),
        {"kind": "nps", "waves": shares, "method": method},
    )
    a, b = (100 * (w[2] - w[0]) for w in shares)
    question = f"Does the NPS move from {a:.0f} to {b:.0f} between the two waves?"
    return Effect(
        "nps_change", "nps", question, "per wave", Scenario(NpsDraw(shares), n_label="n"), target, "none", min_n=10
    )


def model_effects(
    model: str,
    targets: Sequence[str | Mapping[str, Any]] | None,
    *,
    alpha: float,
    fit_options: Mapping[str, Any],
    fit_model: str | None = None,
) -> list[Effect]:
    """The effects of a lavaan model with population values (``"y ~ x"``: that parameter differs
    from 0; a mapping adds ``standardized`` and ``group``). The model fitted is ``fit_model``, by
    default the population model with its numbers removed (every parameter free)."""
    from ..power.scenarios import model_power_scenario
    from ..spec.model import parse_model

    spec = parse_model(model)
    if targets is None:
        rows = spec.table[(spec.table.op == "~") & (spec.table.group <= 1)]
        targets = [f"{l} ~ {r}" for l, r in zip(rows.lhs, rows.rhs)]
        if not targets:
            raise SpecError("targets: the model has no regression; name the parameters to detect, e.g. ['f =~ x2']")
    scenario = dataclasses.replace(
        model_power_scenario(model, fit_model=fit_model or _free(model)), fit_options=dict(fit_options)
    )
    out = []
    for item in targets:
        s = _spec(item)
        if s["kind"] != "parameter":
            raise SpecError(
                f"targets: {s['kind']!r} plans for a questionnaire; a lavaan model plans parameters such as 'y ~ x'"
            )
        lhs, op, rhs = _split(s.get("parameter") or f"{s['lhs']} {s['op']} {s['rhs']}")
        t = parameter_nonzero(lhs, op, rhs, s.get("group", 1), alpha, standardized=bool(s.get("standardized", False)))
        question = f"Is {lhs} {op} {rhs} different from 0?"
        out.append(
            Effect(
                t.name,
                "parameter",
                question,
                "respondents",
                scenario,
                t,
                "sem",
                min_n=len(spec.observed) + 2,
                group="model",
            )
        )
    return out


def _split(text: str) -> tuple[str, str, str]:
    for op in ("=~", "~~", "~"):
        if op in text:
            lhs, rhs = text.split(op, 1)
            return lhs.strip(), op, rhs.strip()
    raise SpecError(f"targets: {text!r} is not a parameter such as 'y ~ x', 'f =~ x2' or 'x1 ~~ x2'")


def _free(model: str) -> str:
    """The model to fit: the population syntax with its numbers removed (``0.3*x`` -> ``x``)."""
    import re

    return re.sub(r"(?<![\w.])[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?\s*\*\s*", "", model)
