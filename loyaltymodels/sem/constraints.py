"""Constraints on the free parameters of a parameter table: linear equalities (``a == b``,
``a + b == 1``, ``a == 2*b``) by reparameterisation ``theta = c0 + K z``, and bounds (``a > 0``,
``lower()``/``upper()``). Read by the optimisers (semopy's SLSQP takes the equalities as
constraints, the kernel works in ``z``), the SEs and the modification indices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..algebra.matrices import compile_expression, evaluate_defined, label_values
from ..errors import SpecError
from .kernel import Problem

__all__ = ["Constraints", "constraints", "equalities"]


@dataclass(frozen=True)
class Constraints:
    """``theta = c0 + K z`` (linear ``==`` constraints) and box bounds on ``theta``."""

    c0: np.ndarray
    K: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def bounded(self) -> bool:
        return bool(np.isfinite(self.lower).any() or np.isfinite(self.upper).any())

    def theta(self, z: np.ndarray) -> np.ndarray:
        return self.c0 + self.K @ z

    def z(self, theta: np.ndarray) -> np.ndarray:
        return np.linalg.lstsq(self.K, theta - self.c0, rcond=None)[0]


def _side(expr: str) -> Callable[[dict[str, Any], Any], Any]:
    return compile_expression(expr)


def constraints(problem: Problem) -> Constraints:
    """Linear equality constraints (``a == b``, ``a + b == 1``, ``a == 2*b``...) by
    reparameterisation, simple inequalities (``a > 0``) and ``lower()``/``upper()`` as bounds."""
    t = problem.spec.table
    k = problem.npar
    lower, upper = np.full(k, -np.inf), np.full(k, np.inf)
    lo_col, hi_col = t.lower.to_numpy(), t.upper.to_numpy()
    for r in problem.free_rows:
        lo, hi = lo_col[r], hi_col[r]
        if not np.isnan(lo):
            lower[problem.par[r]] = max(lower[problem.par[r]], lo)
        if not np.isnan(hi):
            upper[problem.par[r]] = min(upper[problem.par[r]], hi)
    ops = t.op.to_numpy(dtype=object)
    if not np.isin(ops, ["==", "<", ">"]).any():
        return Constraints(np.zeros(k), np.eye(k), lower, upper)
    label_par = {lab: problem.par[r] for r, lab in enumerate(t.label) if lab and problem.par[r] >= 0}
    rows_eq = []
    for r in np.flatnonzero(np.isin(ops, ["==", "<", ">"])):
        lhs, op, rhs = t.lhs.iat[r], t.op.iat[r], t.rhs.iat[r]
        if op in ("<", ">"):
            _inequality(lhs, op, rhs, label_par, lower, upper)
            continue
        f = _constraint_function(problem, lhs, rhs)
        rows_eq.append((f, f"{lhs} == {rhs}"))
    if not rows_eq:
        return Constraints(np.zeros(k), np.eye(k), lower, upper)
    rng = np.random.default_rng(0)
    C_rows: list[np.ndarray] = []
    d_rows: list[float] = []
    for f, text in rows_eq:
        x0 = rng.normal(size=k)
        j0, j1 = _num_grad(f, x0), _num_grad(f, x0 + rng.normal(size=k))
        if not np.allclose(j0, j1, atol=1e-6) or np.allclose(j0, 0):
            raise SpecError(
                f"the constraint '{text}' is not linear in the parameters; fit_sem handles "
                "linear equality constraints (a == b, a + b == 1, a == 2*b)"
            )
        C_rows.append(j0)
        d_rows.append(j0 @ x0 - f(x0))
    C, d = np.array(C_rows), np.array(d_rows)
    c0 = np.linalg.lstsq(C, d, rcond=None)[0]
    if not np.allclose(C @ c0, d, atol=1e-8 * (1 + np.abs(d).max())):
        # least squares would silently satisfy none of them exactly (a == 1 with a == 2)
        texts = "; ".join(text for _, text in rows_eq)
        raise SpecError(
            f"the equality constraints contradict one another, no parameter values satisfy them all "
            f"({texts}); remove or correct one"
        )
    _, s, vt = np.linalg.svd(C)
    rank = int((s > 1e-10 * s.max()).sum())
    return Constraints(c0, vt[rank:].T, lower, upper)


def _constraint_function(problem: Problem, lhs: str, rhs: str) -> Callable[[np.ndarray], Any]:
    t = problem.spec.table
    fl, fr = _side(lhs), _side(rhs)

    def f(theta):
        values = evaluate_defined(t, problem.values(theta))
        env = label_values(t, values)
        env.update({t.lhs.iat[r]: values[r] for r in np.flatnonzero(t.op.to_numpy() == ":=")})
        return fl(env, np) - fr(env, np)

    return f


def _num_grad(f, x, h=1e-5):
    g = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _inequality(lhs, op, rhs, label_par, lower, upper):
    def num(s):
        try:
            return float(s)
        except ValueError:
            return None

    if lhs in label_par and num(rhs) is not None:
        (lower if op == ">" else upper)[label_par[lhs]] = num(rhs)
    elif rhs in label_par and num(lhs) is not None:
        (upper if op == ">" else lower)[label_par[rhs]] = num(lhs)
    else:
        raise SpecError(
            f"the constraint '{lhs} {op} {rhs}' is not supported; fit_sem handles a "
            "label against a number (a > 0) or lower()/upper() modifiers"
        )


def equalities(cons: Constraints) -> tuple[np.ndarray, np.ndarray] | None:
    """``A theta = b``, the linear equality constraints of ``cons`` as full-rank rows (for an
    optimiser that takes constraints, such as SLSQP), or None when there are none."""
    k, r = cons.K.shape
    if r == k:
        return None
    u = np.linalg.svd(cons.K, full_matrices=True)[0]
    A = u[:, r:].T  # orthogonal complement of the columns of K: A K = 0
    return A, A @ cons.c0
