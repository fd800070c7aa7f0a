"""Building the loyalty model: the Bayesian SEM's parameter table and random variables, with
loyalty's structural weights made hierarchical across sectors, and the likelihood that the data
and the requested claims call for.

The measurement model, latent (co)variances and means come from the SEM machinery unchanged
(:func:`loyaltymodels.bayes.parameterization.make_plan`, blavaan's priors): one group per *cell*
(sector x segment), measurement invariant across cells (loadings and intercepts equal by default),
latents identified by ``std_lv``: the drivers have variance 1 and mean 0 in the first cell,
loyalty's residual variance is 1 there; other cells' latent means and variances are free. So a
raw weight is "loyalty residual SDs per driver SD of the reference cell", a scale that needs no
data-dependent prior. Loyalty's regression rows are then replaced, before the table's rows are
assembled, by

    w[cell, k] = mu_k + tau_k z[sector(cell), k] (+ delta[segment(cell), k])

(non-centred; ``delta`` sums to zero over segments), so sector weights are partially pooled.

Likelihood forms (``design.form``):

``marginal``     continuous items, no interaction, asymmetry or outcome: the SEM's sufficient-
                 statistics likelihood per cell and missing-data pattern (the fast path).
``conditional``  ordinal items (any model: :mod:`~loyaltymodels.loyalty.conditional`): the SEM's
                 latent-score form, every score sampled, nonlinear terms added to loyalty's score,
                 outcomes given it.
``outcomes``     linear model with behaviour outcomes of loyalty: all latents integrated out per
                 respondent (:func:`~loyaltymodels.loyalty.likelihood.gaussian_block`), outcomes
                 integrated over loyalty's posterior normal by Gauss-Hermite.
``scores``       interaction, asymmetry or outcomes of other latents: every latent but loyalty
                 sampled around its posterior given its own items, loyalty integrated out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..algebra.matrices import acyclic_depth
from ..bayes.data import DataSummary, fixed_values, item_stats, prepare
from ..bayes.likelihoods import add_likelihood
from ..bayes.model import positive_definite_check, random_variable
from ..bayes.parameterization import Plan, make_plan, ram_tensors, row_values
from ..errors import SpecError
from .cells import total_effects
from .measurement import WIGGLE_SD, check_wiggle_sd, invariance_options, level_of, wiggle_logp, wiggle_rows
from .ordinal import ordinal_items
from .priors import own_priors, prior_rv, split_priors
from .roles import MIN_CELL_SIZE, Outcome, Roles, cell_codes, check_structure, find_roles, outcome_codes, parse_outcomes

if TYPE_CHECKING:
    import pymc as pm

    from ..spec.model import ModelSpec
    from .promise import PromisePairs

CELL_COLUMN = "_loyalty_cell"
DEFAULT_INVARIANCE = ("loadings", "intercepts")


@dataclass(frozen=True)
class Design:
    """Everything structural about one loyalty model for one data set (see the module docstring)."""

    plan: Plan = field(repr=False)
    summary: DataSummary = field(repr=False)
    roles: Roles
    form: str
    sectors: tuple[str, ...]
    segments: tuple[str, ...]
    cell_sector: np.ndarray = field(repr=False)  # (G,) sector index of each cell
    cell_segment: np.ndarray = field(repr=False)  # (G,) segment index (0 without segments)
    weight_pars: np.ndarray = field(repr=False)  # (G, K) par of loyalty ~ driver k in cell g
    outcomes: tuple[Outcome, ...] = ()
    codes: np.ndarray | None = field(repr=False, default=None)  # (N, n_outcomes), -1 when missing
    priors: dict = field(repr=False, default_factory=dict)
    blocks: dict = field(repr=False, default_factory=dict)  # name -> (item indices, latent indices)
    invariance: tuple[str, ...] = DEFAULT_INVARIANCE
    chunks: np.ndarray | None = field(repr=False, default=None)  # (K, B) respondent per slot, -1 = padding
    chunk_group: np.ndarray | None = field(repr=False, default=None)  # (K,) 0-based group of each chunk
    chunk_observed: np.ndarray | None = field(repr=False, default=None)  # (K, p) items answered in the chunk
    sector_column: str | None = None  # the user's columns, recorded in the posterior
    segment_column: str | None = None
    centred: bool = False  # sector weights sampled themselves (w ~ normal(mu, tau)), else mu + tau z
    level: str = "scalar"  # the invariance level (loyalty.measurement)
    wiggle: np.ndarray | None = field(repr=False, default=None)  # (n, G) rows held near their mean
    wiggle_sd: float = 0.1
    promise: PromisePairs | None = field(repr=False, default=None)  # commensurate promise items

    @property
    def cells(self) -> list[int]:
        """The cells' integer codes in the order of the model's groups."""
        return [int(c) for c in self.summary.group_labels]

    @property
    def latents(self) -> tuple[str, ...]:
        return self.plan.layout.latents

    def structure_key(self) -> tuple:
        from ..bayes.sampling import structure_key

        blocks = tuple((k, tuple(it), tuple(lv)) for k, (it, lv) in self.blocks.items())
        cells = (
            ()
            if self.chunks is None or self.chunk_group is None or self.chunk_observed is None
            else (self.chunks.shape, self.chunk_group.tobytes(), self.chunk_observed.tobytes())
        )
        return (
            structure_key(self.plan, self.summary, "conditional" if self.form == "conditional" else "marginal"),
            self.roles,
            self.form,
            self.sectors,
            self.segments,
            self.outcomes,
            blocks,
            cells,
            tuple(np.bincount(self.summary.group)),
            # the conditional graph holds each group's respondents as constants: same sizes, other
            # order must not reuse it
            self.summary.group.tobytes() if self.form == "conditional" else b"",
            tuple(sorted(self.priors.items())),
            self.centred,
            self.level,
            self.wiggle_sd if self.wiggle is not None else None,
        )


def make_design(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    sector: str | None = None,
    segment: str | None = None,
    outcomes: Mapping[str, Any] | Sequence[str] | None = None,
    interaction: bool | Sequence[str] = False,
    asymmetry: bool | Sequence[str] | None = None,
    ordinal: str | Sequence[str] | bool | None = "auto",
    priors: pd.DataFrame | Mapping[str, Any] | None = None,
    surface: bool | Sequence[str] = False,
    diminishing: Sequence[str] | None = None,
    invariance: str | Sequence[str] = DEFAULT_INVARIANCE,
    loyalty: str | None = None,
    drivers: Sequence[str] | None = None,
    min_size: int = MIN_CELL_SIZE,
    missing: str = "fiml",
    wiggle_sd: float = WIGGLE_SD,
    promise_pairs: Mapping[str, str] | None = None,
) -> Design:
    """Check the inputs and fix the model's structure (see :func:`loyaltymodels.fit_loyalty`)."""
    from ..spec.model import as_spec

    cells, sectors, segments = cell_codes(data, sector, segment, min_size)
    frame = data.assign(**{CELL_COLUMN: cells})
    sem_priors, own = split_priors(priors)
    level = level_of(invariance)
    promise = None
    ords = ordinal_items(data, list(as_spec(model).observed), ordinal)
    if promise_pairs is not None:  # loyalty.promise: the model with the pairs' parameters shared
        from .promise import with_pairs

        # ordinal pairs share thresholds (their intercepts are 0), continuous ones intercepts
        promise, model, asymmetry = with_pairs(model, promise_pairs, level, asymmetry, data, ords or ())
    base = as_spec(model).table
    loads = base[base.op == "=~"]
    items = list(as_spec(model).observed)
    equal, partial = invariance_options(invariance, list(zip(loads.lhs, loads.rhs)), items)
    if ords and "intercepts" in equal and "thresholds" not in equal:
        # ordinal items have thresholds where continuous ones have intercepts (lavaan's scalar
        # invariance of ordered items): free thresholds beside free latent means and residual
        # variances leave the other cells unidentified (threshold ESS ~ 10 in 600 draws)
        equal = (*equal, "thresholds")
    spec, summary = prepare(
        model,
        frame,
        group=CELL_COLUMN,
        group_equal=equal,
        group_partial=partial,
        ordinal=ords,
        missing=missing,
        std_lv=True,
    )
    if "regressions" in spec.options.get("group_equal", ()):
        raise SpecError(
            "invariance must not include 'regressions': the loyalty weights are the part "
            "that varies by sector (their pooling is the hierarchical prior)"
        )
    if promise is not None:  # before the asymmetry on the pair is checked, with a clearer message
        promise.check_drivers(find_roles(spec, loyalty, drivers))
    roles = find_roles(spec, loyalty, drivers, interaction, asymmetry, surface, diminishing)
    outs = parse_outcomes(outcomes, data, spec, roles.loyalty)
    form = (
        "conditional"
        if summary.ordinal
        else "scores"
        if roles.nonlinear or any(o.latent != roles.loyalty for o in outs)
        else "outcomes"
        if outs
        else "marginal"
    )
    check_structure(spec, roles, form in ("scores", "outcomes"))
    plan = make_plan(spec, sem_priors)
    group_cells = np.array([int(c) for c in summary.group_labels])  # the model's groups, in their order
    cell_sector, cell_segment = np.divmod(group_cells, max(1, len(segments)))
    codes = (
        np.stack([outcome_codes(o, data.loc[summary.index, o.column]) for o in outs], 1)
        if outs
        else np.zeros((summary.n, 0), int)
    )
    design = Design(
        plan,
        summary,
        roles,
        form,
        tuple(sectors),
        tuple(segments),
        cell_sector,
        cell_segment,
        _weight_pars(plan, roles),
        outs,
        codes,
        own_priors(own, measured_gap=promise is not None),
        {},
        equal,
        sector_column=sector,
        segment_column=segment,
        level=level,
        wiggle=wiggle_rows(spec.table, spec.observed) if level == "approximate" and spec.ngroups > 1 else None,
        wiggle_sd=check_wiggle_sd(wiggle_sd),
        promise=promise,
    )
    return _with_blocks(design)


