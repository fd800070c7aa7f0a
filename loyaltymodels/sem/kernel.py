"""The ML discrepancy of a parameter table, its gradient and information, on the RAM form.

Plain NumPy kernels behind :func:`loyaltymodels.fit_sem`. One objective serves every case lavaan's
``estimator = "ML"`` covers here: one or several groups with parameters tied across groups by
shared ``par`` numbers, with or without a mean structure, complete data (sample moments) or
full-information ML over missing-data patterns. Per group,

    F_g = (-2 logL_g(theta) + 2 logL_g(H1)) / N_g

which for complete data is lavaan's F_ML = log|Sigma| + tr(S Sigma^-1) - log|S| - p
+ (m - mu)' Sigma^-1 (m - mu); the total is F = sum_g (N_g / N) F_g, so that chi-square = N F
(lavaan's convention: N, not N - 1).

What semopy does not provide, and so is written here: the expected information (SEs, Fisher
scoring, modification indices) and, where :mod:`loyaltymodels.sem.engine` measured semopy's
optimiser unable to serve, the optimisation itself. ``semopy.Model.obj_mlw`` is one group without
means (its FIML uses uncentred cross-products, i.e. zero means); ``ModelMeans`` has means but
evaluates FIML row by row with a Python loop per parameter (10-20x this kernel's time), and
neither ties parameters across groups. One vectorised objective on the table's RAM matrices
covers every case; :mod:`loyaltymodels.sem.engine` checks it against semopy's own model of the
same table (parameter set, implied covariances) and uses it to verify semopy's solutions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from ..algebra.matrices import RamLayout, ram_layout, ram_matrices
from ..algebra.moments import LOG2PI, GroupStats
from ..errors import ConvergenceError
from ..spec.model import ModelSpec

if TYPE_CHECKING:
    from .constraints import Constraints

#: Convergence: largest |dF/dtheta| accepted (F per observation, as lavaan's objective).
GTOL = 1e-9
#: ... or largest (quasi-)Newton step, relative to the parameters' scale.
XTOL = 1e-9


@dataclass(frozen=True)
class _Cells:
    """Free cells of one group's RAM matrices, and the map cell -> free parameter."""

    ai: np.ndarray
    aj: np.ndarray
    si: np.ndarray
    sj: np.ndarray
    mi: np.ndarray
    P_sigma: np.ndarray  # npar x (nA + nS): which parameter each covariance-derivative cell adds to
    P_mu: np.ndarray  # npar x (nA + nm)


def spec_cache(spec: ModelSpec) -> dict:
    """Per-spec memo of what depends on the model only (the RAM layout, the table's columns as
    NumPy arrays, each group's free cells): a refit of a cached spec (``fit_sem`` caches parsed
    specs) skips it, and pandas' string columns are not read element by element in the kernels.
    Stored on the frozen spec itself, as :mod:`loyaltymodels.algebra.matrices` does."""
    return spec.__dict__.setdefault("_sem_cache", {})


def table_arrays(spec: ModelSpec) -> dict[str, np.ndarray]:
    """The parameter table's columns as NumPy arrays (strings as objects), memoized on ``spec``."""
    cache = spec_cache(spec)
    if "arrays" not in cache:
        t = spec.table
        cache["arrays"] = {c: t[c].to_numpy(dtype=object if t[c].dtype.kind not in "biuf" else None) for c in t.columns}
    return cache["arrays"]


