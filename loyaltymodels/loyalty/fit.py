"""The loyalty model: beliefs and experience feeding loyalty, by sector, with behaviour.

``fit_loyalty`` answers, with posterior uncertainty: what weight do beliefs (brand image, the
promise) and experience (satisfaction from use) carry in loyalty, sector by sector (and segment by
segment); does an imbalance between them or a shortfall of experience below the promise cost
loyalty; and does loyalty show in behaviour (churn, repurchase, recommendation)? It is the
Bayesian SEM of :mod:`loyaltymodels.bayes.fit` (same parameter table, priors, samplers and posterior
layout) with the loyalty weights made hierarchical across sectors and the nonlinear terms and
behaviour outcomes added (:mod:`loyaltymodels.loyalty.build` says how and why). Summaries:
:mod:`loyaltymodels.loyalty.summaries`; plots: :mod:`loyaltymodels.loyalty.plots`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..bayes.model import start_point
from ..bayes.sampling import kernel_sampler, sample_kernel
from ..defaults import ModelCache, check_sampler_args, resolve_seed, show_progress
from ..errors import ArgumentError, SpecError
from ..spec.model import ModelSpec
from .build import Design, build_graph, data_values, make_design
from .conditional import conditional_scores, needs_extra
from .draws import LoyaltyInfo
from .measurement import WIGGLE_SD
from .priors import default_loyalty_priors
from .roles import MIN_CELL_SIZE

if TYPE_CHECKING:
    import pymc as pm

    from .program import LoyaltyProgram

#: nutpie's 0.8 raised to 0.9: with few sectors the hierarchical scale makes a mild funnel
#: (benchmarks/loyalty.py: 3-5 divergences per 4000 draws at 0.8, 0-1 at 0.9, for +30% time)
TARGET_ACCEPT = 0.9

__all__ = ["fit_loyalty", "build_loyalty_model", "default_loyalty_priors"]

#: Compiled loyalty models of this process, by structure: ``(pm.Model, nutpie's compiled model)``.
_CACHE: ModelCache[tuple] = ModelCache(maxsize=8)
#: Jitter (SD, unconstrained scale) of each chain's starting point, as the SEM sampler.
JITTER = 0.05
#: Posterior variables checked for convergence besides the parameter table.
_CHECKED = (
    "weight_mu",
    "weight_tau",
    "segment_shift",
    "interaction",
    "asymmetry",
    "surface_mu",
    "surface_tau",
    "diminishing",
    "outcome_slope",
    "outcome_intercept",
)


def build_loyalty_model(model: str | ModelSpec, data: pd.DataFrame, **kwargs: Any) -> pm.Model:
    """The ``pm.Model`` that :func:`fit_loyalty` samples (same arguments, no sampler settings).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(40, sectors=["retail", "banking"], seed=1)
    >>> m = lm.build_loyalty_model(lm.loyalty_model(), data, sector="sector")
    >>> [v.name for v in m.free_RVs][:3]
    ['weight_mu', 'weight_tau', 'weight_z']
    """
    return build_graph(make_design(model, data, **kwargs))


def fit_loyalty(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    sector: str | None = None,
    segment: str | None = None,
    outcomes: Mapping[str, Any] | Sequence[str] | None = None,
    interaction: bool | Sequence[str] = False,
    asymmetry: bool | Sequence[str] | None = None,
    ordinal: str | Sequence[str] | bool | None = "auto",
    priors: Mapping[str, Any] | None = None,
    surface: bool | Sequence[str] = False,
    promise_pairs: Mapping[str, str] | None = None,
    diminishing: Sequence[str] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    invariance: str | Sequence[str] = "scalar",
    wiggle_sd: float = WIGGLE_SD,
    loyalty: str | None = None,
    drivers: Sequence[str] | None = None,
    min_size: int = MIN_CELL_SIZE,
    missing: str = "fiml",
    cores: int | None = None,
    target_accept: float | None = None,
    progressbar: bool | None = None,
    check: bool = True,
    density: str = "auto",
    **sampler_options: Any,
) -> xr.DataTree:
    """Fit the loyalty model: drivers' weights by sector, imbalance, asymmetry, behaviour.

    Parameters
    ----------
    model : str
        lavaan syntax whose structural part regresses a loyalty latent on its drivers, e.g.
        :func:`loyaltymodels.loyalty_model`; extra latents and paths are allowed.
    data : DataFrame
        One row per respondent: the items, and the sector, segment and outcome columns.
    sector, segment : str, optional
        Columns whose levels get their own structural weights, partially pooled (sectors:
        hierarchical, non-centred; segments: zero-sum shifts of every sector's weights). Sectors
        and segments are crossed into cells that each get latent means and variances; the
        measurement model is shared (``invariance``).
    outcomes : dict, optional
        Behaviour: ``{"churn": "churn_col"}`` (linked to the loyalty latent),
        ``{"churn": ("col", "Loyalty")}`` (an explicit latent), ``{"recommend": ("col", "ordinal")}``.
        0/1 columns get a logistic link, integer ratings (3 to 11 levels) an ordered logistic one,
        with one intercept (cut points) and one slope per outcome, shared by sectors: behaviour
        differs between sectors only through loyalty.
    interaction : bool or (beliefs, experience)
        Add ``gamma (B E - E[B E])`` to loyalty. Misleads alone: without ``B^2`` and ``E^2`` a
        concave driver loads onto the product; ask the congruence question with ``surface``.
    asymmetry : bool or (experience, promise)
        Add ``-d/2 (|E - P| - E|E - P|)`` (a shortfall costs ``d`` more than a surplus gains).
        Misleads without commensurate promise items: the kink's zero ``E = P`` is then assumed
        (equal standardized scores of different questions), and diminishing returns of either
        driver load onto ``|E - P|``; prefer ``surface`` and :func:`congruence`.
    surface : bool or (beliefs, experience)
        The response surface ``b3 B^2 + b4 B E + b5 E^2`` (each centred in its cell) beside the
        linear weights, curvatures partially pooled across sectors like the weights: the
        documented answer to "imbalance between beliefs and experience costs loyalty"
        (:func:`response_surface`, :func:`congruence`, :mod:`loyaltymodels.loyalty.surface`).
    promise_pairs : dict, optional
        ``{"promise_item": "experience_item", ...}``: the same attributes asked as promise and as
        experience. The two factors then share each pair's loading and intercept (the promise
        keeps variance 1 and mean 0 in the reference cell, the experience factor's become free),
        so experience minus promise has a measured zero; ordinal pairs (both items ordinal, answered
        on the same categories) share their thresholds instead of intercepts. The sharing is tested
        by ML, or WLSMV for ordinal pairs (chi-square difference, in ``post.attrs["promise"]``, a
        ``DataWarning`` when rejected), and the
        asymmetry term goes on this measured gap unless ``asymmetry`` says otherwise. Read it with
        :func:`promise_gap` (:mod:`loyaltymodels.loyalty.promise`).
    diminishing : list of drivers, optional
        Diminishing returns: loyalty gains ``c_k (X_k^2 - E[X_k^2])`` for each driver named (one
        coefficient per driver, shared by sectors; ``c < 0``: each further SD adds less). Gives a
        concave driver its own term, so that it does not load onto the asymmetry (see
        :func:`diminishing_returns`).
    ordinal : "auto", list, or None
        Ordinal items (ordered probit, every form: :mod:`loyaltymodels.loyalty.conditional`).
        ``"auto"`` (default): items answered in integers on at most 7 points (1-5, 1-7 Likert
        scales); 0-10 scales stay continuous. ``None``/``False``: every item continuous; short
        scales then get a sensitivity line (root attribute ``ordinal_sensitivity``, printed by the
        reports): the pooled standardized weights by ML (continuous) vs WLSMV (ordinal).
        Ordinal items sample every respondent's scores (on the compiled density, as the
        continuous forms: no per-model compile), which mixes slower than the continuous forms.
    priors : dict, optional
        ``{"weight_tau": "half_normal(0.3)", "lambda": "normal(0,5)", ...}``: loyalty-level names of
        :func:`default_loyalty_priors`, and the SEM's classes, labels or parameter names. With
        ``promise_pairs`` the asymmetry's default is the weights' ``normal(0,10)`` (a difference
        of two slopes on their scale), not the kink's ``normal(0,0.5)``. The priors used are in
        the root attribute ``loyalty_priors`` (JSON).
    draws, tune, chains, seed, cores, target_accept, progressbar
        Sampler settings (nutpie); the same seed gives the same draws; ``progressbar=None`` shows
        nutpie's progress in notebooks and terminals, False hides it. ``target_accept`` defaults
        to 0.9 (as brms/blavaan users raise ``adapt_delta`` for hierarchical models): at nutpie's
        0.8 the sector-level scale left 3-5 divergences per 4000 draws on 4 sectors x 300.
    invariance : {"scalar", "metric", "configural", "approximate"} or sequence of str
        Measurement invariance across cells (:mod:`loyaltymodels.loyalty.measurement`):
        ``"scalar"`` (default) shares loadings and intercepts, ``"metric"`` loadings,
        ``"configural"`` nothing (weights then standardized within each cell, not comparable
        across sectors), ``"approximate"`` gives each cell its own loadings and intercepts held
        near the cells' mean by small-variance priors (blavaan's ``wiggle``); or lavaan
        ``group.equal`` classes. Ordinal items' thresholds are held equal wherever intercepts
        are (lavaan's scalar invariance of ordered items; free thresholds beside free latent
        means leave the cells unidentified). Compare levels with ``lm.compare_fits({...})`` (PSIS-LOO).
    wiggle_sd : float
        SD of the approximate-invariance priors (blavaan's ``wiggle.sd``, default 0.1).
    loyalty, drivers : optional
        The loyalty latent and its drivers when the model leaves a choice.
    min_size : int
        Fewest respondents per sector (or sector x segment cell).
    missing : {"fiml", "listwise"}
        Missing items: every answered item counts (default), or incomplete rows are dropped.
    check : bool
        Warn (``ConvergenceWarning``) when the draws fail R-hat, ESS or divergence checks.
    density : {"auto", "kernel", "pytensor"}
        ``"auto"``: the package's compiled log density when it covers the model (compiled once per
        machine, nothing compiled per model), else the PyMC graph compiled by nutpie; the posterior
        says which in its ``density`` attribute (and why in ``density_reason``).
    **sampler_options
        Passed to ``nutpie.sample`` (e.g. ``adaptation="low_rank"``).

    Returns
    -------
    xarray.DataTree
        The SEM posterior layout (``param``, ``std_all`` over ``parameter``; ``sample_stats``;
        ``observed_data``, with the outcomes' values; no ``log_likelihood``: ``lm.loo``, ``waic``,
        ``compare`` and ``add_log_likelihood`` compute it per respondent when they ask, in blocks),
        plus ``weight (cell, driver)`` and the standardized ``std_weight (sector[, segment],
        driver)``, ``std_weight_pooled (driver)``, ``loyalty_sd``, ``satisfied_not_loyal``,
        ``std_interaction``, ``std_asymmetry``, ``outcome_effect (outcome)`` and the hyper-
        parameters; root attr ``loyalty`` (roles, cells, outcomes as JSON).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(300, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1)  # doctest: +SKIP
    >>> lm.driver_weights(post)  # doctest: +SKIP
    """
    check_sampler_args(draws=draws, tune=tune, chains=chains, cores=cores, seed=seed, target_accept=target_accept)
    t0 = time.perf_counter()
    design = make_design(
        model,
        data,
        sector=sector,
        segment=segment,
        outcomes=outcomes,
        interaction=interaction,
        asymmetry=asymmetry,
        ordinal=ordinal,
        priors=priors,
        surface=surface,
        invariance=invariance,
        loyalty=loyalty,
        drivers=drivers,
        min_size=min_size,
        missing=missing,
        wiggle_sd=wiggle_sd,
        promise_pairs=promise_pairs,
        diminishing=diminishing,
    )
    pairing = _pairing_test(design)
    seed = resolve_seed(seed)
    target_accept = target_accept or TARGET_ACCEPT
    sample: dict[str, Any] = dict(
        draws=draws, tune=tune, chains=chains, seed=seed, cores=cores, progressbar=show_progress(progressbar)
    )
    from .program import loyalty_program, program_unsupported  # numba: imported when a fit needs it

    if density not in ("auto", "kernel", "pytensor"):
        raise ArgumentError(f"density={density!r}: choose 'auto', 'kernel' or 'pytensor'")
    why = "the PyMC graph, as asked" if density == "pytensor" else program_unsupported(design)
    if density == "kernel" and why:
        raise SpecError(f"density='kernel': the compiled density does not handle {why} yet; use density='auto'")
    t1 = time.perf_counter()
    if why is None:  # the compiled density: nothing to compile for this structure
        lp = loyalty_program(design)
        sampler = _kernel_sampler(design, lp)
        compile_s = time.perf_counter() - t1
        t1 = time.perf_counter()
        trace = sample_kernel(
            sampler,
            lp.program,
            _kernel_start(design, lp),
            target_accept=target_accept,
            **sample,
            **sampler_options,
        )
        t2 = time.perf_counter()
        post = _assemble_kernel(design, lp, trace)
    else:
        model_, compiled, compile_s = _compiled(design)
        t1 = time.perf_counter()
        trace = _run(design, model_, compiled, target_accept=target_accept, **sample, **sampler_options)
        t2 = time.perf_counter()
        post = _assemble(design, trace, seed)
    post.attrs.update(
        density="kernel" if why is None else "pytensor",
        density_reason="" if why is None else why,
        invariance=design.level,
        invariance_classes=",".join(design.invariance),
        wiggle_sd=design.wiggle_sd if design.wiggle is not None else 0.0,
        sampler="nutpie",
        seed=seed,
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        compile_seconds=round(compile_s, 3),
        sampling_seconds=round(t2 - t1, 3),
        postprocess_seconds=round(time.perf_counter() - t2, 3),
        total_seconds=round(time.perf_counter() - t0, 3),
        created_by="loyaltymodels.fit_loyalty",
    )
    if design.promise is not None:
        post.attrs["promise"] = design.promise.to_json(pairing)
    if ordinal is None or ordinal is False:
        _note_continuous(post, model, data, design)
    if check:
        from ..bayes.diagnostics import check_convergence

        names = ["param"] + [v for v in _CHECKED if v in post["posterior"].data_vars]
        check_convergence(post, var_names=names)
    return post


def _pairing_test(design: Design) -> dict:
    """The ML test of the promise pairs' shared loadings and intercepts, on the fit's respondents
    and cells (warned about when it rejects them); empty without pairs."""
    if design.promise is None:
        return {}
    from .build import CELL_COLUMN
    from .promise import pairing_test, warn_if_rejected

    s = design.summary
    frame = pd.DataFrame(s.y, columns=list(s.items))
    group = None
    if len(design.cells) > 1:
        frame[CELL_COLUMN] = np.asarray(s.group_labels)[s.group - 1]
        group = CELL_COLUMN
    test = pairing_test(design.promise, frame, group, s.missing)
    warn_if_rejected(test)
    return test


def _note_continuous(post: xr.DataTree, model: str | ModelSpec, data: pd.DataFrame, design: Design) -> None:
    """Short-scale items fitted as continuous: the sensitivity line of :mod:`loyaltymodels.loyalty.ordinal`."""
    from .ordinal import ordinal_sensitivity, short_scale_items

    short = short_scale_items(data, design.summary.items)
    if short:
        r = design.roles
        sens = ordinal_sensitivity(model, data, short, r.loyalty, r.drivers)
        post.attrs["ordinal_sensitivity"] = str(sens["line"])
        post.attrs["ordinal_sensitivity_weights"] = json.dumps({k: sens[k] for k in ("continuous", "ordinal")})


# -- compile and sample ---------------------------------------------------------------------------
def _compiled(design: Design) -> tuple[pm.Model, Any, float]:
    """The PyMC model and its nutpie compilation, cached by structure (data values are swapped in)."""
    key = design.structure_key()
    hit = _CACHE.get(key)
    if hit is not None:
        model, compiled = hit
        return model, compiled, 0.0
    import nutpie

    start = time.perf_counter()
    model = build_graph(design)
    compiled = nutpie.compile_pymc_model(model)
    _CACHE.put(key, (model, compiled))
    return model, compiled, time.perf_counter() - start


def _kernel_sampler(design: Design, lp: LoyaltyProgram) -> Any:
    """nutpie's model of the compiled density with the loyalty variables' dims (cached by the
    elements' names and sizes: the density itself is compiled once per machine)."""
    key = ("kernel", lp.program.latent, lp.program.names, lp.program.sizes)
    hit = _CACHE.get(key)
    if hit is None:
        coords = {f"{n}_element": np.arange(k) for n, k in zip(lp.program.names, lp.program.sizes)}
        dims = {n: (f"{n}_element",) for n in lp.program.names}
        hit = _CACHE.put(key, kernel_sampler(lp.program, dims, coords))
    return hit


def clear_loyalty_cache() -> None:
    """Forget the compiled loyalty models of this process."""
    _CACHE.clear()


def _start_point(design: Design) -> dict[str, np.ndarray]:
    """Starting values (constrained, by variable): the SEM's starts that avoid the sign trap
    (docs/findings.md), weights and nonlinear terms at 0, outcome intercepts at the observed
    log-odds, cut points at the observed cumulative log-odds, sampled scores at their data-based
    posterior mean (u = 0)."""
    base = "conditional" if design.form == "conditional" else "marginal"
    point = start_point(design.plan, design.summary, base)
    flat = design.weight_pars.ravel()
    for g in design.plan.rvs:
        if g.cls == "nu":
            point[f"{g.name}_centred"] = point[g.name]
        hit = np.isin(g.pars, flat)
        if hit.any() and (~hit).any():
            point[f"{g.name}_other"] = np.asarray(point[g.name])[~hit]
    K, S = len(design.roles.drivers), len(design.sectors)
    point.update(
        weight_mu=np.zeros(K),
        weight_tau=np.full(K, 0.2),
        weight_z=np.zeros((S, K)),
        segment_shift=np.zeros((K, max(len(design.segments), 1))),
        interaction=np.array(0.0),
        asymmetry=np.array(0.0),
        outcome_slope=np.zeros(len(design.outcomes)),
        surface_mu=np.zeros(3),
        surface_tau=np.full(3, 0.1),
        surface_z=np.zeros((S, 3)),
    )
    assert design.codes is not None  # make_design always sets the outcome codes
    binary = [k for k, o in enumerate(design.outcomes) if o.kind == "binary"]
    if binary:
        rate = [np.clip(design.codes[design.codes[:, k] >= 0, k].mean(), 0.02, 0.98) for k in binary]
        point["outcome_intercept"] = np.log(np.array(rate) / (1 - np.array(rate)))
    for k, o in enumerate(design.outcomes):
        if o.kind == "ordinal":
            c = design.codes[design.codes[:, k] >= 0, k]
            cum = np.clip([(c <= j).mean() for j in range(len(o.levels) - 1)], 0.01, 0.99)
            point[f"cuts_{o.name}"] = np.maximum.accumulate(np.log(cum / (1 - cum)) + np.arange(len(cum)) * 1e-3)
    if design.form == "scores":
        assert design.chunks is not None
        point["u"] = np.zeros(design.chunks.shape + (len(design.blocks["drivers"][1]),))
    return point


def _kernel_start(design: Design, lp: LoyaltyProgram) -> np.ndarray:
    """:func:`_start_point` on the compiled density's elements (cut points as their first value
    and increments)."""
    point = _start_point(design)
    for o in design.outcomes:
        if o.kind == "ordinal":
            x = np.asarray(point[f"cuts_{o.name}"], float)
            point[f"cuts_{o.name}"] = np.concatenate([x[:1], np.maximum(np.diff(x), 1e-3)])
    return lp.start(point)


def _start(design: Design, model: pm.Model) -> np.ndarray:
    """:func:`_start_point`, unconstrained and flat in ``model.value_vars`` order."""
    from pymc.initial_point import make_initial_point_fn

    point = _start_point(design)
    free = {rv.name for rv in model.free_RVs}
    overrides = {k: np.asarray(v, float) for k, v in point.items() if k in free}
    fn = make_initial_point_fn(model=model, overrides=overrides, jitter_rvs=set(), return_transformed=True)
    ip = fn(0)
    return np.concatenate([np.ravel(ip[v.name]) for v in model.value_vars])


def _run(
    design: Design,
    model: pm.Model,
    compiled: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    cores: int | None,
    progressbar: bool,
    target_accept: float,
    **options: Any,
) -> Any:
    import nutpie

    flat = _start(design, model)

    def init(chain_seed):  # nutpie calls this once per chain with a seed derived from `seed`
        rng = np.random.default_rng(chain_seed)
        return flat + JITTER * rng.standard_normal(flat.shape)

    values = data_values(design)
    known = {var.name for var in compiled.shared_var_keys} if hasattr(compiled, "shared_var_keys") else set(values)
    fitted = compiled.with_data(**{k: v for k, v in values.items() if k in known})
    fitted = dataclasses.replace(fitted, initial_point_func=init)
    kwargs = {"target_accept": target_accept} | options
    return nutpie.sample(
        fitted,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=seed,
        progress_bar=progressbar,
        save_warmup=False,
        **kwargs,
    )


# -- the posterior ----------------------------------------------------------------------------------
def _assemble(design: Design, trace: Any, seed: int) -> xr.DataTree:
    from ..bayes.data import fixed_values, item_stats
    from ..bayes.output import (
        assemble,
        draws_of,
        parameter_dataset,
        respondent_coords,
        root_attrs,
        rows_of,
        sample_stats,
    )

    plan, s = design.plan, design.summary
    fixed = fixed_values(plan.spec, item_stats(plan.spec, s))
    if needs_extra(design):  # ordinal items with nonlinear terms or outcomes
        post = _assemble_conditional(design, trace, fixed)
    elif design.form in ("marginal", "conditional"):
        post = assemble(
            plan, s, trace, form=design.form, fixed=fixed, rng=np.random.default_rng(seed), posterior_predictive=False
        )
    else:
        ds = trace["posterior"].to_dataset()
        draws, shape = draws_of(ds, plan)
        rows = rows_of(plan, s, draws, fixed)
        posterior = parameter_dataset(plan, rows, shape)
        rc = respondent_coords(s)
        groups = {
            "posterior": posterior,
            "sample_stats": sample_stats(trace, shape),
            "observed_data": xr.Dataset({"y": (("respondent", "item"), s.y)}, coords=rc),
        }
        post = xr.DataTree.from_dict(groups)
        post.attrs.update(root_attrs(plan, s, design.form, {}))
    own = _own_variables(design, trace["posterior"].to_dataset())
    post["posterior"] = post["posterior"].to_dataset().assign(own)
    return _finish(design, post)


def _assemble_conditional(design: Design, trace: Any, fixed: np.ndarray) -> xr.DataTree:
    """The conditional form's posterior when loyalty's score carries nonlinear terms or outcomes:
    the scores of :func:`~loyaltymodels.loyalty.conditional.conditional_scores`
    (the SEM's ``assemble`` knows neither)."""
    from ..bayes.output import draws_of, parameter_dataset, respondent_coords, root_attrs, rows_of, sample_stats

    plan, s = design.plan, design.summary
    ds = trace["posterior"].to_dataset()
    draws, shape = draws_of(ds, plan)
    rows = rows_of(plan, s, draws, fixed)
    z = ds["z"].to_numpy().reshape(shape[0] * shape[1], s.n, -1)
    eta = conditional_scores(design, rows, z, ds)
    rc = respondent_coords(s)
    posterior = parameter_dataset(plan, rows, shape)
    posterior["eta"] = (("chain", "draw", "respondent", "factor"), eta.reshape(*shape, *eta.shape[1:]))
    posterior = posterior.assign_coords(respondent=rc["respondent"], factor=list(plan.layout.latents))
    groups = {
        "posterior": posterior,
        "sample_stats": sample_stats(trace, shape),
        "observed_data": xr.Dataset({"y": (("respondent", "item"), s.y)}, coords=rc),
    }
    post = xr.DataTree.from_dict(groups)
    post.attrs.update(root_attrs(plan, s, design.form, {}))
    return post


def _assemble_kernel(design: Design, lp: LoyaltyProgram, trace: Any) -> xr.DataTree:
    """The posterior of a compiled-density fit: the table's rows and the loyalty-level variables
    rebuilt from the sampled elements. No form stores a pointwise log-likelihood: LOO, WAIC and
    comparisons compute it when they ask (the latent forms' through :mod:`.loglik`), so a fit's
    cost does not grow with what they would need."""
    from ..bayes.output import parameter_dataset, respondent_coords, root_attrs, sample_stats

    plan, s = design.plan, design.summary
    ds = trace["posterior"].to_dataset() if isinstance(trace, xr.DataTree) else trace.posterior
    shape = (ds.sizes["chain"], ds.sizes["draw"])
    flat = np.concatenate([ds[n].to_numpy().reshape(shape[0] * shape[1], -1) for n in lp.program.names], axis=1)
    x = lp.program.unconstrain_flat(flat)
    rows = lp.program.rows(x)
    posterior = parameter_dataset(plan, rows, shape)
    dims = {
        "weight_mu": ("driver",),
        "weight_tau": ("driver",),
        "weight_z": ("sector", "driver"),
        "weight_sector": ("sector", "driver"),
        "segment_shift": ("segment", "driver"),
        "interaction": (),
        "asymmetry": (),
        "surface_mu": ("term",),
        "surface_tau": ("term",),
        "surface_z": ("sector", "term"),
        "diminishing": ("diminishing_driver",),
        "outcome_slope": ("outcome",),
        "outcome_intercept": ("binary_outcome",),
    }
    coords = {"driver": list(design.roles.drivers), "sector": list(design.sectors), "cell": design.cells}
    if design.roles.surface:
        coords["term"] = ["b3", "b4", "b5"]
    if design.roles.diminishing:
        coords["diminishing_driver"] = list(design.roles.diminishing)
    if design.segments:
        coords["segment"] = list(design.segments)
    if design.outcomes:
        coords["outcome"] = [o.name for o in design.outcomes]
        coords["binary_outcome"] = [o.name for o in design.outcomes if o.kind == "binary"]
    values = {**lp.own(flat), **lp.cut_points(x)}
    for name in values:
        if name.startswith("cuts_"):
            dims[name] = (f"{name}_dim_0",)  # the PyMC graph's name of the cut points' axis
    own = {name: (("chain", "draw", *dims[name]), v.reshape(*shape, *v.shape[1:])) for name, v in values.items()}
    # the weights' table rows (their par numbers are not row numbers beyond the first cell)
    first_row = {int(p): r for r, p in reversed(list(enumerate(plan.table.par.to_numpy())))}
    at = [first_row[int(p)] for p in design.weight_pars.ravel()]
    weight = rows[:, at].reshape(*shape, *design.weight_pars.shape)
    own["weight"] = (("chain", "draw", "cell", "driver"), weight)
    posterior = posterior.assign(own).assign_coords(coords)
    rc = respondent_coords(s)
    if design.form == "conditional":  # every score sampled: each draw's scores, nonlinear terms included
        a, b = lp.elements["z"]
        z = flat[:, a:b].reshape(len(flat), s.n, -1)
        eta = conditional_scores(design, rows, z, posterior)
        posterior["eta"] = (("chain", "draw", "respondent", "factor"), eta.reshape(*shape, *eta.shape[1:]))
        posterior = posterior.assign_coords(respondent=rc["respondent"], factor=list(plan.layout.latents))
    groups = {
        "posterior": posterior,
        "sample_stats": sample_stats(trace, shape),
        "observed_data": xr.Dataset({"y": (("respondent", "item"), s.y)}, coords=rc),
    }
    post = xr.DataTree.from_dict(groups)
    post.attrs.update(root_attrs(plan, s, design.form, {}))
    return _finish(design, post)


def _finish(design: Design, post: xr.DataTree) -> xr.DataTree:
    """The loyalty layer of a posterior: cells, roles, the user's columns, derived quantities."""
    from .derived import add_derived
    from .surface import add_surface

    info = _info(design)
    post["constant_data"] = info.cell_data()
    post = add_surface(post, design.roles.surface)
    post.attrs["loyalty"] = info.to_json()
    # the loyalty-level priors as used (the measured gap changes the asymmetry's default)
    post.attrs["loyalty_priors"] = json.dumps({k: str(v) for k, v in design.priors.items()})
    post.attrs["group_column"] = design.sector_column or ""
    post.attrs["segment_column"] = design.segment_column or ""
    if design.form in ("outcomes", "scores") or needs_extra(design):
        # the pointwise log-likelihood integrates over each respondent's scores: computed when LOO,
        # WAIC or a comparison asks (loyalty.loglik), from the data stored here, never by the fit
        # (the conditional form without nonlinear terms or outcomes is the SEM's: bayes.integrated)
        from .loglik import HOOK, outcome_values

        post.attrs.update(likelihood_form=design.form, log_likelihood_by=HOOK)
        if design.outcomes:
            post["observed_data"] = post["observed_data"].to_dataset().assign(outcome_values(design))
    for name in ("observed_data", "log_likelihood"):  # each respondent's sector and segment, by label
        if name in post.children:
            post[name] = post[name].to_dataset().assign_coords(_respondent_cells(design))
    return add_derived(post)


def _respondent_cells(design: Design) -> dict:
    g = design.summary.group - 1  # each respondent's position among the model's groups
    out = {"sector": ("respondent", np.asarray(design.sectors, dtype=object)[design.cell_sector[g]].astype(str))}
    if design.segments:
        out["segment"] = ("respondent", np.asarray(design.segments, dtype=object)[design.cell_segment[g]].astype(str))
    return out


def _info(design: Design) -> LoyaltyInfo:
    r = design.roles
    outs = tuple(
        {"name": o.name, "column": o.column, "latent": o.latent, "kind": o.kind, "levels": list(o.levels)}
        for o in design.outcomes
    )
    return LoyaltyInfo(
        r.loyalty,
        r.drivers,
        r.interaction,
        r.asymmetry,
        design.sectors,
        design.segments,
        tuple(design.cells),
        design.cell_sector,
        design.cell_segment,
        np.bincount(design.summary.group - 1, minlength=len(design.cells)),
        outs,
        design.form,
        tuple(design.latents),
        r.surface,
        r.diminishing,
    )


def _own_variables(design: Design, ds: xr.Dataset) -> dict:
    """The loyalty-level sampled variables, with named dims (the sampled scores ``u`` are left out:
    they are whitened coordinates, not scores)."""
    keep = {}
    for name in (
        "weight_mu",
        "weight_tau",
        "weight_z",
        "segment_shift",
        "weight",
        "interaction",
        "asymmetry",
        "surface_mu",
        "surface_tau",
        "surface_z",
        "diminishing",
        "outcome_slope",
        "outcome_intercept",
        *(f"cuts_{o.name}" for o in design.outcomes),
    ):
        if name in ds:
            v = ds[name]
            if name == "segment_shift":  # sampled as one zero-sum vector per driver
                v = v.transpose("chain", "draw", "segment", "driver")
            keep[name] = v.assign_coords(chain=np.arange(v.sizes["chain"]), draw=np.arange(v.sizes["draw"]))
    return keep
