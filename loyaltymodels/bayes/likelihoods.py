"""Likelihoods of the Bayesian SEM: in the PyMC graph (PyTensor) and, after sampling, per respondent
and per draw (NumPy) for ``log_likelihood`` and ``posterior_predictive``.

Forms (``form=``):

``"marginal"``     latent variables integrated out, evaluated from the sufficient statistics of each
                   group and missing-data pattern (n, mean, ML covariance):
                   ``-n/2 [q log 2pi + log|Sigma| + tr(Sigma^-1 S) + (ybar-mu)' Sigma^-1 (ybar-mu)]``,
                   so a gradient costs O(p^3) whatever the number of respondents (blavaan's choice).
``"respondent"``   the same density summed over respondents, O(N p^2) per gradient (benchmark reference).
``"conditional"``  latent scores sampled as parameters, non-centred (``eta = (I-B)^-1 (alpha + L z)``);
                   items independent given the scores: normal for continuous items, ordered probit
                   (theta parameterisation: unit residual variance) for ordinal ones. Needed for
                   ordinal items, which have no closed-form marginal; it mixes worse (docs/findings.md).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from scipy.special import log_ndtr, ndtr

from ..algebra.normal import mvn_logpdf
from ..errors import SpecError
from .data import DataSummary
from .parameterization import Plan, moments, ram_tensors

FORMS = ("marginal", "respondent", "conditional")
LOG2PI = float(np.log(2 * np.pi))
_LOG2PI = LOG2PI
_PAD = 1e3  # outer cut points of the ordered probit; finite so gradients stay finite


def _t(x: Any, xp: ModuleType) -> Any:
    return np.swapaxes(x, -1, -2) if xp is np else x.T


def check_conditional(plan: Plan) -> None:
    """The conditional form needs items that are independent given the latent scores."""
    lay, p = plan.layout, plan.layout.n_observed
    for g in range(1, lay.ngroups + 1):
        a, s = lay.A[g], lay.S[g]
        if np.any(a.j < p):
            raise SpecError(
                "the conditional (latent-score) form does not support paths from observed "
                "variables (y ~ x with x observed); use continuous items and form='marginal'"
            )
        if np.any((s.i != s.j) & ((s.i < p) | (s.j < p))):
            raise SpecError(
                "the conditional (latent-score) form does not support residual covariances "
                "of observed variables; use continuous items and form='marginal'"
            )


# -- PyMC graph --------------------------------------------------------------------------------
#: ``scores(group, respondents, eta) -> eta``: a change of the conditional form's latent scores
#: (e.g. nonlinear terms added to an outcome latent) before the items' likelihood is evaluated.
ScoreHook = Callable[[int, np.ndarray, Any], Any]


def add_likelihood(plan: Plan, summary: DataSummary, rows: Any, form: str, scores: ScoreHook | None = None) -> None:
    """Add the likelihood of ``form`` to the PyMC model in context (data enter as ``pm.Data``).

    ``scores`` (conditional form only) maps each group's sampled latent scores ``(n_g, factors)``
    to the scores the items are measured from (default: unchanged)."""
    import pymc as pm
    import pytensor.tensor as pt

    lay = plan.layout
    if form == "conditional":
        _add_conditional(plan, summary, rows, scores)
        return
    if form == "respondent":
        for k, pat in enumerate(summary.patterns):
            sigma, mu = moments(lay, rows, pat.group, pt)
            idx = pat.idx
            if len(idx) < lay.n_observed:
                sigma, mu = sigma[idx][:, idx], mu[idx]
            y = pm.Data(f"y_{k}", summary.y[np.ix_(pat.rows, idx)])
            # L^-1 (q x q) times the residuals: a triangular solve with one right-hand side per
            # respondent (BLAS trsm) went multithreaded in OpenBLAS and took 20-30 ms per
            # gradient beside nutpie's chains on 2 cores (93 s for HS); pm.MvNormal's logp was
            # ~40x slower in numba
            chol = pt.linalg.cholesky(sigma)
            linv = pt.linalg.solve_triangular(chol, pt.eye(len(idx)), lower=True)
            r = linv @ (y - mu[None]).T
            logdet = 2 * pt.sum(pt.log(pt.diag(chol)))
            pm.Potential(f"loglik_{k}", -0.5 * (pt.sum(r**2) + y.shape[0] * (len(idx) * _LOG2PI + logdet)))
        return
    total = 0.0
    p = lay.n_observed
    for g, stacked in pattern_stats(summary, p).items():
        sigma, mu = moments(lay, rows, g, pt)
        n = pm.Data(f"n_g{g}", stacked["n"])
        ybar, s = pm.Data(f"ybar_g{g}", stacked["ybar"]), pm.Data(f"s_g{g}", stacked["s"])
        if stacked["complete"]:  # one pattern, every item answered: plain matrices
            chol = pt.linalg.cholesky(sigma)
            linv = pt.linalg.solve_triangular(chol, pt.eye(p), lower=True)
            d = linv @ (ybar[0] - mu)
            inner = p * _LOG2PI + 2 * pt.sum(pt.log(pt.diag(chol))) + pt.sum((linv @ s[0]) * linv) + pt.sum(d**2)
            total = total - n[0] / 2 * inner
            continue
        # Missing-data patterns, batched: unanswered rows/columns of Sigma replaced by the
        # identity and the statistics padded with zeros, so each pattern's density is that of its
        # answered items, and the graph (and its compile time) does not grow with the patterns.
        o, q = pm.Data(f"mask_g{g}", stacked["mask"]), pm.Data(f"q_g{g}", stacked["q"])
        sig = o[:, :, None] * o[:, None, :] * sigma[None] + (1 - o)[:, :, None] * pt.eye(p)[None]
        chol = pt.linalg.cholesky(sig)
        linv = pt.linalg.solve_triangular(chol, pt.broadcast_to(pt.eye(p), sig.shape), lower=True)
        d = (linv @ ((ybar - mu[None]) * o)[:, :, None])[:, :, 0]
        logdet = 2 * pt.sum(pt.log(pt.diagonal(chol, axis1=1, axis2=2)), axis=1)
        trace = pt.sum((linv @ s) * linv, axis=(1, 2))
        total = total - pt.sum(n / 2 * (q * _LOG2PI + logdet + trace + pt.sum(d**2, axis=1)))
    pm.Potential("loglik", total)


def pattern_stats(summary: DataSummary, p: int) -> dict[int, dict[str, Any]]:
    """Per group: the patterns' n, number of answered items, and zero-padded means/covariances."""
    out = {}
    for g in sorted({pat.group for pat in summary.patterns}):
        pats = [pat for pat in summary.patterns if pat.group == g]
        K = len(pats)
        st: dict[str, Any] = {
            "n": np.zeros(K),
            "q": np.zeros(K),
            "ybar": np.zeros((K, p)),
            "s": np.zeros((K, p, p)),
            "mask": np.zeros((K, p)),
        }
        for k, pat in enumerate(pats):
            o = pat.idx
            st["n"][k], st["q"][k] = pat.n, len(o)
            st["ybar"][k, o] = pat.mean
            st["s"][k][np.ix_(o, o)] = pat.cov
            st["mask"][k, o] = 1.0
        st["complete"] = K == 1 and len(pats[0].idx) == p
        out[g] = st
    return out


