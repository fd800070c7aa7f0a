"""Estimation: the parameter table -> semopy's models -> semopy's optimiser, checked by our kernel.

semopy builds each group's model from a description written from the table (free rows named
``_p<par>`` so that equal labels share a parameter, fixed rows as numbers, fixed-x rows at their
sample moments), so semopy adds no parameter of its own; we check that its free-parameter set is
the table's and, at the solution, that its implied covariance matrices equal ours.

:func:`estimate` lets semopy's optimiser (``Model.fit``, SLSQP at ``ftol`` 1e-15) produce the
estimates from our start values wherever it serves, and then verifies them with the kernel of
:mod:`loyaltymodels.sem.kernel`: the gradient and the Fisher-scoring step at semopy's solution;
only if that step shows semopy stopped short of the optimum do a few kernel steps polish it.
Where semopy cannot serve, the kernel's own optimiser (Fisher scoring, then BFGS) estimates;
:data:`KERNEL_REASONS` gives the measured reason for each such case, and ``SemFit.info`` says
which engine produced the estimates, whether they were polished, and the gradient.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError, ConvergenceError, SpecError
from .constraints import Constraints, constraints, equalities
from .kernel import GTOL, XTOL, Optimum, Problem, _solve, optimize
from .semopy_models import _active, _quiet, check_against_semopy, semopy_means_models, semopy_models

__all__ = [
    "estimate",
    "semopy_models",
    "semopy_means_models",
    "start_values",
    "constraints",
    "check_against_semopy",
    "Constraints",
    "Optimum",
    "optimize",
    "GTOL",
    "XTOL",
]

#: semopy's solver (its default) and tolerance. docs/findings.md's ftol 1e-12 leaves semopy 1.1e-5 and
#: 1.9e-5 from the optimum on Political Democracy and ECSI (inside lavaan's printed precision,
#: not a match to 1e-6); 1e-15 costs 4-10% more iterations and lands within 4e-9 (HS), 1.4e-8
#: (PolDem) and 5e-8 (beliefs/experience); ECSI stops 9e-7 short at any tolerance (the nearly
#: collinear EXPE and QUAL), which the kernel's check then polishes.
SOLVER = "SLSQP"
FTOL = 1e-15
#: converged fits take 15-120 SLSQP iterations here; semopy's default cap (10 000) only makes
#: hopeless fits (parameters diverging to a Heywood boundary) cost seconds before the fallback
MAXITER = 2000
#: semopy's solution is kept as it is when the kernel's Fisher-scoring step there, an estimate of
#: its distance to the optimum (within 10% of the distance to a Newton-refined optimum on HS,
#: PolDem, ECSI and beliefs/experience), is below ACCEPT * max(1, |theta|); up to NEAR, kernel
#: steps polish it; beyond, semopy did not find the optimum and the kernel starts afresh.
ACCEPT = 1e-7
NEAR = 1e-2
ENGINES = ("auto", "semopy", "kernel")

#: Where ``engine="auto"`` estimates with the kernel instead of semopy, and why (measured on the
#: project's 2-core machine with one BLAS thread; semopy 2.3.11, scipy 1.18). semopy's ``Model``
#: has no mean structure (its FIML uses zero means); ``ModelMeans`` has one, and
#: ``engine="semopy"`` uses it (one joint SLSQP over the groups' summed objectives), with the same
#: answers as the kernel but at 10-20x its time, beyond the 1.5x-of-bare-semopy budget:
KERNEL_REASONS = {
    "fiml": (
        "FIML: semopy's Model.obj_fiml ignores the means; ModelMeans' FIML agrees with ours (7e-8, "
        "n = 2000, 15% MCAR) but loops over rows, patterns and parameters in Python: 2.8 s against "
        "0.13 s for the kernel"
    ),
    "groups": (
        "multigroup: one joint optimisation over semopy's per-group ModelMeans objectives "
        "reproduces lavaan's invariance chi-squares (115.851, 124.044, 164.103) but takes 270-365 ms "
        "per level on HS by school against 18-24 ms for the kernel and 43 ms for a bare "
        "semopy.multigroup fit (which can neither tie parameters nor fit means)"
    ),
    "means": (
        "mean structure: semopy's Model has none; ModelMeans agrees with ours (5e-8 on HS) but its "
        "per-row FIML objective takes 132 ms against 10 ms for the kernel, 3x a bare semopy fit of "
        "the covariance model (41 ms)"
    ),
}


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


def _factor_guess(
    problem: Problem,
    lhs_col: np.ndarray,
    op_col: np.ndarray,
    rhs_col: np.ndarray,
    grp: np.ndarray,
    pos: dict[str, int],
) -> dict:
    """Loadings ``cov(x_j, x_k) / cov(x_m, x_k)`` (m the first indicator, k the others), factor
    variances ``cov(x_m, x_j) / lambda_j`` averaged, factor covariances from the first indicators;
    scaled to unit factor variance where the table fixes it (std_lv)."""
    out = {}
    for g in range(1, problem.ngroups + 1):
        S = problem.stats[g - 1].cov
        values = problem.fixed
        inds: dict[str, list[int]] = {}
        for r in np.flatnonzero((grp == g) & (op_col == "=~")).tolist():
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
            out[(g, f, "~~", f)] = psi / base**2 if not fixed_var else values[var_row[0]]
            scale[f] = (m, base * unit)
        for a, b in ((a, b) for a in scale for b in scale if a < b):
            (ma, sa), (mb, sb) = scale[a], scale[b]
            cov = S[ma, mb] / (sa * sb)
            out[(g, a, "~~", b)] = out[(g, b, "~~", a)] = cov
    return out


# -- estimation ------------------------------------------------------------------------------------
def kernel_reason(problem: Problem) -> str | None:
    """Why ``engine="auto"`` estimates ``problem`` with the kernel (None: semopy estimates)."""
    if problem.fiml:
        return KERNEL_REASONS["fiml"]
    if problem.ngroups > 1:
        return KERNEL_REASONS["groups"]
    if problem.meanstructure:
        return KERNEL_REASONS["means"]
    return None


def estimate(
    problem: Problem,
    cons: Constraints,
    models: list | None = None,
    frames: list[pd.DataFrame] | None = None,
    engine: str = "auto",
) -> Optimum:
    """The ML estimates, from semopy's optimiser where it serves, else from the kernel's.

    ``engine``: ``"auto"`` (semopy for one group, complete data and no mean structure; the
    kernel elsewhere, see :data:`KERNEL_REASONS`), ``"semopy"`` (semopy wherever it can represent
    the model: ``ModelMeans`` and one joint optimisation for means, groups and FIML; needs
    ``frames``) or ``"kernel"``. If semopy's optimiser fails, the kernel estimates and
    ``info["engine_reason"]`` says why. ``Optimum.info`` records the engine, semopy's run, the
    kernel's check and any polishing.
    """
    if engine not in ENGINES:
        raise ArgumentError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")
    theta0 = start_values(problem)
    reason = (
        "engine='kernel' was requested" if engine == "kernel" else kernel_reason(problem) if engine == "auto" else None
    )
    semopy_run = None  # what semopy did, when the kernel had to take over
    if reason is None:
        opt = _semopy_estimate(problem, cons, models, frames, theta0)
        if opt.converged:
            return opt
        reason = f"semopy's optimiser did not reach the optimum ({opt.message})"
        semopy_run = {k: v for k, v in opt.info.items() if k.startswith("semopy")}
    opt = _kernel_estimate(problem, cons, theta0)
    opt.info.update(engine="kernel", engine_reason=reason, **(semopy_run or {}))
    return opt


def _kernel_estimate(problem: Problem, cons: Constraints, theta0: np.ndarray) -> Optimum:
    """The kernel's optimiser from the covariance-based starting values, then, if that fails,
    from lavaan's "simple" ones; the better converged solution wins."""
    tries = []
    for simple in (False, True):
        start = theta0 if not simple else start_values(problem, simple=True)
        try:
            opt = optimize(problem, start, cons)
        except ConvergenceError as err:
            opt = Optimum(np.full(problem.npar, np.nan), math.inf, np.zeros(problem.npar), 0, False, str(err))
        if opt.converged:
            return _finish(problem, cons, opt)
        tries.append(opt)
    return min(tries, key=lambda o: o.f)


