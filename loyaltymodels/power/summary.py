"""What a power analysis found: detection rates with Monte Carlo intervals, bias and RMSE, and the
power curves.

:func:`power_summary` turns the stored replication records (:mod:`loyaltymodels.power.store`) into
one row per target or key parameter and sample size; :func:`plot_power` draws the curves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..defaults import CI_ML, labelled_interval
from ..indices.intervals import wilson

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["power_summary", "plot_power"]


def power_summary(records: pd.DataFrame, *, ci: float = CI_ML, n_label: str = "n") -> pd.DataFrame:
    """Detection rates, Monte Carlo intervals, bias and RMSE from replication records.

    Every replication is counted: ``reps`` (all), ``n_failed`` (fit failed, did not converge or
    the target could not be evaluated), ``n_converged``. Two detection rates are given:
    ``power = detected / n_converged`` (the rate among usable fits, with the Wilson interval
    ``power_lower, power_upper``) and ``power_all = detected / reps`` (failures counted as
    non-detections: what a study that cannot refit would see). Bias, RMSE, the empirical SD and the
    mean SE use the converged replications; ``bias_mc_se`` is the Monte Carlo SE of the bias.

    Examples
    --------
    >>> rec = pd.DataFrame({"n": [50] * 4, "rep": range(4), "kind": "target", "quantity": "t",
    ...     "detected": [True, False, True, None], "converged": [True, True, True, False],
    ...     "error": ["", "", "", "ConvergenceError: ..."], "estimate": [0.3, 0.1, 0.2, np.nan],
    ...     "se": 0.1, "truth": 0.2})
    >>> s = power_summary(rec)
    >>> s[["reps", "n_failed", "power", "power_all", "bias"]].round(3).values.tolist()
    [[4.0, 1.0, 0.667, 0.5, 0.0]]
    """
    reps = records.groupby("n").rep.nunique()
    rows = []
    for (kind, quantity, n), g in records.groupby(["kind", "quantity", "n"], sort=False):
        ok = g[g.converged.astype(bool)]
        est = ok.estimate.dropna()
        truth = float(g.truth.dropna().iloc[0]) if g.truth.notna().any() else np.nan
        total = int(reps[n])
        row = {
            "kind": kind,
            "quantity": quantity,
            n_label: n,
            "reps": total,
            "n_converged": len(ok),
            "n_failed": total - len(ok),
        }
        if kind == "target":
            hits = int(ok.detected.fillna(False).astype(bool).sum())
            power = hits / len(ok) if len(ok) else np.nan
            lo, hi = _wilson(hits, len(ok), ci)
            alo, ahi = _wilson(hits, total, ci)
            row.update(
                n_detected=hits,
                power=power,
                power_lower=lo,
                power_upper=hi,
                power_all=hits / total,
                power_all_lower=alo,
                power_all_upper=ahi,
            )
        errors = g.error[g.error != ""]
        row.update(
            truth=truth,
            mean=est.mean() if len(est) else np.nan,
            bias=est.mean() - truth if len(est) else np.nan,
            bias_mc_se=est.std(ddof=1) / np.sqrt(len(est)) if len(est) > 1 else np.nan,
            rmse=float(np.sqrt(((est - truth) ** 2).mean())) if len(est) else np.nan,
            sd=est.std(ddof=1) if len(est) > 1 else np.nan,
            mean_se=ok.se.mean(),
            failure=errors.value_counts().index[0][:200] if len(errors) else "",
        )
        rows.append(row)
    cols = [
        "kind",
        "quantity",
        n_label,
        "reps",
        "n_converged",
        "n_failed",
        "n_detected",
        "power",
        "power_lower",
        "power_upper",
        "power_all",
        "power_all_lower",
        "power_all_upper",
        "truth",
        "mean",
        "bias",
        "bias_mc_se",
        "rmse",
        "sd",
        "mean_se",
        "failure",
    ]
    out = pd.DataFrame(rows, columns=cols)
    order = {"target": 0, "parameter": 1}
    out = out.sort_values(
        ["kind", "quantity", n_label], key=lambda s: s.map(order) if s.name == "kind" else s, kind="stable"
    ).reset_index(drop=True)
    return labelled_interval(out, ci)  # power_lower/power_upper are Wilson intervals of this mass


def _wilson(hits: int, total: int, ci: float) -> tuple[float, float]:
    if total == 0:
        return np.nan, np.nan
    lo, hi = wilson(hits / total, total, ci)
    # the closed form leaves ~1e-17 at 0 or 1 successes' ends; keep the interval around its estimate
    return float(np.minimum(lo, hits / total)), float(np.maximum(hi, hits / total))


def plot_power(
    result: pd.DataFrame,
    *,
    level: float | None = 0.8,
    nominal: float | None = None,
    targets: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Power curves: detection rate against sample size, one line per target, Wilson bands.

    ``level`` draws the planning level (0.8 by default); ``nominal`` another line (e.g. the test's
    alpha, for a target whose effect is 0). Returns the matplotlib Figure.

    Examples
    --------
    >>> res = pd.DataFrame({"kind": "target", "quantity": "t", "n": [50, 100, 200],
    ...     "power": [0.3, 0.6, 0.9], "power_lower": [0.2, 0.5, 0.85], "power_upper": [0.4, 0.7, 0.94]})
    >>> fig = plot_power(res, nominal=0.05)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:1]
    ['t']
    """
    import matplotlib.pyplot as plt

    tab = result[result["kind"] == "target"]
    n_col = next(c for c in tab.columns if c == "n" or c.startswith("n_per"))
    names = list(dict.fromkeys(tab.quantity)) if targets is None else list(targets)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        g = tab[tab.quantity == name].sort_values(n_col)
        (line,) = ax.plot(g[n_col], g.power, marker="o", label=name)
        ax.fill_between(g[n_col], g.power_lower, g.power_upper, color=line.get_color(), alpha=0.2, lw=0)
    for y, style in ((level, "--"), (nominal, ":")):
        if y is not None:
            ax.axhline(y, color="grey", ls=style, lw=1)
    ax.set(xlabel=n_col.replace("_", " "), ylabel="detection rate", ylim=(0, 1.02))
    ax.legend(frameon=False, fontsize="small")
    return ax.figure
