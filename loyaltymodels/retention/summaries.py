"""Summaries of a retention posterior: hazard and odds ratios, survival curves, expected lifetime.

All are computed draw by draw from the posterior (then summarised by the median and an equal-tailed
interval at ``CI_POSTERIOR``). A questionnaire point of a latent is one point on the mean of its
items: one SD of the latent moves item j by ``loading_j * sd(item_j)`` points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import SpecError
from .fit import retention_info

if TYPE_CHECKING:
    import xarray as xr

MAX_DRAWS = 400


def _draws(post: xr.DataTree, name: str, max_draws: int = MAX_DRAWS) -> np.ndarray:
    da = post.posterior[name]
    x = da.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
    idx = np.unique(np.linspace(0, len(x) - 1, min(len(x), max_draws)).astype(int))
    return x[idx]


def points_per_sd(post: xr.DataTree) -> dict[str, np.ndarray]:
    """Draws of questionnaire points (on the mean of a latent's items) per SD of each latent."""
    info = retention_info(post)
    lam = _draws(post, "loading")  # (S, p) per SD of the standardized item
    sd = np.asarray(info["item_sd"])
    return {f: (lam[:, j] * sd[j]).mean(axis=1) for f, j in info["factor_items"].items()}


def _interval(x: np.ndarray, mass: float) -> tuple[float, float, float]:
    lo, med, hi = np.quantile(x, [(1 - mass) / 2, 0.5, (1 + mass) / 2])
    return float(med), float(lo), float(hi)


def retention_effects(post: xr.DataTree, *, tenure: float | None = None, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """Per sector and latent: hazard ratios per SD and per questionnaire point, with intervals.

    ``effect`` is ``direct`` (the latent's own path to leaving), ``via_loyalty`` (a driver's path
    through loyalty), ``total``; ``tenure_change`` (the factor by which the hazard ratio per SD is
    multiplied per ``tenure_unit`` periods of tenure: < 1 means "retains more over time");
    ``conversion`` (odds ratio of becoming a customer, prospects). A hazard ratio below 1 retains.
    With ``churn="sbg"``: ``sbg_alpha`` and ``sbg_beta``, the factors (``scale_ratio``) by which the
    beta distribution's alpha and beta are multiplied (a larger beta retains, a larger alpha drives away).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(60, sectors=2, follow_up=6, seed=2)
    >>> post = lm.fit_retention(truth.attrs["model"], data, sector="sector", tenure="tenure",
    ...                         draws=100, tune=150, chains=2, seed=1, check=False)  # doctest: +SKIP
    >>> tab = lm.retention_effects(post)  # doctest: +SKIP
    >>> sorted(tab.effect.unique())  # doctest: +SKIP
    ['direct', 'tenure_change', 'total', 'via_loyalty']
    """
    info = retention_info(post)
    tau = info["tenure_ref"] if tenure is None else float(tenure)
    pts = points_per_sd(post)
    rows: list[dict[str, Any]] = []

    def add(sector: str, factor: str, effect: str, measure: str, log_ratio: np.ndarray) -> None:
        for per, scale in (("sd", 1.0), ("point", pts[factor])):
            x = log_ratio / scale
            est, lo, hi = _interval(np.exp(x), mass)
            rows.append(
                {
                    "sector": sector,
                    "factor": factor,
                    "effect": effect,
                    "measure": measure,
                    "per": per,
                    "tenure": tau if measure == "hazard_ratio" else np.nan,
                    "est": est,
                    "log_mean": float(x.mean()),
                    "log_sd": float(x.std()),
                    "ci_lower": lo,
                    "ci_upper": hi,
                }
            )

    if "hazard" in post.posterior:
        beta = _draws(post, "hazard")  # (S, sectors, factors)
        delta = _draws(post, "tenure_change")  # (S, factors)
        shift = (tau - info["tenure_ref"]) / info["tenure_unit"]
        loy = info["loyalty"]
        for s, sector in enumerate(info["sectors"]):
            eff = beta[:, s] + delta * shift
            for k, f in enumerate(info["factors"]):
                add(sector, f, "direct", "hazard_ratio", eff[:, k])
                if loy is not None and f != loy:
                    b = _draws(post, "loyalty_path")[:, k] / _draws(post, "loyalty_sd")
                    via = b * eff[:, info["factors"].index(loy)]
                    add(sector, f, "via_loyalty", "hazard_ratio", via)
                    add(sector, f, "total", "hazard_ratio", eff[:, k] + via)
        for k, f in enumerate(info["factors"]):
            add("all", f, "tenure_change", "hazard_ratio_change", delta[:, k])
    if "sbg_alpha_coef" in post.posterior:  # churn="sbg": factors by which alpha, beta move per SD / point
        for name in ("sbg_alpha", "sbg_beta"):
            coef = _draws(post, f"{name}_coef")
            for k, f in enumerate(info["factors"]):
                add("all", f, name, "scale_ratio", -coef[:, k])
    if "conversion" in post.posterior:
        c = _draws(post, "conversion")
        for s, sector in enumerate(info["sectors"]):
            for k, f in enumerate(info["acquisition_drivers"]):
                add(sector, f, "conversion", "odds_ratio", c[:, s, k])
    return labelled_interval(pd.DataFrame(rows), mass)


def _levels(info: dict[str, Any], post: xr.DataTree, factor: str, levels: Sequence[float]) -> np.ndarray:
    """(S, L, F) latent values (SD units) at each level of ``factor``: the others at 0, except loyalty
    at its expected value given a driver's level (so a driver's curve includes its path through loyalty)."""
    F, loy = info["factors"], info["loyalty"]
    if factor not in F:
        raise SpecError(f"factor {factor!r} is not in the model: choose one of {F}")
    n_s = len(_draws(post, "loading"))
    x = np.zeros((n_s, len(levels), len(F)))
    x[:, :, F.index(factor)] = np.asarray(levels, float)[None, :]
    if loy is not None and factor != loy:
        b = _draws(post, "loyalty_path")[:, F.index(factor)] / _draws(post, "loyalty_sd")
        x[:, :, F.index(loy)] = b[:, None] * np.asarray(levels, float)[None, :]
    return x


def _survival(post: xr.DataTree, x: np.ndarray, sector: int, tenure0: np.ndarray, horizon: int) -> np.ndarray:
    """Survival draws (S, L, horizon+1) from period 0, for latent values ``x`` (S, L, F) and tenure at
    the survey ``tenure0`` (L,); periods past the follow-up keep the last period's baseline hazard
    (``churn="sbg"``: the sBG's own survival given survival to ``tenure0``)."""
    info = retention_info(post)
    if info.get("churn") == "sbg":
        from .sbg import sbg_survival

        a = _draws(post, "sbg_alpha")[:, sector, None] * np.exp(
            -np.einsum("slf,sf->sl", x, _draws(post, "sbg_alpha_coef"))
        )
        b = _draws(post, "sbg_beta")[:, sector, None] * np.exp(
            -np.einsum("slf,sf->sl", x, _draws(post, "sbg_beta_coef"))
        )
        return sbg_survival(a, b, tenure0[None, :], horizon)
    alpha = _draws(post, "baseline")
    alpha = np.concatenate([alpha, np.repeat(alpha[:, -1:], max(0, horizon - alpha.shape[1]), axis=1)], axis=1)
    a = _draws(post, "sector_baseline")[:, sector]
    beta = _draws(post, "hazard")[:, sector]  # (S, F)
    delta = _draws(post, "tenure_change")
    t = np.arange(horizon)
    ten = (tenure0[:, None] + t[None, :] - info["tenure_ref"]) / info["tenure_unit"]  # (L, H)
    lin = np.einsum("slf,sf->sl", x, beta)[:, :, None] + np.einsum("slf,sf->sl", x, delta)[:, :, None] * ten[None]
    eta = alpha[:, None, :horizon] + a[:, None, None] + lin
    cum = np.cumsum(np.exp(eta), axis=2)
    return np.concatenate([np.ones(cum.shape[:2] + (1,)), np.exp(-cum)], axis=2)


def survival_curves(
    post: xr.DataTree,
    factor: str | None = None,
    *,
    levels: Sequence[float] = (-1.0, 0.0, 1.0),
    sector: str | None = None,
    tenure: float | None = None,
    horizon: int | None = None,
    mass: float = CI_POSTERIOR,
) -> pd.DataFrame:
    """Survival by period after the survey, with bands.

    With ``factor``: at ``levels`` (SDs) of that latent (the others at their mean, loyalty at its
    expected value given a driver), at tenure ``tenure`` at the survey (default: the median). Without:
    the population-averaged curve over the customers surveyed (their latent scores and tenures), the
    curve a Kaplan-Meier estimate of the same customers estimates.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(60, sectors=2, follow_up=6, seed=2)
    >>> post = lm.fit_retention(truth.attrs["model"], data, sector="sector", tenure="tenure",
    ...                         draws=100, tune=150, chains=2, seed=1, check=False)  # doctest: +SKIP
    >>> curves = lm.survival_curves(post, "Experience", sector="luxury")  # doctest: +SKIP
    >>> curves.query("period == 0").survival.tolist()  # doctest: +SKIP
    [1.0, 1.0, 1.0]
    """
    info = retention_info(post)
    if not info["periods"]:
        raise SpecError("this posterior has no retention part (fit_retention was called without time=)")
    H = int(horizon or info["periods"])
    sectors = info["sectors"] if sector is None else [sector]
    unknown = [s for s in sectors if s not in info["sectors"]]
    if unknown:
        raise SpecError(f"sector {unknown[0]!r} is not in the fit: choose one of {info['sectors']}")
    rows = []
    for name in sectors:
        s = info["sectors"].index(name)
        if factor is None:
            mine = [i for i, c in enumerate(info["customer_sector"]) if c == s]
            resp = np.asarray(info["customers"])[mine]
            scores = _draws(post, "scores")[:, resp]  # (S, n, F)
            surv = _survival(post, scores, s, np.asarray(info["customer_tenure"])[mine], H).mean(axis=1)[:, None]
            labels: list[Any] = [np.nan]
        else:
            tau = info["tenure_ref"] if tenure is None else float(tenure)
            x = _levels(info, post, factor, levels)
            surv = _survival(post, x, s, np.full(len(levels), tau), H)
            labels = list(levels)
        for li, level in enumerate(labels):
            for t in range(H + 1):
                est, lo, hi = _interval(surv[:, li, t], mass)
                rows.append(
                    {
                        "sector": name,
                        "factor": factor or "population",
                        "level": level,
                        "period": t,
                        "survival": est,
                        "ci_lower": lo,
                        "ci_upper": hi,
                    }
                )
    return labelled_interval(pd.DataFrame(rows), mass)


def expected_lifetime(
    post: xr.DataTree,
    factor: str,
    *,
    levels: Sequence[float] = (-1.0, 0.0, 1.0),
    sector: str | None = None,
    tenure: float | None = None,
    horizon: int = 60,
    mass: float = CI_POSTERIOR,
) -> pd.DataFrame:
    """Expected periods kept (restricted to ``horizon``) at levels of a latent, and what a point is worth.

    The expected lifetime is ``sum_{t<horizon} S(t)`` (periods started as a customer); past the
    follow-up the last period's baseline hazard is carried forward (an extrapolation: say so when
    reporting). Rows with ``level = "+1 point"`` give the periods gained by one questionnaire point
    above the mean.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(60, sectors=2, follow_up=6, seed=2)
    >>> post = lm.fit_retention(truth.attrs["model"], data, sector="sector", tenure="tenure",
    ...                         draws=100, tune=150, chains=2, seed=1, check=False)  # doctest: +SKIP
    >>> lm.expected_lifetime(post, "Experience", sector="retail", horizon=24).level.tolist()  # doctest: +SKIP
    ['-1.0', '0.0', '1.0', '+1 point']
    """
    info = retention_info(post)
    sectors = info["sectors"] if sector is None else [sector]
    pts = points_per_sd(post)[factor]
    tau = info["tenure_ref"] if tenure is None else float(tenure)
    rows = []
    for name in sectors:
        s = info["sectors"].index(name)
        lv = [*map(float, levels), 0.0]
        x = _levels(info, post, factor, lv)
        x[:, -1] = _levels(info, post, factor, [1.0])[:, 0] / pts[:, None]  # one point above the mean
        life = _survival(post, x, s, np.full(len(lv), tau), horizon)[:, :, :horizon].sum(axis=2)
        gain = life[:, -1] - life[:, len(levels) - 1 if 0.0 not in levels else list(levels).index(0.0)]
        if 0.0 not in levels:
            gain = life[:, -1] - _survival(post, x[:, :1] * 0, s, np.array([tau]), horizon)[:, 0, :horizon].sum(1)
        for label, values in [*((str(float(v)), life[:, i]) for i, v in enumerate(levels)), ("+1 point", gain)]:
            est, lo, hi = _interval(values, mass)
            rows.append(
                {
                    "sector": name,
                    "factor": factor,
                    "level": label,
                    "horizon": horizon,
                    "measure": "periods_gained" if label == "+1 point" else "expected_lifetime",
                    "est": est,
                    "ci_lower": lo,
                    "ci_upper": hi,
                }
            )
    return labelled_interval(pd.DataFrame(rows), mass)
