"""Answers to a questionnaire simulated from its model, with the truth: for planning and rehearsal.

Two generators, both seeded:

- :func:`simulate_responses`: the questionnaire's own factor model (one factor per force, every
  question loading ``loading`` on its factor, drivers correlated ``rho``, the loyalty factor
  regressed on the drivers with standardized weights that may differ by sector), drawn with
  :func:`loyaltymodels.simulate` and cut into each question's answer codes. The indices' questions
  and the behaviours are drawn as further indicators of the factor they reflect (``force`` in the
  bank), so returned-data checks, index computations and the whole analysis can be rehearsed.
- :func:`surface_responses`: loyalty as a quadratic response surface of the beliefs side (the promise
  questions when the questionnaire pairs them) and experience -- the truth behind the congruence
  question of :func:`loyaltymodels.sample_size`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import SpecError

if TYPE_CHECKING:
    from .instrument import Questionnaire

__all__ = [
    "population_model",
    "simulate_responses",
    "driver_weights",
    "surface_responses",
    "surface_variance",
    "congruence_surface",
    "to_answers",
]

#: How each behaviour follows from its standardized latent propensity z (a further indicator of the
#: factor it reflects): yes/no answers are 1 when z passes the base rate's quantile, counts Poisson
#: with log-mean ``log(mean) + slope z``, percentages ``50 + 25 z``, years log-normal.
BEHAVIOUR_TRUTH: dict[str, dict[str, float]] = {
    "bought_12m": {"loading": 0.6, "base_rate": 0.75},
    "purchases_12m": {"loading": 0.5, "mean": 4.0, "slope": 0.5},
    "wallet_share": {"loading": 0.6},
    "switched_12m": {"loading": 0.5, "base_rate": 0.2},
    "tenure_years": {"loading": 0.3, "mean": 5.0, "slope": 0.6},
}
#: Loading of the indices' questions on the factor they reflect.
INDEX_LOADING = 0.8
#: Where answers sit on a rating scale: the mean at 60% of the range (satisfaction surveys skew
#: high), one standard deviation a fifth of the range.
CENTRE, SPREAD = 0.6, 0.2


def driver_weights(q: Questionnaire, weights: Mapping[str, float] | Sequence[float] | None) -> dict[str, float]:
    """Standardized weights of the questionnaire's drivers: a mapping factor -> weight, a sequence in
    the drivers' order, or None (0.3 each, 0.2 each with three drivers or more)."""
    drivers = list(q.drivers)
    if weights is None:
        return {d: 0.3 if len(drivers) <= 2 else 0.2 for d in drivers}
    if isinstance(weights, Mapping):
        unknown = [k for k in weights if k not in drivers]
        if unknown:
            raise SpecError(f"weights: {unknown[0]!r} is not a driver of the questionnaire ({', '.join(drivers)})")
        return {d: float(weights.get(d, 0.0)) for d in drivers}
    values = [float(w) for w in weights]
    if len(values) != len(drivers):
        raise SpecError(f"weights: {len(values)} numbers for {len(drivers)} drivers ({', '.join(drivers)})")
    return dict(zip(drivers, values))


def _check_explained(weights: Mapping[str, float], rho: float, where: str) -> None:
    w = np.array(list(weights.values()))
    r = np.full((len(w), len(w)), rho)
    np.fill_diagonal(r, 1.0)
    explained = float(w @ r @ w)
    if not -1 < rho < 1:
        raise SpecError(f"rho={rho}: the drivers' correlation must lie strictly between -1 and 1")
    if explained >= 1:
        raise SpecError(
            f"{where}weights {dict(weights)} with rho={rho} explain {explained:.2f} >= 1 of loyalty's "
            "variance; lower them"
        )