@dataclass
class Problem:
    """Everything the objective needs: the table as arrays, the RAM layout, the sample moments.

    ``theta`` is the vector of free parameters numbered by the table's ``par`` column.
    """

    spec: ModelSpec
    stats: list[GroupStats]
    fiml: bool = False
    layout: RamLayout = field(init=False)

    def __post_init__(self) -> None:
        cache = spec_cache(self.spec)
        if "layout" not in cache:
            cache["layout"] = ram_layout(self.spec)
        self.layout = cache["layout"]
        cols = table_arrays(self.spec)
        self.p = self.layout.n_observed
        self.nvar = self.layout.n
        self.ngroups = self.spec.ngroups
        self.n = np.array([s.n for s in self.stats], dtype=float)
        self.ntotal = float(self.n.sum())
        self.weights = self.n / self.ntotal
        self.meanstructure = self.spec.meanstructure
        self.par = cols["par"]
        self.free_rows = np.flatnonzero(self.par >= 0)
        self.npar = int(self.par.max() + 1) if len(self.free_rows) else 0
        self.fixed = self._fixed_values(cols)
        if "cells" not in cache:
            cache["cells"] = [self._cells(g) for g in range(1, self.ngroups + 1)]
        self.cells = cache["cells"]

    # -- rows -> values ---------------------------------------------------------------------------
    def _fixed_values(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        """Fixed value of every row; exogenous covariates take their sample moments (fixed.x)."""
        values = np.array(cols["value"], dtype=float)
        pos = {v: k for k, v in enumerate(self.layout.observed)}
        for r in np.flatnonzero(cols["exo"].astype(bool)):
            st = self.stats[int(cols["group"][r]) - 1]
            lhs, op, rhs = cols["lhs"][r], cols["op"][r], cols["rhs"][r]
            values[r] = st.mean[pos[lhs]] if op == "~1" else st.cov[pos[lhs], pos[rhs]]
        return values

    def values(self, theta: np.ndarray) -> np.ndarray:
        """Value of every table row at ``theta`` (fixed rows keep their value); a ``(batch, npar)``
        ``theta`` gives ``(batch, rows)``."""
        theta = np.asarray(theta, dtype=float)
        if theta.ndim == 2:
            v = np.tile(self.fixed, (len(theta), 1))
            v[:, self.free_rows] = theta[:, self.par[self.free_rows]]
            return v
        v = self.fixed.copy()
        v[self.free_rows] = theta[self.par[self.free_rows]]
        return v

    def _cells(self, g: int) -> _Cells:
        lay = self.layout
        A, S, m = lay.A[g], lay.S[g], lay.m[g]
        fa, fs, fm = (self.par[c.row] >= 0 for c in (A, S, m))
        pa, ps, pm = self.par[A.row[fa]], self.par[S.row[fs]], self.par[m.row[fm]]
        na, ns, nm = len(pa), len(ps), len(pm)
        P_sigma = np.zeros((self.npar, na + ns))
        P_sigma[np.r_[pa, ps], np.arange(na + ns)] = 1.0
        P_mu = np.zeros((self.npar, na + nm))
        P_mu[np.r_[pa, pm], np.arange(na + nm)] = 1.0
        return _Cells(A.i[fa], A.j[fa], S.i[fs], S.j[fs], m.i[fm], P_sigma, P_mu)

    def matrices(self, values: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return ram_matrices(self.layout, values, g)

    def moments(self, values: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(Sigma, mu, T, S, m)`` of group ``g`` (1-based), ``T = (I - A)^-1``."""
        A, S, m = self.matrices(values, g)
        T = np.linalg.inv(np.eye(self.nvar) - A)
        G = T[: self.p]
        return G @ S @ G.T, G @ m, T, S, m

    # -- objective --------------------------------------------------------------------------------
    @overload
    def _group_terms(
        self, sigma: np.ndarray, mu: np.ndarray, st: GroupStats, need_grad: Literal[True]
    ) -> tuple[float, np.ndarray, np.ndarray] | None: ...
    @overload
    def _group_terms(
        self, sigma: np.ndarray, mu: np.ndarray, st: GroupStats, need_grad: Literal[False]
    ) -> tuple[float, None, None] | None: ...

    def _group_terms(
        self, sigma: np.ndarray, mu: np.ndarray, st: GroupStats, need_grad: bool
    ) -> tuple[float, np.ndarray | None, np.ndarray | None] | None:
        """``F_g`` and, when asked, ``W`` (dF/dSigma) and ``gmu`` (dF/dmu). ``None`` if not PD."""
        p = self.p
        if not self.fiml:
            try:
                L = np.linalg.cholesky(sigma)
            except np.linalg.LinAlgError:
                return None
            si = _chol_inverse(L)
            d = st.mean - mu if self.meanstructure else np.zeros(p)
            logdet = 2 * np.log(np.diag(L)).sum()
            m2 = -2 * st.logl_h1 / st.n - p - p * LOG2PI  # = log|S|
            f = logdet + np.sum(si * st.cov) - m2 - p + d @ si @ d
            if not need_grad:
                return f, None, None
            sd = si @ d
            W = si - si @ st.cov @ si - np.outer(sd, sd)
            return f, W, -2 * sd
        total = 0.0
        W, gmu = np.zeros((p, p)), np.zeros(p)
        assert st.patterns is not None  # FIML groups carry their missing-data patterns
        for pat in st.patterns:
            o = pat.idx
            try:
                L = np.linalg.cholesky(sigma[np.ix_(o, o)])
            except np.linalg.LinAlgError:
                return None
            si = _chol_inverse(L)
            d = pat.mean - mu[o]
            sd = si @ d
            total += pat.size * (len(o) * LOG2PI + 2 * np.log(np.diag(L)).sum() + np.sum(si * pat.cov) + d @ sd)
            if need_grad:
                W[np.ix_(o, o)] += pat.size / st.n * (si - si @ pat.cov @ si - np.outer(sd, sd))
                gmu[o] += pat.size / st.n * (-2 * sd)
        f = (total + 2 * st.logl_h1) / st.n
        return f, (W if need_grad else None), (gmu if need_grad else None)

    def objective(self, theta: np.ndarray) -> float:
        """F at ``theta`` (``inf`` where an implied covariance matrix is not positive definite)."""
        values = self.values(theta)
        total = 0.0
        for g in range(self.ngroups):
            sigma, mu, *_ = self.moments(values, g + 1)
            out = self._group_terms(sigma, mu, self.stats[g], need_grad=False)
            if out is None:
                return math.inf
            total += self.weights[g] * out[0]
        return float(total)

    def group_objectives(self, theta: np.ndarray) -> np.ndarray:
        """``F_g`` per group (so ``chisq_g = N_g F_g``)."""
        values = self.values(theta)
        out = np.empty(self.ngroups)
        for g in range(self.ngroups):
            sigma, mu, *_ = self.moments(values, g + 1)
            res = self._group_terms(sigma, mu, self.stats[g], need_grad=False)
            out[g] = np.inf if res is None else res[0]
        return out

    def jacobian(
        self,
        values: np.ndarray,
        g: int,
        T: np.ndarray | None = None,
        S: np.ndarray | None = None,
        m: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """d vec(Sigma_g) / d theta as ``(npar, p, p)`` and d mu_g / d theta as ``(npar, p)``."""
        if T is None:
            _, _, T, S, m = self.moments(values, g)
        c, p = self.cells[g - 1], self.p
        G = T[:p]
        K = T @ S @ G.T  # cov(every variable, observed)
        Tm = T @ m
        Ga = G[:, c.ai].T  # nA x p
        dA = Ga[:, :, None] * K[c.aj][:, None, :]
        dA = dA + dA.transpose(0, 2, 1)
        dS = G[:, c.si].T[:, :, None] * G[:, c.sj].T[:, None, :]
        cells = np.concatenate([dA, dS]).reshape(-1, p * p)
        Jsig = (c.P_sigma @ cells).reshape(self.npar, p, p)
        mcells = np.concatenate([Ga * Tm[c.aj][:, None], G[:, c.mi].T])
        Jmu = c.P_mu @ mcells if self.meanstructure else np.zeros((self.npar, p))
        return Jsig, Jmu

    def evaluate(
        self, theta: np.ndarray, information: bool = True
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """``(F, gradient, unit expected information)``; ``F = inf`` (and ``None``s) if not PD.

        The information is that of F/2 per observation (lavaan's ``information = "expected"``,
        h1 "structured"; under FIML summed over the missing-data patterns), so
        ``vcov = inv(info) / N``.
        """
        values = self.values(theta)
        f = 0.0
        grad = np.zeros(self.npar)
        info = np.zeros((self.npar, self.npar)) if information else None
        for g in range(self.ngroups):
            sigma, mu, T, S, m = self.moments(values, g + 1)
            out = self._group_terms(sigma, mu, self.stats[g], need_grad=True)
            if out is None:
                return math.inf, None, None
            fg, W, gmu = out
            Jsig, Jmu = self.jacobian(values, g + 1, T, S, m)
            w = self.weights[g]
            f += w * fg
            grad += w * (Jsig.reshape(self.npar, -1) @ W.ravel() + Jmu @ gmu)
            if information:
                st = self.stats[g]
                if self.fiml:  # expected information of each pattern's marginal (lavaan "structured")
                    assert st.patterns is not None
                    for pat in st.patterns:
                        o = pat.idx
                        info += (
                            w * pat.size / st.n * self._information(sigma[np.ix_(o, o)], Jsig[:, o][:, :, o], Jmu[:, o])
                        )
                else:
                    info += w * self._information(sigma, Jsig, Jmu)
        return float(f), grad, info

    def _information(self, sigma: np.ndarray, Jsig: np.ndarray, Jmu: np.ndarray) -> np.ndarray:
        si = np.linalg.inv(sigma)
        k = Jsig.shape[0]
        left = (si @ Jsig @ si).reshape(k, -1)
        info = 0.5 * left @ Jsig.reshape(k, -1).T
        if self.meanstructure:
            info += Jmu @ si @ Jmu.T
        return info

    def gradient(self, theta: np.ndarray) -> np.ndarray | None:
        return self.evaluate(theta, information=False)[1]

    def observed_information(self, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """Hessian of F/2 by central differences of the analytic gradient (lavaan's default
        information under FIML is the observed one)."""
        k = len(theta)
        H = np.empty((k, k))
        for i in range(k):
            step = h * max(1.0, abs(theta[i]))
            e = np.zeros(k)
            e[i] = step
            g_up, g_down = self.gradient(theta + e), self.gradient(theta - e)
            if g_up is None or g_down is None:
                raise ConvergenceError(
                    "the observed information cannot be computed: an implied covariance matrix is not "
                    "positive definite next to the estimates (a boundary solution); use information='expected'"
                )
            H[i] = (g_up - g_down) / (2 * step)
        return 0.25 * (H + H.T)  # symmetrised, and halved: Hessian of F/2

    def logl(self, theta: np.ndarray) -> float:
        """lavaan's ``logl``: sum over groups of -N_g/2 F_g + logL_g(H1)."""
        fg = self.group_objectives(theta)
        return float(sum(-st.n / 2 * f + st.logl_h1 for st, f in zip(self.stats, fg)))


def _chol_inverse(L: np.ndarray) -> np.ndarray:
    li = np.linalg.inv(L)  # triangular inverse of a small matrix; solve_triangular is no faster here
    return li.T @ li


# -- the kernel's optimiser -------------------------------------------------------------------------
@dataclass
class Optimum:
    theta: np.ndarray
    f: float
    grad: np.ndarray
    iterations: int
    converged: bool
    message: str
    #: how the estimate was produced (engine, solver, polishing); see :func:`sem_engine.estimate`
    info: dict = field(default_factory=dict)


def optimize(
    problem: Problem, theta0: np.ndarray, cons: Constraints, maxiter: int = 2000, gtol: float = GTOL
) -> Optimum:
    """Minimise F over ``z`` (``theta = c0 + K z``, ``cons`` a :class:`sem_engine.Constraints`):
    Fisher scoring with backtracking until the gradient is small, then BFGS started from the
    Fisher information (superlinear near the optimum, where Fisher scoring alone converges only
    linearly on misfitting models).

    Hand-written because semopy's optimiser works on one group at a time, without a mean
    structure (``Model``) or at 10-20x the cost (``ModelMeans``): :mod:`sem_engine` uses it where
    semopy cannot serve, and to polish a semopy solution that stopped short of the optimum."""
    K = cons.K
    z = cons.z(theta0)
    clip = (lambda th: np.clip(th, cons.lower, cons.upper)) if cons.bounded else (lambda th: th)
    theta = clip(cons.theta(z))
    f, g, info = problem.evaluate(theta)
    if not math.isfinite(f):
        raise ConvergenceError(
            "the starting values give an implied covariance matrix that is not "
            "positive definite; give start values (start(0.5)*x2), try "
            "std_lv=True, or check the scaling of the variables"
        )
    assert g is not None and info is not None  # F is finite: every Sigma_g is positive definite
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
            return Optimum(
                theta,
                f,
                g,
                it,
                ok,
                "converged" if ok else f"line search failed with largest gradient {np.abs(gz).max():.2g}",
            )
        if f_new >= f and newton < 1e-6 * max(1.0, np.abs(z).max()):
            return Optimum(theta, f, g, it, True, "converged (F at rounding precision)")
        need_info = H_inv is None
        f_new, g_new, info_new = problem.evaluate(th_new, information=need_info)
        assert g_new is not None  # th_new passed the line search: F is finite there
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


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]
