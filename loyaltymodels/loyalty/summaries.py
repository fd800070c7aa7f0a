"""Tables of a fitted loyalty model: drivers' weights, behaviour, where to invest, imbalance,
satisfied-but-not-loyal customers.

Every table is read from the posterior alone (the standardized quantities that
:func:`~loyaltymodels.loyalty.derived.add_derived` stored, or the draws rebuilt by
:class:`~loyaltymodels.loyalty.draws.Draws`), so a posterior saved with ``to_netcdf`` and read back
gives the same tables. Intervals are equal-tailed with mass :data:`loyaltymodels.defaults.CI_POSTERIOR`
(0.90), as everywhere in the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import DataError, SpecError
from .draws import Draws, LoyaltyInfo, chunked, driver_points, loyalty_mean_at, loyalty_moments, qmc_normal
from .likelihood import gh_rule

__all__ = ["driver_weights", "outcome_effects", "invest_where", "balance_effects", "satisfied_not_loyal", "POOLED"]

#: Label of the rows that summarise all sectors at once.
POOLED = "pooled"


def _interval(x: np.ndarray, axis: int = 0, mass: float = CI_POSTERIOR) -> dict[str, np.ndarray]:
    a = (1 - mass) / 2
    return {
        "mean": x.mean(axis),
        "sd": x.std(axis, ddof=1),
        "ci_lower": np.quantile(x, a, axis=axis),
        "ci_upper": np.quantile(x, 1 - a, axis=axis),
    }


def _draws(da: xr.DataArray) -> np.ndarray:
    """``(chain, draw, ...)`` -> ``(D, ...)``."""
    v = da.to_numpy()
    return v.reshape(-1, *v.shape[2:])


def _posterior(post: xr.DataTree) -> xr.Dataset:
    if "posterior" not in post.children or "loyalty" not in post.attrs:
        raise DataError(
            "this is not a posterior from lm.fit_loyalty (no 'loyalty' attribute); fit the model "
            "with lm.fit_loyalty(...) or load a saved one with xr.open_datatree(path)"
        )
    return post["posterior"].dataset


def _by_sector(post: xr.DataTree, name: str, info: LoyaltyInfo) -> np.ndarray:
    """``(D, S, ...)``: a per-cell quantity per sector (segments averaged by cell size)."""
    ds = _posterior(post)
    if info.segments and f"{name}_sector" in ds:
        return _draws(ds[f"{name}_sector"])
    x = _draws(ds[name])
    if not info.segments:
        return x
    sizes = np.zeros((len(info.sectors), len(info.segments)))
    sizes[info.cell_sector, info.cell_segment] = info.cell_sizes
    w = sizes / sizes.sum(1, keepdims=True)
    return np.einsum("dsh...,sh->ds...", np.nan_to_num(x), w)


def driver_weights(post: xr.DataTree, *, scale: str = "standardized", mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """Weights of the drivers of loyalty, per sector and pooled, standardized or raw.

    ``scale="standardized"``: the std_all coefficient of ``loyalty ~ driver`` in the sector (latent
    variances 1, as ``fit_sem(...).parameters.std_all``), for comparing drivers *within* a sector:
    it moves with the sector's spread of drivers and loyalty. ``scale="raw"``: the weight in the
    metric the shared loadings fix (loyalty units per driver unit, the same units in every
    sector), for comparing sectors (:func:`loyaltymodels.sector_contrasts`). ``prob_largest`` is
    the posterior probability that the driver has the largest weight in that sector. ``pooled``
    rows hold the hierarchical mean weight (a typical sector); with segments, ``pooled`` rows with
    the ``segment`` column set hold each segment's, and sector rows average the sector's segments
    by size.

    Returns
    -------
    DataFrame
        ``sector, driver, mean, sd, ci_lower, ci_upper, prob_largest`` (and ``segment``).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1)  # doctest: +SKIP
    >>> lm.driver_weights(post).columns.tolist()  # doctest: +SKIP
    ['sector', 'driver', 'mean', 'sd', 'ci_lower', 'ci_upper', 'prob_largest', 'segment']
    """
    ds, info = _posterior(post), LoyaltyInfo.from_post(post)
    if scale not in ("standardized", "raw"):
        raise SpecError(f"driver_weights(scale={scale!r}): choose 'standardized' or 'raw'")
    blocks: list[tuple[list[str], list[str | None], np.ndarray]] = [
        (list(info.sectors), [None] * len(info.sectors), _by_sector(post, "std_weight", info)),
        ([POOLED], [None], _draws(ds["std_weight_pooled"])[:, None, :]),
    ]
    if info.segments:
        blocks.append(([POOLED] * len(info.segments), list(info.segments), _draws(ds["std_weight_segment"])))
    if scale == "raw":
        from .sectors import raw_blocks

        blocks = raw_blocks(post, info)
    rows = []
    for sectors, segments, x in blocks:  # x: (D, rows, K)
        largest = (x == x.max(-1, keepdims=True)).mean(0)
        stats = _interval(x, 0, mass)
        for r, (s, g) in enumerate(zip(sectors, segments)):
            for k, d in enumerate(info.drivers):
                rows.append(
                    {
                        "sector": s,
                        "driver": d,
                        **{c: float(v[r, k]) for c, v in stats.items()},
                        "prob_largest": float(largest[r, k]),
                        "segment": g,
                    }
                )
    out = pd.DataFrame(rows)
    out = out if info.segments else out.drop(columns="segment")
    out.attrs.update(scale=scale, invariance=str(post.attrs.get("invariance", "scalar")))
    return labelled_interval(out, mass)


def outcome_effects(post: xr.DataTree, *, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """Effect of one standard deviation of latent loyalty (over all respondents) on each behaviour
    outcome: log-odds for 0/1 outcomes, the ordered-logit scale for ratings.

    Returns
    -------
    DataFrame
        ``outcome, mean, sd, ci_lower, ci_upper`` and ``kind``, ``latent``, ``prob_positive``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, outcomes={"churn": -1.2}, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", outcomes={"churn": "churn"},
    ...                       seed=1)  # doctest: +SKIP
    >>> lm.outcome_effects(post)  # doctest: +SKIP
    """
    ds, info = _posterior(post), LoyaltyInfo.from_post(post)
    if not info.outcomes:
        raise SpecError(
            "the model was fitted without behaviour outcomes; refit with outcomes={'churn': 'churn_column', ...}"
        )
    x = _draws(ds["outcome_effect"])
    stats = _interval(x, 0, mass)
    return labelled_interval(
        pd.DataFrame(
            [
                {
                    "outcome": o["name"],
                    **{c: float(v[k]) for c, v in stats.items()},
                    "kind": o["kind"],
                    "latent": o["latent"],
                    "prob_positive": float((x[:, k] > 0).mean()),
                }
                for k, o in enumerate(info.outcomes)
            ]
        ),
        mass,
    )


def _sector_weights_of(info: LoyaltyInfo) -> np.ndarray:
    """``(S + 1, G)``: weights turning per-cell values into per-sector (size-weighted) and pooled."""
    w = np.zeros((len(info.sectors) + 1, len(info.cells)))
    for g, s in enumerate(info.cell_sector):
        w[s, g] = info.cell_sizes[g]
    w[-1] = info.cell_sizes
    return w / w.sum(1, keepdims=True)


def _outcome_mean(o: dict, extra: dict, lat: np.ndarray) -> np.ndarray:
    """Expected outcome (probability of 1, or mean rating) at latent values ``lat (D, ...)``."""
    names = [p["name"] for p in extra["_outcomes"]]
    slope = extra["outcome_slope"][:, names.index(o["name"])]
    b = slope.reshape(-1, *([1] * (lat.ndim - 1)))
    if o["kind"] == "binary":
        binary = [p["name"] for p in extra["_outcomes"] if p["kind"] == "binary"]
        a = extra["outcome_intercept"][:, binary.index(o["name"])].reshape(b.shape)
        return 1 / (1 + np.exp(-(a + b * lat)))
    cuts = extra[f"cuts_{o['name']}"]  # (D, C)
    cum = 1 / (
        1 + np.exp(-(cuts.reshape(cuts.shape[:1] + (1,) * (lat.ndim - 1) + cuts.shape[1:]) - (b * lat)[..., None]))
    )
    probs = np.diff(np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum, np.ones(cum.shape[:-1] + (1,))], -1), axis=-1)
    return probs @ np.asarray(o["levels"])


def _invest_draws(dr: Draws, size: float, scale: str = "standardized") -> dict[str, np.ndarray]:
    """Per draw and cell ``(D, G, K)``: change of E[loyalty] and of each expected outcome when one
    driver rises by ``size``, averaged over the cell's drivers (quasi Monte Carlo points) and
    loyalty's residual (Gauss-Hermite). ``standardized``: ``size`` SDs of the driver, loyalty in
    its SDs in the cell; ``raw``: ``size`` questionnaire points on the driver's items (the latent
    rise that moves its items' mean by ``size``), loyalty in points of its items' mean."""
    from .sectors import item_units

    info = dr.info
    iL = info.index(info.loyalty)
    pts = driver_points(dr, qmc_normal(len(info.latents) - 1, 256))
    base = loyalty_mean_at(dr, pts)
    sd = np.sqrt(np.diagonal(dr.mats["cov"], axis1=-2, axis2=-1))
    _, sd_l = loyalty_moments(dr)
    resid = np.sqrt(dr.mats["psi"][..., iL, iL])[..., None, None]
    x, lw = gh_rule(9)
    out = {"loyalty": np.zeros(base.shape[:2] + (len(info.drivers),))}
    outs = [o for o in info.outcomes if o["latent"] == info.loyalty]
    extra = dict(dr.extra, _outcomes=info.outcomes)
    for o in outs:
        out[o["name"]] = np.zeros_like(out["loyalty"])
    loyalty_unit = 1 / sd_l if scale == "standardized" else item_units(dr, info.loyalty)
    for k, d in enumerate(info.drivers):
        j = info.index(d)
        moved = pts.copy()
        moved[..., j] += size * (sd[:, :, None, j] if scale == "standardized" else 1 / item_units(dr, d)[..., None])
        after = loyalty_mean_at(dr, moved)
        out["loyalty"][..., k] = (after - base).mean(-1) * loyalty_unit
        for o in outs:  # E over loyalty's residual: nodes on the last axis
            e0 = _outcome_mean(o, extra, base[..., None] + resid * x) @ np.exp(lw)
            e1 = _outcome_mean(o, extra, after[..., None] + resid * x) @ np.exp(lw)
            out[o["name"]][..., k] = (e1 - e0).mean(-1)
    return out


def invest_where(
    post: xr.DataTree,
    *,
    size: float = 1.0,
    scale: str = "raw",
    mass: float = CI_POSTERIOR,
    max_draws: int | None = 1000,
) -> pd.DataFrame:
    """Expected change in loyalty and in each behaviour outcome from raising beliefs or experience
    by ``size``, per sector and pooled.

    ``scale="raw"`` (default), in questionnaire units: ``size`` points on every item of the driver
    (the rise of the driver that moves its items' mean by ``size`` points), loyalty's change in
    points of its items' mean; the units are the same in every sector, so sectors compare
    (this needs shared loadings: a ``configural`` fit is refused). ``scale="standardized"``:
    ``size`` SDs of the driver in the sector, loyalty in its SDs in the sector. The ``unit`` and
    ``scale`` columns say which was used. 0/1 outcomes change in probability, ratings in mean
    rating. With an interaction or asymmetry the change depends on where customers stand,
    so it is averaged over the sector's customers. ``prob_best`` is the posterior probability that
    this driver gives the larger gain (the smaller, for outcomes that fall as loyalty rises, e.g.
    churn: the sign of the effect is read from the posterior).

    Returns
    -------
    DataFrame
        ``sector, driver, target, unit, scale, mean, sd, ci_lower, ci_upper, prob_best``; attrs
        ``scale`` and ``step`` (what the driver was raised by).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> post = lm.fit_loyalty(lm.loyalty_model(), lm.loyalty_scenario(200, sectors=2, seed=1)[0],
    ...                       sector="sector", seed=1)  # doctest: +SKIP
    >>> lm.invest_where(post).query("target == 'loyalty'")  # doctest: +SKIP
    """
    _posterior(post)
    if scale not in ("raw", "standardized"):
        raise SpecError(f"invest_where(scale={scale!r}): choose 'raw' (questionnaire points) or 'standardized'")
    if scale == "raw":
        from .sectors import check_metric

        check_metric(post, "invest_where(scale='raw')")
    dr = Draws.from_post(post, max_draws=max_draws)
    info = dr.info
    per_cell = chunked(_invest_draws, dr, size, scale, size=64)
    w = _sector_weights_of(info)
    labels = list(info.sectors) + [POOLED]
    units = {o["name"]: "probability" if o["kind"] == "binary" else "mean rating" for o in info.outcomes}
    units["loyalty"] = "SD of loyalty" if scale == "standardized" else "points of the loyalty items"
    rows = []
    for target, x in per_cell.items():
        by = np.einsum("dgk,sg->dsk", x, w)
        sign = 1.0 if target == "loyalty" or np.median(by) >= 0 else -1.0
        best = (sign * by == (sign * by).max(-1, keepdims=True)).mean(0)
        stats = _interval(by, 0, mass)
        for s, lab in enumerate(labels):
            for k, d in enumerate(info.drivers):
                rows.append(
                    {
                        "sector": lab,
                        "driver": d,
                        "target": target,
                        "unit": units[target],
                        "scale": scale,
                        **{c: float(v[s, k]) for c, v in stats.items()},
                        "prob_best": float(best[s, k]),
                    }
                )
    out = pd.DataFrame(rows)
    out.attrs.update(
        scale=scale, step=f"+{size:g} {'point(s) on every item' if scale == 'raw' else 'SD'} of the driver"
    )
    return labelled_interval(out, mass)


def balance_effects(post: xr.DataTree, *, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """The imbalance (beliefs x experience interaction, claim 3) and asymmetry (a shortfall of
    experience below the promise costs more than a surplus gains, claim 4) terms, standardized, per
    sector and pooled.

    ``interaction`` is the change of loyalty's SD per SD of beliefs x SD of experience (> 0: a
    mismatch costs loyalty); ``asymmetry`` is how many SDs of loyalty more a shortfall of one SD
    costs than a surplus gains (> 0: exceeding expectations adds little). See
    :func:`loyaltymodels.plot_balance` for the loyalty surface.

    Returns
    -------
    DataFrame
        ``term, sector, mean, sd, ci_lower, ci_upper, prob_positive`` (terms that were fitted).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, interaction=0.2, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", interaction=True,
    ...                       seed=1)  # doctest: +SKIP
    >>> lm.balance_effects(post)  # doctest: +SKIP
    """
    ds, info = _posterior(post), LoyaltyInfo.from_post(post)
    if not info.nonlinear:
        raise SpecError(
            "the model was fitted without interaction or asymmetry terms; refit with "
            "interaction=True and/or asymmetry=True to estimate them"
        )
    rows = []
    for term, pair in (("interaction", info.interaction), ("asymmetry", info.asymmetry)):
        if pair is None:
            continue
        x = np.column_stack([_by_sector(post, f"std_{term}", info), _draws(ds[f"std_{term}_pooled"])])
        stats = _interval(x, 0, mass)
        for s, lab in enumerate(list(info.sectors) + [POOLED]):
            rows.append(
                {
                    "term": term,
                    "sector": lab,
                    "drivers": " x ".join(pair) if term == "interaction" else f"{pair[0]} - {pair[1]}",
                    **{c: float(v[s]) for c, v in stats.items()},
                    "prob_positive": float((x[:, s] > 0).mean()),
                }
            )
    return labelled_interval(pd.DataFrame(rows), mass)


def satisfied_not_loyal(
    source: xr.DataTree | pd.DataFrame,
    *,
    mass: float = CI_POSTERIOR,
    sector: str | None = None,
    experience: str | Sequence[str] | None = None,
    loyalty: str | Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int | None = 0,
    split: str = "boxes",
    satisfied_at: float | None = None,
    loyal_at: float | None = None,
    boxes: int = 2,
) -> pd.DataFrame:
    """Share of satisfied customers who are not loyal, P(not loyal | satisfied), per sector and
    pooled, with an interval (claim 5).

    ``split="boxes"`` (default): on the questionnaire's own thresholds, so the claim can be false
    (see :mod:`loyaltymodels.loyalty.boxes`): satisfied = experience items' score at least
    ``satisfied_at``, loyal = loyalty items' score at least ``loyal_at``, both by default the
    top-``boxes`` box of the scale (``boxes=2``: top-2-box). ``split="median"``: the older
    definition (above the median of experience, below that of loyalty), which equals
    ``1/2 - asin(r)/pi`` in a linear model and so only restates a correlation.

    From a posterior: the share under each draw's latent distribution (measurement error removed),
    with ``low_image``/``high_image`` (the share among satisfied customers whose beliefs are below /
    above their cell's mean) and ``prob_high_lower`` (posterior probability that a high image lowers
    the share). From a data frame: the share of observed item means (``experience``, ``loyalty``:
    lists of columns) with a bootstrap interval; measurement error blurs both classifications.

    Returns
    -------
    DataFrame
        ``sector, mean, sd, ci_lower, ci_upper`` (the posterior or bootstrap distribution of the
        share), with ``satisfied_at``/``loyal_at`` in ``attrs`` for ``split="boxes"``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, seed=1)
    >>> t = lm.satisfied_not_loyal(data, sector="sector", experience=["exp1", "exp2", "exp3", "exp4"],
    ...                            loyalty=["loy1", "loy2", "loy3", "loy4"], n_boot=200)
    >>> t.sector.tolist()
    ['luxury', 'retail', 'pooled']
    """
    if split not in ("boxes", "median"):
        raise DataError(f"split={split!r}: use 'boxes' (the scale's thresholds) or 'median'")
    cuts = (satisfied_at, loyal_at, boxes) if split == "boxes" else None
    if isinstance(source, pd.DataFrame):
        return _observed_share(source, sector, experience, loyalty, mass, n_boot, seed, cuts)
    ds, info = _posterior(source), LoyaltyInfo.from_post(source)
    if cuts is not None:
        from .boxes import box_table
        from .derived import default_experience

        exp = default_experience(info)
        labels, bx, at = box_table(source, exp, satisfied_at, loyal_at, boxes)
        out = pd.DataFrame({"sector": labels + [POOLED], **_interval(bx["all"], 0, mass)})
        out["low_image"], out["high_image"] = np.nanmean(bx["low_image"], 0), np.nanmean(bx["high_image"], 0)
        out["prob_high_lower"] = (bx["high_image"] < bx["low_image"]).mean(0)
        out.attrs.update(at, experience=exp)
        return labelled_interval(out, mass)
    x = np.column_stack([_by_sector(source, "satisfied_not_loyal", info), _draws(ds["satisfied_not_loyal_pooled"])])
    stats = _interval(x, 0, mass)
    out = pd.DataFrame({"sector": list(info.sectors) + [POOLED], **stats})
    out.attrs["experience"] = ds["satisfied_not_loyal"].attrs.get("experience")
    return labelled_interval(out, mass)


def _observed_share(
    data: pd.DataFrame,
    sector: str | None,
    experience: str | Sequence[str] | None,
    loyalty: str | Sequence[str] | None,
    mass: float,
    n_boot: int,
    seed: int | None,
    cuts: tuple[float | None, float | None, int] | None = None,
) -> pd.DataFrame:
    if not experience or not loyalty:
        raise DataError("satisfied_not_loyal(data, ...) needs experience=[item columns] and loyalty=[item columns]")
    for col in [*experience, *loyalty, *([sector] if sector else [])]:
        if col not in data.columns:
            from ..data.validate import suggest_column

            raise DataError(
                f"the data have no column {col!r}{suggest_column(col, [str(c) for c in data.columns])}", column=col
            )
    e = data[list(experience)].apply(pd.to_numeric, errors="coerce").mean(axis=1).to_numpy()
    lo = data[list(loyalty)].apply(pd.to_numeric, errors="coerce").mean(axis=1).to_numpy()
    groups = data[sector].astype(str).to_numpy() if sector else np.full(len(data), POOLED)
    labels = list(pd.unique(groups)) + ([POOLED] if sector else [])
    rng = np.random.default_rng(seed)

    if cuts is not None:
        from .boxes import box_threshold

        tops = (np.nanmax(data[list(experience)].to_numpy(float)), np.nanmax(data[list(loyalty)].to_numpy(float)))
        at = [box_threshold(t, cuts[2]) if c is None else float(c) for c, t in zip(cuts[:2], tops, strict=True)]

    def share(ee, ll):
        if cuts is not None:
            sat = ee >= at[0]
            return float(np.mean(ll[sat] < at[1])) if sat.any() else np.nan
        # ties at the median (rating scales) count as neither satisfied nor disloyal
        sat = ee > np.nanmedian(ee)
        return float(np.mean(ll[sat] < np.nanmedian(ll))) if sat.any() else np.nan

    rows = []
    for lab in labels:
        idx = np.flatnonzero(groups == lab) if lab != POOLED or not sector else np.arange(len(data))
        boot = np.array([share(e[b], lo[b]) for b in (rng.choice(idx, len(idx)) for _ in range(n_boot))])
        st = _interval(boot[~np.isnan(boot)], 0, mass)
        rows.append({"sector": lab, **{k: float(v) for k, v in st.items()}, "estimate": share(e[idx], lo[idx])})
    return labelled_interval(pd.DataFrame(rows), mass)