def population_model(
    q: Questionnaire,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    rho: float = 0.4,
    loading: float = 0.75,
    extra: bool = True,
    gap: float = 0.0,
) -> str:
    """lavaan syntax with population values (for :func:`loyaltymodels.simulate`, ``standardized=True``):
    the questionnaire's model, plus (``extra``) the indices' questions and behaviours as indicators,
    and (``gap``) a mean of the experience factor of the promise pairs that many standard deviations
    above the promise factor's mean of 0: the promise gap.

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> q = questionnaire(["image", "quality", "intention"], indices=["nps"], outcomes=[], items_per_construct=2)
    >>> print(population_model(q, {"Beliefs": 0.4, "Experience": 0.3}))
    Beliefs =~ 0.75*img1 + 0.75*img2
    Experience =~ 0.75*qual1 + 0.75*qual2
    Loyalty =~ 0.75*itn1 + 0.75*itn2 + 0.8*nps
    Loyalty ~ 0.4*Beliefs + 0.3*Experience
    Beliefs ~~ 0.4*Experience
    """
    if not 0 < loading < 1:
        raise SpecError(f"loading={loading}: a standardized loading lies strictly between 0 and 1")
    w = driver_weights(q, weights)
    _check_explained(w, rho, "")
    extras: dict[str, list[str]] = {f: [] for f in q.factors}
    if extra:
        for r in q.items[q.items.factor == ""].itertuples():
            home = _home(q, r.force)
            lam = BEHAVIOUR_TRUTH[r.name]["loading"] if r.section == "behaviour" else INDEX_LOADING
            extras[home].append(f"{_num(lam * r.direction)}*{r.name}")
    lines = [
        f"{f} =~ " + " + ".join([f"{_num(loading)}*{n}" for n in names] + extras[f]) for f, names in q.factors.items()
    ]
    lines += [f"{y} ~ " + " + ".join(f"{_num(w[x])}*{x}" for x in xs) for y, xs in q.paths.items()]
    drivers = list(q.drivers)
    lines += [f"{a} ~~ {_num(rho)}*{b}" for i, a in enumerate(drivers) for b in drivers[i + 1 :]]
    if gap:
        pairs = q.promise_pairs
        if not pairs:
            raise SpecError("gap= needs promise / experience pairs: a gap is measured on the same attributes")
        lines.append(f"{q.items.set_index('name').at[next(iter(pairs.values())), 'factor']} ~ {_num(gap)}*1")
    return "\n".join(lines)


def _num(x: float) -> str:
    return repr(round(float(x), 10)).removesuffix(".0")


def _home(q: Questionnaire, force: str) -> str:
    """The factor an index or behaviour question reflects (its force's factor, else loyalty's)."""
    if force == "Experience" and q.experience is not None:
        return q.experience
    if force == "Beliefs" and q.beliefs is not None:
        return q.beliefs
    return q.loyalty


def _sector_weights(
    q: Questionnaire, weights: Mapping[str, Any] | Sequence[float] | None
) -> dict[str | None, dict[str, float]]:
    sectors = list(q.sectors)
    if isinstance(weights, Mapping) and sectors and set(weights) <= set(sectors) and weights:
        missing = [s for s in sectors if s not in weights]
        if missing:
            raise SpecError(f"weights: no weights for sector {missing[0]!r} (give every sector of the questionnaire)")
        return {s: driver_weights(q, weights[s]) for s in sectors}
    common = driver_weights(q, weights)
    return {s: common for s in sectors} if sectors else {None: common}


