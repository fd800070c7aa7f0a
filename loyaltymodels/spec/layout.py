"""How results are laid out, so that every back end writes the same shape.

Parameter names follow lavaan's ``coef()``: ``visual=~x2``, ``x1~~x1``, ``x1~1``, ``u1|t2``, a defined
parameter by its name (``ab``); in multigroup models lavaan appends ``.g2``, ``.g3`` ... to the rows
of groups after the first, and so do we.

Posterior draws (``xarray.DataTree`` from the Bayesian back ends) hold, in the ``posterior`` group:

``param``    dims ``(chain, draw, parameter)``: every row of the parameter table that is not a
             constraint (free rows vary, fixed rows are constant), plus the defined parameters
             (``:=``). Coordinates along ``parameter``: ``parameter`` (the names above), and
             ``lhs``, ``op``, ``rhs``, ``group`` (non-index coordinates), so a summary merges with
             any table on ``lhs, op, rhs, group``.
``std_all``  the same, completely standardized (lavaan's ``std.all``).

Other variables carry their own named dims: ``respondent``, ``item``, ``factor``, ``sector``,
``outcome``; never an anonymous ``x_dim_0``. (``group`` is taken by the coordinate along
``parameter``; a per-group quantity uses the dim ``group_label``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Names of the dims used across the package.
DIMS = ("parameter", "respondent", "item", "factor", "sector", "group_label", "outcome")


def param_name(lhs: str, op: str, rhs: str, group: int = 1) -> str:
    """lavaan's ``coef()`` name of one parameter-table row.

    Examples
    --------
    >>> param_name("visual", "=~", "x2"), param_name("x1", "~1", "", 2), param_name("ab", ":=", "a*b", 0)
    ('visual=~x2', 'x1~1.g2', 'ab')
    """
    if op == ":=":
        return lhs
    name = f"{lhs}~1" if op == "~1" else f"{lhs}{op}{rhs}"
    return name if group <= 1 else f"{name}.g{group}"


def parameter_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` that become entries of the ``parameter`` dim, with a ``name`` column."""
    rows = table[~table.op.isin(["==", "<", ">"])].copy()
    rows["name"] = [param_name(lhs, op, rhs, g) for lhs, op, rhs, g in zip(rows.lhs, rows.op, rows.rhs, rows.group)]
    return rows


def parameter_coords(table: pd.DataFrame) -> dict[str, tuple[str, np.ndarray]]:
    """Coordinates of the ``parameter`` dim, for ``xarray`` (``Dataset.assign_coords(**coords)``)."""
    rows = parameter_rows(table)
    return {
        "parameter": ("parameter", rows["name"].to_numpy(dtype=object)),
        "lhs": ("parameter", rows["lhs"].to_numpy(dtype=object)),
        "op": ("parameter", rows["op"].to_numpy(dtype=object)),
        "rhs": ("parameter", rows["rhs"].to_numpy(dtype=object)),
        "group": ("parameter", rows["group"].to_numpy(dtype=int)),
    }
