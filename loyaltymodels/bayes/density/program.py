"""A model's structure and data as the two flat arrays that :mod:`loyaltymodels.bayes.density.kernel` reads.

:func:`make_program` encodes what the PyMC model of :func:`loyaltymodels.build_model` (marginal
form) computes: one element per sampled scalar, in the order of ``Plan.rvs`` (PyMC's value
variables), with its prior family, hyperparameters, the normalising constant of its prior, PyMC's
default transform and the map to the table row (SD -> variance, ...); the gathers of
:func:`loyaltymodels.bayes.parameterization.row_values`; the RAM cells of every group; the blocks whose
correlations must form a positive-definite matrix; and each missing-data pattern's sufficient
statistics. :func:`unsupported` says when a model needs the PyMC graph instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.special import betaln, gammaln, log_ndtr

from ...algebra.matrices import RamLayout
from ..data import DataSummary, fixed_values, item_stats
from ..parameterization import Plan
from . import kernel as K

_LOWER = ("lognormal", "gamma", "inv_gamma", "exponential", "half_normal", "half_cauchy")


@dataclass(frozen=True)
class DensityProgram:
    """The kernel's input for one model: ``ib`` (structure) and ``fb`` (hyperparameters, data)."""

    ib: np.ndarray = field(repr=False)
    fb: np.ndarray = field(repr=False)
    names: tuple[str, ...]  # sampled vectors (PyMC's random variables), in order
    sizes: tuple[int, ...]
    transform: np.ndarray = field(repr=False)  # per element: kernel transform code, lo, hi
    bounds: np.ndarray = field(repr=False)

    @property
    def ndim(self) -> int:
        return int(self.ib[K.H_D])

    def logp_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at the unconstrained point ``x`` (the numba kernel)."""
        grad = np.empty(self.ndim)
        x = np.ascontiguousarray(x, float)
        if self.latent:
            from .latent_entry import logp_grad_latent  # compiled on first use (see kernel)

            return float(logp_grad_latent(x, grad, self.ib, self.fb)), grad
        return float(K.logp_grad(x, grad, self.ib, self.fb)), grad

    @property
    def latent(self) -> bool:
        """Whether the program has a latent section (the loyalty model's latent forms)."""
        return bool(self.ib[K.O_LAT] >= 0)

    @property
    def logp_address(self) -> int:
        """The address of the compiled C callback (nutpie's logp) that evaluates this program."""
        if self.latent:
            from .latent_entry import c_logp_latent

            address = c_logp_latent.address
        else:
            address = K.c_logp.address
        if address is None:  # numba gives a compiled cfunc an address; None would be its bug
            raise RuntimeError("the compiled log density has no address")
        return int(address)

    def values(self, x: np.ndarray) -> np.ndarray:
        """Every value of the program (fixed rows, elements' natural values, derived values) at
        each unconstrained point of ``x`` (``(D,)`` or ``(draws, D)``)."""
        x = np.atleast_2d(np.asarray(x, float))
        ib = self.ib
        n = int(ib[K.H_NROWS] + ib[K.H_D] + ib[K.H_NDER])
        out = np.empty((len(x), n))
        for k in range(len(x)):
            K.all_values(np.ascontiguousarray(x[k]), ib, self.fb, out[k])
        return out

    def rows(self, x: np.ndarray) -> np.ndarray:
        """The parameter table's row values at each unconstrained point of ``x`` (``(D,)`` or
        ``(draws, D)``), as the kernel computes them."""
        x = np.atleast_2d(np.asarray(x, float))
        out = np.empty((len(x), int(self.ib[K.H_NROWS])))
        for k in range(len(x)):
            K.table_rows(np.ascontiguousarray(x[k]), self.ib, self.fb, out[k])
        return out

    def constrain(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Unconstrained flat vector -> ``{name: constrained values}``."""
        out = np.empty(self.ndim)
        K.constrain_all(np.ascontiguousarray(x, float), self.ib, self.fb, out)
        return dict(zip(self.names, np.split(out, np.cumsum(self.sizes)[:-1])))

    def unconstrain(self, point: dict[str, np.ndarray]) -> np.ndarray:
        """``{name: constrained values}`` -> the flat unconstrained vector (PyMC's transforms)."""
        return self.unconstrain_flat(np.concatenate([np.ravel(np.asarray(point[n], float)) for n in self.names]))

    def unconstrain_flat(self, x: np.ndarray) -> np.ndarray:
        """Constrained element values ``(..., D)`` in element order -> unconstrained."""
        lo, hi = self.bounds.T
        t = self.transform
        out = np.array(x, float)  # a copy: identity columns as they are, logs on the others only
        one, two = np.flatnonzero(t == 1), np.flatnonzero(t == 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[..., one] = np.log(out[..., one] - lo[one])
            out[..., two] = np.log(out[..., two] - lo[two]) - np.log(hi[two] - out[..., two])
        return out


def unsupported(plan: Plan, summary: DataSummary, form: str) -> str | None:
    """Why the generic kernel cannot evaluate this model (``None`` if it can)."""
    if form != "marginal":
        return f"the {form!r} form"
    if summary.ordinal:
        return "ordinal items"
    for g in plan.rvs:
        if g.ordered:
            return f"ordered parameters ({g.name})"
        if g.prior.family not in K.FAMILIES:
            return f"the prior family {g.prior.family!r}"
        if g.positive and g.prior.family != "normal":
            return f"a truncated {g.prior.family} prior ({g.name})"
    return None


@dataclass(frozen=True)
class Derived:
    """Derived values the kernel computes after the elements' natural values:
    ``value[target] += coef * v[a] (* v[b])`` for each term in order, where ``v`` is the kernel's
    vector of values (fixed rows, then elements, then derived values: :func:`value_index`) and
    ``b = -1`` means no second factor. A term may read a derived value only after every term that
    adds to it (the backward pass runs the terms in reverse). ``priors`` (ints ``value, loc,
    scale`` as value indices, -1 for a fixed loc and sd; floats ``sd, log constant, loc``): normal priors
    on values, ``v ~ normal(loc, scale)``: on a zero-sum vector's derived values, or the centred
    hierarchy of sector weights (``w ~ normal(mu, tau)``, elements all three)."""

    n: int = 0
    terms: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64), repr=False)
    coefs: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    prior_index: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64), repr=False)
    prior_value: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), repr=False)


