"""Path diagrams of fitted SEMs with matplotlib (no graphviz needed): latents as ellipses,
observed variables as boxes, one-headed arrows for loadings and regressions labelled with their
estimates (standardized by default), curved two-headed arrows for covariances.

Layout: structural variables in layers from left to right (exogenous first, by the longest
chain of regressions); each latent's indicators fan out away from the structural paths
(left of the first layer, right of the last, above or below in between).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArgumentError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..spec.model import ModelSpec
    from .fit import SemFit

_BOX_W, _BOX_H = 0.9, 0.45
_ELL_W, _ELL_H = 1.5, 0.75
# Inches per unit of the layout: the figure is sized at least this, so a label's width in points
# gives its width in layout units, and each box or ellipse is drawn as wide as its name needs.
_INCH_PER_UNIT = 1.1


def _node_width(name: str, latent: bool) -> float:
    """A node's width: the default, or its name's rendered width plus a margin when the name is longer."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(size=9, weight="bold" if latent else "normal")
    points, _, _ = TextToPath().get_text_width_height_descent(name, font, ismath=False)
    need = points / 72 / _INCH_PER_UNIT * 1.15 + 0.15
    # an ellipse is narrower than its width above and below its centre: its text needs ~1.3x room
    return max(_ELL_W if latent else _BOX_W, need * (1.3 if latent else 1.0))


def _layers(spec: ModelSpec) -> dict[str, int]:
    t = spec.table
    edges = [(r, l) for l, o, r in zip(t.lhs, t.op, t.rhs) if o == "~"]
    nodes = list(dict.fromkeys(list(spec.latents) + [v for e in edges for v in e]))
    layer = {v: 0 for v in nodes}
    for _ in range(len(nodes)):  # longest path from an exogenous variable
        changed = False
        for a, b in edges:
            if layer[b] < layer[a] + 1:
                layer[b], changed = layer[a] + 1, True
        if not changed:
            break
    return layer


def _positions(spec: ModelSpec) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    layer = _layers(spec)
    indicators = defaultdict(list)
    for l, o, r, g in zip(spec.table.lhs, spec.table.op, spec.table.rhs, spec.table.group):
        if o == "=~" and g == 1 and r not in spec.latents:
            indicators[l].append(r)
    nlayers = max(layer.values(), default=0) + 1
    by_layer: dict[int, list[str]] = defaultdict(list)
    for v, k in layer.items():
        by_layer[k].append(v)
    max_ind = max((len(v) for v in indicators.values()), default=1)
    dx = 4.5 if nlayers > 1 else max(3.0, max_ind * 1.1)
    pos, side = {}, {}
    if nlayers == 1:  # a CFA: factors in a row, indicators below, covariances arching above
        width = max([2.5] + [len(v) * _row_step(v) + 0.6 for v in indicators.values()])
        for i, v in enumerate(by_layer[0]):
            pos[v], side[v] = (i * width, 0.0), "down"
        by_layer = {}
    for k, nodes in by_layer.items():
        gap = max(2.6, 1.0 + 0.6 * max((len(indicators[v]) for v in nodes), default=1))
        for i, v in enumerate(nodes):
            # odd layers sit higher, so an arrow that skips a layer passes beside its nodes
            y = (len(nodes) - 1) / 2 * gap - i * gap + (1.4 if k % 2 else 0.0)
            pos[v] = (k * dx, y)
            if nlayers == 1:
                side[v] = "down"
            elif k == 0:
                side[v] = "left"
            elif k == nlayers - 1:
                side[v] = "right"
            else:
                side[v] = "up" if i == 0 else "down"
    for f, items in indicators.items():
        x0, y0 = pos[f]
        n = len(items)
        # side by side, the step grows with the widest box so long names do not overlap
        step = 0.65 if side[f] in ("left", "right") else _row_step(items)
        for j, v in enumerate(items):
            off = (j - (n - 1) / 2) * step
            pos[v] = {
                "left": (x0 - 2.3, y0 - off),
                "right": (x0 + 2.3, y0 - off),
                "up": (x0 + off, y0 + 1.9),
                "down": (x0 + off, y0 - 1.9),
            }[side[f]]
    for v in spec.observed:  # observed variables outside the measurement model
        pos.setdefault(v, (0.0, -len(pos) * 0.8))
    return pos, side


def _row_step(items: list[str]) -> float:
    """Distance between the centres of indicator boxes side by side: the widest box plus a gap."""
    return max(1.1, max(_node_width(v, False) for v in items) + 0.2)


def _edge_point(
    center: tuple[float, float], other: tuple[float, float], latent: bool, width: float | None = None
) -> tuple[float, float]:
    """Where the line from ``center`` to ``other`` leaves the node's outline (``width``: the node's)."""
    (x, y), (ox, oy) = center, other
    dx, dy = ox - x, oy - y
    if dx == dy == 0:
        return x, y
    if latent:
        a, b = (width or _ELL_W) / 2, _ELL_H / 2
        t = 1 / np.sqrt((dx / a) ** 2 + (dy / b) ** 2)
    else:
        t = min((width or _BOX_W) / 2 / abs(dx) if dx else np.inf, _BOX_H / 2 / abs(dy) if dy else np.inf)
    return x + t * dx, y + t * dy


