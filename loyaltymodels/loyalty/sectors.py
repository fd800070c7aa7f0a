"""Sectors compared on the raw metric: the weights' contrasts and the invariance they rest on.

A standardized weight ``w SD(driver) / SD(loyalty)`` changes with how spread out a sector's
customers are: two sectors with equal raw weights but a wider spread of beliefs in one give that
sector the larger standardized beliefs weight, and can flip which driver looks "largest". Across
sectors the loyalty model therefore compares *raw* weights, in the metric that the shared loadings
fix (the first cell's driver and loyalty scales, :mod:`loyaltymodels.loyalty.build`): "loyalty
per unit of the driver, the unit being the same in every sector". That needs the loadings to be
shared (``metric``, ``scalar``) or approximately shared (``approximate``): a ``configural`` fit
gives every cell its own unit, and its raw contrasts are refused. Standardized weights stay
available within a sector (:func:`loyaltymodels.driver_weights`).
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import DataWarning, SpecError
from .draws import Draws, LoyaltyInfo

__all__ = ["sector_contrasts", "raw_by_sector", "check_metric", "wiggle_departures"]

#: Levels whose raw weights share one metric across cells.
_COMPARABLE = ("metric", "scalar", "approximate")


def _draws(da: xr.DataArray) -> np.ndarray:
    v = da.to_numpy()
    return v.reshape(-1, *v.shape[2:])


def _size_weights(info: LoyaltyInfo) -> np.ndarray:
    """``(S, G)``: each sector's cells, weighted by size."""
    w = np.zeros((len(info.sectors), len(info.cells)))
    w[info.cell_sector, np.arange(len(info.cells))] = info.cell_sizes
    return w / w.sum(1, keepdims=True)


def raw_by_sector(post: xr.DataTree, info: LoyaltyInfo) -> np.ndarray:
    """``(D, S, K)`` raw weights per sector (a sector's segments averaged by size)."""
    w = _draws(post["posterior"].dataset["weight"])  # (D, G, K)
    return np.einsum("dgk,sg->dsk", w, _size_weights(info))


def raw_blocks(post: xr.DataTree, info: LoyaltyInfo) -> list[tuple[list[str], list[str | None], np.ndarray]]:
    """:func:`driver_weights`'s blocks on the raw metric: sectors, pooled (the hierarchical mean
    ``mu``), and each segment's ``mu + shift``."""
    ds = post["posterior"].dataset
    mu = _draws(ds["weight_mu"])
    blocks: list[tuple[list[str], list[str | None], np.ndarray]] = [
        (list(info.sectors), [None] * len(info.sectors), raw_by_sector(post, info)),
        (["pooled"], [None], mu[:, None, :]),
    ]
    if info.segments:
        shift = _draws(ds["segment_shift"].transpose("chain", "draw", "segment", "driver"))
        blocks.append((["pooled"] * len(info.segments), list(info.segments), mu[:, None, :] + shift))
    return blocks


def check_metric(post: xr.DataTree, what: str) -> str:
    """The fit's invariance level, after refusing one whose cells do not share a metric."""
    level = str(post.attrs.get("invariance", "scalar"))
    if level not in _COMPARABLE:
        raise SpecError(
            f"{what} compares raw weights across sectors, which needs the loadings shared by the "
            f"sectors; this fit has invariance={level!r}, where each sector has its own unit. Refit "
            "with invariance='metric', 'scalar' or 'approximate' (compare the levels with "
            "lm.compare_fits({'configural': post1, 'metric': post2}))"
        )
    if level == "approximate":
        bad = wiggle_departures(post)
        if len(bad):
            lines = "; ".join(f"{r.parameter} in {r.sector} ({r.mean:+.2f})" for r in bad.itertuples())
            warnings.warn(
                f"approximate invariance: the data pull these measurement parameters away from the "
                f"other sectors' beyond the wiggle prior: {lines}. The raw metric rests on the "
                "other items; check that the driver is still measured by them",
                DataWarning,
                stacklevel=3,
            )
    return level


