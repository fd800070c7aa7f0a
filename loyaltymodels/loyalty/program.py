"""The loyalty model as a program of the package's compiled log density: no per-model compile.

The compiled density (:mod:`loyaltymodels.bayes.density.kernel`) evaluates any multigroup SEM whose
table rows come from sampled elements; the loyalty model's rows come from the same elements through
*derived values* (sums of products of earlier values), which the kernel computes and differentiates
before the likelihood:

- the hierarchical weights ``w[cell, k] = mu_k + tau_k z[sector, k] (+ delta[segment, k])``;
- the zero-sum segment shifts ``delta = M y`` (PyMC's zero-sum transform, a fixed linear map of
  the ``S - 1`` free values per driver) with their normal prior on the ``S`` shifts;
- the centred intercepts ``nu_j = nu*_j - lambda_j' mean_bar``, ``mean_bar`` the cell-size weighted
  average of the cells' latent means ``mu_g = alpha_g + B_g mu_g`` (solved in path order);
- approximate invariance: each loading's and intercept's mean over the cells, with the value priors
  ``x_g ~ normal(mean, wiggle_sd)`` (:mod:`loyaltymodels.loyalty.measurement`).

The elements are the value variables of :func:`loyaltymodels.build_loyalty_model`'s PyMC model, in
its order, with its priors and transforms, so the two give the same log density and gradient (the
tests compare them at random points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..bayes.density import kernel as K
from ..bayes.density.program import (
    DensityProgram,
    Derived,
    LatentSection,
    elements,
    encode,
    value_index,
)
from ..bayes.parameterization import RVGroup
from ..bayes.priors import Prior
from .build import Design

__all__ = ["LoyaltyProgram", "loyalty_program", "program_unsupported", "zero_sum_map"]


@dataclass(frozen=True)
class LoyaltyProgram:
    """The density program of a loyalty design, and where its own variables sit among the elements."""

    program: DensityProgram
    slices: dict[str, tuple[int, int, tuple[int, ...]]]  # name -> (start, stop, shape) among elements
    sources: dict[str, tuple[str, np.ndarray]]  # SEM element group -> (the plan's group, positions in it)
    cuts: dict[str, tuple[int, int]] = field(default_factory=dict)  # outcome -> its cut points' values
    ordered: frozenset[str] = frozenset()  # element groups of ordered thresholds (first value, increments)

    def cut_points(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The ordinal outcomes' cut points ``(draws, levels - 1)`` at unconstrained points ``x``, by
        the PyMC model's variable names (``cuts_<outcome>``)."""
        if not self.cuts:
            return {}
        values = self.program.values(x)
        return {f"cuts_{name}": values[:, at : at + k] for name, (at, k) in self.cuts.items()}

    def start(self, point: dict[str, np.ndarray]) -> np.ndarray:
        """The unconstrained starting point from constrained starting values by name: the SEM's
        groups by the plan's names (:func:`loyaltymodels.bayes.model.start_point`), the loyalty
        variables by theirs (cut points and thresholds as their first value and increments); the segment
        shifts' free values at 0, anything not given at 0 (0.2 for the between-sector SDs)."""
        out: dict[str, np.ndarray] = {}
        for name, (a, b) in self.elements.items():
            if name in self.sources:
                group, idx = self.sources[name]
                out[name] = np.asarray(point[group], float).ravel()[idx]
                if name in self.ordered:  # thresholds as their first value and increments
                    x = out[name]
                    out[name] = np.concatenate([x[:1], np.maximum(np.diff(x), 1e-3)])
            elif name != "segment_shift" and name in point and np.size(point[name]) == b - a:
                out[name] = np.asarray(point[name], float).ravel()
            else:
                out[name] = np.full(b - a, 0.2 if name == "weight_tau" else 0.0)
        return self.program.unconstrain(out)

    @property
    def elements(self) -> dict[str, tuple[int, int]]:
        """Every element vector's ``(start, stop)``."""
        starts = np.cumsum([0, *self.program.sizes])
        return dict(zip(self.program.names, zip(starts[:-1].tolist(), starts[1:].tolist())))

    def own(self, constrained: np.ndarray) -> dict[str, np.ndarray]:
        """The loyalty-level variables (``weight_mu``, ``weight_z``, ...) from constrained element
        draws ``(draws, D)``, in their shapes; ``segment_shift`` as the ``S`` shifts per driver."""
        out = {}
        for name, (a, b, shape) in self.slices.items():
            out[name] = constrained[:, a:b].reshape((len(constrained), *shape))
        if "segment_shift" in out:
            y = out["segment_shift"]  # (draws, K, S - 1) free values -> (draws, S, K) shifts
            M = zero_sum_map(y.shape[-1] + 1)
            out["segment_shift"] = np.einsum("si,dki->dsk", M, y)
        return out


