"""Congruence of promise and experience by polynomial regression on composite scores (the planning stand-in).

Edwards & Parry (1993) regress the outcome on both predictors, their squares and their product,
``z = b0 + b1 x + b2 y + b3 x^2 + b4 x y + b5 y^2``, and read the surface along the line of
congruence (x = y: ``a1 = b1 + b2``, ``a2 = b3 + b4 + b5``) and of incongruence (x = -y: ``a3 = b1 - b2``,
``a4 = b3 - b4 + b5``), and through its first principal axis ``y = p10 + p11 x``. Humberg, Nestler &
Back (2019) give the conditions under which the surface supports a congruence hypothesis: the first
principal axis is the line of congruence (p10 = 0 and p11 = 1), ``a3 = 0`` and ``a4 < 0`` (loyalty
falls as promise and experience part, in either direction); a level effect along the line of
congruence is allowed. A condition "holds" here at the interval level: the intervals of p10, p11 and
a3 contain 0, 1 and 0, and a4's interval lies below 0.

This module fits that regression by ordinary least squares on the **composite (mean) scores** of the
questions -- the beliefs side (the promise questions when the questionnaire pairs them), experience
(their paired experience questions), loyalty -- with delta-method intervals. It is what
:func:`loyaltymodels.sample_size` simulates for the congruence question until the Bayesian
response-surface model of the loyalty model is available; composite scores carry measurement
error, which attenuates the coefficients, and the line of congruence of two composites is only
meaningful when they are commensurate (the same attributes on the same scale: promise pairs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..defaults import CI_ML, labelled_interval

__all__ = ["SURFACE_TERMS", "QUANTITIES", "surface_quantities", "ols_surface", "composite_surface", "congruence_holds"]

SURFACE_TERMS = ("b1", "b2", "b3", "b4", "b5")
QUANTITIES = (*SURFACE_TERMS, "a1", "a2", "a3", "a4", "p10", "p11")


def surface_quantities(b: np.ndarray) -> np.ndarray:
    """``(k, 5)`` coefficients ``b1..b5`` -> ``(k, 11)``: ``b1..b5, a1..a4, p10, p11`` (Edwards & Parry).

    The first principal axis passes through the stationary point
    ``x0 = (b2 b4 - 2 b1 b5) / (4 b3 b5 - b4^2)``, ``y0 = (b1 b4 - 2 b2 b3) / (4 b3 b5 - b4^2)`` with slope
    ``p11 = (b5 - b3 + sqrt((b3 - b5)^2 + b4^2)) / b4``; ``p10 = y0 - p11 x0`` (NaN where undefined).

    Examples
    --------
    >>> q = surface_quantities(np.array([[0.25, 0.25, -0.2, 0.2, -0.2]]))[0]
    >>> dict(zip(QUANTITIES[5:], q[5:].round(6).tolist()))
    {'a1': 0.5, 'a2': -0.2, 'a3': 0.0, 'a4': -0.6, 'p10': 0.0, 'p11': 1.0}
    """
    b = np.atleast_2d(np.asarray(b, dtype=float))
    b1, b2, b3, b4, b5 = b.T
    with np.errstate(divide="ignore", invalid="ignore"):
        den = 4 * b3 * b5 - b4**2
        x0 = (b2 * b4 - 2 * b1 * b5) / den
        y0 = (b1 * b4 - 2 * b2 * b3) / den
        p11 = (b5 - b3 + np.sqrt((b3 - b5) ** 2 + b4**2)) / b4
        p10 = y0 - p11 * x0
    return np.column_stack([b, b1 + b2, b3 + b4 + b5, b1 - b2, b3 - b4 + b5, p10, p11])


def ols_surface(x: np.ndarray, y: np.ndarray, z: np.ndarray, ci: float = CI_ML) -> pd.DataFrame:
    """The polynomial regression of ``z`` on ``x`` and ``y`` by OLS, with the surface quantities.

    OLS written out (six columns, one solve): the planning loop runs it in every replication, where a
    model-formula library's set-up would cost more than the fit.

    Returns
    -------
    DataFrame
        One row per quantity (``b1..b5``, ``a1..a4``, ``p10``, ``p11``): ``estimate, se, ci_lower,
        ci_upper`` (t intervals on n - 6 degrees of freedom; delta method beyond ``b``).

    Examples
    --------
    A surface known exactly: the noise is tiny, so every estimate is its true value.

    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.normal(size=(2, 400))
    >>> z = 0.3 * x + 0.3 * y - 0.2 * (x - y) ** 2 + 1e-6 * rng.normal(size=400)
    >>> t = ols_surface(x, y, z).set_index("quantity")
    >>> t.loc[["b3", "b4", "b5", "a3", "a4", "p11"], "estimate"].round(4).tolist()
    [-0.2, 0.4, -0.2, 0.0, -0.8, 1.0]
    """
    from ..sem.inference import jacobian

    x, y, z = (np.asarray(v, dtype=float) for v in (x, y, z))
    X = np.column_stack([np.ones_like(x), x, y, x**2, x * y, y**2])
    n = len(z)
    beta, *_ = np.linalg.lstsq(X, z, rcond=None)
    resid = z - X @ beta
    sigma2 = float(resid @ resid) / max(n - 6, 1)
    v = sigma2 * np.linalg.pinv(X.T @ X)[1:, 1:]
    b = beta[1:]
    est = surface_quantities(b)[0]
    J = jacobian(surface_quantities, b)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", J, v, J), 0, None))
    q = stats.t.ppf(0.5 + ci / 2, max(n - 6, 1))
    table = pd.DataFrame(
        {"quantity": QUANTITIES, "estimate": est, "se": se, "ci_lower": est - q * se, "ci_upper": est + q * se}
    )
    return labelled_interval(table, ci)


def composite_surface(
    data: pd.DataFrame,
    beliefs: Sequence[str],
    experience: Sequence[str],
    loyalty: Sequence[str],
    ci: float = CI_ML,
) -> pd.DataFrame:
    """:func:`ols_surface` on the mean scores of three sets of questions; beliefs and experience are
    centred on one common value (their pooled mean), which keeps their line of congruence.

    Examples
    --------
    >>> data = pd.DataFrame({"p": [1, 2, 3, 4, 5, 3, 2, 4], "e": [2, 2, 3, 5, 4, 3, 1, 4],
    ...                      "l": [1, 3, 3, 4, 4, 5, 2, 3]})
    >>> composite_surface(data, ["p"], ["e"], ["l"]).quantity.tolist()[:3]
    ['b1', 'b2', 'b3']
    """
    cols = [*beliefs, *experience, *loyalty]
    rows = data[cols].apply(pd.to_numeric, errors="coerce").dropna()
    x = rows[list(beliefs)].mean(axis=1).to_numpy()
    y = rows[list(experience)].mean(axis=1).to_numpy()
    centre = np.concatenate([x, y]).mean()
    return ols_surface(x - centre, y - centre, rows[list(loyalty)].mean(axis=1).to_numpy(), ci)


def congruence_holds(table: pd.DataFrame) -> dict[str, bool]:
    """Humberg, Nestler & Back's conditions at the interval level, one by one, and ``supported``
    (all four). A p10 or p11 that cannot be computed (no stationary point) is not evidence against.

    Examples
    --------
    >>> t = pd.DataFrame({"quantity": ["p10", "p11", "a3", "a4"], "ci_lower": [-0.3, 0.8, -0.1, -0.9],
    ...                   "ci_upper": [0.4, 1.3, 0.1, -0.2]})
    >>> congruence_holds(t)
    {'p10': True, 'p11': True, 'a3': True, 'a4': True, 'supported': True}
    """
    t = table.set_index("quantity")

    def contains(name: str, value: float) -> bool:
        lo, hi = float(t.at[name, "ci_lower"]), float(t.at[name, "ci_upper"])
        return not (np.isfinite(lo) and np.isfinite(hi)) or lo <= value <= hi

    out = {
        "p10": contains("p10", 0.0),
        "p11": contains("p11", 1.0),
        "a3": contains("a3", 0.0),
        "a4": bool(float(t.at["a4", "ci_upper"]) < 0),
    }
    out["supported"] = all(out.values())
    return out
