"""Reports of saved fits: a text summary for the terminal and a self-contained HTML page.

A saved ML fit is the JSON of :meth:`SemFit.to_json`; a saved posterior is the netCDF of
``post.to_netcdf`` (from ``fit_bayes`` or ``fit_loyalty``). The HTML embeds its figures as PNG, so
the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataError


def _load(path: Path) -> tuple[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"result file {str(path)!r} not found; give a .json saved by 'sem --json' "
            "or a .nc saved by 'bayes --out' / 'loyalty --out'"
        )
    suffix = path.suffix.lower()
    if suffix == ".json":
        from .sem.fit import SemFit

        return "sem", SemFit.from_json(path)
    if suffix in (".nc", ".netcdf", ".h5"):
        from .data.files import read_datatree

        post = read_datatree(path, posterior=True)  # as load_posterior, without importing PyMC
        # fit_loyalty marks its posteriors with a 'loyalty' attribute (the roles and design it read)
        return ("loyalty" if "loyalty" in post.attrs else "bayes"), post
    raise DataError(f"cannot report on {path.name!r}: expected a .json (ML fit) or .nc (posterior) file")


def _tables(kind: str, result: Any) -> dict[str, pd.DataFrame]:
    if kind == "sem":
        p = result.parameters
        cols = [
            c
            for c in (
                "lhs",
                "op",
                "rhs",
                "group",
                "label",
                "est",
                "se",
                "z",
                "pvalue",
                "ci_lower",
                "ci_upper",
                "std_all",
            )
            if c in p
        ]
        return {
            "Fit measures": result.fit_measures.to_frame("value").reset_index(names="measure"),
            "Parameter estimates": p[cols],
        }
    from .bayes.diagnostics import check_convergence
    from .bayes.fit import bayes_summary

    tables = {}
    if kind == "loyalty":
        import loyaltymodels as lm

        tables["Standardized driver weights"] = lm.driver_weights(result)
        if result.attrs.get("ordinal_sensitivity_weights"):  # fit_loyalty(..., ordinal=None) on short scales
            w = json.loads(result.attrs["ordinal_sensitivity_weights"])
            title = "Sensitivity: " + result.attrs["ordinal_sensitivity"].split(":")[0]
            tables[title + " (pooled standardized weights, ML vs WLSMV; refit with ordinal='auto')"] = pd.DataFrame(
                {
                    "driver": list(w["continuous"]),
                    "continuous_ml": list(w["continuous"].values()),
                    "ordinal_wlsmv": [w["ordinal"].get(d, float("nan")) for d in w["continuous"]],
                }
            ).eval("difference = continuous_ml - ordinal_wlsmv")
    summary = bayes_summary(result)
    cols = [
        c
        for c in ("lhs", "op", "rhs", "group", "mean", "sd", "ci_lower", "ci_upper", "r_hat", "ess_bulk", "ess_tail")
        if c in summary
    ]
    tables["Posterior summary"] = summary[cols]
    tables["Convergence checks (empty when all pass)"] = check_convergence(result, warn=False)
    return tables


def text_report(path: str | Path) -> str:
    """A plain-text report of a saved fit (what ``loyaltymodels report`` prints)."""
    kind, result = _load(Path(path))
    if kind == "sem":
        from .sem.report import summary_text

        return summary_text(result)
    parts = [f"Saved posterior: {Path(path).name} ({kind})"]
    with pd.option_context("display.max_rows", 500, "display.width", 160):
        for title, table in _tables(kind, result).items():
            parts += ["", title + ":", table.round(3).to_string(index=False) if len(table) else "  (none)"]
    return "\n".join(parts)


def _figures(kind: str, result: Any) -> list[tuple[str, bytes]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figs = []
    if kind == "sem":
        from .sem.diagram import path_diagram

        figs.append(("Path diagram (standardized estimates)", path_diagram(result)))
    else:
        fig = forest_plot(result["posterior"]["param"])
        figs.append(("Posterior forest plot", fig))
        if kind == "loyalty":
            import loyaltymodels as lm

            plot = getattr(lm, "plot_driver_weights", None)
            if plot is not None:
                figs.append(("Driver weights by sector", plot(result)))
    out = []
    for title, fig in figs:
        fig = getattr(fig, "figure", fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append((title, buf.getvalue()))
    return out


# The kinds of a parameter, read from its lavaan name (an operator between two names), in the order
# lavaan's summary lists them.
_KINDS = ["Loadings (=~)", "Regressions (~)", "Covariances (~~)", "Variances (~~)", "Intercepts (~1)", "Other"]


def _kind(name: str) -> str:
    if "=~" in name:
        return _KINDS[0]
    if "~~" in name:
        lhs, rhs = name.split("~~", 1)
        rhs = re.sub(r"\.g\d+$", "", rhs)  # a later group's suffix (spec.layout's names)
        return _KINDS[3] if rhs.strip() == lhs.strip() else _KINDS[2]
    if "~1" in name.replace(" ", ""):
        return _KINDS[4]
    if "~" in name:
        return _KINDS[1]
    return _KINDS[5]


def forest_plot(param: Any, *, columns: int = 3) -> Any:
    """Posterior means with 90% intervals, one panel per kind of parameter (loadings, regressions,
    covariances, variances, intercepts), laid out in a grid so a model of hundreds of parameters
    stays a page tall; fixed parameters (no spread) are left out.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = np.random.default_rng(0).normal(size=(2, 50, 3))
    >>> param = xr.DataArray(x, dims=("chain", "draw", "parameter"),
    ...                      coords={"parameter": ["f=~x2", "f~~f", "y~f"]})
    >>> [ax.get_title() for ax in forest_plot(param).axes]
    ['Loadings (=~)', 'Regressions (~)', 'Variances (~~)']
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .defaults import CI_POSTERIOR

    sd = param.std(("chain", "draw")).values
    free = param.isel(parameter=np.flatnonzero(sd > 0))
    names = [str(v) for v in free["parameter"].values]
    a = (1 - CI_POSTERIOR) / 2
    mean = free.mean(("chain", "draw")).values
    lo, hi = free.quantile([a, 1 - a], dim=("chain", "draw")).values
    kinds = [k for k in _KINDS if any(_kind(n) == k for n in names)] or ["Other"]
    ncol = max(1, min(columns, len(kinds)))
    rows = [kinds[i : i + ncol] for i in range(0, len(kinds), ncol)]
    count = {k: sum(_kind(n) == k for n in names) for k in kinds}
    heights = [max(count[k] for k in row) for row in rows]
    # 0.14 in a line (7-point labels): the tallest panel of each row sets that row's height
    fig = plt.figure(figsize=(4.2 * ncol, min(16, max(3.0, 0.14 * sum(heights) + 0.6 * len(rows)))))
    grid = fig.add_gridspec(len(rows), ncol, height_ratios=[h + 4 for h in heights])
    for r, row in enumerate(rows):
        for c, kind in enumerate(row):
            ax = fig.add_subplot(grid[r, c])
            idx = [i for i, n in enumerate(names) if _kind(n) == kind]
            y = np.arange(len(idx))[::-1]
            m = mean[idx]
            ax.errorbar(m, y, xerr=[m - lo[idx], hi[idx] - m], fmt="o", ms=3, lw=1)
            ax.set_yticks(y, [names[i] for i in idx], fontsize=6 if len(idx) > 40 else 7)
            ax.set_ylim(-0.8, len(idx) - 0.2)
            ax.tick_params(axis="x", labelsize=7)
            ax.set_title(kind, fontsize=9)
    fig.suptitle(f"Posterior means with {CI_POSTERIOR:.0%} intervals", fontsize=10)
    fig.tight_layout()
    return fig


def html_report(path: str | Path, out: str | Path) -> Path:
    """Write a self-contained HTML report (tables and figures) of a saved fit."""
    from .data.files import check_writable

    out = check_writable(out, suffixes=(".html", ".htm"), what="HTML report")
    kind, result = _load(Path(path))
    from . import __version__

    body = [
        f"<h1>loyaltymodels report: {html.escape(Path(path).name)}</h1>",
        f"<p>Kind: {kind}. Written by loyaltymodels {__version__}.</p>",
    ]
    if kind == "sem":
        from .sem.report import summary_text

        body.append(f"<pre>{html.escape(summary_text(result))}</pre>")
    for title, table in _tables(kind, result).items():
        body.append(f"<h2>{html.escape(title)}</h2>")
        body.append(table.round(4).to_html(index=False, border=0, na_rep="") if len(table) else "<p>(none)</p>")
    for title, png in _figures(kind, result):
        data = base64.b64encode(png).decode("ascii")
        body.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>")
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto} table{border-collapse:collapse;"
        "font-size:0.85em} td,th{padding:2px 8px;text-align:right} pre{font-size:0.8em}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(Path(path).name)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write '{out}': {exc.strerror or exc}") from exc
    return out