def _weight_pars(plan: Plan, roles: Roles) -> np.ndarray:
    t = plan.table
    G = plan.layout.ngroups
    out = np.full((G, len(roles.drivers)), -1)
    for g in range(1, G + 1):
        for k, d in enumerate(roles.drivers):
            row = t[(t.lhs == roles.loyalty) & (t.op == "~") & (t.rhs == d) & (t.group == g)]
            if not len(row) or not bool(row.free.iloc[0]):
                raise SpecError(
                    f"the weight '{roles.loyalty} ~ {d}' must be a free parameter (remove its "
                    "fixed value) to be estimated by sector"
                )
            out[g - 1, k] = int(row.par.iloc[0])
    if len(np.unique(out)) != out.size:
        raise SpecError(
            f"the weights of {roles.loyalty!r} share labels across cells or drivers; remove the "
            "labels: the hierarchical prior is what pools them"
        )
    return out


def _with_blocks(design: Design) -> Design:
    """Item and latent blocks of the latent forms, and respondents laid out in chunks (the
    conditional form samples every score: its drivers' block says which latents the nonlinear
    terms read)."""
    if design.form not in ("scores", "outcomes", "conditional"):
        return design
    t, s = design.plan.table, design.summary
    lat, items = list(design.latents), list(s.items)
    L = design.roles.loyalty
    load = t[(t.op == "=~") & (t.group == 1)]
    if design.form == "conditional":
        D = np.array([k for k, v in enumerate(lat) if v != L])
        return dataclasses.replace(design, blocks={"drivers": (np.arange(0), D)})
    if design.form == "outcomes":
        blocks = {"all": (np.arange(len(items)), np.arange(len(lat)))}
    else:
        own = [items.index(v) for v in load.rhs[load.lhs == L]]
        rest = [j for j in range(len(items)) if j not in own]
        blocks = {
            "drivers": (np.array(rest, int), np.array([k for k, v in enumerate(lat) if v != L])),
            "loyalty": (np.array(own, int), np.array([lat.index(L)])),
        }
    return dataclasses.replace(design, blocks=blocks, **chunk_layout(s.group - 1, ~np.isnan(s.y)))