def wiggle_departures(post: xr.DataTree, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """Loadings and intercepts of an ``approximate`` fit whose departure from the cells' mean has a
    ``mass`` interval excluding 0: ``parameter, sector, mean, ci_lower, ci_upper`` (empty when none).
    """
    from ..bayes.draws import model_spec, row_draws

    spec = model_spec(post)
    t = spec.table.reset_index(drop=True)
    info = LoyaltyInfo.from_post(post)
    rowvals = row_draws(post, spec)  # (D, table rows)
    rows = t[(t.group > 0) & t.free.astype(bool) & ((t.op == "=~") | ((t.op == "~1") & t.lhs.isin(spec.observed)))]
    out = []
    a = (1 - mass) / 2
    for (lhs, op, rhs), grp in rows.groupby(["lhs", "op", "rhs"], sort=False):
        if grp.par.nunique() < 2:
            continue
        grp = grp.sort_values("group")
        x = rowvals[:, grp.index.to_numpy(int)]
        dev = x - x.mean(1, keepdims=True)
        lo, hi = np.quantile(dev, [a, 1 - a], axis=0)
        for k, g in enumerate(grp.group.to_numpy(int)):
            if lo[k] > 0 or hi[k] < 0:
                out.append(
                    {
                        "parameter": f"{lhs}{op}{rhs}",
                        "sector": info.sectors[info.cell_sector[g - 1]],
                        "mean": float(dev[:, k].mean()),
                        "ci_lower": float(lo[k]),
                        "ci_upper": float(hi[k]),
                    }
                )
    return pd.DataFrame(out, columns=["parameter", "sector", "mean", "ci_lower", "ci_upper"])


def sector_contrasts(
    post: xr.DataTree, *, scale: str = "raw", mass: float = CI_POSTERIOR, check: bool = True
) -> pd.DataFrame:
    """Differences of the drivers' raw weights between every pair of sectors.

    ``mean`` is the posterior mean of ``w[sector_a] - w[sector_b]`` for the driver, in loyalty
    units per driver unit of the shared metric (see the module docstring); ``prob_positive`` the
    posterior probability that sector_a's weight is the larger. A contrast whose interval excludes
    0 is a credible difference of weight, not of the customers' spread.

    Parameters
    ----------
    post : DataTree
        A posterior of :func:`loyaltymodels.fit_loyalty` with two or more sectors.
    scale : {"raw"}
        Only the raw metric: standardized weights are compared within a sector
        (``driver_weights(post)``, ``prob_largest``), never across.
    check : bool
        Refuse a ``configural`` fit and warn when an ``approximate`` fit shows measurement
        parameters departing from the other sectors'.

    Returns
    -------
    DataFrame
        ``sector_a, sector_b, driver, mean, sd, ci_lower, ci_upper, prob_positive``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1)  # doctest: +SKIP
    >>> lm.sector_contrasts(post).columns.tolist()  # doctest: +SKIP
    ['sector_a', 'sector_b', 'driver', 'mean', 'sd', 'ci_lower', 'ci_upper', 'prob_positive']

    In R (blavaan): the difference of the sectors' labelled regression draws,
    ``blavInspect(fit, "mcmc")``.
    """
    if scale != "raw":
        raise SpecError(
            f"sector_contrasts(scale={scale!r}): standardized weights differ across sectors with the "
            "sectors' spread of drivers and loyalty, not only with the weights; compare sectors on "
            "scale='raw' and standardized weights within a sector with lm.driver_weights(post)"
        )
    info = LoyaltyInfo.from_post(post)
    if len(info.sectors) < 2:
        raise SpecError("sector_contrasts needs a fit with two or more sectors (fit_loyalty(..., sector=...))")
    level = check_metric(post, "sector_contrasts") if check else str(post.attrs.get("invariance", "scalar"))
    w = raw_by_sector(post, info)
    a = (1 - mass) / 2
    rows = []
    for i, j in combinations(range(len(info.sectors)), 2):
        d = w[:, i] - w[:, j]
        for k, drv in enumerate(info.drivers):
            rows.append(
                {
                    "sector_a": info.sectors[i],
                    "sector_b": info.sectors[j],
                    "driver": drv,
                    "mean": float(d[:, k].mean()),
                    "sd": float(d[:, k].std(ddof=1)),
                    "ci_lower": float(np.quantile(d[:, k], a)),
                    "ci_upper": float(np.quantile(d[:, k], 1 - a)),
                    "prob_positive": float((d[:, k] > 0).mean()),
                }
            )
    out = pd.DataFrame(rows)
    out.attrs.update(scale="raw", invariance=level)
    return labelled_interval(out, mass)


def item_units(dr: Draws, latent: str) -> np.ndarray:
    """``(D, G)`` mean loading of ``latent``'s items: the rise of its items, in questionnaire
    points, per unit of the latent."""
    j = dr.info.index(latent)
    lam = dr.mats["lam"][..., j]  # (D, G, p)
    own = np.flatnonzero(np.abs(lam).reshape(-1, lam.shape[-1]).max(0) > 0)
    return lam[..., own].mean(-1)