def program_unsupported(design: Design) -> str | None:
    """Why the compiled density cannot evaluate this loyalty design yet (``None``: it can)."""
    if design.form not in ("marginal", "scores", "outcomes", "conditional"):
        return f"the {design.form!r} form"
    if design.form == "scores":
        lay, D = design.plan.layout, design.blocks["drivers"][1]
        p = lay.n_observed
        for grp in range(1, lay.ngroups + 1):
            c = lay.A[grp]
            if np.isin(c.i - p, D).any() and np.isin(c.j - p, D)[np.isin(c.i - p, D)].any():
                return "paths between the drivers (a driver regressed on another)"
    for g in design.plan.rvs:
        if g.ordered and g.prior.family != "normal":
            return f"{g.prior.family} priors on ordered thresholds ({g.name}; normal ones are compiled)"
        if g.prior.family not in K.FAMILIES:
            return f"the prior family {g.prior.family!r}"
        if g.positive and g.prior.family != "normal":
            return f"a truncated {g.prior.family} prior ({g.name})"
    return None


def zero_sum_map(n: int) -> np.ndarray:
    """The ``(n, n - 1)`` matrix of PyMC's zero-sum transform: ``n`` values summing to zero from
    ``n - 1`` free ones (orthonormal columns, so the transform has no Jacobian).

    Examples
    --------
    >>> M = zero_sum_map(3)
    >>> np.allclose(M.sum(axis=0), 0), np.allclose(M.T @ M, np.eye(2))
    (True, True)
    """
    root = math.sqrt(n)
    M = np.zeros((n, n - 1))
    M[: n - 1] = np.eye(n - 1) - 1.0 / (root + n)
    M[n - 1] = -1.0 / root
    return M


def _group(name: str, prior: Prior, k: int) -> RVGroup:
    args = np.tile(np.asarray(prior.args, float), (k, 1))
    return RVGroup(name, name, np.arange(k), prior, args)


