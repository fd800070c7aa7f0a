"""``fit_retention``: the survey's latents joined to what customers did after it, sampled by nutpie."""

from __future__ import annotations

import json
from collections.abc import Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..defaults import ModelCache, resolve_seed
from .design import RetentionDesign, make_design
from .model import build_retention_graph, data_values, structure_key
from .sbg import SBG_VARIABLES

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

    from ..spec.model import ModelSpec

#: Variables whose convergence is checked (the latent scores are many and reported by ESS only in aggregate).
CHECKED = (
    "hazard",
    "tenure_change",
    "baseline",
    "loyalty_path",
    "conversion",
    "conversion_base",
    "purchase_rate",
    "purchase_dropout",
    *SBG_VARIABLES,
)
#: Compiled retention graphs of this process, by structure (a new data set of the same structure
#: swaps its values in: no recompile).
_CACHE: ModelCache[tuple[pm.Model, Any]] = ModelCache(maxsize=4)
#: Why the hazard is not on the package's compiled density (recorded in ``attrs["density_reason"]``).
DENSITY_REASON = (
    "the package's compiled density covers the SEM and loyalty forms, not the retention model's "
    "person-period hazard, conversion and BG/NBD likelihoods: the PyMC graph is compiled by nutpie "
    "(numba), once per structure in a process"
)


def build_retention_model(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    time: str | None = "time",
    event: str | None = "event",
    sector: str | None = None,
    tenure: str | None = None,
    tenure_unit: float = 12.0,
    acquisition: str | None = None,
    purchases: Sequence[str] | None = None,
    churn: str = "hazard",
) -> pm.Model:
    """The PyMC model that :func:`fit_retention` samples, to inspect or extend.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(30, sectors=2, follow_up=6, seed=1)
    >>> m = lm.build_retention_model(truth.attrs["model"], data, sector="sector", tenure="tenure")
    >>> sorted(m.coords["period"])[:3], m.coords["factor"]
    ([1, 2, 3], ('Beliefs', 'Experience', 'Loyalty'))
    """
    design = make_design(
        model,
        data,
        time=time,
        event=event,
        sector=sector,
        tenure=tenure,
        tenure_unit=tenure_unit,
        acquisition=acquisition,
        purchases=purchases,
        churn=churn,
    )
    return build_retention_graph(design)


def fit_retention(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    time: str | None = "time",
    event: str | None = "event",
    sector: str | None = None,
    tenure: str | None = None,
    tenure_unit: float = 12.0,
    acquisition: str | None = None,
    purchases: Sequence[str] | None = None,
    churn: str = "hazard",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    cores: int | None = None,
    progressbar: bool = False,
    target_accept: float = 0.9,
    check: bool = True,
) -> xr.DataTree:
    """Retention (and acquisition, repeat purchase) after a survey, driven by its latent constructs.

    One joint Bayesian model (plain PyMC, sampled by nutpie; see :mod:`loyaltymodels.retention.model`):
    the lavaan measurement model of the drivers (and loyalty, regressed on them), a discrete-time
    proportional-hazards model of leaving with a baseline hazard by period, sector effects partially
    pooled, each latent's effect changing with tenure, and direct paths from the drivers beside loyalty's.

    Parameters
    ----------
    model : lavaan syntax or ModelSpec
        ``Factor =~ items`` lines for the drivers (and loyalty), ``Loyalty ~ drivers`` if it has one.
    data : DataFrame
        One row per respondent.
    time, event : str
        Columns: periods observed after the survey (1, 2, ...) and 1 if the customer left in the last
        of them (0 = still a customer when observation stopped, censored). ``time=None`` fits repeat
        purchase only.
    sector : str, optional
        Column of sectors: effects and baselines by sector, effects partially pooled.
    tenure : str, optional
        Column of periods as a customer at the survey. Effects change linearly with tenure in each
        period (default: with periods since the survey); ``tenure_change`` is per ``tenure_unit`` periods,
        and ``hazard`` the effect at the median tenure (``attrs["tenure_ref"]``).
    acquisition : str, optional
        Column that is 0/1 for prospects (did they become customers) and blank for customers:
        conversion is then modelled on the drivers the prospects answered.
    purchases : three column names, optional
        ``(frequency, recency, T)`` of repeat purchases over a window: pymc-marketing's BG/NBD with the
        latents shifting the purchase rate and the drop-out.
    churn : {"hazard", "sbg"}
        How leaving is modelled: ``"hazard"`` (default), the discrete-time hazard above; ``"sbg"``,
        pymc-marketing's shifted-beta-geometric for contractual churn (heterogeneous renewal
        probabilities, no baseline by period, effects that do not change with tenure; customers
        surveyed ``tenure`` periods after joining are conditioned on having stayed that long; see
        :mod:`loyaltymodels.retention.sbg`). Its posterior holds ``sbg_alpha[sector]``,
        ``sbg_beta[sector]``, ``sbg_alpha_coef[factor_]``, ``sbg_beta_coef[factor_]``.
    draws, tune, chains, seed, cores, progressbar, target_accept
        nutpie's settings; the same seed gives the same draws.
    check : bool
        Check convergence (R-hat, ESS, divergences) and warn loudly (``ConvergenceWarning``).

    Returns
    -------
    DataTree
        ``posterior`` (``hazard[sector, factor_]``, ``tenure_change``, ``baseline[period]``,
        ``loyalty_path``, ``conversion``, ``purchase_rate`` ... and ``scores[respondent, factor]``),
        ``sample_stats``, ``observed_data``; ``attrs["retention"]`` holds the design (JSON), read by
        :func:`retention_effects`, :func:`survival_curves` and :func:`expected_lifetime`;
        ``attrs["density"]`` is ``"pytensor"`` (why: ``attrs["density_reason"]``), with
        ``compile_seconds`` (0 when a data set of the same structure was fitted before in this
        process: the compiled graph is reused), ``sampling_seconds`` and ``total_seconds``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(60, sectors=2, follow_up=6, seed=2)
    >>> post = lm.fit_retention(truth.attrs["model"], data, sector="sector", tenure="tenure",
    ...                         draws=100, tune=150, chains=2, seed=1, check=False)
    >>> post.posterior["hazard"].dims
    ('chain', 'draw', 'sector', 'factor_')
    """
    design = make_design(
        model,
        data,
        time=time,
        event=event,
        sector=sector,
        tenure=tenure,
        tenure_unit=tenure_unit,
        acquisition=acquisition,
        purchases=purchases,
        churn=churn,
    )
    seed = resolve_seed(seed)
    t0 = perf_counter()
    compiled, compile_s = _compiled(design)
    t1 = perf_counter()
    trace = _sample(compiled, design, draws, tune, chains, seed, cores, progressbar, target_accept)
    t2 = perf_counter()
    post = _assemble(design, trace, seed)
    post.attrs.update(
        density="pytensor",
        density_reason=DENSITY_REASON,
        draws=draws,
        tune=tune,
        chains=chains,
        compile_seconds=round(compile_s, 3),
        sampling_seconds=round(t2 - t1, 3),
        total_seconds=round(perf_counter() - t0, 3),
    )
    if check:
        from ..bayes import check_convergence

        names = [v for v in CHECKED if v in post.posterior]
        check_convergence(post, var_names=names)
    return post


