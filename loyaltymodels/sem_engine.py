"""Estimation: the parameter table -> semopy models, constraints, one joint optimisation.

semopy builds each group's model from a description written from the table (free rows named
``_p<par>`` so that equal labels share a parameter, fixed rows as numbers, fixed-x rows at their
sample moments), so semopy adds no parameter of its own; we check that its free-parameter set is
the table's and, at the solution, that its implied covariance matrices equal ours. The optimisation itself runs on the joint objective of
:mod:`loyaltymodels.sem_kernel` (all groups, ties and mean structure at once): Fisher scoring with
backtracking, then BFGS from the Fisher information to reach lavaan's precision quickly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ConvergenceError, SpecError
from .matrices import compile_expression, evaluate_defined, label_values
from .sem_kernel import Problem

#: Convergence: largest |dF/dtheta| accepted (F per observation, as lavaan's objective).
GTOL = 1e-9
#: ... or largest (quasi-)Newton step, relative to the parameters' scale.
XTOL = 1e-9


# -- semopy, from the table ------------------------------------------------------------------------
def semopy_description(table: pd.DataFrame, group: int, fixed: np.ndarray) -> str:
    """semopy syntax for one group of the table: ``lhs op mod*rhs`` for every =~, ~ and ~~ row."""
    lines = []
    for lhs, op, rhs, g, par, value in zip(table.lhs, table.op, table.rhs, table.group, table.par, fixed):
        if g == group and op in ("=~", "~", "~~"):
            mod = f"_p{par}" if par >= 0 else repr(float(value))
            lines.append(f"{lhs} {op} {mod}*{rhs}")
    return "\n".join(lines)


class _NoFixedLoadings(logging.Filter):
    """semopy logs "No fixed loadings for f" for std_lv models: our table scales f by its variance."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No fixed loadings")


def semopy_models(problem: Problem) -> list:
    """One ``semopy.Model`` per group, built from the table; raises if semopy's free parameters
    differ from the table's. Fixed values are written into its matrices; its data loading and
    start rules are not used (they loop forever on a latent without a fixed loading)."""
    import semopy  # heavy import, only when fitting

    t = problem.spec.table
    models = []
    quiet = _NoFixedLoadings()
    logging.getLogger().addFilter(quiet)
    try:
        for g in range(1, problem.ngroups + 1):
            models.append(semopy.Model(semopy_description(t, g, problem.fixed)))
    finally:
        logging.getLogger().removeFilter(quiet)
    for g, model in enumerate(models, start=1):
        active = {name for name, p in model.parameters.items() if p.active}
        expected = {f"_p{k}" for k, grp, op in zip(problem.par, t.group, t.op)
                    if k >= 0 and grp == g and op in ("=~", "~", "~~")}
        if active != expected:
            extra, lost = sorted(active - expected), sorted(expected - active)
            raise SpecError(f"semopy's model of group {g} does not have the table's parameters "
                            f"(added by semopy: {extra}; missing: {lost}); please report this model")
        for p in model.parameters.values():
            if not p.active:  # fixed values (what semopy's load_starting_values would write)
                for loc in p.locations:
                    loc.matrix[loc.indices] = p.start
                    if loc.symmetric:
                        loc.matrix[loc.indices[::-1]] = p.start
        model.prepare_params()
    return models


def start_values(problem: Problem, simple: bool = False) -> np.ndarray:
    """Starting values. Loadings, factor variances and covariances come from the sample
    covariances of the indicators (instrumental-variable ratios, in the spirit of lavaan's
    "fabin"), residual variances of observed variables are half their sample variance,
    intercepts the sample means, regressions 0; ``simple=True`` gives lavaan's "simple" starts
    (loadings 1, latent variances 0.05). The table's ``start`` column (``start(0.7)*x2``) wins."""
    t = problem.spec.table
    theta = np.full(problem.npar, np.nan)
    pos = {v: k for k, v in enumerate(problem.layout.observed)}
    user = t.start.to_numpy()
    lhs_col, op_col, rhs_col = (t[c].to_numpy(dtype=object) for c in ("lhs", "op", "rhs"))
    grp = t.group.to_numpy()
    guess = {} if simple else _factor_guess(problem, lhs_col, op_col, rhs_col, grp, pos)
    for r in problem.free_rows:
        k = problem.par[r]
        if not np.isnan(theta[k]):
            continue
        lhs, op, rhs = lhs_col[r], op_col[r], rhs_col[r]
        st = problem.stats[int(grp[r]) - 1]
        if not np.isnan(user[r]):
            theta[k] = user[r]
        elif (grp[r], lhs, op, rhs) in guess:
            theta[k] = guess[(grp[r], lhs, op, rhs)]
        elif op == "=~":
            theta[k] = 1.0
        elif op == "~~" and lhs == rhs:
            theta[k] = st.cov[pos[lhs], pos[lhs]] / 2 if lhs in pos else 0.05
        elif op == "~1" and lhs in pos:
            theta[k] = st.mean[pos[lhs]]
        else:
            theta[k] = 0.0
    return theta


