"""Satisfied but not loyal on the questionnaire's own thresholds (claim 5, falsifiable).

A customer is *satisfied* when the true score of the experience items (the items' mean rating
without measurement error, ``mean_j(nu_j + lambda_j * Experience)``) reaches ``satisfied_at`` on
the rating scale, and *loyal* when that of the loyalty items reaches ``loyal_at``; by default both
are the top-2 box: a true score that rounds into the scale's two highest points (``max - 1.5``,
``max`` the highest rating observed on the construct's items). Median splits made the share
``1/2 - asin(r)/pi``, positive for any correlation below 1; on absolute thresholds the share is 0
whenever every satisfied customer is loyal, so the claim can be false.

The share is ``P(loyalty score < loyal_at | experience score >= satisfied_at)`` under each draw's
latent distribution of each cell, by quasi Monte Carlo over the drivers with loyalty's normal
residual integrated analytically; it is also given among satisfied customers of low and high
image (beliefs below and above their cell's mean).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import ndtr

from ..algebra.matrices import ram_layout
from ..bayes.draws import model_spec
from ..errors import DataError
from .draws import Draws, driver_points, loyalty_mean_at

__all__ = ["box_threshold", "true_score", "not_loyal_shares"]


def box_threshold(scale_max: float, boxes: int = 2) -> float:
    """The true score that rounds into the top ``boxes`` points of a scale ending at ``scale_max``.

    Examples
    --------
    >>> box_threshold(5)
    3.5
    >>> box_threshold(10, boxes=3)
    7.5
    """
    if boxes < 1:
        raise DataError(f"boxes={boxes!r}: give the number of top scale points that count (1, 2, 3, ...)")
    return float(scale_max) - boxes + 0.5


def true_score(dr: Draws, latent: str, items: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Intercept and slope ``(D, G)`` of the mean of ``items`` on ``latent``: the construct's
    true score on the rating scale is ``a + c * latent``."""
    k = dr.info.index(latent)
    return dr.mats["nu"][..., items].mean(-1), dr.mats["lam"][..., items, k].mean(-1)


def construct_items(post: xr.DataTree, latent: str) -> tuple[list[int], float]:
    """Positions of ``latent``'s indicators among the observed items, and the highest rating
    observed on them (the scale's top, for the default thresholds)."""
    spec = model_spec(post)
    observed = list(ram_layout(spec).observed)
    names = [str(r.rhs) for r in spec.table.itertuples() if r.op == "=~" and r.lhs == latent]
    items = [observed.index(n) for n in names if n in observed]
    if not items:
        raise DataError(f"the latent {latent!r} has no indicators in this posterior's model")
    top = np.nan
    if "observed_data" in post.children and "y" in post["observed_data"].data_vars:
        y = post["observed_data"]["y"]
        top = float(np.nanmax(y.sel(item=names).to_numpy())) if "item" in y.coords else np.nan
    return items, top


def not_loyal_shares(
    dr: Draws,
    experience: str,
    beliefs: str | None,
    exp_items: list[int],
    loy_items: list[int],
    satisfied_at: float,
    loyal_at: float,
) -> np.ndarray:
    """``(D, G, 3)``: P(not loyal | satisfied) in every cell, among all satisfied customers, those
    of low image and those of high image (NaN where no point of the cell is satisfied)."""
    info = dr.info
    iL, iE = info.index(info.loyalty), info.index(experience)
    pts = driver_points(dr)
    mu = loyalty_mean_at(dr, pts)
    s = np.sqrt(dr.mats["psi"][..., iL, iL])[..., None]
    ae, ce = true_score(dr, experience, exp_items)
    al, cl = true_score(dr, info.loyalty, loy_items)
    sat = (ae[..., None] + ce[..., None] * pts[..., iE]) >= satisfied_at
    # loyalty's true score al + cl L < loyal_at  <=>  L below (loyal_at - al) / cl when cl > 0
    cut = (loyal_at - al) / cl
    p_not = ndtr((cut[..., None] - mu) / s)
    p_not = np.where(cl[..., None] > 0, p_not, 1 - p_not)
    groups = [sat]
    if beliefs is not None:
        iB = info.index(beliefs)
        low = pts[..., iB] < dr.mats["mean"][..., None, iB]
        groups += [sat & low, sat & ~low]
    else:
        groups += [np.zeros_like(sat), np.zeros_like(sat)]
    out = []
    for g in groups:
        n = g.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(n > 0, (p_not * g).sum(-1) / np.maximum(n, 1), np.nan))
    return np.stack(out, -1)


def box_table(
    post: xr.DataTree,
    experience: str,
    satisfied_at: float | None,
    loyal_at: float | None,
    boxes: int,
) -> tuple[list[str], dict[str, np.ndarray], dict[str, float]]:
    """Per sector and pooled ``(D, S + 1)`` draws of the share among all satisfied, low-image and
    high-image customers; cells are weighted by their size times their share of satisfied
    customers, so the pooled row is the share among all satisfied customers."""
    from .draws import chunked

    dr = Draws.from_post(post)
    info = dr.info
    exp_items, exp_top = construct_items(post, experience)
    loy_items, loy_top = construct_items(post, info.loyalty)
    for name, given, top in (("satisfied_at", satisfied_at, exp_top), ("loyal_at", loyal_at, loy_top)):
        if given is None and not np.isfinite(top):
            raise DataError(
                f"{name}: this posterior has no observed ratings to find the scale's top; give {name}= "
                "(a rating on the questionnaire's scale)"
            )
    sat_at = box_threshold(exp_top, boxes) if satisfied_at is None else float(satisfied_at)
    loy_at = box_threshold(loy_top, boxes) if loyal_at is None else float(loyal_at)
    others = [d for d in info.drivers if d != experience]
    beliefs = others[0] if others else None

    def both(d: Draws) -> tuple[np.ndarray, np.ndarray]:
        share = not_loyal_shares(d, experience, beliefs, exp_items, loy_items, sat_at, loy_at)
        iE = info.index(experience)
        ae, ce = true_score(d, experience, exp_items)
        m, sd = d.mats["mean"][..., iE], np.sqrt(d.mats["cov"][..., iE, iE])
        # P(satisfied) in the cell, exactly (the experience latent is normal)
        z = (sat_at - ae - ce * m) / (np.abs(ce) * sd)
        p_sat = np.where(ce > 0, 1 - ndtr(z), ndtr(z))
        return share, p_sat

    share, p_sat = chunked(both, dr)
    sizes = info.cell_sizes.astype(float)
    out = {}
    for k, key in enumerate(("all", "low_image", "high_image")):
        cols = []
        for s in range(len(info.sectors)):
            cells = info.cell_sector == s
            cols.append(_weighted(share[:, cells, k], p_sat[:, cells] * sizes[cells]))
        cols.append(_weighted(share[:, :, k], p_sat * sizes))
        out[key] = np.column_stack(cols)
    return list(info.sectors), out, {"satisfied_at": sat_at, "loyal_at": loy_at}


def _weighted(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    w = np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(ok, x, 0.0) * w).sum(-1) / w.sum(-1)