def _compiled(design: RetentionDesign) -> tuple[Any, float]:
    """nutpie's compiled graph for the design's structure (from the cache when it was compiled before)."""
    key = structure_key(design)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit[1], 0.0
    import nutpie

    start = perf_counter()
    model = build_retention_graph(design)
    compiled = nutpie.compile_pymc_model(model)
    _CACHE.put(key, (model, compiled))
    return compiled, perf_counter() - start


def clear_retention_cache() -> None:
    """Forget the compiled retention graphs of this process."""
    _CACHE.clear()


def _sample(
    compiled: Any,
    design: RetentionDesign,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    cores: int | None,
    progressbar: bool,
    target_accept: float,
) -> Any:
    import nutpie

    return nutpie.sample(
        compiled.with_data(**data_values(design)),
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores if cores is not None else min(chains, 2),
        seed=seed,
        progress_bar=progressbar,
        target_accept=target_accept,
    )


def _assemble(design: RetentionDesign, trace: Any, seed: int) -> xr.DataTree:
    import xarray as xr

    posterior = trace["posterior"].to_dataset()
    keep = [v for v in posterior.data_vars if not v.startswith(("z_", "driver_chol"))]
    groups: dict[str, Any] = {"posterior": posterior[keep]}
    if "sample_stats" in trace.children:
        groups["sample_stats"] = trace["sample_stats"].to_dataset()
    obs: dict[str, Any] = {"y": (("respondent", "item"), design.y * design.item_sd + design.item_mean)}
    groups["observed_data"] = xr.Dataset(obs, coords={"respondent": np.arange(design.n), "item": list(design.items)})
    post = xr.DataTree.from_dict(groups)
    post.attrs["retention"] = json.dumps(_info(design))
    post.attrs["engine"] = "plain PyMC model (loyaltymodels.retention.model), sampled by nutpie"
    post.attrs["seed"] = seed
    return post


def _info(design: RetentionDesign) -> dict[str, Any]:
    """What the summaries need to read the draws, JSON-able (so a saved posterior keeps it)."""
    lam_points = {}  # questionnaire points per SD of each latent: the mean item's raw SD times its loading, below
    for f in design.factors:
        j = np.flatnonzero(np.asarray(design.factors)[design.item_factor] == f)
        lam_points[f] = [int(k) for k in j]
    info: dict[str, Any] = {
        "factors": list(design.factors),
        "drivers": list(design.drivers),
        "loyalty": design.loyalty,
        "items": list(design.items),
        "item_sd": [float(v) for v in design.item_sd],
        "factor_items": lam_points,
        "sectors": list(design.sectors),
        "periods": design.periods,
        "tenure_ref": design.tenure_ref,
        "tenure_unit": design.tenure_unit,
        "acquisition_drivers": list(design.acquisition_drivers),
        "columns": design.columns,
        "churn": design.churn,
    }
    if design.periods:
        # each customer's sector and tenure at the survey: for population-averaged survival curves
        first = design.pp_period == 0
        info["customers"] = [int(r) for r in design.pp_row[first]]
        info["customer_sector"] = [int(design.sector_idx[r]) for r in design.pp_row[first]]
        info["customer_tenure"] = [float(t) for t in design.pp_tenure[first]]
    return info


def retention_info(post: xr.DataTree) -> dict[str, Any]:
    """The design recorded by :func:`fit_retention` in ``post.attrs["retention"]``."""
    from ..errors import SpecError

    raw = post.attrs.get("retention")
    if raw is None:
        raise SpecError("this posterior was not made by fit_retention (it has no attrs['retention'])")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)
