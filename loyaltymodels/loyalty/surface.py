"""Response-surface analysis of beliefs and experience (Edwards & Parry 1993): does loyalty peak
where experience matches beliefs?

``fit_loyalty(..., surface=True)`` fits, with the latent drivers (one stage, as the interaction),

    loyalty = b0 + b1 B + b2 E + b3 B^2 + b4 B E + b5 E^2 + error

per sector: ``b1, b2`` are the sector's loyalty weights (partially pooled as always), and the
curvatures ``b3, b4, b5`` are partially pooled the same way,
``b[s, q] = surface_mu[q] + surface_tau[q] surface_z[s, q]`` (non-centred). Each quadratic term
enters centred at its expectation in the respondent's cell (``B^2 - E[B^2]``, ...), so latent
means keep their meaning; that only moves ``b0``, which no summary uses.

Why a surface rather than the interaction or the kink: a concave driver (diminishing returns, a
``-E^2`` truth) has nowhere to go in a model with ``B E`` and ``|E - B|`` but no squares, and
loads onto both (a measured 0.48 "asymmetry" with no promise gap at all). The squares give it its
own place, and the congruence conditions of Humberg, Nestler & Back (2019) ask the question the
claim "imbalance costs loyalty" implies: along the line of congruence ``E = B`` loyalty may rise
(a level effect, as "beliefs + experience" implies), across it loyalty falls on both sides:

- the first principal axis is the line of congruence: ``p10 = 0`` and ``p11 = 1``;
- no linear effect across it: ``a3 = b1 - b2 = 0``;
- loyalty falls across it: ``a4 = b3 - b4 + b5 < 0``;

with ``a1 = b1 + b2`` and ``a2 = b3 + b4 + b5`` the slope and curvature along ``E = B``.
``B`` and ``E`` are latent scores in the metric of the reference cell (both mean 0, SD 1 there),
measured by different questions: ``E = B`` is a line of equal *standardized* scores, not a
measured promise kept (that needs commensurate items), and every output says so.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import DataError, SpecError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .build import Design

__all__ = ["congruence", "plot_surface", "response_surface"]

#: The quadratic terms, as (first, second) driver of the pair (beliefs = 0, experience = 1).
TERMS = ("b3", "b4", "b5")
PAIRS = ((0, 0), (0, 1), (1, 1))
#: Said by every output: what the line of congruence is without commensurate items.
LINE_NOTE = (
    "line of congruence: equal standardized latent scores (beliefs and experience are measured by "
    "different questions, so E = B is not a measured promise kept)"
)
#: Regions of practical equivalence of ``congruence``'s posterior probability (exact equalities
#: have posterior probability 0): ``p10`` and ``a3`` in driver SDs / loyalty residual SDs, ``p11``
#: a slope.
ROPE = {"p10": 0.25, "p11": 0.25, "a3": 0.1}


# -- the model -------------------------------------------------------------------------------------
def chunk_sector(design: Design) -> np.ndarray:
    assert design.chunk_group is not None  # the latent forms lay respondents out in chunks
    return np.asarray(design.cell_sector)[design.chunk_group]


def surface_variables(design: Design) -> Any:
    """The PyMC variables of the curvatures: ``surface_mu (term)``, and with several sectors
    ``surface_tau (term)`` and ``surface_z (sector, term)``; returns ``b (sector, term)``."""
    import pymc as pm

    from .priors import prior_rv

    model = pm.modelcontext(None)
    model.add_coord("term", list(TERMS))
    pr = design.priors
    mu = prior_rv("surface_mu", pr["surface_mu"], dims="term")
    if len(design.sectors) == 1:
        return mu[None, :]
    tau = prior_rv("surface_tau", pr["surface_tau"], dims="term")
    z = pm.Normal("surface_z", 0.0, 1.0, dims=("sector", "term"))
    return mu[None, :] + tau[None, :] * z


def surface_part(design: Design, mats: dict[str, Any], eta: Any, b: Any, xp: ModuleType = np) -> Any:
    """``sum_q b[sector, q] (phi_q(eta) - E phi_q)`` per chunk slot ``(K, B)``: ``eta (K, B, q)``
    the scores of ``design.blocks['drivers']``, ``mats`` per chunk, ``b (sector, term)``."""
    assert design.roles.surface is not None
    lat = list(design.latents)
    D = list(design.blocks["drivers"][1])
    idx = [lat.index(v) for v in design.roles.surface]
    coef = b[chunk_sector(design)]  # (K, 3)
    m, c = mats["mean"], mats["cov"]
    out = 0.0
    for q, (i, j) in enumerate(PAIRS):
        a_, b_ = idx[i], idx[j]
        phi = eta[..., D.index(a_)] * eta[..., D.index(b_)]
        centre = (m[:, a_] * m[:, b_] + c[:, a_, b_])[:, None]
        out = out + coef[:, q][:, None] * (phi - centre)
    return out


def surface_at(surface: tuple[int, int], b_cell: np.ndarray, mats: dict, pts: np.ndarray) -> np.ndarray:
    """The same part at points ``(D, G, M, q)`` of every latent, per draw and cell: ``b_cell (D, G, 3)``,
    ``surface`` the pair's latent indices."""
    m, c = mats["mean"], mats["cov"]
    out = np.zeros(pts.shape[:-1])
    for q, (i, j) in enumerate(PAIRS):
        a_, b_ = surface[i], surface[j]
        centre = m[..., a_] * m[..., b_] + c[..., a_, b_]
        out = out + b_cell[..., q, None] * (pts[..., a_] * pts[..., b_] - centre[..., None])
    return out


