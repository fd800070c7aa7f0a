"""A latent construct's posterior mean, rescaled to an index, to report next to the survey indices.

Reads the posterior layout of :mod:`loyaltymodels.spec.layout`: the variable ``param`` with dims
``(chain, draw, parameter)`` and the coordinates ``lhs, op, rhs, group`` along ``parameter``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..defaults import CI_ML, labelled_interval
from ..errors import ArgumentError, DataError
from . import intervals as iv

__all__ = ["latent_index"]


def _range(value: Any, what: str) -> tuple[float, float]:
    if isinstance(value, str):
        parts = value.replace(" ", "").split("-")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            value = (int(parts[0]), int(parts[1]))
    if not (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Real) for v in value)
        and value[0] < value[1]
    ):
        raise ArgumentError(f"latent_index: {what} must be (low, high) with low < high; got {value!r}")
    return float(value[0]), float(value[1])


def _items_scale(post: Any, items_scale: Any) -> tuple[float, float]:
    if items_scale is None:
        for node in (
            post,
            post["observed_data"] if isinstance(post, xr.DataTree) and "observed_data" in post.children else None,
        ):
            if node is not None and node.attrs.get("items_scale") is not None:
                items_scale = node.attrs["items_scale"]
                break
        else:
            # the observed minimum and maximum are not the response range, so they are not used
            raise ArgumentError(
                "latent_index: the items' response range is unknown; pass "
                "items_scale=(lowest, highest answer), e.g. items_scale=(0, 10)"
            )
    return _range(items_scale, "items_scale")


def _one(mask: np.ndarray, what: str, group: int) -> int | None:
    hits = np.flatnonzero(mask)
    if hits.size > 1:
        raise DataError(
            f"latent_index: {hits.size} posterior rows for {what} in group {group}; expected one per group", value=what
        )
    return int(hits[0]) if hits.size else None


def latent_index(
    post: xr.DataTree | xr.Dataset,
    latent: str,
    scale: tuple[float, float] = (0, 100),
    items_scale: tuple[float, float] | str | None = None,
    ci: float = CI_ML,
    *,
    var_name: str = "param",
) -> pd.DataFrame:
    """Posterior of a latent construct's mean, as an index on ``scale``, per group.

    For latent ``L`` in group ``g``, each draw gives the model-implied mean of every indicator
    ``j`` of ``L``, ``nu_j + lambda_j * alpha_L`` (intercept, loading, latent mean; a latent mean
    absent from the posterior is the usual identification constraint ``alpha_L = 0``). The
    index is their average, mapped linearly from the items' response range ``items_scale`` to
    ``scale``: with items on 0-10 and ``scale=(0, 100)``, an implied item mean of 7.5 is 75.

    Parameters
    ----------
    post : xarray.DataTree or xarray.Dataset
        Posterior draws laid out as in :mod:`loyaltymodels.spec.layout` (the ``posterior`` group of
        a DataTree, or that group's Dataset).
    latent : str
        Name of the latent construct (the left side of its ``=~`` rows).
    scale : (float, float)
        Range of the index (0-100 by default, the range of the NPS shares and the CLI).
    items_scale : (float, float) or str, optional
        Response range of the indicators (e.g. ``(0, 10)``). By default read from the attribute
        ``items_scale`` of ``post`` or of its ``observed_data`` group; never guessed from the
        observed minimum and maximum.
    ci : float
        Mass of the equal-tailed credible interval.
    var_name : str
        Name of the posterior variable with the ``parameter`` dim.

    Returns
    -------
    DataFrame
        One row per group: ``latent``, ``group``, ``estimate`` (posterior mean), ``sd``
        (posterior sd), ``ci_lower``, ``ci_upper`` (equal-tailed, as ``arviz_stats.eti``), ``ci``,
        ``method`` (``"posterior"``), ``n_draws``.

    Examples
    --------
    Two indicators on 0-10 with intercepts 6 and 8 and latent mean 0: the index is 70 in every
    draw. (lavaan equivalent: the model-implied means, ``fitted(fit)$mean``, averaged.)

    >>> import numpy as np, xarray as xr
    >>> rows = [("Loyalty", "=~", "y1"), ("Loyalty", "=~", "y2"), ("y1", "~1", ""), ("y2", "~1", "")]
    >>> draws = np.tile([1.0, 0.8, 6.0, 8.0], (2, 5, 1))        # (chain, draw, parameter)
    >>> param = xr.DataArray(draws, dims=("chain", "draw", "parameter"), coords={
    ...     "parameter": ["Loyalty=~y1", "Loyalty=~y2", "y1~1", "y2~1"],
    ...     "lhs": ("parameter", [r[0] for r in rows]), "op": ("parameter", [r[1] for r in rows]),
    ...     "rhs": ("parameter", [r[2] for r in rows]), "group": ("parameter", [1, 1, 1, 1])})
    >>> post = xr.DataTree.from_dict({"posterior": xr.Dataset({"param": param})})
    >>> latent_index(post, "Loyalty", items_scale=(0, 10))[["group", "estimate", "ci_lower", "n_draws"]]
       group  estimate  ci_lower  n_draws
    0      1      70.0      70.0       10
    """
    iv.check_ci(ci)
    s_lo, s_hi = _range(scale, "scale")
    i_lo, i_hi = _items_scale(post, items_scale)
    if isinstance(post, xr.DataTree):
        if "posterior" not in post.children:
            raise DataError(
                "latent_index: post has no 'posterior' group (expected posterior draws "
                "laid out as in loyaltymodels.spec.layout)"
            )
        ds = post["posterior"].to_dataset()
    elif isinstance(post, xr.Dataset):
        ds = post
    else:
        raise ArgumentError(f"latent_index: post must be an xarray DataTree or Dataset; got {type(post).__name__}")
    if var_name not in ds.data_vars:
        raise DataError(
            f"latent_index: no variable {var_name!r} in the posterior (variables: {list(ds.data_vars)})",
            column=var_name,
        )
    param = ds[var_name].transpose("chain", "draw", "parameter")
    lhs, op, rhs = (np.asarray(param[c].values, dtype=object) for c in ("lhs", "op", "rhs"))
    group = np.asarray(param["group"].values).astype(int)
    loads = (op == "=~") & (lhs == latent)
    if not loads.any():
        known = sorted(set(lhs[op == "=~"]))
        raise DataError(
            f"latent_index: no indicators of {latent!r} (=~ rows) in the posterior; latent constructs: {known}",
            value=latent,
        )
    values = param.values
    rows = []
    for g in sorted(set(group[loads])):
        implied = []
        alpha_at = _one((lhs == latent) & (op == "~1") & (group == g), f"{latent}~1", g)
        alpha = 0.0 if alpha_at is None else values[:, :, alpha_at]
        for j in np.flatnonzero(loads & (group == g)):
            nu_at = _one((lhs == rhs[j]) & (op == "~1") & (group == g), f"{rhs[j]}~1", g)
            if nu_at is None:
                raise DataError(
                    f"latent_index: no intercept of indicator {rhs[j]!r} in group {g} "
                    "in the posterior; the model needs a mean structure (intercepts) "
                    "for an index on the response scale",
                    value=f"{rhs[j]}~1",
                )
            implied.append(values[:, :, nu_at] + values[:, :, j] * alpha)
        index = (np.mean(implied, axis=0) - i_lo) / (i_hi - i_lo) * (s_hi - s_lo) + s_lo
        lo, hi = iv.equal_tailed(index.ravel(), ci)
        rows.append(
            {
                "latent": latent,
                "group": g,
                "estimate": float(index.mean()),
                "sd": float(index.std(ddof=1)),
                "ci_lower": float(lo),
                "ci_upper": float(hi),
                "ci": ci,
                "method": "posterior",
                "n_draws": index.size,
            }
        )
    return labelled_interval(pd.DataFrame(rows), ci)