def chunk_layout(group0: np.ndarray, observed: np.ndarray, max_chunk: int = 128) -> dict:
    """Respondents in padded chunks of equal size, each holding one group and one missing-data
    pattern (see :mod:`loyaltymodels.loyalty.likelihood`): ``chunks (K, B)`` respondent indices
    (-1 = padding), ``chunk_group (K,)``, ``chunk_observed (K, p)``. The chunk size is chosen so
    the largest cell splits evenly (300 -> 3 x 100), keeping padding small."""
    keys = np.column_stack([group0, observed.astype(int)])
    uniq, which = np.unique(keys, axis=0, return_inverse=True)
    which = which.ravel()
    members = [np.flatnonzero(which == c) for c in range(len(uniq))]
    big = max(len(m) for m in members)
    size = int(np.ceil(big / np.ceil(big / max_chunk)))
    rows, groups, obs = [], [], []
    for u, m in zip(uniq, members):
        for a in range(0, len(m), size):
            part = m[a : a + size]
            rows.append(np.concatenate([part, np.full(size - len(part), -1)]))
            groups.append(u[0])
            obs.append(u[1:])
    return {"chunks": np.array(rows, int), "chunk_group": np.array(groups, int), "chunk_observed": np.array(obs, float)}


# -- the PyMC graph ---------------------------------------------------------------------------------
def data_values(design: Design) -> dict[str, np.ndarray]:
    """Values of the graph's ``pm.Data`` for the design's data (swapped in by ``with_data``)."""
    from ..bayes.model import data_values as sem_values

    s = design.summary
    base = "conditional" if design.form == "conditional" else "marginal"
    if design.form in ("marginal", "conditional"):
        out = sem_values(design.plan, s, base)
        for k, o in enumerate(design.outcomes if design.form == "conditional" else ()):
            code = design.codes[:, k] if design.codes is not None else np.zeros(s.n, int)
            out[f"code_{o.name}"] = np.maximum(code, 0)
            out[f"mask_{o.name}"] = (code >= 0).astype(float)
        return out
    chunks, codes = design.chunks, design.codes
    assert chunks is not None and codes is not None  # the latent forms lay respondents out in chunks
    idx, pad = np.maximum(chunks, 0), chunks < 0
    y = np.nan_to_num(s.y)[idx]
    y[pad] = 0.0
    out = {
        "fixed": fixed_values(design.plan.spec, item_stats(design.plan.spec, s)),
        "y": y,
        "valid": (~pad).astype(float),
    }
    for k, o in enumerate(design.outcomes):
        code = codes[idx, k]
        out[f"code_{o.name}"] = np.where(pad, 0, np.maximum(code, 0))
        out[f"mask_{o.name}"] = ((code >= 0) & ~pad).astype(float)
    return out


