"""The posterior as a ``xarray.DataTree`` laid out as :mod:`loyaltymodels.spec.layout` says.

Groups: ``posterior`` (``param``, ``std_all`` over ``parameter``; ``eta`` over ``respondent,
factor`` for the conditional form), ``sample_stats`` (ArviZ/PyMC names: ``diverging``, ``energy``,
``tree_depth``, ``reached_max_treedepth``, ``step_size``, ``n_steps``, ``lp``, ``acceptance_rate``),
``observed_data`` (``y`` over ``respondent, item``, with ``group`` along ``respondent``),
``log_likelihood`` (``y`` over ``chain, draw, respondent``), and on request ``posterior_predictive``,
``prior`` and ``prior_predictive``. Root attrs: package versions, the spec (rebuild it with
:func:`loyaltymodels.spec.provenance.spec_from_attrs`), the missing-data policy, group labels, the
likelihood form, sampler, seed and timings. Derived quantities are computed here, with NumPy,
from the draws of the free parameters, so the sampled graph stays small.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from ..spec.layout import parameter_coords
from ..spec.provenance import package_versions, spec_attrs
from .data import DataSummary
from .likelihoods import latent_scores, predictive_draws
from .parameterization import Plan, row_values, std_all_draws, with_defined

#: nutpie's and PyMC's sample-stat names -> the names used here (ArviZ's conventions).
_STATS = {
    "diverging": "diverging",
    "energy": "energy",
    "depth": "tree_depth",
    "tree_depth": "tree_depth",
    "maxdepth_reached": "reached_max_treedepth",
    "reached_max_treedepth": "reached_max_treedepth",
    "step_size": "step_size",
    "n_steps": "n_steps",
    "logp": "lp",
    "lp": "lp",
    "mean_tree_accept": "acceptance_rate",
    "acceptance_rate": "acceptance_rate",
    "energy_error": "energy_error",
}


def draws_of(group: xr.Dataset, plan: Plan) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Flat ``(chain*draw, k)`` arrays of the sampled random variables."""
    shape = (group.sizes["chain"], group.sizes["draw"])
    out = {g.name: group[g.name].to_numpy().reshape(shape[0] * shape[1], -1) for g in plan.rvs}
    return out, shape


def rows_of(plan: Plan, summary: DataSummary, draws: dict[str, np.ndarray], fixed: np.ndarray) -> np.ndarray:
    return with_defined(plan.table, row_values(plan, draws, fixed, np))