def path_diagram(
    fit: SemFit,
    *,
    standardized: bool = True,
    group: int = 1,
    ax: Axes | None = None,
    decimals: int = 2,
    residuals: bool = False,
    title: str | None = None,
) -> Figure:
    """Draw the fitted model with its estimates.

    Parameters
    ----------
    fit : SemFit
    standardized : bool
        Label with ``std_all`` (lavaan's completely standardized solution) or with ``est``.
    group : int
        Which group of a multigroup model (1-based).
    ax : matplotlib Axes, optional
    decimals : int
    residuals : bool
        Also write residual variances under the boxes.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford
    >>> fig = lm.path_diagram(lm.fit_sem(HS_MODEL, load_holzinger_swineford()))
    >>> sorted(t.get_text() for t in fig.axes[0].texts)[:3]  # std.all, * for p < .05
    ['0.28', '0.42*', '0.46']
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch

    spec = fit.spec
    params = fit.parameters[fit.parameters.group == group]
    col = "std_all" if standardized else "est"
    pos, _ = _positions(spec)
    layer = _layers(spec)
    latents = set(spec.latents)
    width = {v: _node_width(v, v in latents) for v in pos}
    if ax is None:
        xs, ys = zip(*pos.values())
        w, h = max(xs) - min(xs) + 4, max(ys) - min(ys) + 3
        # at least _INCH_PER_UNIT inches a unit, so the nodes' widths measured in points hold
        _, ax = plt.subplots(figsize=(min(40, max(6, w * _INCH_PER_UNIT)), min(30, max(4, h * _INCH_PER_UNIT))))
    fig = ax.figure
    if not isinstance(fig, Figure):  # a SubFigure has no tight_layout
        raise ArgumentError("path_diagram draws on Axes of a Figure, not of a SubFigure")
    for v, (x, y) in pos.items():
        if v in latents:
            ax.add_patch(Ellipse((x, y), width[v], _ELL_H, fc="#dbe9f6", ec="#1f4e79", lw=1.4))
        else:
            ax.add_patch(
                FancyBboxPatch(
                    (x - width[v] / 2, y - _BOX_H / 2),
                    width[v],
                    _BOX_H,
                    boxstyle="square,pad=0",
                    fc="white",
                    ec="#333333",
                    lw=1.1,
                )
            )
        ax.annotate(
            v,
            (x, y),
            ha="center",
            va="center",
            fontsize=9,
            annotation_clip=False,
            fontweight="bold" if v in latents else "normal",
        )
    fmt = f"{{:.{decimals}f}}"
    for r in params.itertuples():
        if r.op in ("=~", "~"):
            src, dst = (r.lhs, r.rhs) if r.op == "=~" else (r.rhs, r.lhs)
            if src not in pos or dst not in pos:
                continue
            p0 = _edge_point(pos[src], pos[dst], src in latents, width[src])
            p1 = _edge_point(pos[dst], pos[src], dst in latents, width[dst])
            # a regression that skips a layer bends below the nodes it would cross
            skip = r.op == "~" and abs(layer.get(dst, 0) - layer.get(src, 0)) > 1
            rad = 0.25 if skip else 0.0
            ax.add_patch(
                FancyArrowPatch(
                    p0,
                    p1,
                    arrowstyle="-|>",
                    mutation_scale=12,
                    lw=1.1,
                    connectionstyle=f"arc3,rad={rad}",
                    color="#1f4e79" if r.op == "~" else "#555555",
                )
            )
            mx = (p0[0] + p1[0]) / 2 + rad * (p1[1] - p0[1]) / 2
            my = (p0[1] + p1[1]) / 2 - rad * (p1[0] - p0[0]) / 2
            star = "*" if np.isfinite(r.pvalue) and r.pvalue < 0.05 else ""
            ax.text(
                mx,
                my,
                fmt.format(getattr(r, col)) + star,
                fontsize=8,
                ha="center",
                va="center",
                bbox=dict(fc="white", ec="none", pad=0.5),
            )
        elif r.op == "~~" and r.lhs != r.rhs and r.lhs in pos and r.rhs in pos:
            p0, p1 = pos[r.lhs], pos[r.rhs]
            # arc3 bends to the right of p0 -> p1 for rad > 0: keep arcs above rows, left of columns
            rad = -0.35 if p0[0] < p1[0] or (p0[0] == p1[0] and p0[1] > p1[1]) else 0.35
            ax.add_patch(
                FancyArrowPatch(
                    _edge_point(p0, p1, r.lhs in latents, width[r.lhs]),
                    _edge_point(p1, p0, r.rhs in latents, width[r.rhs]),
                    arrowstyle="<|-|>",
                    connectionstyle=f"arc3,rad={rad}",
                    mutation_scale=10,
                    lw=0.9,
                    color="#8c2d04",
                    ls="--",
                )
            )
            mx, my = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
            ax.text(
                mx + rad * (p1[1] - p0[1]) / 2,
                my - rad * (p1[0] - p0[0]) / 2,
                fmt.format(getattr(r, col)),
                fontsize=8,
                color="#8c2d04",
                ha="center",
                va="center",
                bbox=dict(fc="white", ec="none", pad=0.5),
            )
        elif residuals and r.op == "~~" and r.lhs == r.rhs and r.lhs in pos and r.lhs not in latents:
            x, y = pos[r.lhs]
            ax.text(
                x,
                y - _BOX_H / 2 - 0.18,
                fmt.format(getattr(r, col)),
                fontsize=7,
                ha="center",
                va="top",
                color="#666666",
            )
    xs, ys = zip(*pos.values())
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 1.2, max(ys) + (2.2 if (params.op == "~~").any() else 1.2))
    ax.set_aspect("equal")
    ax.axis("off")
    fm = fit.fit_measures
    subtitle = (
        f"chi2({int(fm['df'])}) = {fm['chisq']:.2f}, CFI = {fm['cfi']:.3f}, "
        f"RMSEA = {fm['rmsea']:.3f}, SRMR = {fm['srmr']:.3f}"
    )
    what = "standardized (std.all)" if standardized else "unstandardized"
    ax.set_title((title + "\n" if title else "") + f"{subtitle}; {what} estimates, * p < .05", fontsize=9)
    fig.tight_layout()
    return fig