@dataclass(frozen=True)
class LatentSection:
    """The latent forms' part of a program (:mod:`loyaltymodels.bayes.density.latent`): header sizes
    by slot, integer parts by slot (laid out after the rest; their slots get absolute offsets), and
    the floats (the answers, term scales, Gauss-Hermite rule)."""

    sizes: dict[int, int]
    parts: list[tuple[int, np.ndarray]] = field(repr=False)
    floats: np.ndarray = field(repr=False)


def make_program(plan: Plan, summary: DataSummary) -> DensityProgram:
    """Encode ``plan`` (structure) and ``summary`` (data) for the kernel."""
    reason = unsupported(plan, summary, "marginal")
    if reason:
        raise ValueError(f"the generic density does not handle {reason}")
    names, sizes, el, elf = elements(plan.rvs)
    return encode(plan, summary, names, sizes, el, elf, np.asarray(plan.src, np.int64), Derived())


def elements(rvs: Iterable[Any]) -> tuple[list[str], list[int], list[tuple[int, int, int]], list[tuple[float, ...]]]:
    """Names, sizes, integer and float columns of the kernel's elements for random-variable groups
    (:class:`~loyaltymodels.bayes.parameterization.RVGroup`), in order."""
    el: list[tuple[int, int, int]] = []
    elf: list[tuple[float, ...]] = []
    names: list[str] = []
    sizes: list[int] = []
    for g in rvs:
        names.append(g.name)
        sizes.append(len(g.pars))
        natural = K.NATURAL[g.to_natural]
        for args in g.args:
            t, lo, hi, const = _element(g.prior.family, args, g.positive)
            el.append((K.FAMILIES[g.prior.family], t, natural))
            a = list(args) + [0.0] * (3 - len(args))
            elf.append((*a, const, lo, hi))
    return names, sizes, el, elf


