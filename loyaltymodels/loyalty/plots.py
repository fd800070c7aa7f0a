"""Report figures of a fitted loyalty model (matplotlib): drivers' weights by sector (forest
plot), loyalty over the beliefs x experience plane, behaviour against loyalty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_POSTERIOR

if TYPE_CHECKING:
    from matplotlib.axes import Axes
from ..errors import SpecError
from .draws import Draws, loyalty_mean_at, loyalty_moments, pooled_loyalty_sd
from .summaries import POOLED, _outcome_mean, driver_weights

__all__ = ["plot_driver_weights", "plot_balance", "plot_outcome_curves"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_driver_weights(post: xr.DataTree, *, truth: pd.DataFrame | None = None, ax: Axes | None = None) -> Axes:
    """Forest plot of the standardized weights, one row per sector (and the pooled weight), one
    colour per driver, with 90% intervals; ``truth`` (the generator's truth table) adds crosses.

    Examples
    --------
    >>> ax = lm.plot_driver_weights(post)  # doctest: +SKIP
    """
    table = driver_weights(post)
    if "segment" in table:
        table = table[table.segment.isna()]
    sectors = list(dict.fromkeys(table.sector))
    drivers = list(dict.fromkeys(table.driver))
    ax = _axes(ax, (6.5, 0.55 * len(sectors) * len(drivers) + 1.2))
    y0 = np.arange(len(sectors))[::-1].astype(float)
    true = {}
    if truth is not None:
        t = truth[truth.parameter.str.startswith("w_")]
        true = t.groupby(["sector", "parameter"]).value.mean().to_dict()
    for k, d in enumerate(drivers):
        part = table[table.driver == d].set_index("sector").loc[sectors]
        y = y0 + (k - (len(drivers) - 1) / 2) * 0.25
        ax.errorbar(
            part["mean"],
            y,
            xerr=[part["mean"] - part.ci_lower, part.ci_upper - part["mean"]],
            fmt="o",
            capsize=3,
            label=d,
        )
        key = f"w_{d.lower()}"
        pts = [(true.get((s, key)), yy) for s, yy in zip(sectors, y) if (s, key) in true]
        if pts:
            ax.scatter(*zip(*pts), marker="x", color="black", zorder=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y0, [f"{s} (hierarchical mean)" if s == POOLED else s for s in sectors])
    ax.set_xlabel(f"standardized weight on loyalty ({CI_POSTERIOR:.0%} interval{', x = truth' if true else ''})")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_balance(
    post: xr.DataTree, *, sector: str | int = 0, grid: int = 41, ax: Axes | None = None, max_draws: int = 400
) -> Axes:
    """Posterior mean of expected loyalty (in SDs of loyalty) over the plane of the two drivers of
    the interaction/asymmetry (in SDs of each), in one sector, with the line where they are equal:
    an imbalance that costs loyalty bends the contours; an asymmetry puts a ridge on the diagonal.

    Examples
    --------
    >>> ax = lm.plot_balance(post, sector="retail")  # doctest: +SKIP
    """
    dr = Draws.from_post(post, max_draws=max_draws)
    info = dr.info
    pair = info.interaction or (info.asymmetry[::-1] if info.asymmetry else None)
    if pair is None:
        raise SpecError("plot_balance needs a model fitted with interaction=True or asymmetry=True")
    s = info.sectors.index(sector) if isinstance(sector, str) else int(sector)
    g = int(np.flatnonzero(info.cell_sector == s)[0])  # the sector's first cell
    mats = {k: v[:, g] for k, v in dr.mats.items()}
    sd = np.sqrt(np.diagonal(mats["cov"], axis1=-2, axis2=-1))
    z = np.linspace(-2.5, 2.5, grid)
    zb, ze = np.meshgrid(z, z)
    i, j = (info.index(v) for v in pair)
    pts = np.broadcast_to(mats["mean"][:, None, :], (dr.n, zb.size, len(info.latents))).copy()
    pts[..., i] += zb.ravel() * sd[:, None, i]
    pts[..., j] += ze.ravel() * sd[:, None, j]
    sub = Draws(info, {k: v[:, [g]] for k, v in dr.mats.items()}, dr.extra, dr.shape)
    mean_l, sd_l = loyalty_moments(sub)
    loy = (loyalty_mean_at(sub, pts[:, None])[:, 0] - mean_l) / sd_l
    surf = loy.mean(0).reshape(zb.shape)
    ax = _axes(ax, (5.2, 4.4))
    cs = ax.contourf(zb, ze, surf, levels=15, cmap="viridis")
    ax.contour(zb, ze, surf, levels=15, colors="white", linewidths=0.4)
    ax.plot(z, z, color="white", ls="--", lw=1)
    ax.figure.colorbar(cs, ax=ax, label="expected loyalty (SD)")
    ax.set(xlabel=f"{pair[0]} (SD)", ylabel=f"{pair[1]} (SD)", title=f"{info.sectors[s]}: loyalty over the plane")
    return ax


def outcome_axis_label(outcomes: list[dict]) -> str:
    """The outcome curves' y-axis named after the outcomes drawn (a 0/1 outcome's probability, a
    rating's mean on 0-1), as a report's reader needs to know what is plotted.

    Examples
    --------
    >>> outcome_axis_label([{"name": "churn", "kind": "binary"}])
    'probability of churn'
    >>> rating = {"name": "ré-achat", "kind": "ordinal", "levels": [1, 5]}
    >>> outcome_axis_label([{"name": "churn", "kind": "binary"}, rating])
    'probability of churn; mean ré-achat (1-5 as 0-1)'
    """
    parts = []
    for o in outcomes:
        if o["kind"] == "binary":
            parts.append(f"probability of {o['name']}")
        else:
            parts.append(f"mean {o['name']} ({min(o['levels']):g}-{max(o['levels']):g} as 0-1)")
    return "; ".join(parts)


def plot_outcome_curves(post: xr.DataTree, *, ax: Axes | None = None, max_draws: int = 400) -> Axes:
    """Expected behaviour (probability of each 0/1 outcome, mean of each rating rescaled to 0-1)
    against latent loyalty in SDs (all respondents), posterior mean and 90% band.

    Examples
    --------
    >>> ax = lm.plot_outcome_curves(post)  # doctest: +SKIP
    """
    dr = Draws.from_post(post, max_draws=max_draws)
    info = dr.info
    outs = [o for o in info.outcomes if o["latent"] == info.loyalty]
    if not outs:
        raise SpecError("plot_outcome_curves needs a model fitted with outcomes linked to loyalty")
    w = info.cell_sizes / info.cell_sizes.sum()
    iL = info.index(info.loyalty)
    centre = dr.mats["mean"][..., iL] @ w
    sd = pooled_loyalty_sd(dr)
    z = np.linspace(-2.5, 2.5, 61)
    lat = centre[:, None] + sd[:, None] * z
    extra = dict(dr.extra, _outcomes=info.outcomes)
    ax = _axes(ax, (5.5, 3.8))
    a = (1 - CI_POSTERIOR) / 2
    for o in outs:
        y = _outcome_mean(o, extra, lat)
        label = o["name"]
        if o["kind"] != "binary":
            lo, hi = min(o["levels"]), max(o["levels"])
            y = (y - lo) / (hi - lo)
            label += f" (mean rating, {lo:g}-{hi:g} as 0-1)"
        ax.plot(z, y.mean(0), label=label)
        ax.fill_between(z, np.quantile(y, a, 0), np.quantile(y, 1 - a, 0), alpha=0.25)
    ax.set(xlabel=f"latent {info.loyalty} (SD from the mean)", ylabel=outcome_axis_label(outs), ylim=(0, 1))
    ax.legend(fontsize=8)
    return ax
