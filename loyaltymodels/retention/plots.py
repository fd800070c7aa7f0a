"""Plots of a retention posterior: survival curves with bands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .summaries import survival_curves

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes


def plot_survival_curves(
    post: xr.DataTree,
    factor: str | None = None,
    *,
    levels: Sequence[float] = (-1.0, 0.0, 1.0),
    sector: str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Survival by period after the survey at levels of a latent (or population-averaged), with bands.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(60, sectors=2, follow_up=6, seed=2)
    >>> post = lm.fit_retention(truth.attrs["model"], data, sector="sector", tenure="tenure",
    ...                         draws=100, tune=150, chains=2, seed=1, check=False)  # doctest: +SKIP
    >>> ax = lm.plot_survival_curves(post, "Experience", sector="retail")  # doctest: +SKIP
    >>> len(ax.lines)  # doctest: +SKIP
    3
    """
    import matplotlib.pyplot as plt

    table = survival_curves(post, factor, levels=levels, sector=sector, **kwargs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for (sec, level), g in table.groupby(["sector", "level"], dropna=False, sort=False):
        label = f"{sec}" + ("" if factor is None else f", {factor} {level:+g} SD")
        (line,) = ax.step(g.period, g.survival, where="post", label=label)
        ax.fill_between(g.period, g.ci_lower, g.ci_upper, step="post", alpha=0.2, color=line.get_color())
    ax.set_xlabel("periods after the survey")
    ax.set_ylabel("share still a customer")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small")
    return ax
