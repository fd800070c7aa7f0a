"""Direct, indirect and total effects from the RAM form: total = (I - A)^-1 - I, direct = A,
indirect = total - direct, for every pair of structural variables joined by a directed path.

lavaan has no single call for this (users write ``ind := a*b`` by hand); the table gives every
effect of every variable on every other at once, with delta-method SEs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..defaults import CI_ML, labelled_interval
from .inference import Z_ML, delta_se, jacobian

if TYPE_CHECKING:
    from .fit import SemFit
    from .kernel import Problem

COLUMNS = ["lhs", "rhs", "group", "direct", "indirect", "total"]


def effect_pairs(fit: SemFit, indicators: bool = False) -> list[tuple[int, int, int]]:
    """``(group, to, from)`` positions with a directed path ``from -> ... -> to``."""
    problem = fit.problem
    spec = problem.spec
    # a loading is a measurement, not an effect: indicators only when asked for
    structural = set(spec.latents) | {v for v in spec.observed if v not in spec.indicators}
    if indicators:
        structural |= set(spec.indicators)
    keep = np.array([v in structural for v in problem.layout.variables])
    pairs = []
    for g in range(1, problem.ngroups + 1):
        c = problem.layout.A[g]
        reach = np.zeros((problem.nvar, problem.nvar), bool)
        reach[c.i, c.j] = True
        for _ in range(problem.nvar):  # transitive closure: paths of any length
            new = reach | (reach.astype(int) @ reach.astype(int) > 0)
            if (new == reach).all():
                break
            reach = new
        for to, frm in zip(*np.nonzero(reach)):
            if keep[to] and keep[frm] and to != frm:
                pairs.append((g, int(to), int(frm)))
    return pairs


def _structure(problem: Problem, pairs: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Which pairs have a direct path, and which a path through other variables."""
    direct, indirect = np.zeros(len(pairs), bool), np.zeros(len(pairs), bool)
    for g in range(1, problem.ngroups + 1):
        c = problem.layout.A[g]
        one = np.zeros((problem.nvar, problem.nvar), int)
        one[c.i, c.j] = 1
        longer = one @ one
        power = longer.copy()
        for _ in range(problem.nvar):
            power = ((power @ one) > 0).astype(int)
            longer = ((longer + power) > 0).astype(int)
        for k, (gg, to, frm) in enumerate(pairs):
            if gg == g:
                direct[k], indirect[k] = one[to, frm] > 0, longer[to, frm] > 0
    return direct, indirect


def effect_values(problem: Problem, pairs: list[tuple[int, int, int]], thetas: np.ndarray) -> np.ndarray:
    """``(batch, 3 * len(pairs))``: direct, indirect and total of each pair, for each theta."""
    thetas = np.atleast_2d(thetas)
    values = problem.values(thetas)
    n = problem.nvar
    out = np.empty((len(thetas), 3, len(pairs)))
    groups = sorted({g for g, _, _ in pairs})
    for g in groups:
        idx = [k for k, p in enumerate(pairs) if p[0] == g]
        to = np.array([pairs[k][1] for k in idx])
        frm = np.array([pairs[k][2] for k in idx])
        c = problem.layout.A[g]
        A = np.zeros((len(thetas), n, n))
        A[:, c.i, c.j] = values[:, c.row]
        total = np.linalg.inv(np.eye(n) - A) - np.eye(n)
        out[:, 0, idx] = A[:, to, frm]
        out[:, 2, idx] = total[:, to, frm]
        out[:, 1, idx] = out[:, 2, idx] - out[:, 0, idx]
    return out.reshape(len(thetas), -1)


def effects(fit: SemFit, indicators: bool = False) -> pd.DataFrame:
    """Tidy table ``lhs`` (outcome), ``rhs`` (cause), ``group``, ``direct``, ``indirect``,
    ``total`` and their ``*_se``, ``*_z``, ``*_pvalue`` (delta method), plus ``*_boot_lower`` /
    ``*_boot_upper`` (percentile) after a bootstrap.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.simulate("m ~ 0.5*x; y ~ 0.4*m + 0.2*x", n=500, seed=1)
    >>> eff = lm.fit_sem("m ~ x; y ~ m + x", data).effects()  # population: 0.2, 0.5 * 0.4, 0.4
    >>> eff.query("lhs == 'y' and rhs == 'x'")[["direct", "indirect", "total"]].round(2).values.tolist()
    [[0.11, 0.23, 0.34]]
    """
    problem = fit.problem
    pairs = effect_pairs(fit, indicators)
    names = problem.layout.variables
    theta = fit.theta
    est = effect_values(problem, pairs, theta)[0]
    se = delta_se(jacobian(lambda th: effect_values(problem, pairs, th), theta), fit.vcov.to_numpy())
    k = len(pairs)
    has_direct, has_indirect = _structure(problem, pairs)
    absent = np.r_[~has_direct, ~has_indirect, np.zeros(k, bool)]  # structural zeros are exact
    est[absent], se[absent] = 0.0, 0.0
    out = pd.DataFrame(
        {
            "lhs": [names[t] for _, t, _ in pairs],
            "rhs": [names[f] for _, _, f in pairs],
            "group": [g for g, _, _ in pairs],
        }
    )
    for j, what in enumerate(("direct", "indirect", "total")):
        out[what] = est[j * k : (j + 1) * k]
    for j, what in enumerate(("direct", "indirect", "total")):
        s = se[j * k : (j + 1) * k]
        out[f"{what}_se"] = s
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(s > 0, out[what] / s, np.nan)
        out[f"{what}_pvalue"] = 2 * stats.norm.sf(np.abs(z))
    out["total_ci_lower"] = out["total"] - Z_ML * out["total_se"]
    out["total_ci_upper"] = out["total"] + Z_ML * out["total_se"]
    boot = fit.bootstrap
    if (
        boot is not None
        and "effects" in boot
        and len(boot["effects"])
        and boot.get("effect_pairs") == [list(p) for p in pairs]
    ):
        draws = np.asarray(boot["effects"])
        lo, hi = np.nanpercentile(draws, [50 * (1 - CI_ML), 50 * (1 + CI_ML)], axis=0)
        lo[absent], hi[absent] = 0.0, 0.0
        for j, what in enumerate(("direct", "indirect", "total")):
            out[f"{what}_boot_lower"] = lo[j * k : (j + 1) * k]
            out[f"{what}_boot_upper"] = hi[j * k : (j + 1) * k]
    if problem.ngroups == 1:
        out = out.drop(columns="group")
    return labelled_interval(out, CI_ML)
