"""Where to invest, in the questionnaire's own units: what one more point on a driver's items
(communication, service quality ...) buys in loyalty points and in behaviour, per sector.

:func:`invest_where` answers in standard deviations, the methodologist's unit; a marketing
director reads "one more point of service quality on the scale gives 0.4 points of loyalty and
2% less churn". A driver's items rise by ``points`` on average when its latent rises by
``points / mean(loadings)``; loyalty's change is read back the same way, as the average change of
its items. The change is averaged over the sector's customers (quasi Monte Carlo), so it is also
right when loyalty is a nonlinear function of its drivers (interaction, asymmetry).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import ArgumentError
from .draws import Draws, chunked
from .summaries import _interval, _invest_draws, _posterior, _sector_weights_of

#: The row of :func:`invest` over every customer (sectors weighted by their size). It is not
#: :func:`driver_weights`' ``pooled`` row, the hierarchical mean of a typical sector.
ALL_CUSTOMERS = "all customers"

__all__ = ["ALL_CUSTOMERS", "invest"]


def invest(
    post: xr.DataTree, *, points: float = 1.0, mass: float = CI_POSTERIOR, max_draws: int | None = 1000
) -> pd.DataFrame:
    """Communication or service quality? The gain from one more point on each driver, per sector.

    For each sector (and over all customers) and each driver of loyalty: the expected change in
    the loyalty items (on their own scale) and in each behaviour outcome (0/1 outcomes in
    probability, ratings in mean rating) when the driver's items rise by ``points`` on average,
    with its posterior interval and the probability that this driver is the better investment.

    Parameters
    ----------
    post : DataTree
        A posterior of :func:`fit_loyalty`.
    points : float
        The rise of the driver's items, in questionnaire points (1: one point on the scale).
    mass : float
        Mass of the equal-tailed intervals (default 90%).
    max_draws : int, optional
        Draws used (thinned evenly); None for all.

    Returns
    -------
    DataFrame
        ``sector, driver, target, unit, mean, sd, ci_lower, ci_upper, prob_best``; ``sector`` is
        :data:`ALL_CUSTOMERS` for every customer (sectors weighted by size), ``prob_best`` the
        posterior probability that this driver gives the largest gain (for an outcome that falls
        as loyalty rises, such as churn, the largest fall).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1)  # doctest: +SKIP
    >>> lm.invest(post).query("target == 'loyalty'")  # doctest: +SKIP
    """
    if isinstance(points, bool) or not isinstance(points, (int, float, np.number)) or not np.isfinite(points):
        raise ArgumentError(f"points={points!r}: give the rise of the driver's items in questionnaire points, e.g. 1")
    if points == 0:
        raise ArgumentError("points=0 compares nothing; give the rise in questionnaire points, e.g. 1")
    _posterior(post)
    dr = Draws.from_post(post, max_draws=max_draws)
    info = dr.info
    # the same computation as invest_where(scale='raw'): +points on the driver's items, loyalty in
    # points of its items' mean
    per_cell = chunked(_invest_draws, dr, float(points), "raw", size=64)
    w = _sector_weights_of(info)
    labels = list(info.sectors) + [ALL_CUSTOMERS]
    units = {o["name"]: "probability" if o["kind"] == "binary" else "mean rating" for o in info.outcomes}
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
                        "unit": "loyalty points" if target == "loyalty" else units[target],
                        **{c: float(v[s, k]) for c, v in stats.items()},
                        "prob_best": float(best[s, k]),
                    }
                )
    return labelled_interval(pd.DataFrame(rows), mass)