def surface_draws(ds: xr.Dataset, sectors: int) -> np.ndarray:
    """``b (D, sector, term)`` from the sampled variables of a posterior (or a trace)."""
    n = ds.sizes["chain"] * ds.sizes["draw"]
    mu = ds["surface_mu"].to_numpy().reshape(n, 1, 3)
    if "surface_z" not in ds:
        return np.repeat(mu, sectors, axis=1)
    tau = ds["surface_tau"].to_numpy().reshape(n, 1, 3)
    return mu + tau * ds["surface_z"].to_numpy().reshape(n, sectors, 3)


def add_surface(post: xr.DataTree, drivers: tuple[str, str] | None) -> xr.DataTree:
    """``surface (chain, draw, sector, term)``: every sector's curvatures from the sampled
    variables, and the pair in the ``surface`` root attribute."""
    if drivers is None:
        return post
    ds = post["posterior"].dataset
    mu = ds["surface_mu"]
    b = mu + ds["surface_tau"] * ds["surface_z"] if "surface_z" in ds else mu.expand_dims(sector=ds["sector"].values)
    b = b.transpose("chain", "draw", "sector", "term")
    post["posterior"] = ds.assign(surface=b)
    post.attrs["surface"] = json.dumps({"beliefs": drivers[0], "experience": drivers[1], "line": LINE_NOTE})
    return post


# -- the quantities --------------------------------------------------------------------------------
def surface_quantities(b: np.ndarray) -> dict[str, np.ndarray]:
    """``b1..b5``, ``a1..a4`` and the first principal axis ``p10, p11`` (Edwards & Parry 1993)
    from coefficients ``b (..., 5)``.

    The first principal axis is the line through the stationary point along the eigenvector of
    the quadratic form with the larger eigenvalue (the direction of least downward curvature):
    ``p11 = (b5 - b3 + sqrt((b3 - b5)^2 + b4^2)) / b4``, ``p10 = Y0 - p11 X0``.

    Examples
    --------
    A congruence surface ``-(E - B)^2`` with a level effect ``0.3 (B + E)``:

    >>> q = surface_quantities(np.array([0.3, 0.3, -1.0, 2.0, -1.0]))
    >>> [round(float(q[k]), 6) for k in ("a1", "a2", "a3", "a4", "p11")]
    [0.6, 0.0, 0.0, -4.0, 1.0]
    """
    b1, b2, b3, b4, b5 = (b[..., k] for k in range(5))
    out = {"b1": b1, "b2": b2, "b3": b3, "b4": b4, "b5": b5}
    out.update(a1=b1 + b2, a2=b3 + b4 + b5, a3=b1 - b2, a4=b3 - b4 + b5)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = 4 * b3 * b5 - b4**2
        x0 = (b2 * b4 - 2 * b1 * b5) / den
        y0 = (b1 * b4 - 2 * b2 * b3) / den
        p11 = (b5 - b3 + np.sqrt((b3 - b5) ** 2 + b4**2)) / b4
        # Y0 - p11 X0 as one fraction: on a ridge (den -> 0) both centres run off but their
        # combination stays finite
        p10 = y0 - p11 * x0
    out.update(p10=p10, p11=p11)
    return out