def loyalty_program(design: Design) -> LoyaltyProgram:
    """Encode ``design`` (marginal form) for the compiled density."""
    why = program_unsupported(design)
    if why:
        raise ValueError(f"the compiled density does not handle {why} of the loyalty model yet")
    plan, lay = design.plan, design.plan.layout
    t = plan.table
    nrows, G = len(t), lay.ngroups
    K_, S, Sg = len(design.roles.drivers), len(design.sectors), len(design.segments)
    pr = design.priors
    # -- elements, in the PyMC model's order of value variables
    groups: list[RVGroup] = [_group("weight_mu", pr["weight_mu"], K_)]
    if S > 1:
        groups.append(_group("weight_tau", pr["weight_tau"], K_))
        if design.centred:  # the sector weights themselves; their hierarchical prior is a value prior
            groups.append(_group("weight_sector", Prior("flat", ()), S * K_))
        else:
            groups.append(_group("weight_z", Prior("normal", (0.0, 1.0)), S * K_))
    weight_flat = design.weight_pars.ravel()
    centred = G > 1
    sem_groups: list[tuple[RVGroup, np.ndarray]] = []  # (element group, the pars it holds)
    sources: dict[str, tuple[str, np.ndarray]] = {}
    for g in plan.rvs:
        hit = np.isin(g.pars, weight_flat)
        if g.cls == "nu" and centred:
            sem_groups.append((RVGroup(f"{g.name}_centred", g.cls, g.pars, g.prior, g.args, g.positive), g.pars))
            sources[f"{g.name}_centred"] = (g.name, np.arange(len(g.pars)))
        elif not hit.any():
            sem_groups.append((g, g.pars))
            sources[g.name] = (g.name, np.arange(len(g.pars)))
        elif (~hit).any():
            sub = RVGroup(f"{g.name}_other", g.cls, g.pars[~hit], g.prior, g.args[~hit])
            sem_groups.append((sub, g.pars[~hit]))
            sources[sub.name] = (g.name, np.flatnonzero(~hit))
    names, sizes, el, elf = elements(groups)
    seg_at = len(el)
    if Sg > 1:  # the zero-sum shifts' free values: flat elements, their prior is on the shifts
        names.append("segment_shift")
        sizes.append(K_ * (Sg - 1))
        el += [(K.FAMILIES["flat"], 0, 0)] * (K_ * (Sg - 1))
        elf += [(0.0,) * K.EL_FLOAT] * (K_ * (Sg - 1))
    n2, s2, el2, elf2 = elements([g for g, _ in sem_groups])
    sem_at = len(el)
    ordered: dict[int, RVGroup] = {}  # ordered thresholds: x_0 free, x_k = x_{k-1} + exp(y_k) (derived below)
    for (g, _pars), a in zip(sem_groups, np.cumsum([0] + [len(p) for _, p in sem_groups])[:-1]):
        if g.ordered:
            ordered[int(a)] = g
            k = len(g.pars)
            el2[a : a + k] = [(K.FAMILIES["flat"], 0, 0)] + [(K.FAMILIES["flat"], K.TRANSFORMS["lower"], 0)] * (k - 1)
            elf2[a : a + k] = [(0.0,) * K.EL_FLOAT] * k
    names, sizes, el, elf = names + n2, sizes + s2, el + el2, elf + elf2
    # the latent forms' own variables, in the PyMC model's order (see build._extra_variables)
    extra = _extra_groups(design)
    n3, s3, el3, elf3 = elements([g for g in extra if not g.name.startswith(("cuts_", "u"))])
    names, sizes, el, elf = names + n3, sizes + s3, el + el3, elf + elf3
    for o in design.outcomes:  # ordered cut points: x_0 free, x_k = x_{k-1} + exp(y_k) (derived below)
        if o.kind == "ordinal":
            k = len(o.levels) - 1
            names.append(f"cuts_{o.name}")
            sizes.append(k)
            el += [(K.FAMILIES["flat"], 0, 0)] + [(K.FAMILIES["flat"], K.TRANSFORMS["lower"], 0)] * (k - 1)
            elf += [(0.0,) * K.EL_FLOAT] * k
    if design.form in ("scores", "conditional"):  # the sampled scores: u (scores), z (conditional)
        if design.form == "scores":
            assert design.chunks is not None
            name, size = "u", design.chunks.size * len(design.blocks["drivers"][1])
        else:
            name, size = "z", design.summary.n * len(design.latents)
        names.append(name)
        sizes.append(size)
        el += [(K.FAMILIES["normal"], 0, 0)] * size
        elf += [(0.0, 1.0, 0.0, -0.5 * math.log(2 * math.pi), 0.0, 0.0)] * size
    D = len(el)
    first_element, first_derived = value_index(nrows, D)
    starts = np.cumsum([0, *sizes])
    slots = dict(zip(names, zip(starts[:-1].tolist(), starts[1:].tolist())))

    # -- derived values
    terms: list[tuple[int, int, int]] = []
    coefs: list[float] = []
    prior_index: list[tuple[int, int, int]] = []
    prior_value: list[tuple[float, float, float]] = []
    count = 0

    def new() -> int:
        nonlocal count
        count += 1
        return first_derived + count - 1

    def add(target: int, coef: float, a: int, b: int = -1) -> None:
        terms.append((target - first_derived, a, b))
        coefs.append(coef)

    shift: dict[tuple[int, int], int] = {}
    if Sg > 1:
        M = zero_sum_map(Sg)
        sd = pr["segment_shift"].args[1]
        const = -(Sg - 1) / Sg * (0.5 * math.log(2 * math.pi) + math.log(sd))
        for k in range(K_):
            for s in range(Sg):
                v = new()
                for i in range(Sg - 1):
                    add(v, M[s, i], first_element + seg_at + k * (Sg - 1) + i)
                prior_index.append((v, -1, -1))
                prior_value.append((sd, const, 0.0))
                shift[(k, s)] = v
    mu0 = first_element + slots["weight_mu"][0]
    if S > 1:
        tau0 = first_element + slots["weight_tau"][0]
        sec0 = first_element + slots["weight_sector" if design.centred else "weight_z"][0]
        if design.centred:  # weight_sector[s, k] ~ normal(mu_k, tau_k)
            for s in range(S):
                for k in range(K_):
                    prior_index.append((sec0 + s * K_ + k, mu0 + k, tau0 + k))
                    prior_value.append((1.0, -0.5 * math.log(2 * math.pi), 0.0))
    weight_at: dict[int, int] = {}  # par -> derived value
    for cell in range(G):
        sector, segment = int(design.cell_sector[cell]), int(design.cell_segment[cell])
        for k in range(K_):
            v = new()
            if S > 1 and design.centred:
                add(v, 1.0, sec0 + sector * K_ + k)
            else:
                add(v, 1.0, mu0 + k)
            if S > 1 and not design.centred:
                add(v, 1.0, tau0 + k, sec0 + sector * K_ + k)
            if Sg > 1:
                add(v, 1.0, shift[(k, segment)])
            weight_at[int(design.weight_pars[cell, k])] = v
    # every free par's value index: an element, a weight, or (below) a centred intercept
    par_at: dict[int, int] = dict(weight_at)
    for (_group_of, pars), a in zip(sem_groups, np.cumsum([0] + [len(p) for _, p in sem_groups])[:-1]):
        if int(a) in ordered:  # each threshold a derived value with the group's normal prior
            e0, args = first_element + sem_at + int(a), ordered[int(a)].args
            previous = -1
            for k, p in enumerate(pars):
                v = new()
                if previous >= 0:
                    add(v, 1.0, previous)
                add(v, 1.0, e0 + k)
                loc, sd = float(args[k, 0]), float(args[k, 1])
                prior_index.append((v, -1, -1))
                prior_value.append((sd, -0.5 * math.log(2 * math.pi) - math.log(sd), loc))
                par_at[int(p)] = previous = v
            continue
        for k, p in enumerate(pars):
            par_at[int(p)] = first_element + sem_at + int(a) + k
    par = t.par.to_numpy()

    def row_at(r: int) -> int:
        return par_at[int(par[r])] if par[r] >= 0 else r

    if centred:
        _centre(design, row_at, par_at, new, add)
    src = np.array([row_at(r) for r in range(nrows)], np.int64)
    if design.wiggle is not None:  # approximate invariance: x_g ~ normal(mean of the cells' x, wiggle_sd)
        wsd = design.wiggle_sd
        for rows_of in design.wiggle:
            mean = new()
            for r in rows_of:
                add(mean, 1.0 / len(rows_of), row_at(int(r)))
            for r in rows_of:
                prior_index.append((row_at(int(r)), mean, -1))
                prior_value.append((wsd, -0.5 * math.log(2 * math.pi) - math.log(wsd), 0.0))
    cuts_at: dict[str, int] = {}
    for o in design.outcomes:
        if o.kind == "ordinal":
            e0 = first_element + slots[f"cuts_{o.name}"][0]
            loc, sd = pr["outcome_cut"].args[0], pr["outcome_cut"].args[1]
            const = -0.5 * math.log(2 * math.pi) - math.log(sd)
            previous = -1
            for k in range(len(o.levels) - 1):
                v = new()
                if previous >= 0:
                    add(v, 1.0, previous)
                add(v, 1.0, e0 + k)
                prior_index.append((v, -1, -1))
                prior_value.append((sd, const, loc))
                cuts_at.setdefault(o.name, v)
                previous = v
    surface_coef: dict[tuple[int, int], int] = {}  # (sector, term) -> value index of b
    if design.roles.surface:  # b[s, q] = mu_q + tau_q z[s, q], as the weights
        mu_s = first_element + slots["surface_mu"][0]
        for s in range(S):
            for q in range(3):
                if S == 1:
                    surface_coef[(s, q)] = mu_s + q
                    continue
                v = new()
                add(v, 1.0, mu_s + q)
                add(
                    v,
                    1.0,
                    first_element + slots["surface_tau"][0] + q,
                    first_element + slots["surface_z"][0] + 3 * s + q,
                )
                surface_coef[(s, q)] = v
    latent = None
    if design.form in ("scores", "outcomes", "conditional"):
        latent = _latent_section(design, first_element, slots, cuts_at, surface_coef)
    derived = Derived(
        count,
        np.asarray(terms, np.int64).reshape(-1, 3),
        np.asarray(coefs, float),
        np.asarray(prior_index, np.int64).reshape(-1, 3),
        np.asarray(prior_value, float).reshape(-1, 3),
    )
    program = encode(plan, design.summary, names, sizes, el, elf, src, derived, latent)
    own: dict[str, tuple[int, int, tuple[int, ...]]] = {"weight_mu": (*slots["weight_mu"], (K_,))}
    if S > 1:
        own["weight_tau"] = (*slots["weight_tau"], (K_,))
        name = "weight_sector" if design.centred else "weight_z"
        own[name] = (*slots[name], (S, K_))
    if Sg > 1:
        own["segment_shift"] = (*slots["segment_shift"], (K_, Sg - 1))
    for g in extra:
        if g.name not in ("u", "z") and not g.name.startswith("cuts_"):
            shape = (len(g.pars),) if g.name.startswith(("outcome", "surface", "diminishing")) else ()
            own[g.name] = (*slots[g.name], (S, 3) if g.name == "surface_z" else shape)
    cuts = {o.name: (cuts_at[o.name], len(o.levels) - 1) for o in design.outcomes if o.name in cuts_at}
    thresholds = frozenset(g.name for g in ordered.values())
    return LoyaltyProgram(program, own, sources, cuts, thresholds)


