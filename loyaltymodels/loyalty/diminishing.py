"""Diminishing returns of a driver as a term of its own.

``fit_loyalty(..., diminishing=["Experience"])`` adds, for each driver named,

    c_k (X_k^2 - E[X_k^2])

to loyalty (centred in the respondent's cell, so latent means keep their meaning), with one
coefficient per driver shared by the sectors. ``c < 0`` is diminishing returns: each further SD
of the driver adds less loyalty. Why a term of its own: without it a concave driver has nowhere
to go but the other nonlinear terms, and a kink ``|E - P|`` reads it as a broken promise (issue
19: a 0.48 "asymmetry" on a truth with no gap). With the square beside the kink, the two are told
apart: a concave truth gives ``c`` credibly below 0 and no credible kink; a shortfall-only truth
on commensurate items (:mod:`loyaltymodels.loyalty.promise`) gives the kink and no ``c``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import SpecError

__all__ = ["diminishing_returns"]


def diminishing_returns(post: xr.DataTree, *, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """Each driver's curvature and its slope on either side of the typical customer.

    One row per driver and quantity, with ``mean, sd, ci_lower, ci_upper``: ``curvature`` (``c``,
    loyalty residual SDs of the reference cell per squared unit of the driver's latent metric: the
    driver's SD in the reference cell, or, for the experience factor of ``promise_pairs``, the
    promise's SD, which the paired items share), ``slope_low`` and
    ``slope_high`` (loyalty's slope in the driver, ``w + 2 c x``, at one SD below and above the
    driver's mean in the reference cell, with the sectors' common weight ``w``). ``found`` is True
    when the curvature's interval lies below 0, ``prob_negative`` its posterior probability.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(300, sectors=2, concave=0.15, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", diminishing=["Experience"])  # doctest: +SKIP
    >>> lm.diminishing_returns(post)  # doctest: +SKIP
    """
    from .draws import Draws
    from .summaries import _interval

    dr = Draws.from_post(post)
    info = dr.info
    if not info.diminishing:
        raise SpecError(
            "diminishing_returns: this posterior has no diminishing-returns term; refit with "
            "fit_loyalty(..., diminishing=['Experience']) (or name the driver)"
        )
    ds = post["posterior"].dataset
    n = ds.sizes["chain"] * ds.sizes["draw"]
    rows = []
    for k, v in enumerate(info.diminishing):
        c = dr.extra["diminishing"][:, k]
        w = ds["weight_mu"].sel(driver=v).to_numpy().reshape(n)
        i = info.index(v)
        m0, s0 = dr.mats["mean"][:, 0, i], np.sqrt(dr.mats["cov"][:, 0, i, i])
        q = {"curvature": c, "slope_low": w + 2 * c * (m0 - s0), "slope_high": w + 2 * c * (m0 + s0)}
        extra = {"prob_negative": float((c < 0).mean()), "found": bool(_interval(c, mass=mass)["ci_upper"] < 0)}
        rows += [{"driver": v, "quantity": name, **_interval(x, mass=mass), **extra} for name, x in q.items()]
    return labelled_interval(pd.DataFrame(rows), mass)