def _add_conditional(plan: Plan, summary: DataSummary, rows: Any, scores: ScoreHook | None = None) -> None:
    import pymc as pm
    import pytensor.tensor as pt

    check_conditional(plan)
    lay, p = plan.layout, plan.layout.n_observed
    y = np.nan_to_num(summary.y)
    mask = ~np.isnan(summary.y)
    cont = [j for j, v in enumerate(summary.items) if v not in summary.ordinal]
    ords = [j for j, v in enumerate(summary.items) if v in summary.ordinal]
    y_c = pm.Data("y_continuous", y[:, cont])
    m_c = pm.Data("mask_continuous", mask[:, cont].astype(float))
    codes = np.stack([summary.codes(summary.items[j]) for j in ords], axis=1) if ords else np.zeros((summary.n, 0), int)
    y_o = pm.Data("y_ordinal", np.maximum(codes, 0))
    m_o = pm.Data("mask_ordinal", (codes >= 0).astype(float))
    z = pm.Normal("z", 0.0, 1.0, dims=("respondent", "factor"))
    # the cut points of every ordinal item of a group in one padded table, gathered from the rows
    # and two constants: one ordered-probit term per group instead of one per item and group (the
    # graph's size, hence nutpie's compile time, grew with items x cells)
    ext = pt.concatenate([rows, pt.as_tensor([-_PAD, _PAD])])
    low_pad, high_pad = len(plan.table), len(plan.table) + 1
    width = 2 + max((len(_threshold_rows(plan, summary.items[j], 1)) for j in ords), default=0)
    item_axis = np.arange(len(ords))[None, :]
    total = 0.0
    for g in range(1, lay.ngroups + 1):
        idx = np.flatnonzero(summary.group == g)
        eta = latent_scores(plan, rows, z[idx], g, pt)
        mu = item_means(plan, rows, None, g, pt, eta=eta if scores is None else scores(g, idx, eta))
        theta = pt.diag(ram_tensors(lay, rows, g, pt)[1])[:p]
        if cont:
            sd = pt.sqrt(theta[cont])
            r = (y_c[idx] - mu[:, cont]) / sd
            total = total + pt.sum(m_c[idx] * (-0.5 * r**2 - pt.log(sd) - 0.5 * _LOG2PI))
        if ords:
            at = np.full((len(ords), width), high_pad)
            at[:, 0] = low_pad
            for k, j in enumerate(ords):
                tr = _threshold_rows(plan, summary.items[j], g)
                at[k, 1 : 1 + len(tr)] = tr
            cuts = ext[at]  # (ordinal items, width): -PAD, the item's thresholds, +PAD (repeated)
            c = y_o[idx]
            lp = log_diff_normal_cdf(mu[:, ords], pt.sqrt(theta[ords]), cuts[item_axis, c + 1], cuts[item_axis, c])
            total = total + pt.sum(m_o[idx] * lp)
    pm.Potential("loglik", total)


