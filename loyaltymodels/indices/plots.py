"""The NPS plot of a report: the shares of detractors, passives and promoters, and the NPS with its
interval, by segment and wave."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..defaults import CI_ML
from ..errors import ArgumentError
from .promoter import nps

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLOURS = {"detractors": "#d7301f", "passives": "#bdbdbd", "promoters": "#1a9850"}


def plot_nps(
    x: str,
    data: pd.DataFrame,
    *,
    segment: str | None = None,
    wave: str | None = None,
    scale: str | tuple[int, int] = "0-10",
    ci: float = CI_ML,
    **nps_args: Any,
) -> Figure:
    """Shares (stacked bars) and NPS with its interval (points), one bar and point per segment and wave.

    Parameters
    ----------
    x : str
        The column of 0-10 (or ``scale``) recommendation answers.
    data : DataFrame
        The survey.
    segment, wave : str, optional
        Columns naming each respondent's segment and survey wave; waves sit side by side in each
        segment, in the order they first appear.
    scale, ci, **nps_args
        Passed to :func:`~loyaltymodels.indices.nps` (``method``, ``weights``, ``cutoffs`` ...).

    Returns
    -------
    Figure
        Two panels: the shares in percent, and the NPS with its ``ci`` interval; the table drawn is
        in ``fig.nps_table`` (the rows of :func:`nps`, with ``segment`` and ``wave`` columns).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"reco": [10, 9, 7, 3, 10, 6], "vague": ["2025"] * 3 + ["2026"] * 3})
    >>> fig = plot_nps("reco", d, wave="vague")
    >>> fig.nps_table[["wave", "estimate"]].values.tolist()
    [['2025', 66.66666666666666], ['2026', -33.33333333333333]]
    """
    import matplotlib.pyplot as plt

    for arg, col in (("x", x), ("segment", segment), ("wave", wave)):
        if col is not None and col not in data.columns:
            raise ArgumentError(f"plot_nps: {arg}={col!r} is not a column of data (columns: {list(data.columns)})")
    keys = {"segment": segment, "wave": wave}
    groups = [k for k, c in keys.items() if c is not None]
    cells = data.groupby([keys[k] for k in groups], sort=False, observed=True) if groups else [((), data)]
    rows = []
    for key, sub in cells:
        key = key if isinstance(key, tuple) else (key,)
        table = nps(sub[x], scale=scale, ci=ci, **nps_args)
        for k, v in zip(groups, key):
            table.insert(0, k, str(v))
        rows.append(table)
    table = pd.concat(rows, ignore_index=True)
    table.attrs = rows[0].attrs
    labels = [" / ".join(str(r[k]) for k in groups) or "all" for _, r in table.iterrows()]
    y = np.arange(len(table))[::-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, max(2.5, 0.45 * len(table) + 1.2)), sharey=True)
    start = np.zeros(len(table))
    for share, colour in _COLOURS.items():
        left.barh(y, table[share], left=start, color=colour, label=share)
        for yi, s0, v in zip(y, start, table[share]):
            if v >= 8:  # a label only where it fits
                left.text(s0 + v / 2, yi, f"{v:.0f}%", ha="center", va="center", fontsize=7)
        start = start + table[share].to_numpy()
    left.set(xlim=(0, 100), xlabel="share of respondents (%)", yticks=y, yticklabels=labels)
    left.legend(fontsize=7, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    est = table["estimate"].to_numpy()
    err = [est - table["ci_lower"].to_numpy(), table["ci_upper"].to_numpy() - est]
    right.errorbar(est, y, xerr=err, fmt="o", color="black", ms=4, capsize=3)
    right.axvline(0, color="grey", lw=0.8, ls=":")
    right.set(xlim=(-100, 100), xlabel=f"NPS with {ci:.0%} interval")
    fig.suptitle(f"Net Promoter Score of {x}" + (" by " + " and ".join(groups) if groups else ""), fontsize=10)
    fig.tight_layout()
    fig.nps_table = table  # type: ignore[attr-defined]
    return fig
