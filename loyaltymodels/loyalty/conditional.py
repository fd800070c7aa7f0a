"""The loyalty model's latent-score (``conditional``) form with every claim: ordinal items beside an
interaction, an asymmetry, a response surface and behaviour outcomes.

Ordinal items have no closed-form marginal, so the SEM samples every respondent's latent scores
(:mod:`loyaltymodels.bayes.likelihoods`, the conditional form: items independent given the
scores, ordered probit for ordinal ones). Once the scores are sampled, the loyalty model's
nonlinear parts need no quadrature or block algebra: loyalty's score is the linear model's

    eta_L = alpha_L + B_L eta_D + zeta_L

plus the same nonlinear terms as the ``scores`` form, centred the same way
(:func:`~loyaltymodels.loyalty.cells.loyalty_mean`: interaction, asymmetry kink, surface squares
and product, each at its expectation in the respondent's cell). Loyalty is the end of the model
(:func:`~loyaltymodels.loyalty.roles.check_structure`), so adding them to ``eta_L`` changes no other
score. Outcomes are then exact given the sampled score (ordered logit / logistic of ``eta``,
:func:`~loyaltymodels.loyalty.likelihood.outcome_loglik` with a known latent), instead of
Gauss-Hermite over its posterior normal. The same code builds the PyTensor graph and, after
sampling, each draw's scores and pointwise log-likelihood in NumPy.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .cells import group_matrices, loyalty_mean, outcome_terms

if TYPE_CHECKING:
    from .build import Design

#: The loyalty-level coefficients the likelihood reads, besides the table's rows.
EXTRA_NAMES = ("interaction", "asymmetry", "diminishing", "outcome_slope", "outcome_intercept")


def outcome_keys(design: Design) -> list[str]:
    """The data arrays of the outcomes (codes and masks), by their ``pm.Data`` names."""
    return [f"{k}_{o.name}" for o in design.outcomes for k in ("code", "mask")]


def needs_extra(design: Design) -> bool:
    """Whether the conditional form carries more than the SEM's own likelihood."""
    return design.form == "conditional" and (design.roles.nonlinear or bool(design.outcomes))


def with_nonlinear(design: Design, mats: dict[str, Any], group: int, eta: Any, extra: dict, xp: ModuleType) -> Any:
    """The scores ``(n, factors)`` of one group (1-based) with loyalty's nonlinear terms added.

    ``mats`` are :func:`~loyaltymodels.loyalty.cells.group_matrices` (all groups); the group is
    passed to :func:`~loyaltymodels.loyalty.cells.loyalty_mean` as one chunk holding its
    respondents, so the terms are the ``scores`` form's, term for term.
    """
    if not design.roles.nonlinear:
        return eta
    lat = list(design.latents)
    iL = lat.index(design.roles.loyalty)
    D = design.blocks["drivers"][1]
    one = {k: v[group - 1 : group] for k, v in mats.items()}
    chunk = dataclasses.replace(design, chunk_group=np.array([group - 1]))  # the chunk's cell and sector
    eta_d = eta[:, D][None]
    full = loyalty_mean(chunk, one, eta_d, extra, xp)
    linear = one["alpha"][:, iL][:, None] + xp.sum(eta_d * one["beta"][:, iL][:, D][:, None, :], axis=-1)
    return eta + (full - linear)[0][:, None] * np.eye(len(lat))[iL]


def outcome_part(design: Design, eta: Any, data: dict[str, Any], extra: dict, xp: ModuleType) -> Any:
    """The outcomes' log-likelihood ``(n,)`` given the scores ``eta (n, factors)``; ``data`` holds
    the ``code_*``/``mask_*`` arrays of the same respondents."""
    lat = list(design.latents)
    known = {v: (eta[:, lat.index(v)][None], None) for v in {o.latent for o in design.outcomes}}
    return outcome_terms(design, known, {k: v[None] for k, v in data.items()}, extra, xp)[0]


def add_conditional(design: Design, rows: Any, values: dict[str, np.ndarray], extra: dict) -> None:
    """The conditional form's likelihood in the PyMC model in context: the SEM's (items given the
    scores), with loyalty's nonlinear terms in the scores, and the outcomes given loyalty's score."""
    import pymc as pm
    import pytensor.tensor as pt

    from ..bayes.likelihoods import add_likelihood

    mats = group_matrices(design, rows, pt)
    data = {k: pm.Data(k, values[k]) for k in outcome_keys(design)}
    terms: list[Any] = []

    def scores(group: int, idx: np.ndarray, eta: Any) -> Any:
        eta = with_nonlinear(design, mats, group, eta, extra, pt)
        if design.outcomes:
            terms.append(pt.sum(outcome_part(design, eta, {k: v[idx] for k, v in data.items()}, extra, pt)))
        return eta

    add_likelihood(design.plan, design.summary, rows, "conditional", scores)
    if terms:
        pm.Potential("outcomes", pt.add(*terms) if len(terms) > 1 else terms[0])


def extra_draws(design: Design, ds: xr.Dataset) -> dict[str, np.ndarray]:
    """The loyalty-level coefficients of every draw, flat ``(draws, ...)``: those the likelihood
    reads (``EXTRA_NAMES``, cut points) and the surface's ``b (draws, sector, term)``."""
    out = {}
    for name in (*EXTRA_NAMES, *(f"cuts_{o.name}" for o in design.outcomes)):
        if name in ds:
            v = ds[name].to_numpy()
            out[name] = v.reshape(-1, *v.shape[2:])
    if design.roles.surface:
        from .surface import surface_draws

        out["surface"] = surface_draws(ds, len(design.sectors))
    return out


