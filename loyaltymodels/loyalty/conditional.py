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


def scores_and_loglik(design: Design, rows: np.ndarray, z: np.ndarray, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's scores ``(draws, respondents, factors)`` from the sampled ``z`` (nonlinear terms
    included) and the pointwise log-likelihood ``(draws, respondents)`` given them: items (the
    SEM's conditional density) plus outcomes."""
    from ..bayes.likelihoods import loglik_draws
    from ..bayes.output import eta_of
    from .build import data_values

    s = design.summary
    eta = eta_of(design.plan, s, rows, z)
    extra = extra_draws(design, ds)
    values = data_values(design)
    data = {k: values[k] for k in outcome_keys(design)}
    out = np.zeros(eta.shape[:2])
    for d in range(rows.shape[0]):
        e = {k: v[d] for k, v in extra.items()}
        if design.roles.nonlinear:
            mats = group_matrices(design, rows[d], np)
            for g in range(1, design.plan.layout.ngroups + 1):
                idx = np.flatnonzero(s.group == g)
                eta[d, idx] = with_nonlinear(design, mats, g, eta[d, idx], e, np)
        if design.outcomes:
            out[d] = outcome_part(design, eta[d], data, e, np)
    return eta, out + loglik_draws(design.plan, s, rows, eta)
