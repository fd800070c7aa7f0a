"""How many respondents per sector: the client's questions turned into a sample plan.

:func:`sample_size` answers each question twice. First the quick analytic answer: the effect and the
standard deviation one respondent contributes to its estimate (from one fit to a very large simulated
sample, or a closed form) give the power of the Wald test at any ``n`` and the ``n`` that reaches the
goal (:mod:`loyaltymodels.design.analytic`). Then the simulation that confirms it: surveys of sizes
around that answer are drawn from the same truth, analysed as the real data will be, and the share of
them that detect the effect is counted (:func:`loyaltymodels.power_analysis`, on Dask). The plan
gives both, the power curves, and the respondents per sector the study needs.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from .analytic import nps_sd1, wald_n, wald_power
from .effects import Effect, _spec, model_effects, questionnaire_effects
from .instrument import Questionnaire
from .plan import SamplePlan
from .responses import driver_weights

if TYPE_CHECKING:
    pass

__all__ = ["sample_size", "LARGE_N", "GRID"]

#: Respondents (per sector) of the one large simulated sample behind the analytic answer: its
#: standard errors, times sqrt(LARGE_N / n), are those of a survey of n.
LARGE_N = 20_000
#: Sample sizes simulated, as multiples of the analytic answer.
GRID = (0.6, 0.8, 1.0, 1.25, 1.6)


def _sector_weights(
    q: Questionnaire, sectors: Mapping[str, Any] | Sequence[str] | None, needed: bool = True
) -> tuple[Questionnaire, dict[str | None, dict[str, float]]]:
    """The questionnaire with the plan's sectors, and each sector's driver weights (``needed``:
    some question is answered by the model, which the weights drive; an NPS change is not)."""
    if sectors is None:
        if q.sectors and needed:
            raise SpecError(
                f"sectors: give the weights you expect in each of {list(q.sectors)}, e.g. "
                "sectors={'retail': (0.4, 0.3), ...} in the drivers' order " + str(list(q.drivers))
            )
        return q, {None: driver_weights(q, None)}
    if not isinstance(sectors, Mapping):
        from ..data.scenarios import SECTOR_PROFILES

        names = list(sectors)
        unknown = [s for s in names if s not in SECTOR_PROFILES]
        if unknown or len(q.drivers) != 2:
            raise SpecError(
                "sectors: give the weights you expect in each sector, e.g. {'retail': (0.4, 0.3), 'banking': "
                f"(0.2, 0.5)}} in the drivers' order {list(q.drivers)} (the package's sector profiles "
                f"{list(SECTOR_PROFILES)} serve two-driver questionnaires only)"
            )
        sectors = {s: SECTOR_PROFILES[s] for s in names}
    weights: dict[str | None, dict[str, float]] = {str(s): driver_weights(q, w) for s, w in sectors.items()}
    return dataclasses.replace(q, sectors=tuple(str(s) for s in weights)), weights


def sample_size(
    design: Questionnaire | str,
    targets: Sequence[str | Mapping[str, Any]] | None = None,
    sectors: Mapping[str, Any] | Sequence[str] | None = None,
    power: float = 0.8,
    *,
    alpha: float = 0.05,
    rho: float = 0.4,
    loading: float = 0.75,
    congruence: float | Mapping[str, float] = 0.15,
    nps: Sequence[Sequence[float]] | None = None,
    nps_method: str = "adjusted_wald",
    simulate: bool = True,
    reps: int = 200,
    grid: Sequence[float] = GRID,
    seed: int | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = True,
    max_n: int = 20_000,
    large_n: int = LARGE_N,
    fit_model: str | None = None,
) -> SamplePlan:
    """Respondents per sector needed to detect the client's effects, analytically then by simulation.

    Parameters
    ----------
    design : Questionnaire or str
        The study's questionnaire (:func:`questionnaire`), whose model is simulated and fitted as the
        real answers will be; or a lavaan model whose numbers are population values (``"y ~ 0.25*x"``),
        for ``parameter`` targets.
    targets : sequence of str or mapping, optional
        The questions: ``"within"`` (beliefs versus experience, in each sector), ``"between"`` (each
        driver's weight in the two sectors that differ most), ``"congruence"`` (is loyalty highest
        where experience meets the promise?), ``"nps"`` (an NPS change between two waves), or for a
        model ``"y ~ x"`` (that parameter is not 0). A mapping chooses: ``{"kind": "within", "sector":
        "retail"}``, ``{"kind": "between", "driver": "Experience", "sectors": ["retail", "telecom"]}``,
        ``{"kind": "congruence", "mismatch": 0.2}``, ``{"kind": "parameter", "parameter": "y ~ x",
        "standardized": True}``. Default: within, between (with sectors), congruence (with promise
        pairs), nps (with ``nps``); for a model, its regressions.
    sectors : mapping sector -> weights, optional
        The standardized weights of the drivers on loyalty you expect in each sector (a tuple in the
        questionnaire's ``drivers`` order, or ``{factor: weight}``); ``n`` is then per sector. A list
        of the package's profile names (``"retail"``, ``"banking"``...) serves two-driver
        questionnaires.
    power : float
        The power to reach (0.8).
    alpha : float
        Level of the tests (two-sided; the congruence conditions at intervals of level ``1 - alpha``).
    rho, loading : float
        Correlation of the drivers; standardized loading of every question.
    congruence : float or mapping
        The congruence truth: the mismatch penalty of
        :func:`~loyaltymodels.design.responses.congruence_surface`, or its arguments, or ``b1..b5``.
    nps : two (detractors, passives, promoters) triples, optional
        The NPS shares expected in the two waves; ``n`` is then per wave.
    nps_method : str
        The :func:`~loyaltymodels.nps_difference` test the analysis will use.
    simulate : bool
        Confirm the analytic answers by simulation (False: the analytic answer only, in seconds).
    reps : int
        Simulated surveys per sample size (the Monte Carlo interval of a power near 0.8 is about
        +-0.055 at 200).
    grid : sequence of float
        Sizes simulated, as multiples of each analytic answer.
    seed : int, optional
        Same seed, same plan.
    client, n_workers, progress
        Dask client (default: a local cluster, one worker per core), its size, progress bars.
    max_n : int
        Largest sample simulated.
    large_n : int
        Size (per sector) of the large sample behind the analytic answers.
    fit_model : str, optional
        For a model ``design``: the model fitted to each simulated survey (default: ``design`` with
        its numbers removed).

    Returns
    -------
    SamplePlan
        ``table`` (one row per question), ``curves``, ``respondents``, ``plot()``, ``to_markdown()``.

    Notes
    -----
    The congruence question is answered, for planning, by the polynomial regression of Edwards &
    Parry (1993) on the composite (mean) scores of the promise, experience and loyalty questions,
    fitted by OLS, with the conditions of Humberg, Nestler & Back (2019) read from its intervals
    (:mod:`loyaltymodels.design.surface`); the analytic answer is the power of ``a4 < 0`` times
    ``(1 - alpha)^3`` for the three conditions that must not be rejected.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> plan = lm.sample_size("y ~ 0.25*x", simulate=False)
    >>> plan.table[["target", "effect", "sd1", "n_analytic"]].round(3)  # doctest: +SKIP
      target  effect    sd1  n_analytic
    0    y~x    0.25  1.000       126.0
    >>> q = lm.questionnaire(items_per_construct=3)
    >>> plan = lm.sample_size(q, sectors={"retail": (0.3, 0.1, 0.3), "telecom": (0.1, 0.1, 0.5)},
    ...                       nps=[(0.30, 0.35, 0.35), (0.25, 0.35, 0.40)], seed=1)  # doctest: +SKIP
    >>> print(plan.to_markdown())  # doctest: +SKIP
    >>> plan.plot()  # doctest: +SKIP
    """
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise SpecError(f"power={power} and alpha={alpha} must both lie strictly between 0 and 1")
    if int(reps) < 1:
        raise SpecError(f"reps={reps}: simulate at least one survey per size")
    if isinstance(design, Questionnaire):
        nps_only = targets is not None and all(_spec(t)["kind"] == "nps" for t in targets)
        q, weights = _sector_weights(design, sectors, needed=not nps_only)
        effects = questionnaire_effects(
            q,
            targets,
            weights,
            alpha=alpha,
            rho=rho,
            loading=loading,
            congruence=congruence,
            nps=nps,
            nps_method=nps_method,
        )
        names = [s for s in weights if s is not None]
    elif isinstance(design, str):
        effects, names = model_effects(design, targets, alpha=alpha, fit_options={}, fit_model=fit_model), []
    else:
        raise SpecError(f"design must be a Questionnaire or lavaan syntax, not {type(design).__name__}")
    root = np.random.SeedSequence(seed)
    rows = _analytic(effects, power, alpha, large_n, root)
    curves = pd.DataFrame(columns=["target", "n", "power", "power_lower", "power_upper", "reps", "n_failed"])
    if simulate:
        curves = _simulate(effects, rows, grid, reps, max_n, root, client, n_workers, progress)
    table = _table(effects, rows, curves, power, alpha)
    if len(curves):
        by = table.set_index("target")
        curves = curves.assign(
            power_analytic=[
                float(
                    wald_power(
                        by.at[t, "effect"],
                        by.at[t, "sd1"],
                        n,
                        alpha,
                        sides=by.at[t, "sides"],
                        factor=by.at[t, "factor"],
                    )
                )
                for t, n in zip(curves.target, curves.n)
            ]
        )
    settings = dict(
        power=power, alpha=alpha, reps=int(reps), seed=root.entropy, grid=list(grid), large_n=large_n, sectors=names
    )
    return SamplePlan(table, curves.reset_index(drop=True), _respondents(table, names), settings)


def _analytic(
    effects: list[Effect], power: float, alpha: float, large_n: int, root: np.random.SeedSequence
) -> dict[str, dict[str, float]]:
    """Effect and sd1 of every question, from a closed form or one large simulated sample per group."""
    out: dict[str, dict[str, float]] = {}
    done: dict[str, tuple[Any, Any, int]] = {}
    for k, e in enumerate(effects):
        if e.kind == "nps":
            waves = e.target.spec["waves"]
            effect = (waves[1][2] - waves[1][0]) - (waves[0][2] - waves[0][0])
            out[e.name] = {"effect": 100 * effect, "sd1": 100 * nps_sd1(*waves)}
            continue
        if e.simulation not in done:
            rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(10**6 + k,)))
            size = large_n * (5 if e.estimator == "none" else 1)  # OLS costs nothing: a larger draw
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data, truth = e.scenario.generate(size, rng)
                if e.estimator == "none":
                    fit: Any = data
                else:
                    from ..sem.fit import fit_sem

                    fit = fit_sem(e.scenario.fitted_model(truth), data, **dict(e.scenario.fit_options))
            done[e.simulation] = (fit, truth, size)
        fit, truth, size = done[e.simulation]
        result = e.target.check(fit, truth, e.estimator)
        truth_value = result["truth"]
        # the effect the test sees: the population value, except for composite scores, whose
        # attenuated value the large sample gives
        effect = result["estimate"] if e.kind == "congruence" or not np.isfinite(truth_value) else truth_value
        out[e.name] = {
            "effect": float(effect),
            "sd1": float(result["se"]) * math.sqrt(size),
            "truth": float(truth_value),
        }
    for e in effects:
        r = out[e.name]
        r["n_analytic"] = max(
            float(e.min_n), wald_n(r["effect"], r["sd1"], power, alpha, sides=e.sides, factor=e.factor)
        )
        r["power_analytic"] = (
            float(wald_power(r["effect"], r["sd1"], r["n_analytic"], alpha, sides=e.sides, factor=e.factor))
            if np.isfinite(r["n_analytic"])
            else math.nan  # nothing to detect: the effect is 0
        )
    return out


def _grid_points(n: float, grid: Sequence[float], lo: int, hi: int) -> list[int]:
    if not np.isfinite(n):
        return []
    points = []
    for f in grid:
        x = n * float(f)
        x = round(x, -1) if x >= 100 else round(x)
        points.append(int(min(max(x, lo), hi)))
    return sorted(set(points))


def _thin(sizes: Sequence[int], step: float = 1.1) -> list[int]:
    """Sizes at least 10% apart (the questions of one simulation share its sizes: close ones add
    replications, not information)."""
    kept: list[int] = []
    for n in sorted(set(sizes)):
        if not kept or n >= step * kept[-1]:
            kept.append(n)
    return kept


def _simulate(
    effects: list[Effect],
    rows: Mapping[str, Mapping[str, float]],
    grid: Sequence[float],
    reps: int,
    max_n: int,
    root: np.random.SeedSequence,
    client: Any,
    n_workers: int | None,
    progress: bool,
) -> pd.DataFrame:
    from ..power.analysis import power_analysis
    from ..power.batch import dask_client

    groups: dict[str, list[Effect]] = {}
    for e in effects:
        groups.setdefault(e.simulation, []).append(e)
    parts = []
    with dask_client(client, n_workers) as c:
        for k, members in enumerate(groups.values()):
            sizes = _thin([x for e in members for x in _grid_points(rows[e.name]["n_analytic"], grid, e.min_n, max_n)])
            if not sizes:
                continue
            seed = int(np.random.SeedSequence(root.entropy, spawn_key=(k,)).generate_state(1)[0])
            res = power_analysis(
                members[0].scenario,
                n=sizes,
                reps=int(reps),
                estimator=members[0].estimator,
                target=[e.target for e in members],
                seed=seed,
                client=c,
                progress=progress,
            )
            tab = res[res.kind == "target"]
            parts.append(
                pd.DataFrame(
                    {
                        "target": tab.quantity,
                        "n": tab[members[0].scenario.n_label].astype(int),
                        "power": tab.power,
                        "power_lower": tab.power_lower,
                        "power_upper": tab.power_upper,
                        "reps": tab.reps,
                        "n_failed": tab.n_failed,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _crossing(curve: pd.DataFrame, goal: float) -> float:
    """Where the simulated curve reaches the goal (linear between the sizes simulated); NaN above."""
    c = curve.sort_values("n")
    n, p = c.n.to_numpy(dtype=float), c.power.to_numpy(dtype=float)
    above = np.flatnonzero(p >= goal)
    if not len(above):
        return math.nan
    k = int(above[0])
    if k == 0:
        return float(n[0])
    return float(math.ceil(n[k - 1] + (goal - p[k - 1]) * (n[k] - n[k - 1]) / (p[k] - p[k - 1])))


def _table(
    effects: list[Effect],
    rows: Mapping[str, Mapping[str, float]],
    curves: pd.DataFrame,
    power: float,
    alpha: float,
) -> pd.DataFrame:
    out = []
    for e in effects:
        r = rows[e.name]
        curve = curves[curves.target == e.name] if len(curves) else curves
        at = pd.Series(dtype=float)
        if len(curve):
            at = curve.iloc[int(np.argmin(np.abs(curve.n.to_numpy(dtype=float) - r["n_analytic"])))]
        sim_n = _crossing(curve, power) if len(curve) else math.nan
        candidates = [x for x in (r["n_analytic"], sim_n) if np.isfinite(x)]
        n = float(math.ceil(max(candidates) / 10) * 10) if candidates else math.inf
        p_at = (
            float(wald_power(r["effect"], r["sd1"], at["n"], alpha, sides=e.sides, factor=e.factor))
            if len(at)
            else math.nan
        )
        out.append(
            dict(
                target=e.name,
                question=e.question,
                kind=e.kind,
                unit=e.unit,
                effect=r["effect"],
                sd1=r["sd1"],
                n_analytic=r["n_analytic"],
                power_analytic=r["power_analytic"],
                n_simulated=sim_n,
                power_simulated=float(at["power"]) if len(at) else math.nan,
                power_lower=float(at["power_lower"]) if len(at) else math.nan,
                power_upper=float(at["power_upper"]) if len(at) else math.nan,
                reps=int(at["reps"]) if len(at) else 0,
                agree=bool(len(at) and at["power_lower"] <= p_at <= at["power_upper"]),
                n=n,
                sides=e.sides,
                factor=e.factor,
            )
        )
    table = pd.DataFrame(out)
    table.attrs["ci"] = 0.95  # the Wilson intervals of the simulated power
    return table


def _respondents(table: pd.DataFrame, sectors: list[str]) -> pd.DataFrame:
    rows = []
    for unit, g in table.groupby("unit", sort=False):
        finite = g[np.isfinite(g.n)]
        n = float(finite.n.max()) if len(finite) else math.inf
        setting = ", ".join(finite[finite.n == n].target) if len(finite) else "no effect to detect"
        rows.append(dict(unit=unit, n=n, targets=setting))
        if unit == "per sector" and sectors:
            rows.append(dict(unit=f"total ({len(sectors)} sectors)", n=n * len(sectors), targets=setting))
    return pd.DataFrame(rows, columns=["unit", "n", "targets"])