def encode(
    plan: Plan,
    summary: DataSummary,
    names: list[str],
    sizes: list[int],
    el: list[tuple[int, int, int]],
    elf: list[tuple[float, ...]],
    src: np.ndarray,
    derived: Derived,
    latent: LatentSection | None = None,
) -> DensityProgram:
    """The two buffers of a model: ``plan``'s RAM structure, the elements (``el`` and ``elf``
    columns, as :func:`elements` gives them), ``src`` (each table row's value index, see
    :func:`value_index`) and the derived values; the data come from ``summary``."""
    lay = plan.layout
    G, nrows = lay.ngroups, len(plan.src)
    cells: dict[str, list[tuple[int, ...]]] = {k: [] for k in "ASM"}
    offsets = {k: [0] for k in "ASM"}
    for grp in range(1, G + 1):
        for k, c in (("A", lay.A[grp]), ("S", lay.S[grp])):
            cells[k] += list(zip(c.i, c.j, c.row))
            offsets[k].append(len(cells[k]))
        cells["M"] += list(zip(lay.m[grp].i, lay.m[grp].row))
        offsets["M"].append(len(cells["M"]))
    blocks: list[tuple[int, int, int]] = []
    bidx: list[int] = []
    from ..model import correlation_blocks  # the same blocks as the PyMC model's check

    for grp in range(1, G + 1):
        c = lay.S[grp]
        off = c.i != c.j
        for block in correlation_blocks(c.i[off], c.j[off]):
            if len(block) >= 3:
                blocks.append((grp - 1, len(bidx), len(bidx) + len(block)))
                bidx += block
    pats: list[list[int]] = []
    obs: list[int] = []
    for pat in summary.patterns:
        pats.append([pat.group - 1, len(pat.idx), len(obs), 0])
        obs += list(pat.idx)
    depth = [_depth(lay, grp) for grp in range(1, G + 1)]
    rho = np.stack([plan.rho_first, plan.rho_var_a, plan.rho_var_b], 1) if len(plan.rho_pars) else np.zeros((0, 3))
    int_parts = [
        (K.O_EL, el),
        (K.O_SRC, src),
        (K.O_SRC2, plan.src2),
        (K.O_RHO, rho),
        (K.O_CA, cells["A"]),
        (K.O_OA, offsets["A"]),
        (K.O_CS, cells["S"]),
        (K.O_OS, offsets["S"]),
        (K.O_CM, cells["M"]),
        (K.O_OM, offsets["M"]),
        (K.O_PAT, pats),
        (K.O_OBS, obs),
        (K.O_BLK, blocks),
        (K.O_BIDX, bidx),
        (K.O_DEPTH, depth),
        (K.O_TERM, derived.terms),
        (K.O_DPRI, derived.prior_index),
    ]
    head = np.zeros(K.HEADER, np.int64)
    sizes_ = {
        K.H_D: len(el),
        K.H_NROWS: nrows,
        K.H_N: lay.n,
        K.H_P: lay.n_observed,
        K.H_G: G,
        K.H_NPAT: len(pats),
        K.H_NRHO: len(rho),
        K.H_NBLK: len(blocks),
        K.H_NDER: derived.n,
        K.H_NTERM: len(derived.terms),
        K.H_NDPRI: len(derived.prior_index),
    }
    for slot, value in sizes_.items():
        head[slot] = value
    chunks, pos = [head], K.HEADER
    for slot, values in int_parts:
        arr = np.asarray(values, np.int64).ravel()
        head[slot] = pos
        chunks.append(arr)
        pos += arr.size
    head[K.O_LAT] = -1
    if latent is not None:
        from .latent import LAT_HEADER

        lat_head = np.zeros(LAT_HEADER, np.int64)
        for slot, value in latent.sizes.items():
            lat_head[slot] = value
        head[K.O_LAT] = pos
        chunks.append(lat_head)
        pos += LAT_HEADER
        for slot, values in latent.parts:
            arr = np.asarray(values, np.int64).ravel()
            lat_head[slot] = pos
            chunks.append(arr)
            pos += arr.size
    ib = np.concatenate(chunks)
    elements_ = np.asarray(elf, float).reshape(-1, K.EL_FLOAT)
    transform = np.array([e[1] for e in el], np.int64)
    program = DensityProgram(ib, np.zeros(0), tuple(names), tuple(sizes), transform, elements_[:, 4:6].copy())
    return with_data(
        program, plan, summary, elf=elements_, derived=derived, latent_floats=None if latent is None else latent.floats
    )


def value_index(nrows: int, ndim: int) -> tuple[int, int]:
    """Where the kernel's value vector puts elements and derived values: fixed rows ``0..nrows-1``,
    element ``e`` at ``nrows + e``, derived value ``j`` at ``nrows + ndim + j``."""
    return nrows, nrows + ndim