def build_graph(design: Design) -> pm.Model:
    """The ``pm.Model`` of ``design`` (see the module docstring)."""
    import pymc as pm
    import pytensor.tensor as pt

    plan, s, roles = design.plan, design.summary, design.roles
    coords = {
        "factor": list(design.latents),
        "respondent": np.arange(s.n),
        "driver": list(roles.drivers),
        "sector": list(design.sectors),
        "cell": design.cells,
    }
    names = plan.priors.set_index("par")["name"]
    for g in plan.rvs:
        coords[f"{g.name}_parameter"] = names.loc[g.pars].tolist()
    if design.segments:
        coords["segment"] = list(design.segments)
    if design.outcomes:
        coords["outcome"] = [o.name for o in design.outcomes]
    with pm.Model(coords=coords) as model:
        w = _weights(design)
        values = data_values(design)
        fixed = pm.Data("fixed", values.pop("fixed"))
        rvs = _centre_intercepts(design, _sem_variables(design, w), fixed)
        rows = row_values(plan, rvs, fixed, pt)
        if design.wiggle is not None:  # approximate invariance (loyalty.measurement)
            pm.Potential("wiggle", wiggle_logp(rows, design.wiggle, design.wiggle_sd, pt))
        if design.form in ("marginal", "conditional"):
            positive_definite_check(plan, rows)
            if design.form == "conditional" and (roles.nonlinear or design.outcomes):
                from .conditional import add_conditional

                add_conditional(design, rows, values, _extra_variables(design))
            else:
                add_likelihood(plan, s, rows, design.form)
            return model
        data = {k: pm.Data(k, v) for k, v in values.items()}
        positive_definite_check(plan, rows)
        from .cells import respondent_loglik

        pm.Potential("loglik", pt.sum(respondent_loglik(design, rows, data, _extra_variables(design), pt)))
    return model