def _finish(problem: Problem, cons: Constraints, opt: Optimum) -> Optimum:
    """The acceptance test semopy's solutions pass, applied to the kernel's own: a line search on
    F stops where F is flat to rounding (up to ~1e-7 short on ECSI and PolDem); scoring steps
    finish the job."""
    f, g, info = problem.evaluate(opt.theta)
    assert g is not None and info is not None  # a converged solution: F is finite
    if _close(opt.theta, *_scoring_step(cons, opt.theta, g, info)):
        return opt
    polish = _polish(problem, cons, opt.theta, f, g, info)
    if polish is None:
        return opt
    return Optimum(polish.theta, polish.f, polish.grad, opt.iterations + polish.iterations, True, opt.message)


def _semopy_estimate(
    problem: Problem,
    cons: Constraints,
    models: list | None,
    frames: list[pd.DataFrame] | None,
    theta0: np.ndarray,
) -> Optimum:
    """semopy's optimiser from ``theta0``, then the kernel's check (and polish if needed)."""
    started = time.perf_counter()
    means = problem.meanstructure or problem.fiml or problem.ngroups > 1
    if means and frames is None:
        raise ValueError("semopy's ModelMeans needs the data: pass frames")
    try:
        with np.errstate(all="ignore"), _quiet():
            if means:
                assert frames is not None  # checked above
                theta, run = _run_model_means(problem, cons, semopy_means_models(problem, frames), theta0)
            else:
                theta, run = _run_model(problem, cons, (models or semopy_models(problem))[0], theta0)
    except SpecError:  # semopy's model is not the table's: a bug to report, not a case for the kernel
        raise
    except Exception as err:  # whatever semopy raises, the kernel estimates (and info says why)
        return Optimum(theta0, math.inf, np.zeros(problem.npar), 0, False, f"semopy raised {err!r}")
    run["seconds"] = round(time.perf_counter() - started, 6)
    return _check_and_polish(problem, cons, theta, run)