def _factor_guess(problem, lhs_col, op_col, rhs_col, grp, pos) -> dict:
    """Loadings ``cov(x_j, x_k) / cov(x_m, x_k)`` (m the first indicator, k the others), factor
    variances ``cov(x_m, x_j) / lambda_j`` averaged, factor covariances from the first indicators;
    scaled to unit factor variance where the table fixes it (std_lv)."""
    out = {}
    for g in range(1, problem.ngroups + 1):
        S = problem.stats[g - 1].cov
        values = problem.fixed
        inds: dict[str, list[int]] = {}
        for r in np.flatnonzero((grp == g) & (op_col == "=~")):
            if rhs_col[r] in pos:
                inds.setdefault(lhs_col[r], []).append(r)
        scale = {}
        for f, rows in inds.items():
            idx = [pos[rhs_col[r]] for r in rows]
            m = idx[0]
            lam = [1.0]
            for j in idx[1:]:
                others = [k for k in idx if k not in (j, m)]
                den = sum(S[m, k] for k in others)
                ratio = sum(S[j, k] for k in others) / den if others and abs(den) > 1e-12 else 1.0
                lam.append(ratio if 0.05 < abs(ratio) < 20 else 1.0)
            psi = np.mean([S[m, j] / lj for j, lj in zip(idx[1:], lam[1:])]) if len(idx) > 1 else S[m, m] / 2
            psi = float(np.clip(psi, 0.05 * S[m, m], 0.95 * S[m, m]))
            var_row = [r for r in np.flatnonzero((grp == g) & (op_col == "~~") & (lhs_col == f) & (rhs_col == f))]
            fixed_var = var_row and problem.par[var_row[0]] < 0 and values[var_row[0]] > 0
            unit = np.sqrt(psi / values[var_row[0]]) if fixed_var else 1.0  # std_lv: psi fixed
            first = rows[0]
            base = values[first] if problem.par[first] < 0 and np.isfinite(values[first]) else 1.0
            for r, lj in zip(rows, lam):
                out[(g, lhs_col[r], "=~", rhs_col[r])] = lj * base * unit
            out[(g, f, "~~", f)] = psi / base ** 2 if not fixed_var else values[var_row[0]]
            scale[f] = (m, base * unit)
        for a, b in ((a, b) for a in scale for b in scale if a < b):
            (ma, sa), (mb, sb) = scale[a], scale[b]
            cov = S[ma, mb] / (sa * sb)
            out[(g, a, "~~", b)] = out[(g, b, "~~", a)] = cov
    return out


def check_against_semopy(problem: Problem, models: list, theta: np.ndarray, tol: float = 1e-8) -> float:
    """Largest difference between semopy's implied covariances at ``theta`` and ours."""
    values = problem.values(theta)
    worst = 0.0
    for g, model in enumerate(models, start=1):
        names = [n for n, p in model.parameters.items() if p.active]
        model.update_matrices(np.array([theta[int(n[2:])] for n in names]))
        sig_semopy, _ = model.calc_sigma()
        order = [model.vars["observed"].index(v) for v in problem.layout.observed]
        sig = problem.moments(values, g)[0]
        diff = float(np.abs(sig_semopy[np.ix_(order, order)] - sig).max())
        worst = max(worst, diff)
        if diff > tol * max(1.0, float(np.abs(sig).max())):
            raise SpecError(f"group {g}: semopy's implied covariance matrix differs from the table's "
                            f"by {diff:.3g}; please report this model")
    return worst


# -- constraints -----------------------------------------------------------------------------------
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


def _side(expr: str):
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
    C, d = [], []
    for f, text in rows_eq:
        x0 = rng.normal(size=k)
        j0, j1 = _num_grad(f, x0), _num_grad(f, x0 + rng.normal(size=k))
        if not np.allclose(j0, j1, atol=1e-6) or np.allclose(j0, 0):
            raise SpecError(f"the constraint '{text}' is not linear in the parameters; fit_sem handles "
                            "linear equality constraints (a == b, a + b == 1, a == 2*b)")
        C.append(j0)
        d.append(j0 @ x0 - f(x0))
    C, d = np.array(C), np.array(d)
    c0 = np.linalg.lstsq(C, d, rcond=None)[0]
    _, s, vt = np.linalg.svd(C)
    rank = int((s > 1e-10 * s.max()).sum())
    return Constraints(c0, vt[rank:].T, lower, upper)


