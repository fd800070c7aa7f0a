"""The retention model as a plain PyMC model: the survey's latents and the behaviour after it, joint.

Per respondent i (sector s), latents in SD units:

    drivers D_i ~ N(0, R) (R a correlation matrix, LKJ),  loyalty L_i = b . D_i + zeta_i, zeta ~ N(0, 1)
    item j of factor f: y_ij ~ N(nu_j + lambda_j F_if, sigma_j)  (items standardized, lambda > 0)

and, with X_i = (D_i, L_i / sd(L)) (every latent per SD), for customers in period t of follow-up at
tenure tau_it:

    cloglog h_it = alpha_t + a_s + sum_k (beta[s,k] + delta_k (tau_it - tau_ref) / unit) X_ik

a discrete-time proportional-hazards model (the grouped-time Cox model: exp(beta) is a hazard
ratio per SD, comparable with a Cox fit), with a baseline hazard per period ``alpha_t``, sector
effects partially pooled ``beta[s,k] = mu_k + tau_k z[s,k]``, and ``delta_k`` the change of driver
k's log hazard ratio per ``unit`` periods of tenure. Beliefs and experience enter directly as well
as through loyalty: the attitude-behaviour gap (direct paths) is estimated, not assumed away.

Prospects convert with ``logit P = c0_s + c[s,k] X_ik`` over the drivers they answered. Repeat
purchase uses pymc-marketing's BG/NBD distribution (not rewritten) with
``alpha_i = alpha exp(-g_rate . X_i)``, ``a_i = a exp(g_drop . X_i)``.

With ``churn="sbg"`` leaving is pymc-marketing's shifted-beta-geometric instead of the hazard
above (:mod:`loyaltymodels.retention.sbg`).

The data (items, person-period rows, prospects, purchase counts) enter as ``pm.Data``, so a graph
compiled once serves every data set of the same structure (:func:`structure_key`): nutpie swaps the
values in (``with_data``) and nothing is recompiled.

Why the hazard's likelihood is written here: pymc-marketing's shifted-beta-geometric has no
covariates that change with time (tenure) and no baseline by period, so the person-period Bernoulli
with a complementary log-log link is written directly (four lines of PyMC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .design import RetentionDesign
from .sbg import sbg_data, sbg_likelihood

if TYPE_CHECKING:
    import pymc as pm


def coords(design: RetentionDesign) -> dict[str, Any]:
    """Named dims of the posterior."""
    out: dict[str, Any] = {
        "respondent": list(range(design.n)),
        "item": list(design.items),
        "factor": list(design.factors),
        "factor_": list(design.factors),  # the latents as covariates of behaviour
        "driver": list(design.drivers),
        "driver_": list(design.drivers),
        "sector": list(design.sectors),
    }
    if design.periods:
        out["period"] = list(range(1, design.periods + 1))
    if len(design.prospects):
        out["acquisition_driver"] = list(design.acquisition_drivers)
    return out


def structure_key(design: RetentionDesign) -> tuple:
    """What fixes the compiled graph: the latents, items, sectors, periods, the number of
    respondents (the scores' dimension) and which behaviours are modelled; not the data values."""
    return (
        design.factors,
        design.drivers,
        design.loyalty,
        design.items,
        tuple(int(v) for v in design.item_factor),
        design.sectors,
        design.periods,
        design.churn,
        design.n,
        bool(len(design.prospects)),
        design.acquisition_drivers,
        round(float(np.mean(design.purchases["T"])), 9) if design.purchases else None,
    )


def data_values(design: RetentionDesign) -> dict[str, np.ndarray]:
    """The values of the graph's ``pm.Data`` for ``design`` (swapped into a cached compiled graph)."""
    obs_r, obs_j = np.nonzero(~np.isnan(design.y))
    out: dict[str, np.ndarray] = {
        "obs_row": obs_r,
        "obs_item": obs_j,
        "obs_factor": design.item_factor[obs_j],
        "obs_y": design.y[obs_r, obs_j],
    }
    if design.periods and design.churn == "sbg":
        out |= sbg_data(design)
    elif design.periods:
        out |= {
            "pp_row": design.pp_row,
            "pp_period": design.pp_period,
            "pp_sector": design.sector_idx[design.pp_row],
            "pp_tenure": (design.pp_tenure - design.tenure_ref) / design.tenure_unit,
            "pp_event": design.pp_event,
        }
    if len(design.prospects):
        out |= {
            "prospect_row": design.prospects,
            "prospect_sector": design.sector_idx[design.prospects],
            "prospect_converted": design.converted,
        }
    if design.purchases:
        buy = design.purchases
        out |= {
            "buyer_row": design.customers,
            "purchase_obs": np.column_stack([buy["recency"], buy["frequency"]]),
            "purchase_T": buy["T"],
        }
    return out


def build_retention_graph(design: RetentionDesign) -> pm.Model:
    """The PyMC model of :mod:`loyaltymodels.retention.model` for ``design``."""
    import pymc as pm
    import pytensor.tensor as pt

    K = len(design.drivers)
    with pm.Model(coords=coords(design)) as model:
        data = {k: pm.Data(k, v) for k, v in data_values(design).items()}
        # -- the survey: latents and items --------------------------------------------------------
        z_d = pm.Normal("z_drivers", 0, 1, dims=("respondent", "driver"))
        if K > 1:
            chol, _, sds = pm.LKJCholeskyCov(
                "driver_chol", n=K, eta=2.0, sd_dist=pm.Exponential.dist(1.0), compute_corr=True
            )
            corr_chol = chol / sds[:, None]  # the correlation's Cholesky factor: drivers have variance 1
            pm.Deterministic("driver_corr", corr_chol @ corr_chol.T, dims=("driver", "driver_"))
            drv = z_d @ corr_chol.T
        else:
            corr_chol = pt.ones((1, 1))
            drv = z_d
        cols = [drv]
        if design.loyalty is not None:
            b = pm.Normal("loyalty_path", 0, 1, dims="driver")
            zeta = pm.Normal("z_loyalty", 0, 1, dims="respondent")
            loy = drv @ b + zeta
            rb = corr_chol.T @ b
            sd_l = pm.Deterministic("loyalty_sd", pt.sqrt(rb @ rb + 1.0))
            cols.append((loy / sd_l)[:, None])
        scores = pm.Deterministic("scores", pt.concatenate(cols, axis=1), dims=("respondent", "factor"))
        nu = pm.Normal("intercept", 0, 1, dims="item")
        lam = pm.HalfNormal("loading", 1.0, dims="item")  # positive: items worded in the latent's direction
        sigma = pm.HalfNormal("item_sd", 1.0, dims="item")
        obs_j = data["obs_item"]
        mu = nu[obs_j] + lam[obs_j] * scores[data["obs_row"], data["obs_factor"]]
        pm.Normal("items", mu, sigma[obs_j], observed=data["obs_y"])
        if design.periods and design.churn == "sbg":
            sbg_likelihood(design, scores, data)
        elif design.periods:
            _hazard(design, scores, data)
        if len(design.prospects):
            _conversion(design, scores, data)
        if design.purchases:
            _repeat_purchase(design, scores, data)
    return model


def _pooled(name: str, dims: tuple[str, str], scale: float) -> Any:
    """``mu_k + tau_k z[s,k]`` (non-centred), the sector effects' partial pooling."""
    import pymc as pm

    mu = pm.Normal(f"{name}_mean", 0, 1, dims=dims[1])
    tau = pm.HalfNormal(f"{name}_sector_sd", scale, dims=dims[1])
    z = pm.Normal(f"{name}_z", 0, 1, dims=dims)
    return pm.Deterministic(name, mu + tau * z, dims=dims)


def _hazard(design: RetentionDesign, scores: Any, data: dict[str, Any]) -> None:
    import pymc as pm
    import pytensor.tensor as pt

    alpha = pm.Normal("baseline", -3.0, 1.5, dims="period")
    a_free = pm.Normal("sector_baseline_free", 0, 1, shape=len(design.sectors) - 1)
    a = pm.Deterministic("sector_baseline", pt.concatenate([pt.zeros(1), a_free]), dims="sector")
    beta = _pooled("hazard", ("sector", "factor_"), 0.3)
    delta = pm.Normal("tenure_change", 0, 0.5, dims="factor_")
    s, ten = data["pp_sector"], data["pp_tenure"]  # tenure centred and in tenure units (data_values)
    x = scores[data["pp_row"]]
    eta = alpha[data["pp_period"]] + a[s] + ((beta[s] + delta[None, :] * ten[:, None]) * x).sum(axis=1)
    # cloglog -> logit: logit(1 - exp(-e^eta)) = log(1 - exp(-e^eta)) + e^eta, stable for small hazards
    rate = pt.exp(eta)
    pm.Bernoulli("left", logit_p=pt.log1mexp(-rate) + rate, observed=data["pp_event"])


def _conversion(design: RetentionDesign, scores: Any, data: dict[str, Any]) -> None:
    import pymc as pm

    idx = [design.factors.index(f) for f in design.acquisition_drivers]
    c0 = pm.Normal("conversion_base", 0, 1.5, dims="sector")
    c = _pooled("conversion", ("sector", "acquisition_driver"), 0.3)
    s = data["prospect_sector"]
    x = scores[data["prospect_row"]][:, idx]
    pm.Bernoulli("converted", logit_p=c0[s] + (c[s] * x).sum(axis=1), observed=data["prospect_converted"])


def _repeat_purchase(design: RetentionDesign, scores: Any, data: dict[str, Any]) -> None:
    import pymc as pm
    import pytensor.tensor as pt
    from pymc_marketing.clv.distributions import BetaGeoNBD

    buy = design.purchases
    T_mean = float(np.mean(buy["T"]))  # the prior's centre: part of structure_key
    r = pm.LogNormal("bgnbd_r", 0.0, 1.0)
    alpha = pm.LogNormal("bgnbd_alpha", np.log(T_mean / 2), 1.5)
    a = pm.LogNormal("bgnbd_a", 0.0, 1.0)
    b = pm.LogNormal("bgnbd_b", np.log(3.0), 1.0)
    g_rate = pm.Normal("purchase_rate", 0, 0.5, dims="factor_")
    g_drop = pm.Normal("purchase_dropout", 0, 0.5, dims="factor_")
    x = scores[data["buyer_row"]]
    ones = pt.ones_like(data["purchase_T"])
    BetaGeoNBD(
        "purchases",
        a=a * pt.exp(x @ g_drop),
        b=b * ones,
        r=r * ones,
        alpha=alpha * pt.exp(-(x @ g_rate)),
        T=data["purchase_T"],
        observed=data["purchase_obs"],
    )
