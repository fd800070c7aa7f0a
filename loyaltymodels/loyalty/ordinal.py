"""Rating items as ordinal by default, and what treating them as continuous would have cost.

Five-point skewed items fitted as continuous pulled a beliefs weight of 0.6 to 0.52, outside its
90% interval (issue 20); ordered-probit items restored coverage. So ``fit_loyalty`` treats an item
as ordinal when its answers are integers within a range of at most :data:`AUTO_MAX_POINTS` points
(the 1-5 and 1-7 Likert scales); 0-10 recommendation-type scales stay continuous, where the bias is
small and the marginal form much faster. ``ordinal=None`` (or ``False``) treats every item as
continuous; the posterior then carries a sensitivity line (``ordinal_sensitivity``): the pooled
standardized weights by ML (continuous, :func:`~loyaltymodels.fit_sem`) beside WLSMV (polychoric,
ordinal) on the same data, so the user sees how much the choice moved them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ArgumentError, LoyaltyModelsError

if TYPE_CHECKING:
    from ..sem.fit import SemFit
    from ..spec.model import ModelSpec

__all__ = ["AUTO_MAX_POINTS", "ordinal_items", "ordinal_sensitivity", "short_scale_items"]

#: Integer items with at most this many distinct answers are ordinal under ``ordinal="auto"``.
AUTO_MAX_POINTS = 7


def short_scale_items(data: pd.DataFrame, items: Sequence[str]) -> list[str]:
    """Items whose answers are integers (at least two distinct) within a range of at most
    :data:`AUTO_MAX_POINTS` points (1-5, 1-7; not 0-10).

    Examples
    --------
    The rule reads the answers given (the data do not say the scale): a 0-10 item whose answers
    all fall within 7 points counts as short.

    >>> d = pd.DataFrame({"a": [1, 2, 5, 4, 3, 5], "b": [0, 10, 7, 3, 5, 8], "c": [1.5, 2, 3, 4, 4, 4],
    ...                   "d": [4, 5, 6, 7, 8, 10]})
    >>> short_scale_items(d, ["a", "b", "c", "d"])
    ['a', 'd']
    """
    out = []
    for v in items:
        if v not in data.columns:
            continue  # prepare() says which column is missing
        x = pd.to_numeric(data[v], errors="coerce").dropna().to_numpy()
        # the span, not the count of distinct answers: a small sample of a 0-10 item may use only
        # 7 of its points, rarely within a 7-point range (60 answers from loyalty_scenario: span >= 7)
        if len(x) and np.all(x == np.round(x)) and len(np.unique(x)) >= 2 and x.max() - x.min() < AUTO_MAX_POINTS:
            out.append(v)
    return out


def ordinal_items(
    data: pd.DataFrame, items: Sequence[str], ordinal: str | Sequence[str] | bool | None
) -> list[str] | None:
    """``fit_loyalty``'s ``ordinal=``: ``"auto"`` (the default) -> :func:`short_scale_items`;
    ``None``/``False`` -> continuous items; a list -> those items (checked by the data layer)."""
    if ordinal is None or ordinal is False:
        return None
    if ordinal is True:
        raise ArgumentError("ordinal=True is ambiguous: pass 'auto', a list of items, or None for continuous items")
    if isinstance(ordinal, str) and ordinal == "auto":
        return short_scale_items(data, items) or None
    return [ordinal] if isinstance(ordinal, str) else list(ordinal)


def ordinal_sensitivity(
    model: str | ModelSpec, data: pd.DataFrame, items: Sequence[str], loyalty: str, drivers: Sequence[str]
) -> dict[str, object]:
    """How much treating ``items`` as continuous moved the pooled standardized weights: ML
    (continuous) against WLSMV (polychoric, ordinal) of the same syntax on the same data, all
    sectors pooled. Returns ``{"line": str, "continuous": {...}, "ordinal": {...}}``; the line
    says when WLSMV could not be fitted instead of failing the Bayesian fit it annotates."""
    from ..sem.fit import fit_sem

    def weights(fit: SemFit) -> dict[str, float]:
        p = fit.parameters
        rows = p[(p.op == "~") & (p.lhs == loyalty)].set_index("rhs")
        return {d: float(rows.loc[d, "std_all"]) for d in drivers}

    ml = weights(fit_sem(model, data, ordered=False))
    names = ", ".join(items[:4]) + (", ..." if len(items) > 4 else "")
    head = f"{len(items)} items on <= {AUTO_MAX_POINTS} points ({names}) were treated as continuous"
    try:
        wl = weights(fit_sem(model, data, ordered=list(items), estimator="WLSMV"))
    except (LoyaltyModelsError, ValueError, ArithmeticError) as err:  # the line says why, the fit goes on
        line = f"{head}; the ordinal (WLSMV) comparison failed ({type(err).__name__}: {err}); refit with ordinal='auto'"
        return {"line": line, "continuous": ml, "ordinal": {}}
    moved = "; ".join(f"{d} {ml[d]:.3f} vs {wl[d]:.3f} ({ml[d] - wl[d]:+.3f})" for d in drivers)
    line = (
        f"{head}: pooled standardized weights, continuous (ML) vs ordinal (WLSMV, polychoric): {moved}; "
        "refit with ordinal='auto' for ordered-probit items"
    )
    return {"line": line, "continuous": ml, "ordinal": wl}