def _extra_groups(design: Design) -> list[RVGroup]:
    """The interaction and asymmetry coefficients and the outcome slopes and intercepts, as element
    groups (the cut points and the sampled scores are laid out by :func:`loyalty_program`)."""
    pr, roles = design.priors, design.roles
    out = []
    if roles.interaction:
        out.append(_group("interaction", pr["interaction"], 1))
    if roles.asymmetry:
        out.append(_group("asymmetry", pr["asymmetry"], 1))
    if roles.surface:
        out.append(_group("surface_mu", pr["surface_mu"], 3))
        if len(design.sectors) > 1:
            out.append(_group("surface_tau", pr["surface_tau"], 3))
            out.append(_group("surface_z", Prior("normal", (0.0, 1.0)), 3 * len(design.sectors)))
    if roles.diminishing:
        out.append(_group("diminishing", pr["diminishing"], len(roles.diminishing)))
    if design.outcomes:
        out.append(_group("outcome_slope", pr["outcome_slope"], len(design.outcomes)))
    binary = [o for o in design.outcomes if o.kind == "binary"]
    if binary:
        out.append(_group("outcome_intercept", pr["outcome_intercept"], len(binary)))
    return out


def _latent_section(
    design: Design,
    first_element: int,
    slots: dict[str, tuple[int, int]],
    cuts_at: dict[str, int],
    surface_coef: dict[tuple[int, int], int],
) -> LatentSection:
    """The latent forms' part of the program (:mod:`loyaltymodels.bayes.density.latent`)."""
    from numpy.polynomial.hermite_e import hermegauss

    from ..bayes.density import latent as LT
    from ..bayes.density.groups import KIND_ABSDIFF, KIND_PRODUCT
    from .likelihood import GH_NODES

    s, lay = design.summary, design.plan.layout
    lat = list(design.latents)
    iL = lat.index(design.roles.loyalty)
    G = lay.ngroups
    terms, scales = [], []
    roles = design.roles
    if roles.interaction:
        a, b = (lat.index(v) for v in roles.interaction)
        terms.append([KIND_PRODUCT, a, b] + [first_element + slots["interaction"][0]] * G)
        scales.append(1.0)
    if roles.asymmetry:
        a, b = (lat.index(v) for v in roles.asymmetry)
        terms.append([KIND_ABSDIFF, a, b] + [first_element + slots["asymmetry"][0]] * G)
        scales.append(-0.5)
    if roles.surface:  # the squares and the product: product terms, one coefficient per sector
        from .surface import PAIRS

        pair = [lat.index(v) for v in roles.surface]
        for q, (i, j) in enumerate(PAIRS):
            terms.append(
                [KIND_PRODUCT, pair[i], pair[j]] + [surface_coef[(int(design.cell_sector[g]), q)] for g in range(G)]
            )
            scales.append(1.0)
    for k, v in enumerate(roles.diminishing):  # a driver's square: the product of its score with itself
        terms.append([KIND_PRODUCT, lat.index(v), lat.index(v)] + [first_element + slots["diminishing"][0] + k] * G)
        scales.append(1.0)
    outs = []
    binary = [o.name for o in design.outcomes if o.kind == "binary"]
    for k, o in enumerate(design.outcomes):
        slope = first_element + slots["outcome_slope"][0] + k
        icpt = first_element + slots["outcome_intercept"][0] + binary.index(o.name) if o.kind == "binary" else -1
        kind = LT.OUT_BINARY if o.kind == "binary" else LT.OUT_ORDINAL
        outs.append([lat.index(o.latent), kind, len(o.levels), slope, icpt, cuts_at.get(o.name, -1)])
    codes = design.codes if design.codes is not None else np.zeros((s.n, 0), int)
    x, w = hermegauss(GH_NODES)
    floats = np.concatenate([np.nan_to_num(s.y).ravel(), np.asarray(scales, float), x, np.log(w / np.sqrt(2 * np.pi))])
    common = [
        (LT.L_OTERM, np.asarray(terms, np.int64).reshape(-1, 3 + G)),
        (LT.L_OOUT, np.asarray(outs, np.int64).reshape(-1, 6)),
        (LT.L_OCODE, np.asarray(codes, np.int64).T),
    ]
    sizes = {
        LT.L_NLAT: len(lat),
        LT.L_ILOY: iL,
        LT.L_NTERM: len(terms),
        LT.L_NOUT: len(outs),
        LT.L_NGH: GH_NODES,
        LT.L_N: s.n,
    }
    if design.form == "conditional":  # every score sampled: bayes.density.conditional
        sizes |= {LT.L_MODE: 2, LT.L_UBASE: first_element + slots["z"][0]}
        return LatentSection(sizes, common + _conditional_parts(design), floats)
    scores = design.form == "scores"
    items_b, lat_b = design.blocks["drivers"] if scores else design.blocks["all"]
    items_l = design.blocks["loyalty"][0] if scores else np.zeros(0, int)
    assert design.chunks is not None and design.chunk_group is not None and design.chunk_observed is not None
    chunks = np.column_stack([design.chunk_group, design.chunk_observed.astype(int)])
    sizes |= {
        LT.L_MODE: 1 if scores else 0,
        LT.L_Q: len(lat_b),
        LT.L_NCHUNK: len(chunks),
        LT.L_B: design.chunks.shape[1],
        LT.L_UBASE: first_element + slots["u"][0] if scores else -1,
    }
    parts = [
        (LT.L_OQ, np.asarray(lat_b, np.int64)),
        (LT.L_OBI, np.concatenate([[len(items_b)], items_b]).astype(np.int64)),
        (LT.L_OLI, np.concatenate([[len(items_l)], items_l]).astype(np.int64)),
        (LT.L_OCH, chunks),
        (LT.L_OSLOT, design.chunks),
    ]
    return LatentSection(sizes, parts + common, floats)