def _info(post: xr.DataTree) -> dict:
    text = post.attrs.get("surface")
    if not text:
        raise DataError(
            "this posterior has no response surface: fit it with fit_loyalty(..., surface=True) "
            "(the interaction and asymmetry options cannot answer the congruence question)"
        )
    return json.loads(text)


def _coefficients(post: xr.DataTree) -> tuple[list[str], np.ndarray]:
    """Labels (sectors, then ``pooled``) and ``b (D, S + 1, 5)``."""
    from .draws import LoyaltyInfo

    _info(post)
    info = LoyaltyInfo.from_post(post)
    ds = post["posterior"].dataset
    assert info.surface is not None  # a surface posterior records its pair
    k = [info.drivers.index(v) for v in info.surface]
    n = ds.sizes["chain"] * ds.sizes["draw"]
    w = ds["weight"].to_numpy().reshape(n, len(info.cells), -1)[..., k]  # (D, G, 2)
    lin = np.stack(
        [
            np.tensordot(w[:, info.cell_sector == s], np.ones((info.cell_sector == s).sum()), ([1], [0]))
            / (info.cell_sector == s).sum()  # segment shifts sum to zero: the sector's weight
            for s in range(len(info.sectors))
        ],
        axis=1,
    )
    quad = ds["surface"].transpose("chain", "draw", "sector", "term").to_numpy().reshape(n, len(info.sectors), 3)
    pooled_lin = ds["weight_mu"].to_numpy().reshape(n, -1)[:, k]
    pooled_quad = ds["surface_mu"].to_numpy().reshape(n, 3)
    b = np.concatenate([np.concatenate([lin, quad], -1), np.concatenate([pooled_lin, pooled_quad], -1)[:, None]], 1)
    return [*info.sectors, "pooled"], b