def log_diff_normal_cdf(mu: Any, sigma: Any, hi: Any, lo: Any) -> Any:
    """``log(Phi((hi - mu)/sigma) - Phi((lo - mu)/sigma))``: PyMC's ``log_diff_normal_cdf`` (its
    three regions, the tails through ``erfcx``) with two changes. Its constants ``0.5`` and
    ``sqrt(2)`` are float64 here: PyTensor made them float32, which moved the log density by
    ~2e-9 of itself, off the compiled density (:mod:`loyaltymodels.bayes.density.conditional`).
    And each region's formula is fed arguments inside its region only: the others' ``log`` of
    negative numbers made NaN gradients that only graph rewrites removed."""
    import pytensor.tensor as pt

    root2 = pt.constant(np.sqrt(2.0))
    x = (hi - mu) / sigma / root2
    y = (lo - mu) / sigma / root2
    upper = pt.gt(y, 0)  # x > y > 0: erf through erfcx of positive arguments
    lower = pt.and_(pt.lt(x, 0), pt.invert(upper))  # 0 > x > y: the same, mirrored
    middle = pt.or_(upper, lower)
    yu, xu = pt.switch(upper, y, 1.0), pt.switch(upper, x, 2.0)
    xl, yl = pt.switch(lower, x, -1.0), pt.switch(lower, y, -2.0)
    xm, ym = pt.switch(middle, 1.0, x), pt.switch(middle, -1.0, y)
    r_upper = -pt.square(yu) + pt.log(pt.erfcx(yu) - pt.exp(pt.square(yu) - pt.square(xu)) * pt.erfcx(xu))
    r_lower = -pt.square(xl) + pt.log(pt.erfcx(-xl) - pt.exp(pt.square(xl) - pt.square(yl)) * pt.erfcx(-yl))
    r_middle = pt.log(pt.erf(xm) - pt.erf(ym))
    return pt.constant(np.log(0.5)) + pt.switch(upper, r_upper, pt.switch(lower, r_lower, r_middle))