def _weights(design: Design) -> Any:
    """(G, K) raw weights: mu + tau z[sector] (+ segment shift), non-centred."""
    import pymc as pm

    pr = design.priors
    mu = prior_rv("weight_mu", pr["weight_mu"], dims="driver")
    w = mu[None, :]
    if len(design.sectors) > 1:
        tau = prior_rv("weight_tau", pr["weight_tau"], dims="driver")
        if design.centred:
            w = pm.Normal("weight_sector", mu[None, :], tau[None, :], dims=("sector", "driver"))[design.cell_sector]
        else:
            z = pm.Normal("weight_z", 0.0, 1.0, dims=("sector", "driver"))
            w = (mu[None, :] + tau[None, :] * z)[design.cell_sector]
    else:
        w = w[np.zeros(len(design.cells), int)]
    if len(design.segments) > 1:
        # zero-sum over segments (the last axis: ZeroSumNormal centres its last axes), one vector per driver
        sd = np.float64(pr["segment_shift"].args[1])  # not a Python float: see priors.prior_rv
        delta = pm.ZeroSumNormal("segment_shift", sigma=sd, dims=("driver", "segment"))
        w = w + delta.T[design.cell_segment]
    return pm.Deterministic("weight", w, dims=("cell", "driver"))


def _sem_variables(design: Design, w: Any) -> dict[str, Any]:
    """The SEM's random variables, with loyalty's weights taken from ``w`` (the group holding them
    becomes a Deterministic of the same name, so the posterior keeps the layout's variables)."""
    import pymc as pm
    import pytensor.tensor as pt

    rvs = {}
    flat_pars = design.weight_pars.ravel()
    for g in design.plan.rvs:
        hit = np.isin(g.pars, flat_pars)
        if g.cls == "nu" and design.plan.layout.ngroups > 1:  # see _centre_intercepts
            model = pm.modelcontext(None)
            model.add_coord(f"{g.name}_centred_parameter", model.coords[f"{g.name}_parameter"])
            rvs[g.name] = random_variable(dataclasses.replace(g, name=f"{g.name}_centred"))
            continue
        if not hit.any():
            rvs[g.name] = random_variable(g)
            continue
        parts = [pt.flatten(w)]
        if (~hit).any():
            from ..bayes.parameterization import RVGroup

            sub = RVGroup(f"{g.name}_other", g.cls, g.pars[~hit], g.prior, g.args[~hit])
            model = pm.modelcontext(None)
            model.add_coord(
                f"{sub.name}_parameter", list(np.asarray(model.coords[f"{g.name}_parameter"], dtype=object)[~hit])
            )
            parts.append(random_variable(sub))
        pos = {int(p): k for k, p in enumerate(flat_pars)}
        other = {int(p): len(flat_pars) + k for k, p in enumerate(g.pars[~hit])}
        src = np.array([pos.get(int(p), other.get(int(p), -1)) for p in g.pars])
        rvs[g.name] = pm.Deterministic(g.name, pt.concatenate(parts)[src], dims=f"{g.name}_parameter")
    return rvs