def conditional_scores(design: Design, rows: np.ndarray, z: np.ndarray, ds: xr.Dataset) -> np.ndarray:
    """Each draw's scores ``(draws, respondents, factors)`` from the sampled ``z``, loyalty's
    nonlinear terms included (the pointwise log-likelihood is :func:`integrated_loglik`'s, computed
    when LOO asks)."""
    from ..bayes.output import eta_of

    s = design.summary
    eta = eta_of(design.plan, s, rows, z)
    if not design.roles.nonlinear:
        return eta
    extra = extra_draws(design, ds)
    for d in range(rows.shape[0]):
        e = {k: v[d] for k, v in extra.items()}
        mats = group_matrices(design, rows[d], np)
        for g in range(1, design.plan.layout.ngroups + 1):
            idx = np.flatnonzero(s.group == g)
            eta[d, idx] = with_nonlinear(design, mats, g, eta[d, idx], e, np)
    return eta


def integrated_loglik(
    design: Design,
    rows: np.ndarray,
    ds: xr.Dataset,
    eta: np.ndarray,
    keep: np.ndarray,
    *,
    points: int | None = None,
    dtype: type | str = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Each respondent's log-likelihood ``(draws, wanted)`` with the scores integrated out, and the
    estimates' effective numbers of points: the conditional form's pointwise log-likelihood for LOO
    (:mod:`loyaltymodels.bayes.integrated` gives the proposal and says why).

    The scores' density given a draw is the loyalty model's, ``N(zeta; 0, Psi)`` with loyalty's
    ``zeta_L = eta_L - E[loyalty | drivers]`` (weights and nonlinear terms centred in the cell, as
    the fit's :func:`with_nonlinear`; loyalty is the end of the model, so the Jacobian is the
    drivers' paths' ``|det(I - B)|``); the items' density given the scores is the SEM's, and the
    outcomes' is :func:`outcome_part`. The draws are the outer loop (one call of the loyalty
    terms per draw and cell, all points at once). ``eta (draws, respondents, factors)`` are the
    posterior scores, nonlinear terms included; ``keep[i]`` the output column of the design's
    respondent ``i`` (-1: not wanted).
    """
    from scipy.special import logsumexp

    from ..bayes.integrated import POINTS, importance_points, score_moments, sem_terms, threshold_cuts
    from ..bayes.likelihoods import LOG2PI
    from .build import data_values
    from .cells import loyalty_mean

    points = POINTS if points is None else points
    s, plan = design.summary, design.plan
    lat = list(design.latents)
    iL, drivers = lat.index(design.roles.loyalty), design.blocks["drivers"][1]
    extra = extra_draws(design, ds)
    values = data_values(design)
    odata = {k: np.asarray(values[k]) for k in outcome_keys(design)}
    codes = s.y.copy()
    ordinal = [j for j, v in enumerate(s.items) if v in s.ordinal]
    for j in ordinal:
        c = s.codes(s.items[j]).astype(float)
        codes[:, j] = np.where(c >= 0, c, np.nan)
    D, m = rows.shape[0], len(lat)
    out = np.empty((D, int((keep >= 0).sum())), dtype=dtype)
    ess = np.empty(out.shape)
    population = score_moments(eta[:: max(1, D // 200)])
    # respondents in blocks of a cell: the (points x block, items) temporaries stay near 16 MB
    block = max(1, int(2e6 // ((points + points // 4) * max(1, len(s.items)))))
    cells = [
        (g, part)
        for g in range(1, plan.layout.ngroups + 1)
        for whole in [np.flatnonzero((s.group == g) & (keep >= 0))]
        for part in np.array_split(whole, max(1, -(-len(whole) // block)))
        if len(part)
    ]
    # every draw's cell matrices once, not once per cell and block of respondents
    mats = [group_matrices(design, rows[d], np) for d in range(D)]
    for g, idx in cells:
        pts, logq = importance_points(eta[:, idx], points=points, keys=idx, population=population)
        K, n = pts.shape[:2]
        flat = pts.reshape(-1, m)
        y = np.tile(codes[idx], (K, 1))
        data = {k: np.tile(v[idx], K) for k, v in odata.items()}
        cuts = {j: threshold_cuts(plan.table, rows, s.items[j], g) for j in ordinal}
        chunk = dataclasses.replace(design, chunk_group=np.array([g - 1]))
        for d in range(D):
            cond, _ = sem_terms(plan.layout, rows[d : d + 1], g, y, {j: c[d : d + 1] for j, c in cuts.items()})
            e = {k: v[d] for k, v in extra.items()}
            one = {k: v[g - 1 : g] for k, v in mats[d].items()}
            alpha, beta, psi = one["alpha"][0], one["beta"][0], one["psi"][0]
            zeta = flat - alpha - flat @ beta.T
            zeta[:, iL] = flat[:, iL] - loyalty_mean(chunk, one, flat[:, drivers][None], e, np)[0]
            chol = np.linalg.cholesky(psi)
            w = np.linalg.solve(chol, zeta.T)
            prior = -0.5 * (w**2).sum(0) - np.log(np.diag(chol)).sum() - m / 2 * LOG2PI
            prior = prior + np.linalg.slogdet(np.eye(m) - beta)[1]
            total = cond(flat)[0] + prior
            if design.outcomes:
                total = total + outcome_part(design, flat, data, e, np)
            lw = np.where(np.isnan(total), -np.inf, total).reshape(K, n) - logq
            out[d, keep[idx]] = logsumexp(lw, axis=0) - np.log(K)
            ess[d, keep[idx]] = np.exp(2 * logsumexp(lw, axis=0) - logsumexp(2 * lw, axis=0))
    return out, ess
