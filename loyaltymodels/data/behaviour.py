"""Behaviour after the survey, with known truth: leaving (discrete-time hazard), conversion of
prospects, repeat purchases (BG/NBD), drawn from the respondents' true latent scores.

Per customer i of sector s, surveyed with tenure ``tau_i`` periods, followed for ``T`` periods:

    cloglog h_it = log(-log(1 - h0)) + sum_k (beta[s,k] + delta_k (tau_i + t - 1)) X_ik,  t = 1..T

with ``X`` = (Beliefs, Experience, Loyalty) in SD units: ``beta`` are log hazard ratios per SD at
tenure 0 (direct paths, beside loyalty's), ``delta`` their change per period of tenure ("experience
retains, more so over time" is ``delta_Experience < 0``). Random drop-out from the panel (each period
with probability ``censoring``) and the end of follow-up censor the time. Prospects answer the
beliefs items only and convert with ``logit P = logit(conversion_base) + c . X``. Repeat purchases
follow BG/NBD (Fader, Hardie & Lee 2005) with ``alpha_i = alpha exp(-g_rate . X_i)`` (a higher rate
when g_rate > 0) and ``a_i = a exp(g_drop . X_i)``, pymc-marketing's covariate convention.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

DRIVERS = ("Beliefs", "Experience", "Loyalty")
#: Default behaviour: experience retains (more so over time), loyalty retains, beliefs attract.
BEHAVIOUR: dict[str, Any] = {
    "hazard": {"Beliefs": 0.0, "Experience": -0.35, "Loyalty": -0.35},
    "tenure_change": {"Beliefs": 0.0, "Experience": -0.02, "Loyalty": 0.0},
    "baseline": 0.05,
    "max_tenure": 24,
    "censoring": 0.02,
    "prospects": 0,
    "conversion": {"Beliefs": 0.8, "Experience": 0.0, "Loyalty": 0.0},
    "conversion_base": 0.25,
    "purchases": False,
    "bgnbd": {"r": 2.0, "alpha": 4.0, "a": 0.8, "b": 4.0},
    "purchase_rate": {"Beliefs": 0.0, "Experience": 0.3, "Loyalty": 0.2},
    "purchase_dropout": {"Beliefs": 0.0, "Experience": -0.3, "Loyalty": 0.0},
}


def behaviour_spec(behaviour: Mapping[str, Any] | None, sectors: list[str]) -> dict[str, Any]:
    """The defaults of :data:`BEHAVIOUR` overridden by ``behaviour``; ``hazard`` may be given per sector
    (``{"retail": {...}, "banking": {...}}``) and is returned that way."""
    spec: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in BEHAVIOUR.items()}
    for key, value in (behaviour or {}).items():
        if key not in BEHAVIOUR:
            raise ValueError(f"behaviour has no setting {key!r}: the settings are {list(BEHAVIOUR)}")
        if isinstance(value, Mapping) and key != "hazard" and isinstance(spec[key], dict):
            spec[key] = {**spec[key], **{str(k): v for k, v in value.items()}}
        else:
            spec[key] = value
    hazard = spec["hazard"]
    if all(s in hazard for s in sectors) and not set(hazard) & set(DRIVERS):
        spec["hazard"] = {s: {**dict.fromkeys(DRIVERS, 0.0), **hazard[s]} for s in sectors}
    else:
        spec["hazard"] = {s: {**dict.fromkeys(DRIVERS, 0.0), **hazard} for s in sectors}
    for key in ("tenure_change", "conversion", "purchase_rate", "purchase_dropout"):
        spec[key] = {**dict.fromkeys(DRIVERS, 0.0), **spec[key]}
    if not 0 < float(spec["baseline"]) < 1:
        raise ValueError(
            f"behaviour['baseline'] is a hazard per period, strictly between 0 and 1, got {spec['baseline']}"
        )
    return spec


def follow_customers(
    scores: np.ndarray, sector: np.ndarray, periods: int, spec: Mapping[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """``tenure, time, event`` for customers with latent ``scores`` (n, 3) in :data:`DRIVERS` order."""
    n = len(scores)
    tenure = rng.integers(0, int(spec["max_tenure"]) + 1, n)
    beta = np.array([[spec["hazard"][s][k] for k in DRIVERS] for s in sector])
    delta = np.array([spec["tenure_change"][k] for k in DRIVERS])
    a0 = math.log(-math.log(1 - spec["baseline"]))
    t = np.arange(1, periods + 1)
    ten = tenure[:, None] + t[None, :] - 1  # (n, T) tenure in each period of follow-up
    eta = a0 + (beta * scores).sum(1)[:, None] + ten * (scores @ delta)[:, None]
    hazard = -np.expm1(-np.exp(eta))
    left = rng.random((n, periods)) < hazard
    leave = np.where(left.any(1), left.argmax(1) + 1, periods + 1)
    drop = rng.geometric(spec["censoring"], n) if spec["censoring"] > 0 else np.full(n, periods + 1)
    end = np.minimum(drop, periods)
    time = np.minimum(leave, end)
    return pd.DataFrame({"tenure": tenure, "time": time, "event": (leave <= end).astype(int)})


def convert_prospects(scores: np.ndarray, spec: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    """0/1 whether each prospect became a customer."""
    c = np.array([spec["conversion"][k] for k in DRIVERS])
    base = spec["conversion_base"]
    p = 1 / (1 + np.exp(-(math.log(base / (1 - base)) + scores @ c)))
    return (rng.random(len(scores)) < p).astype(int)


def repeat_purchases(
    scores: np.ndarray, window: float, spec: Mapping[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """``frequency`` (repeat purchases), ``recency`` (time of the last one) and ``T`` over ``window``,
    drawn from BG/NBD's story: purchases at Poisson rate lambda, dropping out after each with prob. p."""
    par = spec["bgnbd"]
    g_rate = np.array([spec["purchase_rate"][k] for k in DRIVERS])
    g_drop = np.array([spec["purchase_dropout"][k] for k in DRIVERS])
    n = len(scores)
    lam = rng.gamma(par["r"], 1 / (par["alpha"] * np.exp(-scores @ g_rate)))
    p = rng.beta(par["a"] * np.exp(scores @ g_drop), par["b"])
    freq, rec = np.zeros(n, int), np.zeros(n)
    alive, clock = np.ones(n, bool), np.zeros(n)
    while alive.any():
        clock = clock + np.where(alive, rng.exponential(1 / lam), 0.0)
        bought = alive & (clock <= window)
        freq += bought
        rec = np.where(bought, clock, rec)
        alive = bought & (rng.random(n) >= p)
    return pd.DataFrame({"frequency": freq, "recency": rec, "T": float(window)})


def behaviour_truth(spec: Mapping[str, Any], sectors: list[str]) -> list[dict]:
    """Tidy truth rows ``sector, segment, parameter, value`` of the behaviour's effects."""
    rows = [
        {"sector": s, "segment": None, "parameter": f"hazard:{k}", "value": float(spec["hazard"][s][k])}
        for s in sectors
        for k in DRIVERS
    ]
    for key, name in (
        ("tenure_change", "tenure_change"),
        ("conversion", "conversion"),
        ("purchase_rate", "purchase_rate"),
        ("purchase_dropout", "purchase_dropout"),
    ):
        rows += [
            {"sector": s, "segment": None, "parameter": f"{name}:{k}", "value": float(spec[key][k])}
            for s in sectors
            for k in DRIVERS
        ]
    rows += [{"sector": s, "segment": None, "parameter": "baseline_hazard", "value": spec["baseline"]} for s in sectors]
    return rows