def simulate_responses(
    q: Questionnaire,
    n: int | Mapping[str, int] = 300,
    *,
    weights: Mapping[str, Any] | Sequence[float] | None = None,
    rho: float = 0.4,
    loading: float = 0.75,
    gap: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Answers to every question of ``q``, drawn from its model, and the truth.

    Parameters
    ----------
    q : Questionnaire
    n : int or mapping sector -> int
        Respondents (per sector when the questionnaire has sectors).
    weights : mapping or sequence, optional
        Standardized weights of the drivers on loyalty: ``{"Beliefs": 0.4, "Experience": 0.3}``, a
        sequence in the drivers' order, or per sector ``{"retail": {...}, "banking": (0.2, 0.5)}``.
        Default: 0.3 each (0.2 each with three drivers).
    rho : float
        Correlation of the drivers.
    loading : float
        Standardized loading of every construct question.
    gap : float
        With promise pairs: the experience factor's mean minus the promise factor's, in their
        standard deviations (0: experience meets the promise on average).
    seed : int or numpy Generator

    Returns
    -------
    data : DataFrame
        The template's columns (``respondent_id``, ``sector``, ``wave``, the questions), answers as
        codes of each question's scale.
    truth : DataFrame
        :func:`loyaltymodels.simulate`'s parameter tables of the sectors stacked (``group`` is the
        sector's number, ``sector`` its name): ``value`` and ``std_all`` of every parameter.
        ``attrs["model"]`` is ``q.to_syntax()``.

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> q = questionnaire(sectors=["retail", "banking"], items_per_construct=3)
    >>> data, truth = q.simulate(200, weights={"retail": (0.2, 0.2, 0.3), "banking": (0.1, 0.1, 0.5)}, seed=1)
    >>> data.shape, data.sector.value_counts().to_dict()
    ((400, 31), {'retail': 200, 'banking': 200})
    >>> truth.query("op == '~' and rhs == 'Experience'").set_index("sector")["std_all"].round(3).to_dict()
    {'retail': 0.3, 'banking': 0.5}
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    per_sector = _sector_weights(q, weights)
    frames, truths = [], []
    for k, (sector, w) in enumerate(per_sector.items(), start=1):
        _check_explained(w, rho, f"sector {sector!r}: " if sector else "")
        size = int(n[str(sector)]) if isinstance(n, Mapping) else int(n)
        if size < 1:
            raise SpecError(f"n={size}: give at least one respondent per sector")
        columns, mu, chol, truth = _population(population_model(q, w, rho=rho, loading=loading, gap=gap))
        # the draw of loyaltymodels.simulate, from its population computed once per process
        latent = pd.DataFrame(mu + rng.standard_normal((size, len(mu))) @ chol.T, columns=columns)
        frame = to_answers(q, latent, rng)
        if sector is not None:
            frame.insert(0, "sector", sector)
        frames.append(frame)
        truths.append(truth.assign(group=k, sector=sector))
    data = pd.concat(frames, ignore_index=True)
    data.insert(0, "respondent_id", np.arange(1, len(data) + 1))
    if q.waves:
        data.insert(2 if q.sectors else 1, "wave", rng.integers(1, q.waves + 1, len(data)))
    truth = pd.concat(truths, ignore_index=True)
    truth.attrs.update(model=q.to_syntax(), rho=rho, loading=loading, gap=gap)
    return data[q.columns], truth


@functools.lru_cache(maxsize=64)
def _population(model: str) -> tuple[list[str], np.ndarray, np.ndarray, pd.DataFrame]:
    """The population of :func:`loyaltymodels.simulate` (``standardized=True``) for ``model``:
    observed columns, mean vector, Cholesky factor of the covariance matrix, truth table.

    Computed once per process and model: a planning simulation draws thousands of samples from one
    population, and parsing the model and solving the residual variances each time cost more than
    the draw itself.
    """
    from ..algebra.matrices import implied_moments, ram_layout
    from ..data.synthetic import simulate
    from ..spec.model import as_spec

    _, truth = simulate(model, 2, seed=0, standardized=True)
    spec = as_spec(model, std_lv=True, auto_fix_first=False, fixed_x=False)  # as simulate parses it
    layout = ram_layout(spec)
    sigma, mu = implied_moments(layout, truth["value"].to_numpy(dtype=float)[: len(spec.table)], 1)
    return list(layout.observed), mu, np.linalg.cholesky(sigma), truth


def to_answers(q: Questionnaire, latent: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Continuous standardized answers -> each question's codes (ratings, yes/no, counts...)."""
    out = {}
    for r in q.items.itertuples():
        z = latent[r.name].to_numpy(dtype=float)  # standardized in the population
        if r.kind == "rating":
            lo, hi = float(r.lo), float(r.hi)
            centre = CENTRE if r.direction > 0 else 1 - CENTRE  # the favourable end is low on the CLI
            out[r.name] = np.clip(np.floor(lo + (hi - lo) * (centre + SPREAD * z) + 0.5), lo, hi)
        elif r.kind == "yes_no":
            base = BEHAVIOUR_TRUTH.get(r.name, {}).get("base_rate", 0.5)
            out[r.name] = (z > stats.norm.ppf(1 - base)).astype(float)
        elif r.kind == "count":
            spec = BEHAVIOUR_TRUTH.get(r.name, {"mean": 3.0, "slope": 0.5})
            out[r.name] = rng.poisson(np.exp(math.log(spec["mean"]) + spec["slope"] * z)).astype(float)
        elif r.kind == "percent":
            out[r.name] = np.clip(np.round(50 + 25 * z), 0, 100)
        else:  # years
            spec = BEHAVIOUR_TRUTH.get(r.name, {"mean": 5.0, "slope": 0.6})
            out[r.name] = np.round(np.exp(math.log(spec["mean"]) + spec["slope"] * z), 1)
    return pd.DataFrame(out, index=latent.index)


# -- the congruence truth --------------------------------------------------------------------------
def congruence_surface(mismatch: float = 0.15, level: float = 0.25, curvature: float = 0.05) -> dict[str, float]:
    """Coefficients ``b1..b5`` of a congruence surface in standardized beliefs (x) and experience (y):
    ``level (x + y) - mismatch (x - y)^2 - curvature (x + y)^2``.

    Loyalty rises along the line of congruence (``level``, with diminishing returns ``curvature``)
    and falls with the squared gap between promise and experience (``mismatch``): the first
    principal axis is the line of congruence (p10 = 0, p11 = 1), a3 = 0 and a4 = -4 mismatch < 0,
    the conditions of Humberg, Nestler & Back (2019).

    Examples
    --------
    >>> congruence_surface(0.15)
    {'b1': 0.25, 'b2': 0.25, 'b3': -0.2, 'b4': 0.2, 'b5': -0.2}
    """
    return {
        "b1": level,
        "b2": level,
        "b3": round(-mismatch - curvature, 12),
        "b4": round(2 * mismatch - 2 * curvature, 12),
        "b5": round(-mismatch - curvature, 12),
    }


def surface_variance(b: Mapping[str, float], rho: float) -> float:
    """Variance of ``b1 x + b2 y + b3 x^2 + b4 x y + b5 y^2`` for standardized bivariate-normal (x, y)
    with correlation ``rho``: the linear part's variance plus ``2 tr((A S)^2)`` (odd moments vanish).

    Examples
    --------
    >>> round(surface_variance({"b1": 0, "b2": 0, "b3": 1, "b4": 0, "b5": 0}, 0.3), 6)  # Var(x^2) = 2
    2.0
    """
    S = np.array([[1.0, rho], [rho, 1.0]])
    A = np.array([[b["b3"], b["b4"] / 2], [b["b4"] / 2, b["b5"]]])
    lin = np.array([b["b1"], b["b2"]])
    AS = A @ S
    return float(lin @ S @ lin + 2 * np.trace(AS @ AS))


def surface_responses(
    n: int,
    rng: np.random.Generator,
    *,
    beliefs: Sequence[str],
    experience: Sequence[str],
    loyalty: Sequence[str],
    surface: Mapping[str, float],
    rho: float = 0.4,
    loading: float = 0.75,
    scale: tuple[int, int] = (1, 7),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings of the beliefs-side, experience and loyalty questions when loyalty is the quadratic
    surface ``surface`` (:func:`congruence_surface`) of the two standardized drivers, plus noise so
    that Var(loyalty) = 1. Returns ``(data, truth)``; ``truth`` holds ``b1..b5`` and ``rho``.

    Examples
    --------
    >>> data, truth = surface_responses(500, np.random.default_rng(1), beliefs=["p1", "p2"],
    ...     experience=["e1", "e2"], loyalty=["l1", "l2"], surface=congruence_surface(0.15))
    >>> data.shape, sorted(set(data.p1.unique()) - set(range(1, 8)))
    ((500, 6), [])
    """
    explained = surface_variance(surface, rho)
    if explained >= 1:
        raise SpecError(f"the surface {dict(surface)} explains {explained:.2f} >= 1 of loyalty's variance; lower it")
    be = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=int(n), method="cholesky")
    x, y = be[:, 0], be[:, 1]
    b = surface
    mean = b["b3"] + b["b4"] * rho + b["b5"]  # E[b3 x^2 + b4 x y + b5 y^2]
    z = (
        b["b1"] * x
        + b["b2"] * y
        + b["b3"] * x**2
        + b["b4"] * x * y
        + b["b5"] * y**2
        - mean
        + rng.normal(0.0, math.sqrt(1 - explained), int(n))
    )
    lo, hi = scale
    data = {}
    for names, factor in ((beliefs, x), (experience, y), (loyalty, z)):
        for name in names:
            item = loading * factor + rng.normal(0.0, math.sqrt(1 - loading**2), int(n))
            data[name] = np.clip(np.floor(lo + (hi - lo) * (CENTRE + SPREAD * item) + 0.5), lo, hi)
    truth = pd.DataFrame({"parameter": [*b, "rho"], "value": [*b.values(), rho]})
    return pd.DataFrame(data), truth