def _conditional_parts(design: Design) -> list[tuple[int, np.ndarray]]:
    """The conditional mode's parts: each respondent's group, each answer's code (-1 missing, 0
    for a continuous item) and the ordinal items' threshold rows per group."""
    from ..bayes.density import latent as LT

    s, t = design.summary, design.plan.table
    G, p = design.plan.layout.ngroups, len(s.items)
    answered = ~np.isnan(s.y)
    yc = np.where(answered, 0, -1).astype(np.int64)
    thresholds = {
        (item, g): rows.sort_values("rhs", key=lambda r: r.str[1:].astype(int)).index.to_numpy()
        for (item, g), rows in t[t.op == "|"].groupby(["lhs", "group"])
    }
    K = np.zeros(p, np.int64)
    for j, item in enumerate(s.items):
        if item in s.ordinal:
            yc[:, j] = s.codes(item)
            K[j] = len(thresholds[(item, 1)])
    table = np.full((G, p, max(int(K.max(initial=0)), 1)), -1, np.int64)
    for (item, g), rows in thresholds.items():
        table[int(g) - 1, s.items.index(item), : len(rows)] = rows
    return [
        (LT.L_OGRP, (s.group - 1).astype(np.int64)),
        (LT.L_OYC, yc),
        (LT.L_OTHR, np.concatenate([[table.shape[2]], K, table.ravel()])),
    ]


