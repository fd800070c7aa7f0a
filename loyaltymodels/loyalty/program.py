"""The loyalty model as a program of the package's compiled log density: no per-model compile.

The compiled density (:mod:`loyaltymodels.bayes.density.kernel`) evaluates any multigroup SEM whose
table rows come from sampled elements; the loyalty model's rows come from the same elements through
*derived values* (sums of products of earlier values), which the kernel computes and differentiates
before the likelihood:

- the hierarchical weights ``w[cell, k] = mu_k + tau_k z[sector, k] (+ delta[segment, k])``;
- the zero-sum segment shifts ``delta = M y`` (PyMC's zero-sum transform, a fixed linear map of
  the ``S - 1`` free values per driver) with their normal prior on the ``S`` shifts;
- the centred intercepts ``nu_j = nu*_j - lambda_j' mean_bar``, ``mean_bar`` the cell-size weighted
  average of the cells' latent means ``mu_g = alpha_g + B_g mu_g`` (solved in path order).

The elements are the value variables of :func:`loyaltymodels.build_loyalty_model`'s PyMC model, in
its order, with its priors and transforms, so the two give the same log density and gradient (the
tests compare them at random points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..bayes.density import kernel as K
from ..bayes.density.program import DensityProgram, Derived, elements, encode, value_index, with_data
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

    def start(self, sem_point: dict[str, np.ndarray]) -> np.ndarray:
        """The unconstrained starting point: the SEM's starts (``sem_point``, by the plan's group
        names: :func:`loyaltymodels.bayes.model.start_point`), weights and shifts at 0, the
        between-sector SDs at 0.2."""
        point: dict[str, np.ndarray] = {}
        for name, (a, b, _shape) in self.slices.items():
            point[name] = np.full(b - a, 0.2 if name == "weight_tau" else 0.0)
        for name, (group, idx) in self.sources.items():
            point[name] = np.asarray(sem_point[group], float).ravel()[idx]
        return self.program.unconstrain(point)

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
    if design.form != "marginal":
        return f"the {design.form!r} form"
    for g in design.plan.rvs:
        if g.ordered:
            return f"ordered parameters ({g.name})"
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
    names, sizes, el, elf = names + n2, sizes + s2, el + el2, elf + elf2
    D = len(el)
    first_element, first_derived = value_index(nrows, D)
    starts = np.cumsum([0, *sizes])
    slots = dict(zip(names, zip(starts[:-1].tolist(), starts[1:].tolist())))

    # -- derived values
    terms: list[tuple[int, int, int]] = []
    coefs: list[float] = []
    prior_index: list[tuple[int, int, int]] = []
    prior_value: list[tuple[float, float]] = []
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
                prior_value.append((sd, const))
                shift[(k, s)] = v
    mu0 = first_element + slots["weight_mu"][0]
    if S > 1:
        tau0 = first_element + slots["weight_tau"][0]
        sec0 = first_element + slots["weight_sector" if design.centred else "weight_z"][0]
        if design.centred:  # weight_sector[s, k] ~ normal(mu_k, tau_k)
            for s in range(S):
                for k in range(K_):
                    prior_index.append((sec0 + s * K_ + k, mu0 + k, tau0 + k))
                    prior_value.append((1.0, -0.5 * math.log(2 * math.pi)))
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
        for k, p in enumerate(pars):
            par_at[int(p)] = first_element + sem_at + int(a) + k
    par = t.par.to_numpy()

    def row_at(r: int) -> int:
        return par_at[int(par[r])] if par[r] >= 0 else r

    if centred:
        _centre(design, row_at, par_at, new, add)
    src = np.array([row_at(r) for r in range(nrows)], np.int64)
    derived = Derived(
        count,
        np.asarray(terms, np.int64).reshape(-1, 3),
        np.asarray(coefs, float),
        np.asarray(prior_index, np.int64).reshape(-1, 3),
        np.asarray(prior_value, float).reshape(-1, 2),
    )
    program = encode(plan, design.summary, names, sizes, el, elf, src, derived)
    own: dict[str, tuple[int, int, tuple[int, ...]]] = {"weight_mu": (*slots["weight_mu"], (K_,))}
    if S > 1:
        own["weight_tau"] = (*slots["weight_tau"], (K_,))
        name = "weight_sector" if design.centred else "weight_z"
        own[name] = (*slots[name], (S, K_))
    if Sg > 1:
        own["segment_shift"] = (*slots["segment_shift"], (K_, Sg - 1))
    return LoyaltyProgram(program, own, sources)


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


def program_with_data(lp: LoyaltyProgram, design: Design) -> LoyaltyProgram:
    """The same program on the data of ``design`` (same structure; cell sizes may differ)."""
    fresh = loyalty_program(design)
    return LoyaltyProgram(
        with_data(lp.program, design.plan, design.summary, derived=_derived_of(fresh)), lp.slices, lp.sources
    )


def _derived_of(lp: LoyaltyProgram) -> Derived:
    ib, fb = lp.program.ib, lp.program.fb
    nterm, ndpri = int(ib[K.H_NTERM]), int(ib[K.H_NDPRI])
    terms = ib[ib[K.O_TERM] : ib[K.O_TERM] + 3 * nterm].reshape(-1, 3)
    coefs = fb[ib[K.O_TERMF] : ib[K.O_TERMF] + nterm]
    dpri = ib[ib[K.O_DPRI] : ib[K.O_DPRI] + 3 * ndpri].reshape(-1, 3)
    dprif = fb[ib[K.O_DPRIF] : ib[K.O_DPRIF] + 2 * ndpri].reshape(-1, 2)
    return Derived(int(ib[K.H_NDER]), terms, coefs, dpri, dprif)