def _constraint_function(problem: Problem, lhs: str, rhs: str):
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
        raise SpecError(f"the constraint '{lhs} {op} {rhs}' is not supported; fit_sem handles a "
                        "label against a number (a > 0) or lower()/upper() modifiers")


# -- optimisation ----------------------------------------------------------------------------------
@dataclass
class Optimum:
    theta: np.ndarray
    f: float
    grad: np.ndarray
    iterations: int
    converged: bool
    message: str


def optimize(problem: Problem, theta0: np.ndarray, cons: Constraints, maxiter: int = 2000,
             gtol: float = GTOL) -> Optimum:
    """Minimise F over ``z`` (``theta = c0 + K z``): Fisher scoring with backtracking until the
    gradient is small, then BFGS started from the Fisher information (superlinear near the
    optimum, where Fisher scoring alone converges only linearly on misfitting models)."""
    K = cons.K
    z = cons.z(theta0)
    clip = (lambda th: np.clip(th, cons.lower, cons.upper)) if cons.bounded else (lambda th: th)
    theta = clip(cons.theta(z))
    f, g, info = problem.evaluate(theta)
    if not math.isfinite(f):
        raise ConvergenceError("the starting values give an implied covariance matrix that is not "
                               "positive definite; give start values (start(0.5)*x2), try "
                               "std_lv=True, or check the scaling of the variables")
    H_inv = None
    for it in range(1, maxiter + 1):
        gz = K.T @ g
        if H_inv is None and np.abs(gz).max() > 1e-4:  # Fisher scoring phase
            direction = -_solve(K.T @ info @ K, gz / 2)
        else:
            if H_inv is None:
                H_inv = np.linalg.pinv(2 * K.T @ problem.evaluate(theta)[2] @ K)
            direction = -H_inv @ gz
        # converged: gradient ~0, or the (quasi-)Newton step is below what F's rounding resolves
        newton = np.abs(direction).max() if len(direction) else 0.0
        if np.abs(gz).max() < gtol or newton < XTOL * max(1.0, np.abs(z).max()):
            return Optimum(theta, f, g, it - 1, True, "converged")
        slope = gz @ direction
        if slope >= 0:  # not a descent direction (numerical trouble): restart from Fisher scoring
            direction = -_solve(K.T @ problem.evaluate(theta)[2] @ K, gz / 2)
            slope, H_inv = gz @ direction, None
        step = 1.0
        while step > 1e-12:
            z_new = z + step * direction
            th_new = clip(cons.theta(z_new))
            f_new = problem.objective(th_new)
            if math.isfinite(f_new) and f_new <= f + 1e-4 * step * slope:
                break
            step /= 2
        else:
            ok = newton < 1e-6 * max(1.0, np.abs(z).max())
            return Optimum(theta, f, g, it, ok, "converged" if ok else
                           f"line search failed with largest gradient {np.abs(gz).max():.2g}")
        if f_new >= f and newton < 1e-6 * max(1.0, np.abs(z).max()):
            return Optimum(theta, f, g, it, True, "converged (F at rounding precision)")
        need_info = H_inv is None
        f_new, g_new, info_new = problem.evaluate(th_new, information=need_info)
        if H_inv is not None:  # BFGS update of the inverse Hessian in z
            s, y = z_new - z, K.T @ (g_new - g)
            sy = s @ y
            if sy > 1e-16:
                rho = 1.0 / sy
                V = np.eye(len(s)) - rho * np.outer(s, y)
                H_inv = V @ H_inv @ V.T + rho * np.outer(s, s)
        z, theta, f, g = z_new, th_new, f_new, g_new
        if need_info:
            info = info_new
    return Optimum(theta, f, g, maxiter, False, f"no convergence after {maxiter} iterations")


def estimate(problem: Problem, cons: Constraints) -> Optimum:
    """Optimise from the covariance-based starting values, then, if that fails, from lavaan's
    "simple" ones; the better converged solution wins."""
    tries = []
    for simple in (False, True):
        try:
            opt = optimize(problem, start_values(problem, simple=simple), cons)
        except ConvergenceError as err:
            opt = Optimum(np.full(problem.npar, np.nan), math.inf, np.zeros(problem.npar), 0, False, str(err))
        if opt.converged:
            return opt
        tries.append(opt)
    return min(tries, key=lambda o: o.f)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]