def _centre(
    design: Design,
    row_at: Callable[[int], int],
    par_at: dict[int, int],
    new: Callable[[], int],
    add: Callable[..., None],
) -> None:
    """Derived values of the centred intercepts (see the module docstring); ``par_at`` is updated
    so every row of an intercept reads its derived value."""
    plan, lay = design.plan, design.plan.layout
    t = plan.table
    p, G = lay.n_observed, lay.ngroups
    sizes = np.bincount(design.summary.group - 1, minlength=G).astype(float)
    weight = sizes / sizes.sum()
    latents = range(p, lay.n)
    mean_bar = {f: new() for f in latents}
    for g in range(1, G + 1):
        mean_row = {int(i): int(r) for i, r in zip(lay.m[g].i, lay.m[g].row)}
        paths: dict[int, list[tuple[int, int]]] = {}
        for i, j, r in zip(lay.A[g].i, lay.A[g].j, lay.A[g].row):
            if i >= p and j >= p:
                paths.setdefault(int(i), []).append((int(j), int(r)))
        mu: dict[int, int] = {}
        for f in _path_order(paths, latents):  # mu_f = alpha_f + sum_f' B[f, f'] mu_f'
            v = new()
            if f in mean_row:
                add(v, 1.0, row_at(mean_row[f]))
            for j, r in paths.get(f, []):
                add(v, 1.0, row_at(r), mu[j])
            mu[f] = v
            add(mean_bar[f], float(weight[g - 1]), v)
    pos = {name: k for k, name in enumerate(lay.variables)}
    loading = {
        (g, int(i), int(j)): int(r) for g in range(1, G + 1) for i, j, r in zip(lay.A[g].i, lay.A[g].j, lay.A[g].row)
    }
    for grp in (g for g in plan.rvs if g.cls == "nu"):
        first = t[t.par.isin(grp.pars)].drop_duplicates("par").set_index("par").loc[grp.pars]
        for par, lhs, gg in zip(grp.pars, first.lhs, first.group):
            v = new()
            add(v, 1.0, par_at[int(par)])  # the centred element nu*
            for f in latents:
                r = loading.get((int(gg), pos[lhs], f))
                if r is not None:
                    add(v, -1.0, row_at(r), mean_bar[f])
            par_at[int(par)] = v


def _path_order(paths: dict[int, list[tuple[int, int]]], latents: range) -> list[int]:
    """Latents ordered so that every latent comes after those that point to it."""
    order: list[int] = []
    seen: set[int] = set()

    def visit(f: int, stack: tuple[int, ...] = ()) -> None:
        if f in seen:
            return
        if f in stack:
            raise ValueError("the latent paths form a cycle: the loyalty model needs a recursive model")
        for j, _ in paths.get(f, []):
            visit(j, (*stack, f))
        seen.add(f)
        order.append(f)

    for f in latents:
        visit(f)
    return order
