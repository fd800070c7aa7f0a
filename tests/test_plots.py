"""Issue 22, point 8: plots a researcher would put in a report (names inside their boxes, a readable
forest plot, an NPS plot, outcome-curve axes named after the outcome)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import load_holzinger_swineford

LONG = {"x1": "qualité_perçue_du_service", "x2": "x2", "x3": "réputation_de_la_marque", "x4": "x4"}


def test_path_diagram_boxes_hold_their_names():
    hs = load_holzinger_swineford().rename(columns=LONG)
    model = "visuel =~ qualité_perçue_du_service + x2 + réputation_de_la_marque\ntextual =~ x4 + x5 + x6"
    fit = lm.fit_sem(model, hs)
    fig = lm.path_diagram(fit)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    nodes = set(fit.spec.latents) | set(fit.spec.observed)
    boxes = []
    for t in ax.texts:
        if t.get_text() not in nodes:
            continue
        tb = t.get_window_extent(renderer)
        # the node's patch is the one centred on the label
        centre = np.array(t.get_position())
        patch = min(
            (p for p in ax.patches if type(p).__name__ in ("FancyBboxPatch", "Ellipse")),
            key=lambda p: np.abs(_centre(p) - centre).sum(),
        )
        pb = patch.get_window_extent(renderer)
        assert pb.x0 <= tb.x0 and tb.x1 <= pb.x1, f"{t.get_text()!r} spills out of its box"
        if type(patch).__name__ == "FancyBboxPatch":
            boxes.append((t.get_text(), pb))
    assert {"qualité_perçue_du_service", "réputation_de_la_marque"} <= {n for n, _ in boxes}
    for i, (n1, b1) in enumerate(boxes):  # no two boxes overlap
        for n2, b2 in boxes[i + 1 :]:
            assert not b1.overlaps(b2), (n1, n2)
    plt.close(fig)


def _centre(p) -> np.ndarray:
    if type(p).__name__ == "Ellipse":
        return np.array(p.center)
    return np.array([p.get_x() + p.get_width() / 2, p.get_y() + p.get_height() / 2])


def test_report_forest_plot_has_one_panel_per_kind_and_stays_a_page_tall():
    import xarray as xr

    from loyaltymodels.report import forest_plot

    # 4 sectors x 50 parameters, as a loyalty model's posterior: was one 4,780 px column
    names = []
    for g in ["", ".g2", ".g3", ".g4"]:
        names += [f"f=~x{i}{g}" for i in range(2, 14)] + [f"x{i}~~x{i}{g}" for i in range(1, 14)]
        names += [f"x1~~x10{g}", "loyalty~f" + g] + [f"x{i}~1{g}" for i in range(1, 14)]
    x = np.random.default_rng(1).normal(size=(2, 30, len(names)))
    param = xr.DataArray(x, dims=("chain", "draw", "parameter"), coords={"parameter": names})
    fig = forest_plot(param)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Loadings (=~)", "Regressions (~)", "Covariances (~~)", "Variances (~~)", "Intercepts (~1)"]
    by_title = {ax.get_title(): [t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes}
    assert sorted(by_title["Covariances (~~)"]) == sorted(n for n in names if n.startswith("x1~~x10"))
    assert len(by_title["Variances (~~)"]) == 4 * 13 and len(by_title["Loadings (=~)"]) == 4 * 12
    assert sum(len(v) for v in by_title.values()) == len(names)
    fig.canvas.draw()
    assert fig.get_size_inches()[1] * 110 < 1800  # pixels tall at the report's dpi
    plt.close(fig)


def test_outcome_curve_axis_is_named_after_the_outcome():
    from loyaltymodels.loyalty.plots import outcome_axis_label

    assert outcome_axis_label([{"name": "résiliation", "kind": "binary"}]) == "probability of résiliation"
    label = outcome_axis_label([{"name": "note", "kind": "ordinal", "levels": [0, 1, 2, 3, 4, 5]}])
    assert label == "mean note (0-5 as 0-1)"


def test_nps_plot_by_segment_and_wave_draws_shares_and_intervals():
    rng = np.random.default_rng(8)
    d = pd.DataFrame(
        {
            "recommandation": rng.integers(0, 11, 240),
            "segment": rng.choice(["PME", "Grands comptes"], 240),
            "vague": rng.choice(["2025-T1", "2025-T2"], 240),
        }
    )
    fig = lm.plot_nps("recommandation", d, segment="segment", wave="vague")
    left, right = fig.axes
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert sorted(labels) == sorted(f"{s} / {w}" for s in ["PME", "Grands comptes"] for w in ["2025-T1", "2025-T2"])
    bars = [p for p in left.patches if p.get_width() > 0]
    table = fig.nps_table
    ticks = dict(zip(left.get_yticks(), labels))
    for i, row in enumerate(table.itertuples()):  # rows drawn top down
        label = ticks[len(table) - 1 - i]
        s, w = label.split(" / ")
        cell = d.recommandation[(d.segment == s) & (d.vague == w)]
        assert (row.segment, row.wave) == (s, w)
        # shares and NPS computed here from the answers (0-6 detractors, 9-10 promoters)
        prom, det = 100 * (cell >= 9).mean(), 100 * (cell <= 6).mean()
        assert row.promoters == pytest.approx(prom) and row.estimate == pytest.approx(prom - det)
    widths = sorted(round(p.get_width(), 6) for p in bars)
    expected = sorted(round(v, 6) for v in table[["detractors", "passives", "promoters"]].to_numpy().ravel() if v > 0)
    assert widths == expected
    # the NPS panel: one point per cell at its estimate, its error bar spanning the interval
    points = right.lines[0].get_xdata()
    assert np.allclose(sorted(points), sorted(table.estimate))
    seg = right.collections[0].get_segments()
    spans = sorted((round(s[0][0], 6), round(s[1][0], 6)) for s in seg)
    assert spans == sorted(zip(table.ci_lower.round(6), table.ci_upper.round(6)))
    assert "95%" in right.get_xlabel()
    plt.close(fig)