def _semopy_options(cons: Constraints, idx: np.ndarray) -> tuple[list, list]:
    """Bounds (lavaan's: none, unless the table has lower()/upper() or ``a > 0``; semopy's own
    keep variances >= 0, which would hide Heywood cases) and equality constraints, in semopy's
    parameter order."""
    bounds = [
        (None if not np.isfinite(lo) else float(lo), None if not np.isfinite(hi) else float(hi))
        for lo, hi in zip(cons.lower[idx], cons.upper[idx])
    ]
    eq = equalities(cons)
    if eq is None:
        return bounds, []
    A, b = eq[0][:, idx], eq[1]
    return bounds, [{"type": "eq", "fun": lambda x: A @ x - b, "jac": lambda x: A}]


def _run_model(
    problem: Problem, cons: Constraints, model: Any, theta0: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """One group without means: ``semopy.Model.fit`` on our sample moments, from ``theta0``."""
    names, idx = _active(model)
    if len(idx) != problem.npar:
        raise ValueError("semopy's model does not carry every free parameter")
    st = problem.stats[0]
    order = [problem.layout.observed.index(v) for v in model.vars["observed"]]
    # our 1/N moments in semopy's variable order; load_cov, not load(data): no start rules
    model.load_cov(st.cov[np.ix_(order, order)])
    model.n_samples = st.n
    bounds, eqs = _semopy_options(cons, idx)
    for name, bound in zip(names, bounds):
        model.parameters[name].bound = bound
    model.constraints = eqs
    model.param_vals = theta0[idx].astype(float)
    res = model.fit(obj="MLW", solver=SOLVER, options={"ftol": FTOL, "maxiter": MAXITER})
    theta = np.empty(problem.npar)
    theta[idx] = res.x
    return theta, dict(
        model="Model",
        objective="MLW",
        solver=SOLVER,
        ftol=FTOL,
        iterations=_int(res.n_it),
        success=bool(res.success),
        message=str(res.message),
    )


def _run_model_means(
    problem: Problem, cons: Constraints, models: list, theta0: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Means, groups or FIML: semopy's ``ModelMeans`` objective (FIML over the rows, which is ML
    with means on complete data). One group: its own ``fit``; several: one joint SLSQP over the
    union of the groups' parameters, on the sum of their objectives (each already N_g times a
    per-observation objective, so the sum weights the groups as lavaan does), scaled by 1/N."""
    from scipy.optimize import minimize

    fitted = [_active(m) for m in models]
    if len(set(np.concatenate([idx for _, idx in fitted]))) != problem.npar:
        raise ValueError("semopy's models do not carry every free parameter")
    if len(models) == 1:
        (model, (names, idx)) = models[0], fitted[0]
        bounds, eqs = _semopy_options(cons, idx)
        for name, bound in zip(names, bounds):
            model.parameters[name].bound = bound
        model.constraints = eqs
        model.param_vals = theta0[idx].astype(float)
        # ModelMeans' objective is -2 logL (+ a constant): N times the per-observation scale of FTOL
        res = model.fit(obj="ML", solver=SOLVER, options={"ftol": FTOL * problem.ntotal, "maxiter": MAXITER})
        theta = np.empty(problem.npar)
        theta[idx] = res.x
        return theta, dict(
            model="ModelMeans",
            objective="FIML",
            solver=SOLVER,
            ftol=FTOL * problem.ntotal,
            iterations=_int(res.n_it),
            success=bool(res.success),
            message=str(res.message),
        )

    def fun(theta):
        total = 0.0
        for model, (_, idx) in zip(models, fitted):
            total += model.obj_fiml(theta[idx])
        return total / problem.ntotal

    def jac(theta):
        grad = np.zeros(problem.npar)
        for model, (_, idx) in zip(models, fitted):
            grad[idx] += model.grad_fiml(theta[idx])  # idx has no repeats within a group
        return grad / problem.ntotal

    bounds, eqs = _semopy_options(cons, np.arange(problem.npar))
    res = minimize(
        fun,
        theta0.astype(float),
        jac=jac,
        method=SOLVER,
        bounds=bounds,
        constraints=eqs,
        options={"ftol": FTOL, "maxiter": MAXITER},
    )
    return res.x, dict(
        model="ModelMeans",
        objective="FIML (sum over groups)",
        solver=SOLVER,
        ftol=FTOL,
        iterations=_int(res.nit),
        success=bool(res.success),
        message=str(res.message),
    )


def _check_and_polish(problem: Problem, cons: Constraints, theta: np.ndarray, run: dict) -> Optimum:
    """The kernel's verdict on semopy's solution: gradient and Fisher-scoring step there; kernel
    steps only if the step says semopy stopped short (more than ACCEPT from the optimum)."""
    f, g, info = problem.evaluate(theta) if np.isfinite(theta).all() else (math.inf, None, None)
    if not math.isfinite(f):
        return Optimum(
            theta,
            math.inf,
            np.zeros(problem.npar),
            run["iterations"],
            False,
            "its solution has an implied covariance matrix that is not positive definite",
            dict(semopy=run),
        )
    assert g is not None and info is not None  # F is finite: every Sigma_g is positive definite
    step, gmax = _scoring_step(cons, theta, g, info)
    details: dict[str, Any] = dict(
        engine="semopy",
        semopy=run,
        semopy_gradient_max=gmax,
        semopy_distance=float(np.abs(step).max(initial=0.0)),
        polished=False,
    )
    if _close(theta, step, gmax):
        return Optimum(theta, f, g, run["iterations"], True, "converged", details)
    scale = max(1.0, float(np.abs(theta).max()))
    if details["semopy_distance"] > NEAR * scale:
        return Optimum(
            theta,
            f,
            g,
            run["iterations"],
            False,
            f"it stopped {details['semopy_distance'] / scale:.2g} (relative) from the optimum: {run['message']}",
            details,
        )
    polish = _polish(problem, cons, theta, f, g, info)
    if polish is None:  # scoring alone does not get there: the kernel's full optimiser from here
        try:
            polish = optimize(problem, theta, cons)
        except ConvergenceError as err:
            return Optimum(theta, f, g, run["iterations"], False, f"polishing failed: {err}", details)
        if not polish.converged:
            return Optimum(theta, f, g, run["iterations"], False, f"polishing failed: {polish.message}", details)
    details.update(
        polished=True, polish_iterations=polish.iterations, polish_change=float(np.abs(polish.theta - theta).max())
    )
    return Optimum(
        polish.theta, polish.f, polish.grad, run["iterations"] + polish.iterations, True, "converged", details
    )


def _scoring_step(cons: Constraints, theta: np.ndarray, g: np.ndarray, info: np.ndarray) -> tuple[np.ndarray, float]:
    """The Fisher-scoring step in theta (``theta - step`` is the next iterate) and the largest
    gradient it answers, over the parameters not held at a bound (lower() / upper() / ``a > 0``
    that is active, with the gradient pushing outwards)."""
    K = cons.K
    if not K.shape[1]:
        return np.zeros(len(g)), 0.0
    if cons.bounded and K.shape[0] == K.shape[1]:  # bounds without equality constraints
        span = 1e-10 * np.maximum(1.0, np.abs(theta))
        held = ((theta <= cons.lower + span) & (g > 0)) | ((theta >= cons.upper - span) & (g < 0))
        K = K[:, ~held]
    gz = K.T @ g
    return K @ _solve(K.T @ info @ K, gz / 2), float(np.abs(gz).max(initial=0.0))


def _close(theta: np.ndarray, step: np.ndarray, gmax: float) -> bool:
    return gmax < GTOL or float(np.abs(step).max(initial=0.0)) <= ACCEPT * max(1.0, float(np.abs(theta).max()))


def _polish(
    problem: Problem,
    cons: Constraints,
    theta: np.ndarray,
    f: float,
    g: np.ndarray,
    info: np.ndarray,
    maxsteps: int = 10,
) -> Optimum | None:
    """Plain Fisher-scoring steps from a point near the optimum, accepted while F does not rise
    beyond its rounding: near the optimum F is flat to rounding along collinear directions
    (ECSI), where a line search on F stalls but the scoring step still shrinks ~3x per step.
    None if that does not converge within ``maxsteps``."""
    clip = (lambda th: np.clip(th, cons.lower, cons.upper)) if cons.bounded else (lambda th: th)
    step = _scoring_step(cons, theta, g, info)[0]
    for it in range(1, maxsteps + 1):
        new = clip(theta - step)
        f_new, g_new, info_new = problem.evaluate(new)
        if not math.isfinite(f_new) or f_new > f + 1e-12 * max(1.0, abs(f)):
            return None
        assert g_new is not None and info_new is not None  # F is finite at the new point
        theta, f, g, info = new, f_new, g_new, info_new
        taken, (step, gmax) = step, _scoring_step(cons, theta, g, info)
        if _close(theta, taken, gmax):
            return Optimum(theta, f, g, it, True, "converged")
    return None


def _int(n: Any) -> int:
    try:
        return int(n)
    except (TypeError, ValueError):  # scipy reports nan iterations for some methods
        return -1
