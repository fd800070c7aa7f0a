"""Parameter table -> model matrices -> implied moments, standardized solutions, defined parameters.

The table is mapped onto the RAM form (McArdle & McDonald 1984) rather than LISREL's eight
matrices: all variables, observed first then latent, in one vector ``v = A v + u`` with
``Cov(u) = S`` and ``E(u) = m``, so that

    Sigma = F (I - A)^-1 S (I - A)^-T F',   mu = F (I - A)^-1 m

with ``F`` selecting the observed variables. One form serves CFA, SEM, path analysis with observed
regressions, second-order factors and covariates alike, without lavaan's phantom latents. The index
arrays of :class:`RamLayout` are plain NumPy so a PyTensor back end can fill the same cells with
``set_subtensor``; the kernels here are NumPy.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.special

from ..errors import ArgumentError, SpecError
from ..spec.model import ModelSpec


@dataclass(frozen=True)
class Cells:
    """Where table rows go in one matrix of one group: ``M[i, j] = values[row]``."""

    i: np.ndarray
    j: np.ndarray
    row: np.ndarray


@dataclass(frozen=True)
class RamLayout:
    """Positions of every parameter-table row in the RAM matrices, per group.

    ``A`` (directed paths, ``A[to, from]``), ``S`` (symmetric (co)variances, both triangles listed)
    and ``m`` (intercepts/means, ``j`` unused) map rows of ``table`` to cells; ``thresholds`` lists
    the ``|`` rows per group as ``(variable index, threshold number)``.
    """

    variables: tuple[str, ...]
    n_observed: int
    ngroups: int
    A: dict[int, Cells]
    S: dict[int, Cells]
    m: dict[int, Cells]
    thresholds: dict[int, Cells]

    @property
    def observed(self) -> tuple[str, ...]:
        return self.variables[: self.n_observed]

    @property
    def latents(self) -> tuple[str, ...]:
        return self.variables[self.n_observed :]

    @property
    def n(self) -> int:
        return len(self.variables)


def ram_layout(spec: ModelSpec) -> RamLayout:
    """Index the RAM matrices of ``spec`` (observed variables in ``spec.observed`` order).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> lay = ram_layout(lm.parse_model("f =~ x1 + x2 + x3"))
    >>> lay.variables, lay.A[1].i.tolist(), lay.A[1].j.tolist()
    (('x1', 'x2', 'x3', 'f'), [0, 1, 2], [3, 3, 3])
    """
    t = spec.table
    variables = tuple(spec.observed) + tuple(spec.latents)
    pos = {v: k for k, v in enumerate(variables)}
    A, S, m, th = {}, {}, {}, {}
    for g in range(1, spec.ngroups + 1):
        a: _CellLists = ([], [], [])
        s: _CellLists = ([], [], [])
        mm: _CellLists = ([], [], [])
        tt: _CellLists = ([], [], [])
        for r, (lhs, op, rhs, grp) in enumerate(zip(t.lhs, t.op, t.rhs, t.group)):
            if grp != g:
                continue
            if op in ("=~", "<~"):  # f =~ x: x <- f ; f <~ x: f <- x (composite weight)
                to, frm = (pos[rhs], pos[lhs]) if op == "=~" else (pos[lhs], pos[rhs])
                _add(a, to, frm, r)
            elif op == "~":
                _add(a, pos[lhs], pos[rhs], r)
            elif op == "~~":
                _add(s, pos[lhs], pos[rhs], r)
                if lhs != rhs:
                    _add(s, pos[rhs], pos[lhs], r)
            elif op == "~1":
                _add(mm, pos[lhs], 0, r)
            elif op == "|":
                _add(tt, pos[lhs], int(rhs[1:]) - 1, r)
        A[g], S[g], m[g], th[g] = (_cells(x) for x in (a, s, mm, tt))
    return RamLayout(variables, len(spec.observed), spec.ngroups, A, S, m, th)


#: Cells of one matrix being collected: row indices, column indices, table rows.
_CellLists = tuple[list[int], list[int], list[int]]


def _add(acc: _CellLists, i: int, j: int, r: int) -> None:
    acc[0].append(i)
    acc[1].append(j)
    acc[2].append(r)


def _cells(acc: _CellLists) -> Cells:
    return Cells(*(np.asarray(x, dtype=int) for x in acc))


def row_values(table: pd.DataFrame, theta: np.ndarray | None = None) -> np.ndarray:
    """Value of every table row: the fixed value, or ``theta[par]`` for free rows (NaN if no theta)."""
    values = table["value"].to_numpy(dtype=float).copy()
    if theta is not None:
        free = table["par"].to_numpy() >= 0
        values[free] = np.asarray(theta, dtype=float)[table["par"].to_numpy()[free]]
    return values


def ram_matrices(layout: RamLayout, values: np.ndarray, group: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A, S, m)`` of one group, filled from per-row ``values``; leading axes of ``values``
    (posterior draws) give leading axes of the matrices."""
    values = np.asarray(values, dtype=float)
    lead, n = values.shape[:-1], layout.n
    A, S, m = np.zeros(lead + (n, n)), np.zeros(lead + (n, n)), np.zeros(lead + (n,))
    c = layout.A[group]
    A[..., c.i, c.j] = values[..., c.row]
    c = layout.S[group]
    S[..., c.i, c.j] = values[..., c.row]
    c = layout.m[group]
    m[..., c.i] = values[..., c.row]
    return A, S, m


