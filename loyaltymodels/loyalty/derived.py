"""Standardized loyalty quantities per draw, stored in the posterior with named dims.

Cells (sector x segment) are laid out on ``sector`` (and ``segment``) dims. "Pooled" quantities:
the hierarchical mean weight ``mu_k`` (plus a segment's shift) standardized at the size-weighted
average of the cells' ``SD(driver) / SD(loyalty)``: the weight of a typical sector. Sector-level
quantities with segments are size-weighted averages of the sector's cells.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .draws import Draws, LoyaltyInfo, chunked, pooled_loyalty_sd, satisfied_not_loyal_share, standardized


def default_experience(info: LoyaltyInfo) -> str:
    """The experience driver: the asymmetry's or the interaction's when fitted, else the one driver
    (or other latent) named like 'exp...'/'sat...', else the last driver."""
    if info.asymmetry:
        return info.asymmetry[0]
    if info.interaction:
        return info.interaction[1]
    named = [d for d in info.drivers if d.lower().startswith(("exp", "sat"))]
    if len(named) != 1:  # e.g. a beliefs-only model: experience may still be in the model
        named = [v for v in info.latents if v != info.loyalty and v.lower().startswith(("exp", "sat"))]
    return named[0] if len(named) == 1 else info.drivers[-1]


def cell_dims(info: LoyaltyInfo) -> tuple[str, ...]:
    return ("sector", "segment") if info.segments else ("sector",)


def to_cells(
    x: np.ndarray, info: LoyaltyInfo, shape: tuple[int, int], dims: tuple[str, ...] = (), coords: dict | None = None
) -> xr.DataArray:
    """``(D, G, ...)`` per cell -> DataArray ``(chain, draw, sector[, segment], ...)``."""
    S, H = len(info.sectors), max(len(info.segments), 1)
    out = np.full((x.shape[0], S, H) + x.shape[2:], np.nan)
    out[:, info.cell_sector, info.cell_segment] = x
    if not info.segments:
        out = out[:, :, 0]
    out = out.reshape(shape + out.shape[1:])
    c = {"sector": list(info.sectors), **({"segment": list(info.segments)} if info.segments else {}), **(coords or {})}
    return xr.DataArray(out, dims=("chain", "draw", *cell_dims(info), *dims), coords=c)


def _flat(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return x.reshape(shape + x.shape[1:])


def _size_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean over the cell axis 1 of ``(D, G, ...)``."""
    w = w / w.sum()
    return np.tensordot(x, w, axes=([1], [0])) if x.ndim == 2 else np.einsum("dg...,g->d...", x, w)


def add_derived(post: xr.DataTree) -> xr.DataTree:
    """Add the standardized quantities to ``post['posterior']`` (see the module docstring)."""
    dr = Draws.from_post(post)
    info, shape = dr.info, dr.shape
    std = chunked(standardized, dr)
    sizes = info.cell_sizes.astype(float)
    drv = {"driver": list(info.drivers)}
    new = {
        "std_weight": to_cells(std["weight"], info, shape, ("driver",), drv),
        "loyalty_sd": to_cells(std["loyalty_sd"], info, shape),
    }
    iL = info.index(info.loyalty)
    sd = np.sqrt(np.diagonal(dr.mats["cov"], axis1=-2, axis2=-1))
    ratio = sd[..., [info.index(d) for d in info.drivers]] / std["loyalty_sd"][..., None]
    ds = post["posterior"].dataset
    mu = ds["weight_mu"].to_numpy().reshape(-1, len(info.drivers))
    new["std_weight_pooled"] = xr.DataArray(
        _flat(mu * _size_mean(ratio, sizes), shape), dims=("chain", "draw", "driver"), coords=drv
    )
    if info.segments:
        by_sector = np.zeros((dr.n, len(info.sectors), len(info.drivers)))
        for s in range(len(info.sectors)):
            cells = info.cell_sector == s
            by_sector[:, s] = _size_mean(std["weight"][:, cells], sizes[cells])
        new["std_weight_sector"] = xr.DataArray(
            _flat(by_sector, shape),
            dims=("chain", "draw", "sector", "driver"),
            coords={"sector": list(info.sectors), **drv},
        )
        shift = ds["segment_shift"].transpose("chain", "draw", "segment", "driver").to_numpy()
        shift = shift.reshape(dr.n, len(info.segments), -1)
        seg = np.zeros_like(shift)
        for h in range(len(info.segments)):
            cells = info.cell_segment == h
            seg[:, h] = (mu + shift[:, h]) * _size_mean(ratio[:, cells], sizes[cells])
        new["std_weight_segment"] = xr.DataArray(
            _flat(seg, shape),
            dims=("chain", "draw", "segment", "driver"),
            coords={"segment": list(info.segments), **drv},
        )
    for term in ("interaction", "asymmetry"):
        if term in std:
            new[f"std_{term}"] = to_cells(std[term], info, shape)
            new[f"std_{term}_pooled"] = xr.DataArray(_flat(_size_mean(std[term], sizes), shape), dims=("chain", "draw"))
    exp = default_experience(info)
    snl = chunked(satisfied_not_loyal_share, dr, exp)
    new["satisfied_not_loyal"] = to_cells(snl, info, shape)
    new["satisfied_not_loyal"].attrs["experience"] = exp
    new["satisfied_not_loyal_pooled"] = xr.DataArray(_flat(_size_mean(snl, sizes), shape), dims=("chain", "draw"))
    if info.outcomes:
        new["outcome_effect"] = _outcome_effects(dr, ds, iL, shape)
    post["posterior"] = post["posterior"].dataset.assign(new)
    return post


def _outcome_effects(dr: Draws, ds: xr.Dataset, iL: int, shape: tuple[int, int]) -> xr.DataArray:
    """Slope per SD of the linked latent over all respondents (log-odds per SD for 0/1 outcomes)."""
    info = dr.info
    slope = ds["outcome_slope"].to_numpy().reshape(dr.n, -1)
    w = info.cell_sizes / info.cell_sizes.sum()
    out = np.zeros_like(slope)
    for k, o in enumerate(info.outcomes):
        j = info.index(o["latent"])
        if j == iL:
            sd = chunked(pooled_loyalty_sd, dr)
        else:
            m, v = dr.mats["mean"][..., j], dr.mats["cov"][..., j, j]
            grand = m @ w
            sd = np.sqrt((v + (m - grand[:, None]) ** 2) @ w)
        out[:, k] = slope[:, k] * sd
    return xr.DataArray(
        _flat(out, shape), dims=("chain", "draw", "outcome"), coords={"outcome": [o["name"] for o in info.outcomes]}
    )