def eta_of(plan: Plan, summary: DataSummary, rows: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Latent scores ``(draws, respondents, factors)`` from the sampled ``z``."""
    eta = np.empty_like(z)
    for g in range(1, plan.layout.ngroups + 1):
        idx = np.flatnonzero(summary.group == g)
        eta[:, idx] = latent_scores(plan, rows, z[:, idx], g, np)
    return eta


def parameter_dataset(plan: Plan, rows: np.ndarray, shape: tuple[int, int]) -> xr.Dataset:
    """``param`` and ``std_all`` with the layout's coords."""
    coords = parameter_coords(plan.table)
    keep = ~plan.table.op.isin(["==", "<", ">"]).to_numpy()
    std = std_all_draws(plan.spec, plan.layout, rows)
    dims = ("chain", "draw", "parameter")
    ds = xr.Dataset(
        {"param": (dims, rows[:, keep].reshape(*shape, -1)), "std_all": (dims, std[:, keep].reshape(*shape, -1))},
        coords={"chain": np.arange(shape[0]), "draw": np.arange(shape[1]), **coords},
    )
    return ds


def respondent_coords(summary: DataSummary) -> dict[str, tuple[str, np.ndarray]]:
    # the few group labels converted once, then gathered (not a million Python objects)
    names = list(summary.group_labels)
    kinds = np.asarray(names, int) if all(isinstance(v, (int, np.integer)) for v in names) else np.asarray(names, str)
    labels = kinds[summary.group - 1]
    return {
        "respondent": ("respondent", np.asarray(summary.index)),
        "group": ("respondent", labels),
        "item": ("item", np.asarray(summary.items, dtype=object)),
    }


def assemble(
    plan: Plan,
    summary: DataSummary,
    trace: Any,
    *,
    form: str,
    fixed: np.ndarray,
    rng: np.random.Generator,
    posterior_predictive: bool,
    prior: xr.DataTree | xr.Dataset | None = None,
    attrs: dict[str, Any] | None = None,
) -> xr.DataTree:
    """Build the DataTree from a sampler's trace (and optional prior draws)."""
    post = trace["posterior"].to_dataset() if isinstance(trace, xr.DataTree) else trace.posterior
    draws, shape = draws_of(post, plan)
    rows = rows_of(plan, summary, draws, fixed)
    posterior = parameter_dataset(plan, rows, shape)
    rc = respondent_coords(summary)
    eta = None
    if form == "conditional":
        z = post["z"].to_numpy().reshape(shape[0] * shape[1], summary.n, -1)
        eta = eta_of(plan, summary, rows, z)
        posterior["eta"] = (("chain", "draw", "respondent", "factor"), eta.reshape(*shape, *eta.shape[1:]))
        posterior = posterior.assign_coords(respondent=rc["respondent"], factor=list(plan.layout.latents))
    groups = {"posterior": posterior, "sample_stats": sample_stats(trace, shape)}
    # no form stores its pointwise log-likelihood: add_log_likelihood, LOO, WAIC compute it when
    # asked (the conditional form's integrated over the scores, bayes.integrated: the density given
    # the sampled scores is not the one to cross-validate), so a fit's cost stays flat in N
    groups["observed_data"] = xr.Dataset({"y": (("respondent", "item"), summary.y)}, coords=rc)
    if posterior_predictive:
        yrep = predictive_draws(plan, summary, rows, rng, eta)
        groups["posterior_predictive"] = xr.Dataset(
            {"y": (("chain", "draw", "respondent", "item"), yrep.reshape(*shape, *yrep.shape[1:]))},
            coords={"chain": posterior.chain, "draw": posterior.draw, **rc},
        )
    if prior is not None:
        groups.update(_prior_groups(plan, summary, prior, fixed, form, rng, rc))
    tree = xr.DataTree.from_dict({k: v for k, v in groups.items()})
    tree.attrs.update(root_attrs(plan, summary, form, attrs or {}))
    return tree


def _prior_groups(
    plan: Plan,
    summary: DataSummary,
    prior: xr.DataTree | xr.Dataset,
    fixed: np.ndarray,
    form: str,
    rng: np.random.Generator,
    rc: dict[str, tuple[str, np.ndarray]],
) -> dict[str, xr.Dataset]:
    ds = prior["prior"].to_dataset() if isinstance(prior, xr.DataTree) else prior
    draws, shape = draws_of(ds, plan)
    rows = rows_of(plan, summary, draws, fixed)
    with np.errstate(all="ignore"):
        out = {"prior": parameter_dataset(plan, rows, shape)}
        eta = None
        if form == "conditional":
            z = ds["z"].to_numpy().reshape(shape[0] * shape[1], summary.n, -1)
            ok = _psi_ok(plan, rows)
            eta = np.full_like(z, np.nan)
            if ok.any():
                eta[ok] = eta_of(plan, summary, rows[ok], z[ok])
        yrep = predictive_draws(plan, summary, rows, rng, eta)
    out["prior_predictive"] = xr.Dataset(
        {"y": (("chain", "draw", "respondent", "item"), yrep.reshape(*shape, *yrep.shape[1:]))},
        coords={"chain": np.arange(shape[0]), "draw": np.arange(shape[1]), **rc},
    )
    return out


def _psi_ok(plan: Plan, rows: np.ndarray) -> np.ndarray:
    """Prior draws whose latent covariance matrices are positive definite in every group."""
    from .parameterization import ram_tensors

    p, ok = plan.layout.n_observed, np.ones(len(rows), bool)
    for g in range(1, plan.layout.ngroups + 1):
        S = ram_tensors(plan.layout, rows, g, np)[1][:, p:, p:]
        ok &= np.all(np.linalg.eigvalsh(S) > 0, axis=1)
    return ok


def sample_stats(trace: Any, shape: tuple[int, int]) -> xr.Dataset:
    """The sampler's statistics under ArviZ's names (``diverging``, ``tree_depth``, ...), dims
    ``(chain, draw)``, from nutpie's or PyMC's trace."""
    ss = trace["sample_stats"].to_dataset() if isinstance(trace, xr.DataTree) else trace.sample_stats
    keep = {}
    for name, new in _STATS.items():
        if name in ss and new not in keep and set(ss[name].dims) == {"chain", "draw"}:
            keep[new] = ss[name].astype(bool if new in ("diverging", "reached_max_treedepth") else float)
    out = xr.Dataset(keep).assign_coords(chain=np.arange(shape[0]), draw=np.arange(shape[1]))
    return out


def root_attrs(plan: Plan, summary: DataSummary, form: str, extra: dict[str, Any]) -> dict[str, Any]:
    labels = [v.item() if hasattr(v, "item") else v for v in summary.group_labels]
    attrs: dict[str, Any] = {
        **spec_attrs(plan.spec),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "missing": summary.missing,
        "group_labels": json.dumps(labels, default=str),
        "likelihood_form": form,
        "priors": json.dumps(list(map(str, plan.priors["prior"]))),
        "created_by": "loyaltymodels.fit_bayes",
    }
    for k, v in extra.items():
        attrs[k] = v if isinstance(v, (str, int, float)) else json.dumps(v, default=str)
    return attrs
