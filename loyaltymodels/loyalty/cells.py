"""The ``outcomes`` and ``scores`` likelihoods of the loyalty model, on respondents in chunks.

Respondents sit in padded chunks of one group and one missing-data pattern
(:func:`~loyaltymodels.loyalty.build.chunk_layout`); every matrix is gathered per chunk, so each
block is a handful of batched products (:func:`~loyaltymodels.loyalty.likelihood.gaussian_block`).
The same code builds the PyTensor graph (``xp=pytensor.tensor``) and evaluates a draw in NumPy
(``xp=numpy``) for the pointwise log-likelihood, so the two cannot disagree.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..bayes.parameterization import ram_tensors
from .likelihood import folded_mean, gaussian_block, nonlinear_terms, outcome_loglik

if TYPE_CHECKING:
    from .build import Design


def _inv(x: Any, xp: ModuleType) -> Any:
    if xp is np:
        return np.linalg.inv(x)
    import pytensor.tensor as pt

    return pt.linalg.inv(x)


def total_effects(B: Any, depth: int | None, xp: ModuleType = np) -> Any:
    """``(I - B)^-1`` of latent paths: ``I + B + ... + B^depth`` for a recursive model (no linalg
    op in the graph, as the SEM machinery does), an inverse otherwise."""
    q = B.shape[-1] if xp is np else int(B.type.shape[-1])
    if depth is None:
        return _inv(xp.eye(q) - B, xp)
    T = xp.eye(q)
    for _ in range(depth):
        T = xp.eye(q) + B @ T
    return T


def group_matrices(design: Design, rows: Any, xp: ModuleType = np) -> dict[str, Any]:
    """Per group, stacked on the first axis: item intercepts ``nu``, loadings ``lam``, residual
    variances ``theta``, latent intercepts ``alpha``, paths ``beta``, residual covariances ``psi``,
    implied latent ``mean`` and ``cov`` (one set of row values, no draw axis)."""
    from ..algebra.matrices import acyclic_depth

    lay = design.plan.layout
    p = lay.n_observed
    out: dict[str, list[Any]] = {k: [] for k in ("nu", "lam", "theta", "alpha", "beta", "psi", "mean", "cov")}
    for g in range(1, lay.ngroups + 1):
        A, S, m = ram_tensors(lay, rows, g, xp)
        T = total_effects(A[p:, p:], acyclic_depth(lay, g), xp)
        for k, v in (
            ("nu", m[:p]),
            ("lam", A[:p, p:]),
            ("theta", xp.diagonal(S)[:p]),
            ("alpha", m[p:]),
            ("beta", A[p:, p:]),
            ("psi", S[p:, p:]),
            ("mean", T @ m[p:]),
            ("cov", T @ S[p:, p:] @ T.T),
        ):
            out[k].append(v)
    return {k: xp.stack(v) for k, v in out.items()}


def _block(
    data: dict[str, Any],
    mats: dict[str, Any],
    observed: np.ndarray,
    items: np.ndarray,
    latents: np.ndarray,
    mean: Any,
    cov: Any,
    xp: ModuleType,
) -> tuple[Any, Any, Any, Any]:
    lam = mats["lam"][:, items][:, :, latents]
    return gaussian_block(
        data["y"][:, :, items],
        data["valid"],
        observed[:, items],
        mats["nu"][:, items],
        lam,
        mats["theta"][:, items],
        mean,
        cov,
        xp,
    )


def respondent_loglik(
    design: Design, rows: Any, data: dict[str, Any], extra: dict[str, Any], xp: ModuleType = np
) -> Any:
    """Log-likelihood ``(K, B)`` of every chunk slot (0 for padding) for the ``outcomes`` and
    ``scores`` forms. ``data``: ``y (K, B, p)``, ``valid``, outcome codes/masks; ``extra``: the
    interaction, asymmetry, outcome coefficients and (``scores``) the whitened driver scores ``u``.
    """
    assert design.chunk_group is not None and design.chunk_observed is not None  # set for these two forms
    mats = {k: v[design.chunk_group] for k, v in group_matrices(design, rows, xp).items()}
    observed = design.chunk_observed
    lat = list(design.latents)
    L = design.roles.loyalty
    iL = lat.index(L)
    if design.form == "outcomes":
        it, lv = design.blocks["all"]
        ll, m, v, _ = _block(data, mats, observed, it, lv, mats["mean"], mats["cov"], xp)
        known = {L: (m[..., iL], v[:, iL, iL][:, None])}
    else:
        it_d, lv_d = design.blocks["drivers"]
        ll_d, m_d, _, root = _block(
            data, mats, observed, it_d, lv_d, mats["mean"][:, lv_d], mats["cov"][:, lv_d][:, :, lv_d], xp
        )
        # driver scores around their posterior given the driver items (see loyalty_likelihood)
        eta = m_d + extra["u"] @ root
        mu_l = loyalty_mean(design, mats, eta, extra, xp)
        it_l, lv_l = design.blocks["loyalty"]
        ll_l, m_l, v_l, _ = _block(
            data, mats, observed, it_l, lv_l, mu_l[..., None], mats["psi"][:, lv_l][:, :, lv_l], xp
        )
        ll = ll_d + ll_l
        known = {lat[k]: (eta[..., j], None) for j, k in enumerate(lv_d)}
        known[L] = (m_l[..., 0], v_l[:, 0, 0][:, None])
    return ll + data["valid"] * outcome_terms(design, known, data, extra, xp)


def loyalty_mean(design: Design, mats: dict[str, Any], eta: Any, extra: dict[str, Any], xp: ModuleType = np) -> Any:
    """E[loyalty | other latents] ``(K, B)``: intercept, weights and the nonlinear terms centred
    at their expectation in the chunk's group. ``eta (K, B, q)`` holds the scores of
    ``design.blocks['drivers']``; ``mats`` are per chunk."""
    lat = list(design.latents)
    iL = lat.index(design.roles.loyalty)
    D = design.blocks["drivers"][1]
    mu = mats["alpha"][:, iL][:, None] + xp.sum(eta * mats["beta"][:, iL][:, D][:, None, :], axis=-1)
    roles = design.roles
    pos = {lat[k]: j for j, k in enumerate(D)}
    m, c = mats["mean"], mats["cov"]
    c_prod = c_abs = 0.0
    pair_i = pair_a = None
    if roles.interaction:
        i, j = (lat.index(v) for v in roles.interaction)
        c_prod = (m[:, i] * m[:, j] + c[:, i, j])[:, None]
        pair_i = (eta[..., pos[roles.interaction[0]]], eta[..., pos[roles.interaction[1]]])
    if roles.asymmetry:
        e, p = (lat.index(v) for v in roles.asymmetry)
        c_abs = folded_mean(m[:, e] - m[:, p], xp.sqrt(c[:, e, e] + c[:, p, p] - 2 * c[:, e, p]), xp)[:, None]
        pair_a = (eta[..., pos[roles.asymmetry[0]]], eta[..., pos[roles.asymmetry[1]]])
    mu = mu + nonlinear_terms(pair_i, pair_a, extra.get("interaction"), extra.get("asymmetry"), c_prod, c_abs, xp)
    if roles.surface:
        from .surface import surface_part

        mu = mu + surface_part(design, mats, eta, extra["surface"], xp)
    for k, v in enumerate(roles.diminishing):  # c_k (X_k^2 - E[X_k^2]), centred in the cell
        i = lat.index(v)
        mu = mu + extra["diminishing"][k] * (eta[..., pos[v]] ** 2 - (m[:, i] ** 2 + c[:, i, i])[:, None])
    return mu


def outcome_terms(
    design: Design, latent: dict[str, tuple[Any, Any]], data: dict[str, Any], extra: dict[str, Any], xp: ModuleType = np
) -> Any:
    """The outcomes' log-likelihood ``(K, B)``, latent by latent (``latent[name] = (mean, var)``;
    ``var`` None for a sampled latent)."""
    total = 0.0
    names = [o.name for o in design.outcomes]
    binary = [o.name for o in design.outcomes if o.kind == "binary"]
    for lv in dict.fromkeys(o.latent for o in design.outcomes):
        mine = [o for o in design.outcomes if o.latent == lv]
        mean, var = latent[lv]
        total = total + outcome_loglik(
            mean,
            var,
            [data[f"code_{o.name}"] for o in mine],
            [data[f"mask_{o.name}"] for o in mine],
            [extra["outcome_intercept"][binary.index(o.name)] if o.kind == "binary" else None for o in mine],
            [extra["outcome_slope"][names.index(o.name)] for o in mine],
            [extra.get(f"cuts_{o.name}") for o in mine],
            [o.kind for o in mine],
            xp,
        )
    return total