def _centre_intercepts(design: Design, rvs: dict[str, Any], fixed: Any) -> dict[str, Any]:
    """Sample item intercepts centred at the cells' average latent means.

    With invariant intercepts and free latent means, ``E[y_j | cell g] = nu_j + lambda_j' mu_g``
    ties every intercept to every latent mean of the reference cell (whose means are fixed at 0):
    the intercepts were the slowest-mixing parameters (bulk ESS ~ 1/4 of the weights'). Sampling
    ``nu*_j = nu_j + lambda_j' mean_g(mu_g)`` (cell-size weights) instead, ``nu*`` sits at the
    items' grand means, nearly uncorrelated with the rest; ``nu`` is kept as a Deterministic of
    the same name, so the posterior layout is unchanged. The blavaan prior applies to ``nu*``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    plan, lay = design.plan, design.plan.layout
    groups = [g for g in plan.rvs if g.cls == "nu"]
    if not groups or lay.ngroups == 1:
        return rvs
    rows0 = row_values(plan, rvs, fixed, pt)
    p = lay.n_observed
    sizes = np.bincount(design.summary.group - 1, minlength=lay.ngroups).astype(float)
    mats = [ram_tensors(lay, rows0, g, pt) for g in range(1, lay.ngroups + 1)]
    means = [total_effects(A[p:, p:], acyclic_depth(lay, g + 1), pt) @ m[p:] for g, (A, _, m) in enumerate(mats)]
    mean_bar = sum(w * mu for w, mu in zip(sizes / sizes.sum(), means))
    t, pos = plan.table, {v: k for k, v in enumerate(lay.variables)}
    for g in groups:
        first = t[t.par.isin(g.pars)].drop_duplicates("par").set_index("par").loc[g.pars]
        shift = pt.stack([mats[int(gg) - 1][0][pos[lhs], p:] @ mean_bar for lhs, gg in zip(first.lhs, first.group)])
        rvs[g.name] = pm.Deterministic(g.name, rvs[g.name] - shift, dims=f"{g.name}_parameter")
    return rvs


def _extra_variables(design: Design) -> dict:
    """Interaction, asymmetry, outcome coefficients and sampled scores."""
    import pymc as pm

    pr, roles = design.priors, design.roles
    out = {}
    if roles.interaction:
        out["interaction"] = prior_rv("interaction", pr["interaction"])
    if roles.asymmetry:
        out["asymmetry"] = prior_rv("asymmetry", pr["asymmetry"])
    if roles.surface:
        from .surface import surface_variables

        out["surface"] = surface_variables(design)
    if roles.diminishing:
        pm.modelcontext(None).add_coord("diminishing_driver", list(roles.diminishing))
        out["diminishing"] = prior_rv("diminishing", pr["diminishing"], dims="diminishing_driver")
    binary = [o.name for o in design.outcomes if o.kind == "binary"]
    if design.outcomes:
        out["outcome_slope"] = prior_rv("outcome_slope", pr["outcome_slope"], dims="outcome")
    if binary:
        pm.modelcontext(None).add_coord("binary_outcome", binary)
        out["outcome_intercept"] = prior_rv("outcome_intercept", pr["outcome_intercept"], dims="binary_outcome")
    for o in design.outcomes:
        if o.kind == "ordinal":
            from pymc.distributions import transforms

            k = len(o.levels) - 1
            a = [np.float64(v) for v in pr["outcome_cut"].args]  # see priors.prior_rv
            out[f"cuts_{o.name}"] = pm.Normal(
                f"cuts_{o.name}", a[0], a[1], shape=k, transform=transforms.ordered, initval=np.linspace(-1, 1, k)
            )
    if design.form == "scores":
        # padded slots get a u too (standard normal, untouched by the data): a fixed layout is
        # what keeps the graph small (see loyalty_likelihood)
        assert design.chunks is not None
        out["u"] = pm.Normal("u", 0.0, 1.0, shape=design.chunks.shape + (len(design.blocks["drivers"][1]),))
    return out