def _threshold_rows(plan: Plan, item: str, group: int) -> np.ndarray:
    t = plan.table
    rows = t[(t.op == "|") & (t.lhs == item) & (t.group == group)]
    return rows.sort_values("rhs", key=lambda s: s.str[1:].astype(int)).index.to_numpy()


def latent_scores(plan: Plan, rows: Any, z: Any, group: int, xp: ModuleType = np) -> Any:
    """``eta = (alpha + L z) (I - B)^-T`` with ``L = chol(Psi)``; batched over draws in NumPy."""
    lay, p = plan.layout, plan.layout.n_observed
    A, S, m = ram_tensors(lay, rows, group, xp)
    A_ll, S_ll, m_l = A[..., p:, p:], S[..., p:, p:], m[..., p:]
    q = lay.n - p
    if xp is np:
        T = np.linalg.inv(np.eye(q) - A_ll)
        L = np.linalg.cholesky(S_ll)
        zeta = z @ _t(L, np)
        return (m_l[..., None, :] + zeta) @ _t(T, np)
    cells = lay.A[group]
    structural = np.any((cells.i >= p) & (cells.j >= p))
    T = xp.linalg.inv(xp.eye(q) - A_ll) if structural else xp.eye(q)
    L = xp.linalg.cholesky(S_ll)
    return (m_l + z @ L.T) @ T.T


def item_means(plan: Plan, rows: Any, z: Any, group: int, xp: ModuleType = np, eta: Any = None) -> Any:
    """Conditional means of the (latent-response) items given the latent scores."""
    lay, p = plan.layout, plan.layout.n_observed
    A, _, m = ram_tensors(lay, rows, group, xp)
    eta = latent_scores(plan, rows, z, group, xp) if eta is None else eta
    lam = A[..., :p, p:]
    if xp is np:
        return m[..., None, :p] + eta @ _t(lam, np)
    return m[:p] + eta @ lam.T


# -- after sampling: per respondent, per draw ---------------------------------------------------
def loglik_draws(
    plan: Plan, summary: DataSummary, rows: np.ndarray, eta: np.ndarray | None = None, chunk: int = 500
) -> np.ndarray:
    """Log-likelihood of each respondent for each draw, shape ``(draws, respondents)``.

    Marginal forms: the multivariate normal density of the answered items. Conditional form
    (``eta`` given, ``(draws, respondents, factors)``): the density given the latent scores.
    """
    out = np.empty((rows.shape[0], summary.n))
    for start in range(0, rows.shape[0], chunk):
        sl = slice(start, start + chunk)
        out[sl] = _loglik_chunk(plan, summary, rows[sl], None if eta is None else eta[sl])
    return out


