"""Modification indices: lavaan's ``modindices()`` (Saris, Satorra & Sorbom 1987 score tests).

Every parameter that could be added (lavaan's ``lav_partable_full``: loadings of every latent on
every observed variable not in a regression, covariances among observed and among latent
variables, regressions among the variables of the structural part, intercepts under a mean
structure) and every fixed parameter of the model is tested one at a time against the fitted
model: with ``g`` the score of the candidate (per observation) and ``V = I_cc - I_cm I_mm^-1 I_mc``
its conditional expected information, ``mi = N g^2 / V`` and ``epc = g / V``; ``V`` below
``eps^(1/3)`` means the candidate is not identified and it is dropped (as lavaan does).
``sepc_all`` standardizes the EPC with the fitted model's moments (lavaan's ``sepc.all``).
Fixed-x covariate moments are not candidates (their score is zero by construction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..spec.model import ModelSpec
    from .fit import SemFit
    from .kernel import Problem

_EPS3 = np.finfo(float).eps ** (1 / 3)


def candidates(spec: ModelSpec) -> list[tuple[str, str, str]]:
    """lavaan's full list of possible parameters of one group, in lavaan's order."""
    t = spec.table
    lv, ov, x = spec.latents, spec.observed, set(spec.covariates)
    ov_nox = [v for v in ov if v not in x]
    eqs = list(dict.fromkeys([v for l, o, r in zip(t.lhs, t.op, t.rhs) if o == "~" for v in (l, r)]))
    out = [(f, "=~", v) for f in lv for v in ov_nox if v not in eqs]
    out += [(ov_nox[j], "~~", ov_nox[i]) for j in range(len(ov_nox)) for i in range(j, len(ov_nox))]
    out += [(lv[j], "~~", lv[i]) for j in range(len(lv)) for i in range(j, len(lv))]
    ind = set(spec.indicators)
    out += [(y, "~", z) for y in eqs for z in eqs if y != z and not (y in ind and z in lv)]
    if spec.meanstructure:
        out += [(v, "~1", "") for v in ov + lv]
    return out


def _key(lhs, op, rhs):
    return (lhs, op, rhs) if op != "~~" or lhs <= rhs else (rhs, op, lhs)


def modindices(fit: SemFit, sort: bool = False, minimum: float = 0.0) -> pd.DataFrame:
    """``lhs op rhs [group] mi epc sepc_lv sepc_all`` for every testable parameter.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford
    >>> mi = lm.fit_sem(HS_MODEL, load_holzinger_swineford()).modindices(sort=True)
    >>> mi.iloc[0][["lhs", "op", "rhs"]].tolist(), round(float(mi.iloc[0]["mi"]), 3)  # lavaan: 36.411
    (['visual', '=~', 'x9'], 36.411)
    """
    problem = fit.problem
    spec, t = problem.spec, problem.spec.table
    theta = fit.theta
    values = problem.values(theta)
    pos = {v: k for k, v in enumerate(problem.layout.variables)}
    free_keys = {(_key(l, o, r), g) for l, o, r, g, p in zip(t.lhs, t.op, t.rhs, t.group, t.par) if p >= 0}
    rows = []
    for g in range(1, problem.ngroups + 1):  # fixed rows of the model first, then new ones (lavaan)
        fixed = [
            (l, o, r)
            for l, o, r, gg, p, e in zip(t.lhs, t.op, t.rhs, t.group, t.par, t.exo)
            if gg == g and p < 0 and not e and o in ("=~", "~", "~~", "~1")
        ]
        seen = {_key(*k) for k in fixed} | {k for (k, gg) in free_keys if gg == g}
        seen |= {_key(l, o, r) for l, o, r, gg in zip(t.lhs, t.op, t.rhs, t.group) if gg == g}
        rows += [(g, *k) for k in fixed]
        rows += [(g, *k) for k in candidates(spec) if _key(*k) not in seen]
    if not rows:
        return pd.DataFrame(columns=["lhs", "op", "rhs", "group", "mi", "epc", "sepc_lv", "sepc_all"])
    cons_K = _constraint_basis(fit, problem)
    n = problem.ntotal
    k = len(rows)
    score = np.zeros(k)
    i_cc = np.zeros(k)
    i_cm = np.zeros((k, problem.npar))
    info = np.zeros((problem.npar, problem.npar))
    scale = {}
    for g in range(1, problem.ngroups + 1):
        sigma, mu, T, S, m = problem.moments(values, g)
        st = problem.stats[g - 1]
        w = problem.weights[g - 1]
        Jsig, Jmu = problem.jacobian(values, g, T, S, m)
        idx = [r for r, row in enumerate(rows) if row[0] == g]
        Csig, Cmu = _candidate_jacobian(problem, [rows[r] for r in idx], pos, T, S, m)
        terms = problem._group_terms(sigma, mu, st, need_grad=True)
        assert terms is not None  # the fitted implied covariance matrix is positive definite
        _, W, gmu = terms
        score[idx] = -0.5 * w * (Csig.reshape(len(idx), -1) @ W.ravel() + Cmu @ gmu)
        for sub, weight in _blocks(problem, st, sigma):
            si = np.linalg.inv(sigma[np.ix_(sub, sub)])
            a = _sub(Csig, sub)
            b = _sub(Jsig, sub)
            left = (si @ a @ si).reshape(len(idx), -1)
            i_cc[idx] += (
                w
                * weight
                * (
                    0.5 * np.einsum("ij,ij->i", left, a.reshape(len(idx), -1))
                    + np.einsum("ip,pq,iq->i", Cmu[:, sub], si, Cmu[:, sub])
                )
            )
            i_cm[idx] += w * weight * (0.5 * left @ b.reshape(problem.npar, -1).T + Cmu[:, sub] @ si @ Jmu[:, sub].T)
            info += w * weight * problem._information(sigma[np.ix_(sub, sub)], b, Jmu[:, sub])
        full = T @ S @ T.T
        scale[g] = (np.sqrt(np.clip(np.diag(full), 0, None)), np.sqrt(np.clip(np.diag(S), 0, None)), S)
    izz = cons_K.T @ info @ cons_K
    inv = cons_K @ np.linalg.pinv(izz) @ cons_K.T
    V = i_cc - np.einsum("ij,jk,ik->i", i_cm, inv, i_cm)
    V[V < _EPS3] = np.nan
    mi = n * score**2 / V
    epc = score / V
    out = pd.DataFrame(rows, columns=["group", "lhs", "op", "rhs"])[["lhs", "op", "rhs", "group"]]
    out["mi"], out["epc"] = mi, epc
    latent = np.array([v in set(spec.latents) for v in problem.layout.variables])
    out["sepc_lv"] = [_std(r, e, scale, pos, latent, values, t, lv_only=True) for r, e in zip(rows, epc)]
    out["sepc_all"] = [_std(r, e, scale, pos, latent, values, t, lv_only=False) for r, e in zip(rows, epc)]
    out = out[out.mi.notna() & (out.mi >= minimum)]
    if problem.ngroups == 1:
        out = out.drop(columns="group")
    if sort:
        out = out.sort_values("mi", ascending=False)
    return out.reset_index(drop=True)


def _constraint_basis(fit: SemFit, problem: Problem) -> np.ndarray:
    from .engine import constraints

    return constraints(problem).K


def _blocks(problem, st, sigma):
    """Index sets and weights over which the information is summed (patterns under FIML)."""
    if problem.fiml and st.patterns is not None:
        return [(pat.idx, pat.size / st.n) for pat in st.patterns]
    return [(np.arange(problem.p), 1.0)]


def _sub(J: np.ndarray, sub: np.ndarray) -> np.ndarray:
    return J[:, sub][:, :, sub]


def _candidate_jacobian(problem, rows, pos, T, S, m):
    """d Sigma / d c and d mu / d c of candidate cells (same formulas as the model's Jacobian)."""
    p = problem.p
    G = T[:p]
    K = T @ S @ G.T
    Tm = T @ m
    Csig = np.zeros((len(rows), p, p))
    Cmu = np.zeros((len(rows), p))
    for k, (_, lhs, op, rhs) in enumerate(rows):
        if op in ("=~", "~"):
            i, j = (pos[rhs], pos[lhs]) if op == "=~" else (pos[lhs], pos[rhs])
            d = np.outer(G[:, i], K[j])
            Csig[k] = d + d.T
            Cmu[k] = G[:, i] * Tm[j]
        elif op == "~~":
            a, b = pos[lhs], pos[rhs]
            d = np.outer(G[:, a], G[:, b])
            Csig[k] = d if a == b else d + d.T
        elif op == "~1":
            Cmu[k] = G[:, pos[lhs]]
    if not problem.meanstructure:
        Cmu[:] = 0.0
    return Csig, Cmu


def _std(row, epc, scale, pos, latent, values, t, lv_only):
    """lavaan's sepc: sign(epc) times the standardized |epc| (variances: the estimate instead)."""
    g, lhs, op, rhs = row
    if not np.isfinite(epc):
        return np.nan
    sd, rsd, S = scale[g]
    if lv_only:
        sd, rsd = np.where(latent, sd, 1.0), np.where(latent, rsd, 1.0)
    value = abs(epc)
    if op == "=~":
        return np.sign(epc) * value * sd[pos[lhs]] / sd[pos[rhs]]
    if op == "~":
        return np.sign(epc) * value * sd[pos[rhs]] / sd[pos[lhs]]
    if op == "~1":
        return np.sign(epc) * value / sd[pos[lhs]]
    a, b = pos[lhs], pos[rhs]
    if a == b:  # cov.std: the EPC of a variance is replaced by its estimate
        est = S[a, a]
        return np.sign(epc) * abs(est) / sd[a] ** 2 if abs(est) > 1.5e-8 else 0.0
    return np.sign(epc) * value / (rsd[a] * rsd[b])
