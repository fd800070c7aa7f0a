"""Bayesian SEM from the lavaan syntax that ``fit_sem`` takes: PyMC model, nutpie sampling,
ArviZ 1.x ``xarray.DataTree`` out (blavaan's ``bsem``/``bcfa`` in R).

``build_model`` gives the ``pm.Model`` (inspect or extend it); ``fit_bayes`` samples it and returns
the posterior laid out as :mod:`loyaltymodels.spec.layout` says; ``bayes_summary`` turns it into the
parameter table with posterior columns. For many data sets of one structure (calibration, power
analysis), ``compile_model`` once and ``fit_compiled`` each data set. Continuous items in the
marginal form (the default) need no compile at all: one generic log density, compiled once per
machine, reads the model's structure as data (:mod:`loyaltymodels.bayes.density.kernel`); other forms
compile the PyMC graph (docs/findings.md: 20-50 s cold), then reuse it. Sampling a CFA takes about a second.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..data.files import read_datatree
from ..defaults import CI_POSTERIOR, check_sampler_args, labelled_interval, resolve_seed, show_progress
from ..errors import DataError
from ..spec.model import ModelSpec
from .data import prepare
from .model import choose_form, data_values
from .output import assemble

if TYPE_CHECKING:
    import pymc as pm
from ..spec.layout import parameter_rows
from .parameterization import make_plan
from .priors import default_priors
from .sampling import CompiledSEM, build_parts, clear_cache, compile_parts, run

__all__ = [
    "build_model",
    "fit_bayes",
    "compile_model",
    "fit_compiled",
    "bayes_summary",
    "load_posterior",
    "default_priors",
    "clear_cache",
    "CompiledSEM",
]


def _parts(model, data, priors, group, group_equal, ordinal, missing, form, options):
    spec, summary = prepare(
        model, data, group=group, group_equal=group_equal, ordinal=ordinal, missing=missing, **options
    )
    plan = make_plan(spec, priors)
    form = choose_form(plan, summary, form)
    return build_parts(plan, summary, form)


def build_model(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    priors: pd.DataFrame | Mapping[str, str] | None = None,
    group: str | None = None,
    group_equal: Sequence[str] | str = (),
    ordinal: str | Sequence[str] | None = None,
    missing: str = "fiml",
    form: str | None = None,
    **options: Any,
) -> pm.Model:
    """The PyMC model of ``model`` for ``data``, driven by the parameter table.

    Parameters
    ----------
    model : str or ModelSpec
        lavaan syntax (``prior("...")`` modifiers allowed) or a parsed spec.
    data : DataFrame
        One row per respondent; the model's observed variables (and ``group``).
    priors : DataFrame or dict, optional
        An edited :func:`default_priors` table, or ``{class or label or name: "normal(0,1)"}``.
    group : str, optional
        Column with the group of each respondent (one joint model; equal labels shared).
    group_equal : sequence of str
        lavaan's ``group.equal`` classes (``"loadings"``, ``"intercepts"``, ...).
    ordinal : list of str or "auto", optional
        Ordinal items (ordered probit, thresholds); ``"auto"``: integer rating scales (<= 11 values).
    missing : {"fiml", "listwise"}
        ``"fiml"`` (default, as blavaan): every answered item counts, through the marginal density
        of each missing-data pattern; ``"listwise"``: incomplete rows are dropped.
    form : {"marginal", "respondent", "conditional"}, optional
        Likelihood form (see :mod:`loyaltymodels.bayes.likelihoods`); marginal for continuous items,
        conditional for ordinal ones.
    **options
        Passed to :func:`loyaltymodels.parse_model` (``std_lv=True``, ...).

    Returns
    -------
    pymc.Model
        Random variables per prior class (``lambda``, ``theta``, ``rho`` ...), data as ``pm.Data``,
        the likelihood as the potential ``loglik`` (``loglik_*`` per pattern for ``form="respondent"``).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import load_holzinger_swineford, HS_MODEL
    >>> m = lm.build_model(HS_MODEL, load_holzinger_swineford())
    >>> [rv.name for rv in m.free_RVs]
    ['lambda', 'theta', 'psi', 'rho', 'nu']
    """
    return _parts(model, data, priors, group, group_equal, ordinal, missing, form, options).model


def compile_model(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    priors: pd.DataFrame | Mapping[str, str] | None = None,
    group: str | None = None,
    group_equal: Sequence[str] | str = (),
    ordinal: str | Sequence[str] | None = None,
    missing: str = "fiml",
    form: str | None = None,
    sampler: str = "nutpie",
    cache: bool = True,
    density: str = "auto",
    **options: Any,
) -> CompiledSEM:
    """Build and compile once; fit any data set of the same shape with :func:`fit_compiled`.

    With nutpie, continuous items and the marginal form (the defaults), nothing is compiled: one
    generic log density (:mod:`loyaltymodels.bayes.density.kernel`, compiled once per machine and
    cached on disk) reads the model's structure as data, as blavaan's precompiled Stan program
    does. ``density="pytensor"`` compiles the PyMC graph of :func:`build_model` instead; that is
    also what happens, automatically, for the other forms, ordinal items and truncated non-normal
    priors (``std_lv`` with a non-normal loading prior). Compiled models are cached in this
    process by structure (table, priors, form, data shapes), so calling this again for the same
    structure costs nothing.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.simulate("f =~ x1 + x2 + x3", n=200, seed=1)
    >>> compiled = lm.compile_model("f =~ x1 + x2 + x3", data)  # doctest: +SKIP
    >>> posts = [lm.fit_compiled(compiled, lm.simulate("f =~ x1 + x2 + x3", 200, seed=s)[0], seed=s)
    ...          for s in range(3)]  # doctest: +SKIP
    """
    parts = _parts(model, data, priors, group, group_equal, ordinal, missing, form, options)
    return compile_parts(parts, sampler=sampler, cache=cache, density=density)


def fit_compiled(
    compiled: CompiledSEM,
    data: pd.DataFrame | None = None,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    cores: int | None = None,
    progressbar: bool = False,
    posterior_predictive: bool = False,
    prior_predictive: bool = False,
    target_accept: float | None = None,
    check: bool = True,
) -> xr.DataTree:
    """Sample a compiled model, with new ``data`` of the same structure (or its own data).

    Returns the posterior DataTree (see :func:`fit_bayes`).
    """
    check_sampler_args(draws=draws, tune=tune, chains=chains, cores=cores, seed=seed, target_accept=target_accept)
    parts = compiled.parts
    summary = parts.summary
    t0 = time.perf_counter()
    if data is not None:
        _spec, summary = prepare(
            parts.plan.spec,
            data,
            group=parts.summary.group_column,
            missing=parts.summary.missing,
            ordinal=list(parts.summary.ordinal) or None,
        )
        key_new = summary.structure_key(parts.form == "conditional")
        if key_new != parts.summary.structure_key(parts.form == "conditional"):
            raise DataError(
                "these data do not have the structure the model was compiled for (items, "
                "groups, missing-data patterns or sample sizes differ); call compile_model "
                "on them"
            )
    seed = resolve_seed(seed)
    trace = run(
        compiled,
        summary,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        cores=cores,
        progressbar=progressbar,
        target_accept=target_accept,
    )
    t1 = time.perf_counter()
    prior = None
    if prior_predictive:
        import pymc as pm

        # the likelihood is a Potential, so only the priors are drawn (what is wanted here); the
        # positive-definiteness check is a Potential too, so prior draws may break it (then NaN)
        with parts.model, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            prior = pm.sample_prior_predictive(
                draws=draws,
                random_seed=seed,
                var_names=[g.name for g in parts.plan.rvs] + (["z"] if parts.form == "conditional" else []),
            )
    fixed = data_values(parts.plan, summary, parts.form)["fixed"]
    post = assemble(
        parts.plan,
        summary,
        trace,
        form=parts.form,
        fixed=fixed,
        rng=np.random.default_rng(seed),
        posterior_predictive=posterior_predictive,
        prior=prior,
        attrs={
            "sampler": compiled.sampler,
            "seed": seed,
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "group_column": summary.group_column or "",
            "density": compiled.density,
            "compile_seconds": round(compiled.compile_seconds, 3),
            "sampling_seconds": round(t1 - t0, 3),
        },
    )
    post.attrs["postprocess_seconds"] = round(time.perf_counter() - t1, 3)
    inner = trace["posterior"].attrs.get("sampling_time") if isinstance(trace, xr.DataTree) else None
    if inner is not None:  # PyMC: its own sampling time, without its compile
        post.attrs["sampler_seconds"] = round(float(inner), 3)
    if check:
        _check_convergence(post)
    return post


def _check_convergence(post: xr.DataTree) -> None:
    """Hook for :func:`loyaltymodels.bayes.diagnostics.check_convergence` (warns when the draws fail)."""
    try:
        from .diagnostics import check_convergence
    except ImportError:
        return
    check_convergence(post)


def fit_bayes(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    priors: pd.DataFrame | Mapping[str, str] | None = None,
    group: str | None = None,
    group_equal: Sequence[str] | str = (),
    ordinal: str | Sequence[str] | None = None,
    missing: str = "fiml",
    form: str | None = None,
    prior_predictive: bool = False,
    posterior_predictive: bool = False,
    progressbar: bool | None = None,
    cores: int | None = None,
    target_accept: float | None = None,
    check: bool = True,
    density: str = "auto",
    **options: Any,
) -> xr.DataTree:
    """Fit a model by MCMC: the posterior of every parameter-table row.

    In R: ``blavaan::bsem(model, data, ...)``. Same arguments as :func:`build_model`, plus the
    sampler settings. The same ``seed`` gives the same draws. ``sampler="pymc"`` uses PyMC's NUTS
    (and is used, with a warning, when nutpie cannot compile the model). ``density`` as in
    :func:`compile_model`: by default the marginal form of continuous items needs no compile
    (the generic kernel); anything else is compiled from the PyMC graph. A ``pm.Model`` that you
    extend yourself (:func:`build_model`) is sampled with ``pm.sample``, which always uses the
    graph. Convergence is checked (``check=True``) once the diagnostics module provides
    ``check_convergence``. ``progressbar`` shows the sampler's own progress; ``None`` (default)
    shows it in notebooks and terminals (:func:`loyaltymodels.defaults.show_progress`).

    Returns
    -------
    xarray.DataTree
        ``posterior`` (``param``, ``std_all`` over ``parameter`` with ``lhs, op, rhs, group``
        coords), ``sample_stats``, ``observed_data`` and on request ``posterior_predictive``,
        ``prior`` and ``prior_predictive``; root attrs hold the spec and package versions
        (``post.to_netcdf(path)``, :func:`load_posterior`). The pointwise ``log_likelihood`` (per
        respondent and draw) is not stored, so the call costs the same for 1,000 or 1,000,000
        respondents: :func:`loo`, :func:`waic` and :func:`compare` compute it when they need it
        (:func:`add_log_likelihood` adds it to the tree). With ordinal items (the conditional
        form, whose draws hold every respondent's scores ``eta``) it is each respondent's
        likelihood with the scores integrated out by importance sampling
        (:mod:`loyaltymodels.bayes.integrated`, as blavaan's), not the density given the sampled
        scores, for which PSIS-LOO fails (Pareto k > 0.7 for half the respondents).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import load_holzinger_swineford, HS_MODEL
    >>> post = lm.fit_bayes(HS_MODEL, load_holzinger_swineford(), seed=1)  # doctest: +SKIP
    >>> lm.bayes_summary(post).head()  # doctest: +SKIP
    """
    # before the compile, which can take a minute
    check_sampler_args(draws=draws, tune=tune, chains=chains, cores=cores, seed=seed, target_accept=target_accept)
    compiled = compile_model(
        model,
        data,
        priors=priors,
        group=group,
        group_equal=group_equal,
        ordinal=ordinal,
        missing=missing,
        form=form,
        sampler=sampler,
        density=density,
        **options,
    )
    return fit_compiled(
        compiled,
        None,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        cores=cores,
        progressbar=show_progress(progressbar),
        posterior_predictive=posterior_predictive,
        prior_predictive=prior_predictive,
        target_accept=target_accept,
        check=check,
    )


def bayes_summary(post: xr.DataTree, ci: float | None = None) -> pd.DataFrame:
    """The parameter table with posterior summaries (blavaan's ``parameterEstimates``).

    Columns ``lhs op rhs group`` (and ``group_label``, the group's name, in multigroup models)
    ``label free`` of the table, then ``mean sd median ci_lower ci_upper``
    (equal-tailed, mass ``ci``, default :data:`loyaltymodels.defaults.CI_POSTERIOR`),
    ``r_hat ess_bulk ess_tail`` (arviz-stats' rank-normalised R-hat and ESS, vectorised in
    :mod:`loyaltymodels.bayes.chains`) and ``std_all_mean std_all_sd std_all_median
    std_all_ci_lower std_all_ci_upper``. It merges with ``SemFit.parameters`` on
    ``lhs, op, rhs, group``.
    """
    from arviz_stats.validate import validate_ci_prob

    from ..spec.provenance import spec_from_attrs
    from .chains import ess_bulk, ess_tail, rhat_rank

    ci = CI_POSTERIOR if ci is None else float(ci)
    spec = spec_from_attrs(post.attrs)
    rows = parameter_rows(spec.table).reset_index(drop=True)
    out = rows[["lhs", "op", "rhs", "group", "label", "free", "name"]].copy()
    if spec.ngroups > 1:  # the sector (group) by its name, not only its number
        from .diagnostics import group_names

        labels = group_names(post)
        out.insert(4, "group_label", [labels[g - 1] if 1 <= g <= len(labels) else "" for g in out["group"]])
    ds = post["posterior"].to_dataset()
    lo, hi = (1 - ci) / 2, 1 - (1 - ci) / 2
    for var, prefix in (("param", ""), ("std_all", "std_all_")):
        x = ds[var]
        q = x.quantile([0.5, lo, hi], dim=("chain", "draw")).to_numpy()
        out[prefix + "mean"] = x.mean(("chain", "draw")).to_numpy()
        out[prefix + "sd"] = x.std(("chain", "draw"), ddof=1).to_numpy()
        out[prefix + "median"], out[prefix + "ci_lower"], out[prefix + "ci_upper"] = q
        if var == "param":
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                draws = x.transpose("chain", "draw", "parameter").to_numpy()  # arviz's statistics, vectorised
                out["r_hat"] = rhat_rank(draws)
                out["ess_bulk"] = ess_bulk(draws)
                out["ess_tail"] = ess_tail(draws, validate_ci_prob(None))
            constant = (x.max(("chain", "draw")) == x.min(("chain", "draw"))).to_numpy()
            out.loc[constant, ["r_hat", "ess_bulk", "ess_tail"]] = np.nan
    return labelled_interval(out, ci)


def load_posterior(path: str | os.PathLike[str]) -> xr.DataTree:
    """Read a posterior saved with ``post.to_netcdf(path)`` (every group, attrs included).

    A missing, truncated or foreign file (a saved ML fit, a netCDF file of something else) raises
    :class:`~loyaltymodels.errors.DataError` naming it, not h5py's ``OSError``.
    """
    return read_datatree(path, posterior=True)
