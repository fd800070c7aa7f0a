"""A sample plan: the respondents a study needs, question by question, with the power curves behind them.

:class:`SamplePlan` is what :func:`~loyaltymodels.sample_size` returns: plain tables (one row per
question, the curves, the respondents per unit) and two views for people: :meth:`SamplePlan.plot` and
:meth:`SamplePlan.to_markdown`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .analytic import wald_power

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SamplePlan"]


@dataclass(frozen=True, eq=False)
class SamplePlan:
    """The sample a study needs, question by question.

    Attributes
    ----------
    table : DataFrame
        One row per question (target): ``target, question, kind, unit, effect, sd1, n_analytic,
        power_analytic, n_simulated, power_simulated, power_lower, power_upper, reps, agree, n``.
        ``effect`` is the difference the test looks for (standardized weights; the composite a4 of
        the congruence surface; NPS points), ``sd1`` the standard deviation one respondent adds to
        its estimate; ``n_analytic`` the analytic answer, ``power_simulated`` with its Wilson
        interval the simulated power at that ``n``, ``agree`` whether the analytic power lies in that
        interval, ``n_simulated`` the simulated curve's crossing of the goal (interpolated), ``n`` the
        recommendation (the larger of the two, rounded up to ten).
    curves : DataFrame
        Simulated and analytic power at every simulated size: ``target, n, power, power_lower,
        power_upper, reps, n_failed, power_analytic``.
    respondents : DataFrame
        ``unit, n, targets``: the sample each unit (per sector, per wave) needs, and the questions
        that set it; with sectors, a ``total`` row.
    settings : dict
        ``power, alpha, reps, seed, grid, large_n, sectors``.
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    respondents: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def plot(self, targets: Sequence[str] | None = None) -> Figure:
        """Power curves, one panel per question: simulated power with its Wilson band (points), the
        analytic curve (line), the goal and the recommended ``n``."""
        import matplotlib.pyplot as plt

        names = list(self.table.target) if targets is None else list(targets)
        cols = min(2, len(names))
        rows = math.ceil(len(names) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.6 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            row = self.table.set_index("target").loc[name]
            curve = self.curves[self.curves.target == name].sort_values("n")
            top = max([float(curve.n.max()) if len(curve) else 0.0, float(row.n) if np.isfinite(row.n) else 0.0, 10.0])
            grid = np.linspace(1, 1.3 * top, 200)
            ax.plot(
                grid,
                wald_power(row.effect, row.sd1, grid, self.settings["alpha"], sides=row.sides, factor=row.factor),
                color="grey",
                lw=1.5,
                label="analytic",
            )
            if len(curve):
                ax.fill_between(curve.n, curve.power_lower, curve.power_upper, alpha=0.25, lw=0)
                ax.plot(curve.n, curve.power, "o-", label=f"simulated ({int(curve.reps.max())} reps)")
            ax.axhline(self.settings["power"], color="black", ls="--", lw=0.8)
            if np.isfinite(row.n):
                ax.axvline(row.n, color="black", ls=":", lw=0.8)
            ax.set(title=name, xlabel=f"n ({row.unit})", ylabel="power", ylim=(0, 1.02))
            ax.legend(frameon=False, fontsize="small", loc="lower right")
        for ax in list(axes.flat)[len(names) :]:
            ax.set_visible(False)
        fig.tight_layout()
        return fig

    def to_markdown(self) -> str:
        """The plan in a few lines and a table, for a proposal or a report."""
        s = self.settings
        lines = [
            f"**Sample plan** (power {s['power']:.0%} at alpha {s['alpha']:g}; "
            f"simulation: {s['reps']} surveys per size)",
            "",
            "| question | effect | n analytic | simulated power at that n | n simulated | recommended |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.table.itertuples():
            sim = (
                f"{r.power_simulated:.2f} [{r.power_lower:.2f}, {r.power_upper:.2f}]"
                if np.isfinite(r.power_simulated)
                else "not simulated"
            )
            lines.append(
                f"| {r.question} | {r.effect:.3g} | {_n(r.n_analytic)} | {sim} | {_n(r.n_simulated)} | "
                f"{_n(r.n)} {r.unit} |"
            )
        lines.append("")
        for r in self.respondents.itertuples():
            lines.append(f"- **{r.unit}: {_n(r.n)}** respondents ({r.targets})")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()


def _n(x: float) -> str:
    return f"{int(x):,}" if np.isfinite(x) else "—"
