"""The DWLS objective of ordered items (lavaan's ``estimator = "DWLS"`` under the delta
parameterization), on the same parameter table and RAM kernel as ML.

Per group the sample statistics are the thresholds and polychoric correlations
(:mod:`loyaltymodels.sem.polychoric`), ``s``; the model's are ``sigma(theta)``: for item ``j``
with scale ``delta_j`` (``~*~``, 1 unless freed), threshold ``delta_j (tau_jk - mu*_j)`` and
correlation ``delta_j delta_l Sigma*_jl``, where ``mu*`` and ``Sigma*`` are the implied moments of
the latent responses. The residual variance of an ordered item is not a parameter: it is
whatever makes ``Var(y*_j) = 1 / delta_j^2`` (lavaan's delta parameterization), and the table's
value for it is filled in from the other parameters. With ``W_g`` the inverse of the diagonal of
``Gamma_g`` (the asymptotic covariance of ``sqrt(N_g) s_g``),

    F = sum_g (N_g / N) (s_g - sigma_g)' W_g (s_g - sigma_g),   T = N F,

and the kernel's optimiser minimises ``F`` with ``Delta' W Delta`` as its information (the
Gauss-Newton matrix of ``F / 2``), exactly as it minimises the ML discrepancy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..algebra.matrices import implied_moments
from .kernel import Problem
from .polychoric import OrdinalStats

__all__ = ["OrdinalProblem"]


@dataclass
class OrdinalProblem(Problem):
    """A :class:`~loyaltymodels.sem.kernel.Problem` whose objective is DWLS on ordinal statistics.

    ``stats`` (``GroupStats``: polychoric matrices, zero means) serve the starting values;
    ``ordinal`` holds each group's :class:`OrdinalStats`.
    """

    ordinal: list[OrdinalStats] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        t = self.spec.table
        obs = list(self.layout.observed)
        ops, lhs, rhs, grp = (t[c].to_numpy() for c in ("op", "lhs", "rhs", "group"))
        self.n = np.array([o.n for o in self.ordinal], dtype=float)
        self.ntotal = float(self.n.sum())
        self.weights = self.n / self.ntotal
        p = self.p
        self._resid_rows, self._delta_rows, self._tau_rows = [], [], []
        ordered = set(self.spec.ordinal)
        self._first = []  # per group: (variable, threshold row or -1 for a mean) of the first part
        for g in range(1, self.ngroups + 1):
            resid = np.full(p, -1)
            scale = np.full(p, -1)
            for r in np.flatnonzero(grp == g):
                if ops[r] == "~~" and lhs[r] == rhs[r] and lhs[r] in ordered:
                    resid[obs.index(lhs[r])] = r
                elif ops[r] == "~*~":
                    scale[obs.index(lhs[r])] = r
            cells = self.layout.thresholds[g]
            order = np.lexsort((cells.j, cells.i))  # item by item, then t1, t2, ...
            self._resid_rows.append(resid)
            self._delta_rows.append(scale)
            self._tau_rows.append((cells.i[order], cells.row[order]))
            var, row = [], []  # in variable order: thresholds of ordered items, means of the others
            for k, name in enumerate(obs):
                if name in ordered:
                    mine = cells.row[order][cells.i[order] == k]
                    var += [k] * len(mine)
                    row += mine.tolist()
                else:
                    var.append(k)
                    row.append(-1)
            self._first.append((np.array(var, dtype=int), np.array(row, dtype=int)))
        self._numeric = np.array([name not in ordered for name in obs])
        self._pairs = np.tril_indices(p, -1)

    # -- values: the residual variances of the ordered items follow from the rest ------------------
    def values(self, theta: np.ndarray) -> np.ndarray:
        v = super().values(theta)
        for g in range(self.ngroups):
            rows = self._resid_rows[g]
            rows = rows[rows >= 0]
            if not len(rows):
                continue
            v[..., rows] = 0.0
            sigma, _ = implied_moments(self.layout, v, g + 1)
            items = [int(np.flatnonzero(self._resid_rows[g] == r)[0]) for r in rows]
            delta = self._deltas(v, g)
            v[..., rows] = 1.0 / delta[..., items] ** 2 - sigma[..., items, items]
        return v

    def _deltas(self, values: np.ndarray, g: int) -> np.ndarray:
        rows = self._delta_rows[g]
        out = np.ones(values.shape[:-1] + (self.p,))
        has = rows >= 0
        out[..., has] = values[..., rows[has]]
        return out

    # -- model statistics and their Jacobian ------------------------------------------------------
    def model_stats(self, theta: np.ndarray, g: int, jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """``sigma_g(theta)`` in the order of ``OrdinalStats.stats`` and its Jacobian ``(q, npar)``."""
        values = self.values(theta)
        sigma, mu, T, S, m = self.moments(values, g + 1)
        delta = self._deltas(values, g)
        var, rows = self._first[g]
        th = rows >= 0  # thresholds (the other first-part entries are means of continuous variables)
        tau = np.where(th, values[rows], 0.0)
        j, l = self._pairs
        num = np.flatnonzero(self._numeric)
        first = np.where(th, delta[var] * (tau - mu[var]), mu[var])
        out = np.concatenate([first, sigma[num, num], delta[j] * delta[l] * sigma[j, l]])
        if not jacobian:
            return out, None
        Jsig, Jmu = self.jacobian(values, g + 1, T, S, m)
        nt = len(rows)
        nv = len(num)
        D = np.zeros((len(out), self.npar))
        D[:nt] = np.where(th[:, None], -delta[var][:, None], 1.0) * Jmu[:, var].T
        par = np.where(th, self.par[rows], -1)
        free = par >= 0
        np.add.at(D, (np.flatnonzero(free), par[free]), delta[var][free])
        D[nt : nt + nv] = Jsig[:, num, num].T
        D[nt + nv :] = (delta[j] * delta[l])[:, None] * Jsig[:, j, l].T
        pairs = D[nt + nv :]
        dpar = self.par[self._delta_rows[g]]
        for k in np.flatnonzero((self._delta_rows[g] >= 0) & (dpar >= 0)):  # free scales (groups 2+)
            col = dpar[k]
            mine = th & (var == k)
            D[:nt][mine, col] += tau[mine] - mu[k]
            pairs[j == k, col] += delta[l[j == k]] * sigma[k, l[j == k]]
            pairs[l == k, col] += delta[j[l == k]] * sigma[j[l == k], k]
        return out, D

    def delta(self, theta: np.ndarray, g: int) -> np.ndarray:
        """``d sigma_g / d theta`` ``(q, npar)`` (``g`` 0-based)."""
        D = self.model_stats(theta, g)[1]
        assert D is not None  # asked with jacobian=True
        return D

    # -- the objective the kernel's optimiser minimises --------------------------------------------
    def evaluate(
        self, theta: np.ndarray, information: bool = True
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        f, grad = 0.0, np.zeros(self.npar)
        info = np.zeros((self.npar, self.npar)) if information else None
        for g, st in enumerate(self.ordinal):
            model, D = self.model_stats(theta, g)
            assert D is not None
            w = 1.0 / np.diag(st.gamma)
            e = st.stats - model
            f += self.weights[g] * float(e @ (w * e))
            grad -= 2 * self.weights[g] * D.T @ (w * e)
            if info is not None:
                info += self.weights[g] * (D * w[:, None]).T @ D
        if not math.isfinite(f):
            return math.inf, None, None
        return f, grad, info

    def objective(self, theta: np.ndarray) -> float:
        return float(self.weights @ self.group_objectives(theta))

    def group_objectives(self, theta: np.ndarray) -> np.ndarray:
        out = np.empty(self.ngroups)
        for g, st in enumerate(self.ordinal):
            e = st.stats - self.model_stats(theta, g, jacobian=False)[0]
            out[g] = float(e @ (e / np.diag(st.gamma)))
        return out

    def observed_information(self, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        raise ValueError("WLSMV uses the expected information (Delta' W Delta), as lavaan")

    def logl(self, theta: np.ndarray) -> float:
        return math.nan  # least squares: no likelihood
