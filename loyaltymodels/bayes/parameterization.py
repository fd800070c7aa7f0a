"""From sampled quantities to parameter-table rows, the same code for PyTensor and for NumPy.

The sampler sees one vector random variable per prior class and family (``lambda``, ``theta``,
``rho``, ``tau_u1`` ...). Variances are sampled as SDs (or variances, or precisions, as the prior
says), covariances as correlations ``r`` (``cov = r sd_i sd_j`` with the SDs of the first row
carrying that ``par``, so equal labels tie covariances, as in lavaan). :func:`row_values` maps
those vectors to the value of every table row by gathers only (``x[..., index]``), so one
function serves the PyTensor graph (``xp=pytensor.tensor``, no leading dims) and the NumPy
post-processing of the draws (``xp=numpy``, leading ``(chain, draw)`` dims): the model that is
sampled and the table that is reported cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from ..algebra.matrices import RamLayout, acyclic_depth, compile_expression, implied_moments, ram_layout, ram_matrices
from ..errors import SpecError
from ..spec.model import ModelSpec
from .priors import Prior, resolve_priors


@dataclass(frozen=True)
class RVGroup:
    """One vector random variable of the PyMC model: the free parameters ``pars`` in that order."""

    name: str
    cls: str
    pars: np.ndarray
    prior: Prior  # family and scale shared by the group
    args: np.ndarray  # (k, nargs) hyperparameters, per parameter
    positive: bool = False  # sign identification (first loading of a std_lv factor > 0)
    ordered: bool = False  # thresholds of one item

    @property
    def to_natural(self) -> str:
        if self.cls in ("theta", "psi"):
            return {"sd": "square", "var": "identity", "prec": "reciprocal"}[self.prior.scale]
        if self.cls == "rho" and self.prior.family == "beta":
            return "beta_to_r"
        return "identity"


@dataclass(frozen=True)
class Plan:
    """Everything about the model that does not depend on data values: the spec, its RAM layout,
    the priors, the random variables and the gathers that map them to table rows."""

    spec: ModelSpec
    layout: RamLayout
    priors: pd.DataFrame = field(repr=False)
    rvs: tuple[RVGroup, ...]
    src: np.ndarray = field(repr=False)  # row -> index into concat(fixed, natural)
    rho_pars: np.ndarray = field(repr=False)  # free correlations, with the rows that scale them
    rho_first: np.ndarray = field(repr=False)
    rho_var_a: np.ndarray = field(repr=False)
    rho_var_b: np.ndarray = field(repr=False)
    src2: np.ndarray = field(repr=False)  # row -> index into concat(rows, covariances)

    @property
    def table(self) -> pd.DataFrame:
        return self.spec.table

    @property
    def npar(self) -> int:
        return int(self.table.par.max()) + 1 if (self.table.par >= 0).any() else 0


def make_plan(spec: ModelSpec, priors: pd.DataFrame | Mapping[str, str] | None = None) -> Plan:
    """Map the free parameters of ``spec`` onto random variables (see the module docstring)."""
    t = spec.table
    unsupported = t[t.op.isin(["==", "<", ">"])]
    if len(unsupported):
        r = unsupported.iloc[0]
        raise SpecError(
            f"the constraint '{r.lhs} {r.op} {r.rhs}' is not supported by the Bayesian "
            "back end; tie parameters with a shared label instead (e.g. 'a*x1 + a*x2')"
        )
    layout = ram_layout(spec)
    table = resolve_priors(spec, priors)
    positive = _sign_identified(spec)
    keys: dict[tuple, list[int]] = {}
    for i, (cls, prior, par) in enumerate(zip(table["class"], table["parsed"], table["par"])):
        if cls == "tau":
            continue
        keys.setdefault((cls, prior.family, prior.scale, par in positive), []).append(i)
    rvs = []
    count = pd.Series([k[0] for k in keys]).value_counts().to_dict() if keys else {}
    seen: dict[str, int] = {}
    for (cls, _family, _scale, pos), idx in keys.items():
        n = seen[cls] = seen.get(cls, 0) + 1
        name = cls if count[cls] == 1 else f"{cls}_{n}"
        rvs.append(_group(name, cls, table.iloc[idx], positive=pos))
    rvs += _threshold_groups(spec, table)
    order = np.concatenate([g.pars for g in rvs]) if rvs else np.zeros(0, int)
    position = np.empty(len(order), int)
    position[order] = np.arange(len(order))
    nrows = len(t)
    par = t.par.to_numpy()
    src = np.where(par >= 0, nrows + position[np.maximum(par, 0)], np.arange(nrows))
    # correlations: the covariance of every row with par p is r_p times the SDs of p's first row
    first_rows = t[(t.par >= 0) & (t.group > 0)].drop_duplicates("par").set_index("par")
    rho_pars = table.loc[table["class"] == "rho", "par"].to_numpy()
    var_row = {
        (lhs, g): r for r, (lhs, op, rhs, g) in enumerate(zip(t.lhs, t.op, t.rhs, t.group)) if op == "~~" and lhs == rhs
    }
    rho_first, va, vb = [], [], []
    for p in rho_pars:
        row = first_rows.loc[p]
        rho_first.append(int(np.flatnonzero(par == p)[0]))
        try:
            va.append(var_row[(row.lhs, row.group)])
            vb.append(var_row[(row.rhs, row.group)])
        except KeyError:
            raise SpecError(
                f"the covariance '{row.lhs} ~~ {row.rhs}' needs the variances of both variables in the model"
            ) from None
    rho_index = {p: k for k, p in enumerate(rho_pars)}
    src2 = np.array([nrows + rho_index[p] if p in rho_index else r for r, p in enumerate(par)], int)
    return Plan(
        spec,
        layout,
        table,
        tuple(rvs),
        src,
        np.asarray(rho_pars, int),
        np.asarray(rho_first, int),
        np.asarray(va, int),
        np.asarray(vb, int),
        src2,
    )


def _group(name: str, cls: str, rows: pd.DataFrame, positive: bool = False, ordered: bool = False) -> RVGroup:
    priors = list(rows["parsed"])
    return RVGroup(
        name,
        cls,
        rows["par"].to_numpy(int),
        priors[0],
        np.array([p.args for p in priors], float),
        positive=positive,
        ordered=ordered,
    )


def _sign_identified(spec: ModelSpec) -> set[int]:
    """Free ``par`` of the first loading of each factor that has no fixed loading (std_lv): kept
    positive, otherwise the posterior has one mode per sign pattern and chains split between them."""
    t = spec.table
    out = set()
    for (_lv, _g), rows in t[(t.op == "=~") & (t.group > 0)].groupby(["lhs", "group"], sort=False):
        if (~rows.free).any() or not rows.free.any():
            continue
        out.add(int(rows.par.iloc[0]))
    return out


def _threshold_groups(spec: ModelSpec, table: pd.DataFrame) -> list[RVGroup]:
    """One ordered vector per item and distinct set of threshold parameters (groups may share)."""
    t = spec.table
    out, done = [], set()
    by_par = table.set_index("par")
    for (item, g), rows in t[t.op == "|"].groupby(["lhs", "group"], sort=False):
        rows = rows.sort_values("rhs", key=lambda s: s.str[1:].astype(int))
        if not rows.free.all():
            if rows.free.any():
                raise SpecError(f"thresholds of {item!r} (group {g}) are partly fixed; fix all or none")
            continue
        pars = tuple(rows.par)
        if pars in done:
            continue
        done.add(pars)
        if len(set(pars)) != len(pars):
            raise SpecError(f"thresholds of {item!r} share labels; they must be distinct to be ordered")
        name = f"tau_{item}" + ("" if g == 1 else f"_g{g}")
        sub = by_par.loc[list(pars)].reset_index()
        if sub["parsed"].map(lambda p: p.family).nunique() > 1:
            raise SpecError(f"thresholds of {item!r} need one prior family for all of them")
        out.append(_group(name, "tau", sub, ordered=True))
    return out


# -- sampled quantities -> rows (xp = numpy or pytensor.tensor) --------------------------------
def to_natural(group: RVGroup, value: Any, xp: ModuleType) -> Any:
    kind = group.to_natural
    if kind == "square":
        return value**2
    if kind == "reciprocal":
        return 1.0 / value
    if kind == "beta_to_r":
        return 2.0 * value - 1.0
    return value


def row_values(plan: Plan, rv_values: Mapping[str, Any], fixed: Any, xp: ModuleType = np) -> Any:
    """Value of every table row (``:=`` rows left at 0; see :func:`with_defined`).

    ``rv_values[name]`` has shape ``(..., k)``; ``fixed`` holds the fixed rows' values (exogenous
    rows filled from the data), shape ``(nrows,)``.
    """
    parts = [to_natural(g, rv_values[g.name], xp) for g in plan.rvs]
    if xp is np:
        lead = parts[0].shape[:-1] if parts else ()
        fixed = np.broadcast_to(np.asarray(fixed, float), lead + (len(plan.src),))
    nat = xp.concatenate([fixed, *parts], axis=-1)
    rows = nat[..., plan.src]
    if len(plan.rho_pars):
        cov = rows[..., plan.rho_first] * xp.sqrt(rows[..., plan.rho_var_a] * rows[..., plan.rho_var_b])
        rows = xp.concatenate([rows, cov], axis=-1)[..., plan.src2]
    return rows


def with_defined(table: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """``rows`` (``(..., nrows)``) with the ``:=`` rows evaluated, vectorised over draws."""
    defined = np.flatnonzero(table["op"].to_numpy() == ":=")
    if not len(defined):
        return rows
    rows = np.array(rows, float, copy=True)
    env = {}
    for j, (label, g) in enumerate(zip(table["label"], table["group"])):
        if label and label not in env and g > 0:
            env[label] = rows[..., j]
    for r in defined:
        rows[..., r] = compile_expression(table["rhs"].iat[r])(env, np)
        env[table["lhs"].iat[r]] = rows[..., r]
    return rows


def natural_start(plan: Plan, stats: dict) -> np.ndarray:
    """Starting value of every free ``par`` (natural scale) that avoids the sign trap (docs/findings.md):
    loadings 1, regressions 0, intercepts at item means, residual variances half the item
    variance, latent variances 1, correlations 0, thresholds from the item margins; a ``start``
    in the syntax wins."""
    t = plan.table
    start = np.zeros(plan.npar)
    for _, row in plan.priors.iterrows():
        cls, p, g, lhs = row["class"], row["par"], row["group"], row["lhs"]
        mean, var = stats["mean"].get((lhs, g)), stats["var"].get((lhs, g))
        if cls == "lambda":
            v = 1.0
        elif cls == "nu":
            v = mean if mean is not None else 0.0
        elif cls == "theta":
            v = var / 2 if var else 1.0
        elif cls == "psi":
            v = 1.0
        elif cls == "tau":
            k = int(row["rhs"][1:]) - 1
            cuts = stats["cuts"].get((lhs, g))
            v = cuts[k] * np.sqrt(2.0) if cuts is not None else 0.5 * k
        else:
            v = 0.0
        start[p] = v
    given = t[(t.par >= 0) & t.start.notna()].drop_duplicates("par")
    start[given.par.to_numpy()] = given.start.to_numpy()
    return start


def sampled_start(group: RVGroup, natural: np.ndarray) -> np.ndarray:
    """The sampled quantity of ``group`` whose natural value is ``natural``."""
    kind = group.to_natural
    x = natural[group.pars]
    if kind == "square":
        return np.sqrt(np.maximum(x, 1e-4))
    if kind == "reciprocal":
        return 1.0 / np.maximum(x, 1e-4)
    if kind == "beta_to_r":
        return np.clip((x + 1) / 2, 0.01, 0.99)
    if group.ordered:
        return np.maximum.accumulate(x + np.arange(len(x)) * 1e-3)
    if group.positive:
        return np.maximum(x, 0.1)
    return x


# -- rows -> RAM matrices -> moments ----------------------------------------------------------
def ram_tensors(layout: RamLayout, rows: Any, group: int, xp: ModuleType = np) -> tuple[Any, Any, Any]:
    """``(A, S, m)`` of one group from row values, filled at the cells of
    :func:`loyaltymodels.algebra.matrices.ram_layout` (``set_subtensor`` in PyTensor; in NumPy
    :func:`~loyaltymodels.algebra.matrices.ram_matrices`, batched over leading axes)."""
    if xp is np:
        A, S, m = ram_matrices(layout, rows, group)
        return A, S, m
    n = layout.n
    cA, cS, cm = layout.A[group], layout.S[group], layout.m[group]
    A = xp.set_subtensor(xp.zeros((n, n))[cA.i, cA.j], rows[cA.row])
    S = xp.set_subtensor(xp.zeros((n, n))[cS.i, cS.j], rows[cS.row])
    m = xp.set_subtensor(xp.zeros(n)[cm.i], rows[cm.row])
    return A, S, m


def moments(layout: RamLayout, rows: Any, group: int, xp: ModuleType = np, full: bool = False) -> tuple[Any, Any]:
    """Implied covariance and mean of the observed variables (all variables with ``full``):
    :func:`loyaltymodels.algebra.matrices.implied_moments` in NumPy (batched over leading axes),
    the same algebra as a PyTensor graph otherwise."""
    if xp is np:
        return implied_moments(layout, rows, group, full)
    import pytensor.tensor as pt

    A, S, m = ram_tensors(layout, rows, group, xp)
    n = layout.n
    depth = acyclic_depth(layout, group)
    if depth is not None:
        # (I - A)^-1 = I + A + ... + A^k for a recursive model: cheaper than an inverse
        T = pt.eye(n)
        for _ in range(depth):
            T = pt.eye(n) + A @ T
    else:
        T = pt.linalg.inv(pt.eye(n) - A)
    cov = T @ S @ T.T
    mean = T @ m
    if full:
        return cov, mean
    p = layout.n_observed
    return cov[:p, :p], mean[:p]


def std_all_draws(spec: ModelSpec, layout: RamLayout, rows: np.ndarray) -> np.ndarray:
    """lavaan's ``std.all`` of every row for a batch of draws ``rows`` (``(..., nrows)``); the
    vectorised twin of :func:`loyaltymodels.algebra.matrices.standardized`."""
    t = spec.table
    out = np.full(rows.shape, np.nan)
    pos = {v: k for k, v in enumerate(layout.variables)}
    op, lhs, rhs, grp = (t[c].to_numpy() for c in ("op", "lhs", "rhs", "group"))
    for g in range(1, layout.ngroups + 1):
        cov, _ = moments(layout, rows, g, np, full=True)
        _, S, _ = ram_tensors(layout, rows, g, np)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0, None))
            rsd = np.sqrt(np.clip(np.diagonal(S, axis1=-2, axis2=-1), 0, None))
            for kind in ("=~", "~", "var", "cov", "int"):
                if kind == "var":
                    r = np.flatnonzero((grp == g) & (op == "~~") & (lhs == rhs))
                elif kind == "cov":
                    r = np.flatnonzero((grp == g) & (op == "~~") & (lhs != rhs))
                elif kind == "int":
                    r = np.flatnonzero((grp == g) & np.isin(op, ["~1", "|"]))
                elif kind == "~":
                    r = np.flatnonzero((grp == g) & np.isin(op, ["~", "<~"]))
                else:
                    r = np.flatnonzero((grp == g) & (op == "=~"))
                if not len(r):
                    continue
                i = np.array([pos[v] for v in lhs[r]])
                j = np.array([pos[v] for v in rhs[r]]) if kind not in ("int",) else i
                v = rows[..., r]
                if kind == "=~":
                    out[..., r] = v * sd[..., i] / sd[..., j]
                elif kind == "~":
                    out[..., r] = v * sd[..., j] / sd[..., i]
                elif kind == "var":
                    out[..., r] = v / sd[..., i] ** 2
                elif kind == "cov":
                    out[..., r] = v / (rsd[..., i] * rsd[..., j])
                else:
                    out[..., r] = v / sd[..., i]
    return with_defined(t, out)
