"""Measurement invariance across groups: a sequence of nested multigroup models and lavaan's
likelihood-ratio test of each against the previous one (``lavTestLRT``).

Levels (cumulative ``group_equal`` classes, as in the lavaan tutorial and semTools):
configural (same pattern), metric (+ loadings), scalar (+ intercepts; + thresholds for ordered
items), strict (+ residuals), and optionally means (+ latent means) and structural
(+ lv.variances, lv.covariances, regressions).

The difference test is the one ``lavTestLRT`` runs by default for the estimator: the plain
chi-square difference for ML; Satorra & Bentler's (2001) scaled difference for MLR and MLM,
``(T0 - T1) / c_d`` with ``c_d = (df0 c0 - df1 c1) / (df0 - df1)``; Satorra's (2000) scaled-and-shifted
difference for WLSMV (:func:`loyaltymodels.sem.wlsmv.satorra_2000`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd
from scipy import stats

from ..defaults import show_progress
from ..errors import ArgumentError, DataError, SemWarning
from ..spec.model import ModelSpec
from .fit import SemFit, fit_sem

#: group_equal classes added at each level (cumulative).
LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("intercepts",),
    "strict": ("residuals",),
    "means": ("means",),
    "structural": ("lv.variances", "lv.covariances", "regressions"),
}


def invariance(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    group: str,
    levels: Sequence[str] = ("configural", "metric", "scalar", "strict"),
    return_fits: bool = False,
    progress: bool | None = None,
    **fit_options: Any,
) -> pd.DataFrame | tuple[pd.DataFrame, dict]:
    """Fit each invariance level and compare it with the previous one.

    Parameters
    ----------
    model : str or ModelSpec
        The measurement (or full) model, in lavaan syntax.
    data : DataFrame
    group : str
        The grouping column.
    levels : sequence of str
        Names from :data:`LEVELS`, in nesting order.
    return_fits : bool
        Also return ``{level: SemFit}``.
    progress : bool, optional
        A progress bar over the levels; ``None``: in notebooks and terminals.
    **fit_options
        Passed to :func:`fit_sem` (``estimator="MLR"``, ``ordered=True``, ``sampling_weights``,
        ``missing="fiml"``, ``group_partial=[...]``, ``std_lv``...).

    Returns
    -------
    DataFrame
        One row per level (configural, metric, scalar, strict): ``npar chisq df pvalue cfi tli
        rmsea srmr aic bic`` (``npar``, ``df`` integers; with a robust estimator also
        ``chisq_scaled chisq_scaling_factor pvalue_scaled cfi_scaled rmsea_scaled cfi_robust
        rmsea_robust``) and, from the second level on, ``chisq_diff df_diff pvalue_diff``
        (lavTestLRT's ``Chisq diff``, ``Df diff``, ``Pr(>Chisq)``: the scaled difference for robust
        estimators), ``diff_method`` (lavTestLRT's method), with ``cfi_diff`` and ``rmsea_diff``
        beside them (ΔCFI, ΔRMSEA: the changes semTools' ``compareFit`` prints, read against Chen's
        2007 cut-offs -0.01 and 0.015).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford
    >>> tab = lm.invariance(HS_MODEL, load_holzinger_swineford(), group="school",
    ...                     levels=("configural", "metric"))
    >>> tab[["chisq", "df", "chisq_diff", "df_diff"]].round(3)  # lavaan tutorial: 115.851, 124.044
                  chisq  df  chisq_diff  df_diff
    level
    configural  115.851  48         NaN     <NA>
    metric      124.044  54       8.192        6
    """
    if isinstance(levels, str) or not len(levels):
        raise ArgumentError(f"levels={levels!r}: give a sequence of level names, e.g. ('configural', 'metric')")
    unknown = [lev for lev in levels if lev not in LEVELS]
    if unknown:
        raise ArgumentError(f"unknown invariance level(s) {unknown}; choose among {list(LEVELS)}")
    if not isinstance(data, pd.DataFrame) or group not in data.columns:
        raise DataError(f"group column {group!r} not found in the data", column=group)
    present = pd.unique(data[group].dropna())
    if len(present) < 2:
        # one group: every level would be the same single-group model, and the table a comparison of nothing
        found = f"only one level ({present[0]!r})" if len(present) else "no value"
        raise DataError(
            f"invariance compares groups, but the column {group!r} has {found}; choose a column with two or more "
            "groups",
            column=group,
        )
    extra = tuple(fit_options.pop("group_equal", ()) or ())
    fits: dict[str, SemFit] = {}
    equal: tuple[str, ...] = extra
    rows: list[dict[str, Any]] = []
    from tqdm.auto import tqdm

    ordered = fit_options.get("ordered") not in (None, False)
    for level in tqdm(levels, desc="invariance", unit="level", disable=not show_progress(progress)):
        equal = equal + LEVELS[level] + (("thresholds",) if level == "scalar" and ordered else ())
        fit = fit_sem(model, data, group=group, group_equal=equal, **fit_options)
        fm = fit.fit_measures
        if rows and fm["df"] == rows[-1]["df"]:
            # e.g. strict with every item ordered: under the delta parameterization (lavaan's
            # default) ordered items have no residual variance parameters, so the level would
            # repeat the previous model with a 0-df "test"
            warnings.warn(
                f"invariance level {level!r} adds no equality constraint to this model "
                f"(group_equal={', '.join(LEVELS[level])}: no such free parameters"
                + (", as ordered items have no residual variances under the delta parameterization" if ordered else "")
                + "); the level is left out of the table",
                SemWarning,
                stacklevel=2,
            )
            continue
        fits[level] = fit
        row = {
            "level": level,
            "group_equal": ", ".join(equal) or "-",
            "npar": int(fm["npar"]),
            "chisq": fm["chisq"],
            "df": int(fm["df"]),
            "pvalue": fm["pvalue"],
            "cfi": fm["cfi"],
            "tli": fm["tli"],
            "rmsea": fm["rmsea"],
            "srmr": fm["srmr"],
            "aic": fm["aic"],
            "bic": fm["bic"],
        }
        if "chisq_scaled" in fm:
            for key in ("chisq_scaled", "chisq_scaling_factor", "pvalue_scaled", "cfi_scaled", "rmsea_scaled"):
                row[key] = fm[key]
            row["cfi_robust"], row["rmsea_robust"] = fm["cfi_robust"], fm["rmsea_robust"]
        if rows:
            prev = rows[-1]
            row.update(difference_test(fits[prev["level"]], fit))
            row["cfi_diff"] = fm["cfi"] - prev["cfi"]
            row["rmsea_diff"] = fm["rmsea"] - prev["rmsea"]
        rows.append(row)
    table = pd.DataFrame(rows).set_index("level")
    for col in ("npar", "df", "df_diff"):  # counts, printed as lavaan prints them (48, not 48.0)
        if col in table:
            table[col] = table[col].astype("Int64")
    return (table, fits) if return_fits else table


def difference_test(larger: SemFit, nested: SemFit) -> dict[str, Any]:
    """lavTestLRT's default test of ``nested`` (more constrained) against ``larger``, for their
    estimator: ``chisq_diff df_diff pvalue_diff diff_method``."""
    est = larger.info.get("estimator", "ML")
    if est != nested.info.get("estimator", "ML"):
        raise ValueError(f"cannot compare a {est} fit with a {nested.info.get('estimator')} fit")
    a, b = larger.fit_measures, nested.fit_measures
    if est == "ML":
        return {**lrt(a["chisq"], a["df"], b["chisq"], b["df"]), "diff_method": "standard"}
    if est == "WLSMV":
        from .wlsmv import satorra_2000

        out = satorra_2000(larger, nested)
        return {**out, "diff_method": "satorra.2000"}
    return {
        **scaled_lrt(a["chisq"], a["df"], a["chisq_scaling_factor"], b["chisq"], b["df"], b["chisq_scaling_factor"]),
        "diff_method": "satorra.bentler.2001",
    }


def scaled_lrt(chisq1: float, df1: float, c1: float, chisq0: float, df0: float, c0: float) -> dict[str, float]:
    """Satorra & Bentler's (2001) scaled difference of nested models (0 nested in 1), from the
    unscaled chi-squares and the scaling factors: ``(T0 - T1) / c_d``,
    ``c_d = (df0 c0 - df1 c1) / (df0 - df1)`` (lavTestLRT's ``method = "satorra.bentler.2001"``).

    >>> {k: round(v, 4) for k, v in scaled_lrt(100.0, 40, 1.1, 112.0, 46, 1.12).items()}  # c_d = 1.2533
    {'chisq_diff': 9.5745, 'df_diff': 6, 'pvalue_diff': 0.1438}
    """
    ddf = df0 - df1
    cd = (df0 * c0 - df1 * c1) / ddf if ddf > 0 else math.nan
    d = (chisq0 - chisq1) / cd
    p = float(stats.chi2.sf(d, ddf)) if ddf > 0 and cd > 0 else math.nan
    return {"chisq_diff": d, "df_diff": ddf, "pvalue_diff": p}


def lrt(chisq0: float, df0: float, chisq1: float, df1: float) -> dict[str, float]:
    """lavTestLRT for nested ML models (standard test): difference of the chi-squares.

    >>> {k: round(v, 4) for k, v in lrt(115.851, 48, 124.044, 54).items()}
    {'chisq_diff': 8.193, 'df_diff': 6, 'pvalue_diff': 0.2243}
    """
    d, ddf = chisq1 - chisq0, df1 - df0
    return {"chisq_diff": d, "df_diff": ddf, "pvalue_diff": float(stats.chi2.sf(d, ddf)) if ddf > 0 else float("nan")}
