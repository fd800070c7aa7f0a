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
        return float(K.logp_grad(np.ascontiguousarray(x, float), grad, self.ib, self.fb)), grad

    def constrain(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Unconstrained flat vector -> ``{name: constrained values}``."""
        out = np.empty(self.ndim)
        K.constrain_all(np.ascontiguousarray(x, float), self.ib, self.fb, out)
        return dict(zip(self.names, np.split(out, np.cumsum(self.sizes)[:-1])))

    def unconstrain(self, point: dict[str, np.ndarray]) -> np.ndarray:
        """``{name: constrained values}`` -> the flat unconstrained vector (PyMC's transforms)."""
        x = np.concatenate([np.ravel(np.asarray(point[n], float)) for n in self.names])
        lo, hi = self.bounds.T
        t = self.transform
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t == 1, np.log(x - lo), np.where(t == 2, np.log(x - lo) - np.log(hi - x), x))


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


def make_program(plan: Plan, summary: DataSummary) -> DensityProgram:
    """Encode ``plan`` (structure) and ``summary`` (data) for the kernel."""
    reason = unsupported(plan, summary, "marginal")
    if reason:
        raise ValueError(f"the generic density does not handle {reason}")
    el: list[tuple[int, int, int]] = []
    elf: list[tuple[float, ...]] = []
    names: list[str] = []
    sizes: list[int] = []
    for g in plan.rvs:
        names.append(g.name)
        sizes.append(len(g.pars))
        natural = K.NATURAL[g.to_natural]
        for args in g.args:
            t, lo, hi, const = _element(g.prior.family, args, g.positive)
            el.append((K.FAMILIES[g.prior.family], t, natural))
            a = list(args) + [0.0] * (3 - len(args))
            elf.append((*a, const, lo, hi))
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
        ("el", el),
        ("src", plan.src),
        ("src2", plan.src2),
        ("rho", rho),
        ("cA", cells["A"]),
        ("oA", offsets["A"]),
        ("cS", cells["S"]),
        ("oS", offsets["S"]),
        ("cM", cells["M"]),
        ("oM", offsets["M"]),
        ("pat", pats),
        ("obs", obs),
        ("blk", blocks),
        ("bidx", bidx),
        ("depth", depth),
    ]
    slots = (
        K.O_EL,
        K.O_SRC,
        K.O_SRC2,
        K.O_RHO,
        K.O_CA,
        K.O_OA,
        K.O_CS,
        K.O_OS,
        K.O_CM,
        K.O_OM,
        K.O_PAT,
        K.O_OBS,
        K.O_BLK,
        K.O_BIDX,
        K.O_DEPTH,
    )
    head = np.zeros(K.HEADER, np.int64)
    head[[K.H_D, K.H_NROWS, K.H_N, K.H_P, K.H_G, K.H_NPAT, K.H_NRHO, K.H_NBLK]] = (
        len(el),
        nrows,
        lay.n,
        lay.n_observed,
        G,
        len(pats),
        len(rho),
        len(blocks),
    )
    chunks, pos = [head], K.HEADER
    for slot, (_, values) in zip(slots, int_parts):
        arr = np.asarray(values, np.int64).ravel()
        head[slot] = pos
        chunks.append(arr)
        pos += arr.size
    ib = np.concatenate(chunks)
    elements = np.asarray(elf, float)
    transform = np.array([e[1] for e in el], np.int64)
    program = DensityProgram(ib, np.zeros(0), tuple(names), tuple(sizes), transform, elements[:, 4:6].copy())
    return with_data(program, plan, summary, elf=elements)


def with_data(
    program: DensityProgram, plan: Plan, summary: DataSummary, elf: np.ndarray | None = None
) -> DensityProgram:
    """The same structure with the data of ``summary`` (patterns must match)."""
    ib = program.ib.copy()
    if elf is None:
        D = program.ndim
        elf = program.fb[ib[K.O_ELF] : ib[K.O_ELF] + K.EL_FLOAT * D]
    fixed = fixed_values(plan.spec, item_stats(plan.spec, summary))
    pats = ib[ib[K.O_PAT] : ib[K.O_PAT] + 4 * ib[K.H_NPAT]].reshape(-1, 4)
    patf, pos = [], 0
    for k, pat in enumerate(summary.patterns):
        pats[k, 3] = pos
        chunk = np.concatenate([[pat.n], pat.mean, np.ravel(pat.cov)])
        patf.append(chunk)
        pos += chunk.size
    ib[K.O_ELF] = 0
    ib[K.O_FIXED] = np.size(elf)
    ib[K.O_PATF] = np.size(elf) + len(fixed)
    fb = np.concatenate([np.ravel(elf), fixed, *patf])
    return replace(program, ib=ib, fb=fb)


def _depth(layout: RamLayout, group: int) -> int:
    """Longest directed path of a recursive model (-1 if the path diagram has a cycle)."""
    from ...algebra.matrices import acyclic_depth

    d = acyclic_depth(layout, group)
    return -1 if d is None else d


def _element(family: str, args: Iterable[float], positive: bool) -> tuple[int, float, float, float]:
    """Transform code and bounds (PyMC's default transform) and the prior's log constant."""
    a = list(args)
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