def response_surface(post: xr.DataTree, *, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """One row per sector (and ``pooled``: the sectors' common mean) and quantity (``b1``..``b5``,
    ``a1``..``a4``, ``p10``, ``p11``): ``mean, sd, ci_lower, ci_upper``.

    ``b1``, ``b2`` are the linear weights of beliefs and experience, ``b3``, ``b4``, ``b5`` the
    curvatures of ``B^2``, ``B E``, ``E^2`` (loyalty residual SDs per driver SD of the reference
    cell); ``a1``..``a4`` and the first principal axis ``p10 + p11 B`` as in Edwards & Parry
    (1993) (see :mod:`loyaltymodels.loyalty.surface`). The table's ``line`` attribute says what the
    line of congruence is. In R: ``RSA::RSA(loyalty ~ beliefs * experience)`` on observed scores.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(300, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", surface=True)  # doctest: +SKIP
    >>> lm.response_surface(post).query("quantity == 'a4'")  # doctest: +SKIP
    """
    labels, b = _coefficients(post)
    q = surface_quantities(b)
    rows = []
    for s, label in enumerate(labels):
        for name, x in q.items():
            v = x[:, s]
            v = v[np.isfinite(v)]
            lo, hi = np.quantile(v, [(1 - mass) / 2, (1 + mass) / 2])
            rows.append(
                {
                    "sector": label,
                    "quantity": name,
                    "mean": v.mean(),
                    "sd": v.std(ddof=1),
                    "ci_lower": lo,
                    "ci_upper": hi,
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["line"] = _info(post)["line"]
    return labelled_interval(out, mass)


def congruence(post: xr.DataTree, *, mass: float = CI_POSTERIOR, rope: dict[str, float] | None = None) -> pd.DataFrame:
    """Does loyalty peak on the line of congruence, sector by sector (Humberg, Nestler & Back 2019)?

    ``supported`` is True when every condition holds at the interval level: the ``mass``
    intervals of ``p10`` and ``a3`` contain 0, that of ``p11`` contains 1, and that of ``a4`` lies
    below 0 (a level effect along the line, ``a1``, ``a2``, is allowed); and the first principal
    axis exists: ``b4 = (a2 - a4) / 2`` credibly above 0. Why the last: ``p11 = 1`` makes E = B the
    *first* axis only where the surface bends less along it than across it; a dome curved alike in
    every direction (two concave drivers, ``b3 = b5``, ``b4 = 0``) has no principal axis, its
    ``p11`` interval holds every slope, and "contains 1" would be read from an undefined axis
    (measured: a concave-only truth came out "supported" in one sector of two without it). ``prob`` is the posterior
    probability that they hold, the equalities read within ``rope`` (default :data:`ROPE`).
    A linear or a concave-only surface is not congruence: ``a4``'s interval reaches 0, or the
    first principal axis runs along a driver (``p11`` near 0 or infinite).

    Returns
    -------
    DataFrame
        ``sector, supported, prob`` and the quantities used (``p10, p11, a3, a4, b4``: posterior
        mean and interval as ``<q>_mean, <q>_lower, <q>_upper``); attrs ``line`` (what the
        line of congruence is) and the interval level.
    """
    rope = {**ROPE, **(rope or {})}
    labels, b = _coefficients(post)
    q = surface_quantities(b)
    lo_q, hi_q = (1 - mass) / 2, (1 + mass) / 2
    rows = []
    for s, label in enumerate(labels):
        row: dict[str, Any] = {"sector": label}
        iv = {}
        for name in ("p10", "p11", "a3", "a4", "b4"):
            v = q[name][:, s]
            f = v[np.isfinite(v)]
            iv[name] = np.quantile(f, [lo_q, hi_q]) if len(f) else np.array([np.nan, np.nan])
            row[f"{name}_mean"] = f.mean() if len(f) else np.nan
            row[f"{name}_lower"], row[f"{name}_upper"] = iv[name]
        row["supported"] = bool(
            iv["p10"][0] <= 0 <= iv["p10"][1]
            and iv["p11"][0] <= 1 <= iv["p11"][1]
            and iv["a3"][0] <= 0 <= iv["a3"][1]
            and iv["a4"][1] < 0
            and iv["b4"][0] > 0
        )
        with np.errstate(invalid="ignore"):
            hold = (
                (np.abs(q["p10"][:, s]) < rope["p10"])
                & (np.abs(q["p11"][:, s] - 1) < rope["p11"])
                & (np.abs(q["a3"][:, s]) < rope["a3"])
                & (q["a4"][:, s] < 0)
                & (q["b4"][:, s] > 0)
            )
        row["prob"] = float(hold.mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    cols = ["sector", "supported", "prob"] + [c for c in out.columns if c not in ("sector", "supported", "prob")]
    out = out[cols]
    out.attrs.update(line=_info(post)["line"], ci=mass, rope=rope)
    return out


def plot_surface(
    post: xr.DataTree, *, sector: str = "pooled", ax: Axes | None = None, span: float = 2.0, n: int = 41
) -> Axes:
    """The posterior-mean response surface of one sector over ``[-span, span]`` driver SDs, with
    the line of congruence (``E = B``) and the line of incongruence (``E = -B``) drawn on it."""
    import matplotlib.pyplot as plt

    labels, b = _coefficients(post)
    if sector not in labels:
        raise SpecError(f"sector={sector!r} is not among {', '.join(labels)}")
    c = b[:, labels.index(sector)].mean(0)
    g = np.linspace(-span, span, n)
    B, E = np.meshgrid(g, g)

    def z(bb: np.ndarray, ee: np.ndarray) -> np.ndarray:
        return c[0] * bb + c[1] * ee + c[2] * bb**2 + c[3] * bb * ee + c[4] * ee**2

    if ax is None:
        ax = plt.figure(figsize=(6, 5)).add_subplot(projection="3d")
    ax.plot_surface(B, E, z(B, E), cmap="viridis", alpha=0.8)  # type: ignore[union-attr]
    ax.plot(g, g, z(g, g), color="k", lw=2, label="E = B (congruence)")
    ax.plot(g, -g, z(g, -g), color="k", lw=1, ls="--", label="E = -B (incongruence)")
    info = _info(post)
    ax.set_xlabel(info["beliefs"])
    ax.set_ylabel(info["experience"])
    ax.set_title(f"response surface: {sector}")
    ax.legend(loc="upper left", fontsize="small")
    return ax
