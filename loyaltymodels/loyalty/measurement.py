"""Measurement invariance across the loyalty model's cells: the levels, and approximate invariance.

A level says which measurement parameters are shared by every cell (sector x segment) and, with
``std_lv``, how the latents are identified (lavaan's multigroup defaults):

``configural``   loadings and intercepts free by cell; every cell's latents have variance 1 and
                 mean 0, so a weight is a standardized one *within* its cell and weights cannot
                 be compared across sectors.
``metric``       loadings equal: latent variances free beyond the first cell, so weights share
                 the first cell's metric and can be compared; intercepts free, latent means 0.
``scalar``       loadings and intercepts equal (the default): latent means free too.
``approximate``  as ``scalar`` for the latents, but every cell gets its own loadings and
                 intercepts, held near the cells' mean by small-variance priors
                 ``x_g ~ normal(mean_g' x_g', wiggle_sd)`` (blavaan's ``wiggle`` on
                 ``"loadings", "intercepts"`` with ``wiggle.sd``, default 0.1 as blavaan's), added
                 to the parameters' ordinary vague priors: an item that a sector reads differently
                 moves away from the others instead of biasing the latents.

A sequence of lavaan ``group.equal`` classes is accepted as before (``("loadings",)`` is metric).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError

__all__ = ["LEVELS", "WIGGLE_SD", "invariance_options", "level_of", "wiggle_rows", "wiggle_logp"]

#: The invariance levels, weakest first, with the ``group.equal`` classes each shares.
LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "approximate": ("loadings", "intercepts"),
}
#: blavaan's default ``wiggle.sd``.
WIGGLE_SD = 0.1
#: The classes the levels speak of; other classes may be added to a sequence freely.
_MEASUREMENT = ("loadings", "intercepts")


def level_of(invariance: str | Sequence[str]) -> str:
    """The level named, or implied by a sequence of ``group.equal`` classes ("custom" otherwise).

    Examples
    --------
    >>> level_of("metric"), level_of(("loadings", "intercepts")), level_of(("intercepts",))
    ('metric', 'scalar', 'custom')
    """
    if isinstance(invariance, str):
        if invariance not in LEVELS:
            raise SpecError(
                f"invariance={invariance!r}: choose one of {', '.join(map(repr, LEVELS))} "
                "(or a sequence of lavaan group.equal classes such as ('loadings', 'intercepts'))"
            )
        return invariance
    shared = tuple(c for c in _MEASUREMENT if c in invariance)
    for name, classes in LEVELS.items():
        if name != "approximate" and shared == classes:
            return name
    return "custom"


def invariance_options(
    invariance: str | Sequence[str], loadings: Sequence[tuple[str, str]], items: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(group_equal, group_partial)`` for the spec: ``approximate`` shares loadings and intercepts
    for the latents' identification, then exempts every one of them (``loadings``: the model's
    ``(latent, item)`` pairs; ``items``: its observed variables).

    Examples
    --------
    >>> invariance_options("approximate", [("F", "x1"), ("F", "x2")], ["x1", "x2"])
    (('loadings', 'intercepts'), ('F=~x1', 'F=~x2', 'x1~1', 'x2~1'))
    """
    if not isinstance(invariance, str):
        return tuple(invariance), ()
    level = level_of(invariance)
    if level != "approximate":
        return LEVELS[level], ()
    return LEVELS[level], (*(f"{f}=~{v}" for f, v in loadings), *(f"{v}~1" for v in items))


def wiggle_rows(table: pd.DataFrame, observed: Sequence[str]) -> np.ndarray:
    """``(n, G)`` table rows of each free loading and item intercept, one column per group (the
    parameters that approximate invariance holds near their cells' mean)."""
    t = table.reset_index(drop=True)
    t = t[t.group > 0]
    free = t[t.free.astype(bool)]
    keep = free[(free.op == "=~") | ((free.op == "~1") & free.lhs.isin(list(observed)))]
    G = int(t.group.max())
    out = []
    for (_lhs, _op, _rhs), rows in keep.groupby(["lhs", "op", "rhs"], sort=False):
        if len(rows) == G and rows.par.nunique() == G:
            out.append(rows.sort_values("group").index.to_numpy())
    return np.asarray(out, int).reshape(-1, G)


def wiggle_logp(rows: Any, index: np.ndarray, sd: float, xp: Any = np) -> Any:
    """The small-variance priors' log density: every ``rows[index[i, g]]`` normal around the mean
    of its row ``i`` with SD ``sd`` (positions in ``rows``' last axis)."""
    if not index.size:
        return 0.0
    x = rows[..., index]
    dev = x - x.mean(axis=-1, keepdims=True)
    const = -0.5 * math.log(2 * math.pi) - math.log(sd)
    return xp.sum(-0.5 * (dev / sd) ** 2 + const, axis=(-2, -1))


def check_wiggle_sd(wiggle_sd: float) -> float:
    """``wiggle_sd`` as a positive float (blavaan refuses 0 too)."""
    try:
        sd = float(wiggle_sd)
    except (TypeError, ValueError):
        sd = math.nan
    if not (sd > 0 and math.isfinite(sd)):
        raise SpecError(f"wiggle_sd={wiggle_sd!r}: give a positive SD (blavaan's default is {WIGGLE_SD})")
    return sd