def _loglik_chunk(plan, summary, rows, eta):
    lay = plan.layout
    out = np.zeros((rows.shape[0], summary.n))
    if eta is None:
        for g in range(1, lay.ngroups + 1):
            pats = tuple(pat for pat in summary.patterns if pat.group == g)
            sigma, mu = moments(lay, rows, g, np)
            out += mvn_logpdf(summary.y, sigma, mu, patterns=pats)  # zero outside group g
        return out
    p = lay.n_observed
    for g in range(1, lay.ngroups + 1):
        idx = np.flatnonzero(summary.group == g)
        mu = item_means(plan, rows, None, g, np, eta=eta[:, idx])
        theta = np.diagonal(ram_tensors(lay, rows, g, np)[1], axis1=1, axis2=2)[:, :p]
        y = summary.y[idx]
        for j, item in enumerate(summary.items):
            seen = ~np.isnan(y[:, j])
            sd = np.sqrt(theta[:, j])[:, None]
            if item in summary.ordinal:
                tau = rows[:, _threshold_rows(plan, item, g)]
                cuts = np.concatenate([np.full((len(rows), 1), -np.inf), tau, np.full((len(rows), 1), np.inf)], 1)
                c = np.maximum(summary.codes(item)[idx], 0)
                hi, lo = (cuts[:, c + 1] - mu[:, :, j]) / sd, (cuts[:, c] - mu[:, :, j]) / sd
                ll = interval_logprob(lo, hi)
            else:
                r = (np.nan_to_num(y[:, j]) - mu[:, :, j]) / sd
                ll = -0.5 * r**2 - np.log(sd) - 0.5 * _LOG2PI
            out[:, idx] += np.where(seen, ll, 0.0)
    return out


def interval_logprob(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``log(Phi(hi) - Phi(lo))`` for ``lo < hi``, accurate in both tails (an ordered-probit
    category's probability at standardized cut points).

    Examples
    --------
    >>> float(np.exp(interval_logprob(np.array(-np.inf), np.array(0.0))))
    0.5
    >>> round(float(interval_logprob(np.array(30.0), np.array(31.0))), 1)  # Phi(31) - Phi(30), no underflow
    -454.3
    """
    lo, hi = np.broadcast_arrays(lo, hi)
    p = ndtr(hi) - ndtr(lo)
    # a difference of two CDFs is exact to ~1e-16 absolute, i.e. to 1e-8 relative above 1e-8;
    # below, the log CDFs on the side of the tail (4x the cost, so only there)
    small = ~(p > 1e-8)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.atleast_1d(np.log(p))
        if small.any():
            a, b = lo[small], hi[small]
            flip = a > 0
            a, b = np.where(flip, -b, a), np.where(flip, -a, b)
            out[np.atleast_1d(small)] = log_ndtr(b) + np.log1p(-np.exp(log_ndtr(a) - log_ndtr(b)))
    return out.reshape(p.shape)


def predictive_draws(
    plan: Plan, summary: DataSummary, rows: np.ndarray, rng: np.random.Generator, eta: np.ndarray | None = None
) -> np.ndarray:
    """Replicated data ``(draws, respondents, items)`` with the observed missing-data pattern."""
    lay = plan.layout
    D, p = rows.shape[0], lay.n_observed
    out = np.empty((D, summary.n, p))
    for g in range(1, lay.ngroups + 1):
        idx = np.flatnonzero(summary.group == g)
        if eta is None:
            sigma, mu = moments(lay, rows, g, np)
            with np.errstate(invalid="ignore"):
                ok = np.all(np.linalg.eigvalsh(sigma) > 0, axis=1)
            chol = np.linalg.cholesky(np.where(ok[:, None, None], sigma, np.eye(p)))
            e = rng.standard_normal((D, len(idx), p))
            out[:, idx] = mu[:, None, :] + e @ np.swapaxes(chol, 1, 2)
            out[~ok] = np.nan
            continue
        mu = item_means(plan, rows, None, g, np, eta=eta[:, idx])
        theta = np.diagonal(ram_tensors(lay, rows, g, np)[1], axis1=1, axis2=2)[:, :p]
        ystar = mu + np.sqrt(theta)[:, None, :] * rng.standard_normal(mu.shape)
        for j, item in enumerate(summary.items):
            if item in summary.ordinal:
                tau = rows[:, _threshold_rows(plan, item, g)]
                code = (ystar[:, :, j, None] > tau[:, None, :]).sum(-1)
                ystar[:, :, j] = np.asarray(summary.ordinal[item], float)[code]
        out[:, idx] = ystar
    out[:, np.isnan(summary.y)] = np.nan
    return out