def total_effects_matrix(A: np.ndarray) -> np.ndarray:
    """``(I - A)^-1``: total effects of every variable on every other (plus identity)."""
    return np.linalg.inv(np.eye(A.shape[-1]) - A)


def acyclic_depth(layout: RamLayout, group: int) -> int | None:
    """Length of the longest directed path if the path diagram has no cycle, else None."""
    c = layout.A[group]
    if not len(c.i):
        return 0
    M = np.zeros((layout.n, layout.n), bool)
    M[c.i, c.j] = True
    P, depth = M.copy(), 1
    while P.any():
        if depth > layout.n:
            return None
        P = (P.astype(int) @ M.astype(int)) > 0
        depth += 1
    return depth - 1


def implied_moments(
    layout: RamLayout, values: np.ndarray, group: int = 1, full: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Model-implied covariance matrix and mean vector of the observed variables of one group
    (of all variables, latent included, with ``full=True``):
    ``Sigma = F (I - A)^-1 S (I - A)^-T F'``, ``mu = F (I - A)^-1 m``.

    ``values`` holds one value per table row; a ``(D, rows)`` array (posterior draws) gives
    ``(D, p, p)`` and ``(D, p)``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> spec = lm.parse_model("f =~ 1*x1 + 0.5*x2; f ~~ 2*f; x1 ~~ 1*x1; x2 ~~ 1*x2")
    >>> sigma, mu = implied_moments(ram_layout(spec), row_values(spec.table))
    >>> sigma
    array([[3. , 1. ],
           [1. , 1.5]])
    >>> draws = np.stack([row_values(spec.table)] * 2)
    >>> draws[1, 2] = 4.0  # the second draw has var(f) = 4
    >>> implied_moments(ram_layout(spec), draws)[0][:, 0, :]
    array([[3., 1.],
           [5., 2.]])
    """
    A, S, m = ram_matrices(layout, values, group)
    T = total_effects_matrix(A)
    cov = T @ S @ np.swapaxes(T, -1, -2)
    mean = np.einsum("...ij,...j->...i", T, m)
    if full:
        return cov, mean
    p = layout.n_observed
    return cov[..., :p, :p], mean[..., :p]


def _row_arrays(spec: ModelSpec, layout: RamLayout) -> tuple[np.ndarray, ...]:
    """``op, group, lhs position, rhs position, lhs == rhs`` of every row, cached on the spec
    (pandas string comparisons would otherwise dominate repeated standardizations)."""
    key = ("_std_rows", layout.variables)
    cache = spec.__dict__.setdefault("_matrices_cache", {})  # frozen dataclass: no attribute set
    if key not in cache:
        t = spec.table
        pos = {v: k for k, v in enumerate(layout.variables)}
        cache[key] = (
            t.op.to_numpy(dtype=object),
            t.group.to_numpy(),
            np.array([pos.get(v, 0) for v in t.lhs], dtype=int),
            np.array([pos.get(v, 0) for v in t.rhs], dtype=int),
            np.array([a == b for a, b in zip(t.lhs, t.rhs)], dtype=bool),
        )
    return cache[key]


def standardized(spec: ModelSpec, layout: RamLayout, values: np.ndarray, kind: str = "std_all") -> np.ndarray:
    """lavaan's ``std.all`` (or ``std.lv``, ``std.nox``) value of every table row.

    Variances are divided by total variances; covariances by the square roots of the residual
    variances (lavaan's ``cov.std = TRUE``: residual correlations); paths and loadings by the
    ratio of total standard deviations; intercepts and thresholds by the total SD. ``std.lv``
    standardizes latent variables only. Defined parameters are re-evaluated on the standardized
    values, as lavaan does. ``std.nox`` is ``std.all`` leaving exogenous covariates unstandardized.

    ``values`` may also be a ``(batch, rows)`` array (one solution per line, e.g. the perturbed
    solutions of a delta-method Jacobian); the result then has the same shape.
    """
    if kind not in ("std_all", "std_lv", "std_nox"):
        raise ArgumentError(f"kind must be 'std_all', 'std_lv' or 'std_nox', not {kind!r}")
    t = spec.table
    values = np.asarray(values, dtype=float)
    batch = values.ndim == 2
    V = values if batch else values[None, :]
    out = np.full(V.shape, np.nan)
    pos = {v: k for k, v in enumerate(layout.variables)}
    latent = np.zeros(layout.n, bool)
    latent[layout.n_observed :] = True
    nox = np.ones(layout.n, bool)
    nox[[pos[v] for v in spec.covariates]] = False
    # vectorised over rows and solutions (this runs inside delta-method Jacobians)
    op, grp, li, ri, same = _row_arrays(spec, layout)
    n, eye = layout.n, np.eye(layout.n)
    for g in range(1, layout.ngroups + 1):
        A, S = np.zeros((len(V), n, n)), np.zeros((len(V), n, n))
        c = layout.A[g]
        A[:, c.i, c.j] = V[:, c.row]
        c = layout.S[g]
        S[:, c.i, c.j] = V[:, c.row]
        T = np.linalg.inv(eye - A)
        cov = T @ S @ T.transpose(0, 2, 1)
        sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
        resid_sd = np.sqrt(np.clip(np.diagonal(S, axis1=1, axis2=2), 0, None))
        if kind == "std_lv":
            scale, rscale = np.where(latent, sd, 1.0), np.where(latent, resid_sd, 1.0)
        elif kind == "std_nox":
            scale, rscale = np.where(nox, sd, 1.0), np.where(nox, resid_sd, 1.0)
        else:
            scale, rscale = sd, resid_sd
        rows = grp == g
        with np.errstate(divide="ignore", invalid="ignore"):
            k = rows & (op == "=~")
            out[:, k] = V[:, k] * scale[:, li[k]] / scale[:, ri[k]]
            k = rows & ((op == "~") | (op == "<~"))
            out[:, k] = V[:, k] * scale[:, ri[k]] / scale[:, li[k]]
            k = rows & (op == "~~") & same
            out[:, k] = V[:, k] / scale[:, li[k]] ** 2
            k = rows & (op == "~~") & ~same
            out[:, k] = V[:, k] / (rscale[:, li[k]] * rscale[:, ri[k]])
            k = rows & ((op == "~1") | (op == "|"))
            out[:, k] = V[:, k] / scale[:, li[k]]
    defined = op == ":="
    if defined.any():
        out[:, defined] = evaluate_defined(t, out.T)[defined].T  # rows x batch: labels -> vectors
    return out if batch else out[0]


# -- defined parameters and constraints: R-style arithmetic on labels ------------------------------
_BINOPS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def compile_expression(expr: str) -> Callable[[dict[str, Any], Any], Any]:
    """Compile a lavaan expression (``a*b``, ``c + (a*b)``, ``a^2``, ``exp(a)``) into a function of
    ``(values_by_label, xp)`` where ``xp`` is the array namespace (``numpy``, ``pytensor.tensor``).

    Only arithmetic, numbers, labels and a few functions are allowed: this is not ``eval``.

    Examples
    --------
    >>> f = compile_expression("c + (a*b)^2")
    >>> f({"a": 2.0, "b": 3.0, "c": 1.0}, np)
    37.0
    """
    try:
        tree = ast.parse(expr.replace("^", "**"), mode="eval")
    except SyntaxError as err:
        raise SpecError(f"cannot read the expression {expr!r}: {err.msg}") from None
    funcs = {
        "exp": "exp",
        "log": "log",
        "sqrt": "sqrt",
        "abs": "abs",
        "sin": "sin",
        "cos": "cos",
        "tan": "tan",
        "tanh": "tanh",
    }

    def ev(node: ast.AST, env: dict[str, Any], xp: Any) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body, env, xp)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise SpecError(f"{node.id!r} in {expr!r} is not a label of the model")
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left, env, xp), ev(node.right, env, xp))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            val = ev(node.operand, env, xp)
            return -val if isinstance(node.op, ast.USub) else val
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
            name = node.func.id
            if name in funcs:
                return getattr(xp, funcs[name])(ev(node.args[0], env, xp))
            if name == "pnorm":
                x = ev(node.args[0], env, xp)
                erf = getattr(xp, "erf", None) or scipy.special.erf  # numpy has no erf
                return 0.5 * (1 + erf(x / math.sqrt(2)))
            if name == "plogis":
                return 1 / (1 + xp.exp(-ev(node.args[0], env, xp)))
        raise SpecError(
            f"unsupported element in the expression {expr!r}: use labels, numbers, "
            "+ - * / ^ and exp, log, sqrt, abs, pnorm, plogis"
        )

    tree_body = tree

    def compiled(env: dict[str, Any], xp: Any = np) -> Any:
        return ev(tree_body, env, xp)

    return compiled


def label_values(table: pd.DataFrame, values: Any) -> dict[str, Any]:
    """``{label: value}`` for labelled rows (first occurrence), in table order."""
    out: dict[str, Any] = {}
    for r, label in enumerate(table["label"]):
        if label and label not in out and table["group"].iat[r] > 0:
            out[label] = values[r]
    return out


def evaluate_defined(table: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """``values`` with the ``:=`` rows filled in, in order (a definition may use earlier ones).

    ``values`` may be ``(rows, batch)``: every definition is then evaluated elementwise."""
    values = np.array(values, dtype=float, copy=True)
    env = label_values(table, values)
    for r in np.flatnonzero(table["op"].to_numpy() == ":="):
        values[r] = compile_expression(table["rhs"].iat[r])(env, np)
        env[table["lhs"].iat[r]] = values[r]
    return values