def with_data(
    program: DensityProgram,
    plan: Plan,
    summary: DataSummary,
    elf: np.ndarray | None = None,
    derived: Derived | None = None,
    latent_floats: np.ndarray | None = None,
) -> DensityProgram:
    """The same structure with the data of ``summary`` (patterns must match); ``derived`` replaces
    the derived values' coefficients and priors (some depend on the data, e.g. cell sizes),
    ``latent_floats`` the latent section's floats (the answers)."""
    ib = program.ib.copy()
    D = program.ndim
    if elf is None:
        elf = program.fb[ib[K.O_ELF] : ib[K.O_ELF] + K.EL_FLOAT * D]
    if derived is None:
        coefs = program.fb[ib[K.O_TERMF] : ib[K.O_TERMF] + ib[K.H_NTERM]]
        dprif = program.fb[ib[K.O_DPRIF] : ib[K.O_DPRIF] + 3 * ib[K.H_NDPRI]]
    else:
        coefs, dprif = derived.coefs, derived.prior_value
    fixed = fixed_values(plan.spec, item_stats(plan.spec, summary))
    pats = ib[ib[K.O_PAT] : ib[K.O_PAT] + 4 * ib[K.H_NPAT]].reshape(-1, 4)
    patf, pos = [], 0
    for k, pat in enumerate(summary.patterns):
        pats[k, 3] = pos
        chunk = np.concatenate([[pat.n], pat.mean, np.ravel(pat.cov)])
        patf.append(chunk)
        pos += chunk.size
    if latent_floats is None:
        latent_floats = program.fb[ib[K.O_LATF] :] if ib[K.O_LAT] >= 0 else np.zeros(0)
    parts = [np.ravel(elf), fixed, *patf, np.ravel(coefs), np.ravel(dprif), np.ravel(latent_floats)]
    starts = np.cumsum([0] + [p.size for p in parts])
    ib[K.O_ELF] = 0
    ib[K.O_FIXED] = starts[1]
    ib[K.O_PATF] = starts[2]
    ib[K.O_TERMF] = starts[2 + len(patf)]
    ib[K.O_DPRIF] = starts[3 + len(patf)]
    ib[K.O_LATF] = starts[4 + len(patf)]
    fb = np.concatenate(parts)
    return replace(program, ib=ib, fb=fb)


def _depth(layout: RamLayout, group: int) -> int:
    """Longest directed path of a recursive model (-1 if the path diagram has a cycle)."""
    from ...algebra.matrices import acyclic_depth

    d = acyclic_depth(layout, group)
    return -1 if d is None else d


def _element(family: str, args: Iterable[float], positive: bool) -> tuple[int, float, float, float]:
    """Transform code and bounds (PyMC's default transform) and the prior's log constant."""
    a = list(args)
    if family == "flat":  # no prior of its own: a value prior of the program gives it one
        return 0, 0.0, 0.0, 0.0
    if positive:  # TruncatedNormal(lower=0): PyMC's lower-bound log transform
        return K.TRANSFORMS["lower"], 0.0, 0.0, -math.log(a[1]) - 0.5 * K._LOG2PI - float(log_ndtr(a[0] / a[1]))
    if family == "normal":
        return 0, 0.0, 0.0, -math.log(a[1]) - 0.5 * K._LOG2PI
    if family == "student_t":
        nu, _, s = a
        return 0, 0.0, 0.0, float(gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * math.log(nu * math.pi) - math.log(s))
    if family == "cauchy":
        return 0, 0.0, 0.0, -math.log(math.pi) - math.log(a[1])
    if family == "uniform":
        return K.TRANSFORMS["interval"], a[0], a[1], -math.log(a[1] - a[0])
    if family == "beta":
        return K.TRANSFORMS["interval"], 0.0, 1.0, -float(betaln(a[0], a[1]))
    const = {
        "lognormal": lambda: -math.log(a[1]) - 0.5 * K._LOG2PI,
        "gamma": lambda: a[0] * math.log(a[1]) - float(gammaln(a[0])),
        "inv_gamma": lambda: a[0] * math.log(a[1]) - float(gammaln(a[0])),
        "exponential": lambda: math.log(a[0]),
        "half_normal": lambda: 0.5 * math.log(2 / math.pi) - math.log(a[0]),
        "half_cauchy": lambda: math.log(2 / math.pi) - math.log(a[0]),
    }[family]()
    return K.TRANSFORMS["lower"], 0.0, 0.0, const
