"""The lavaan tutorial's analyses, reproduced with :func:`loyaltymodels.fit_sem`: the
Holzinger-Swineford CFA with measurement invariance by school, and Bollen's Political Democracy SEM.
"""

from __future__ import annotations

import pandas as pd

from ..datasets import HS_MODEL, POLDEM_MODEL, load_holzinger_swineford, load_political_democracy, published
from ..sem.fit import SemFit, fit_sem
from ..sem.invariance_tests import invariance
from ._common import Study, collecting, compare_measures, compare_parameters, run_settings, wrap

_COLS = ["lhs", "op", "rhs", "group", "est", "se", "std_all", "std_all_se"]
_FIT = [
    "npar",
    "chisq",
    "df",
    "pvalue",
    "cfi",
    "tli",
    "rmsea",
    "rmsea_ci_lower",
    "rmsea_ci_upper",
    "srmr",
    "logl",
    "aic",
    "bic",
]
#: Invariance levels of the tutorial; "means" adds equal latent means to the scalar model
#: (semTools' fourth model), so it is fitted as its own sequence configural -> metric -> scalar -> means.
_LEVELS = ("configural", "metric", "scalar", "means")


def _ml_rows(fit: SemFit) -> pd.DataFrame:
    return fit.parameters[_COLS].assign(estimator="ML")


def holzinger_swineford(*, fast: bool | None = None) -> Study:
    """The lavaan tutorial's CFA of Holzinger & Swineford (1939) and its invariance by school.

    Reproduces ``cfa(HS.model, data = HolzingerSwineford1939)`` (estimates, SEs, std.all and fit
    measures) and the multiple-group tutorial: the configural model's estimates per school, and
    the configural, metric (equal loadings), scalar (+ equal intercepts) and means (+ equal latent
    means) models with their chi-square difference tests.

    Parameters
    ----------
    fast : bool, optional
        Accepted for symmetry with the other studies (ML only: fast and full are the same).

    Returns
    -------
    Study
        ``parameters`` (the CFA, ``estimator`` "ML"), ``fit`` (CFA fit measures), and
        ``tables["invariance"]`` (one row per model and measure), ``tables["configural"]``
        (estimates per school), each with ``published`` and ``difference``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> hs = lm.studies.holzinger_swineford()  # In R: lavaan::cfa(HS.model, HolzingerSwineford1939)
    >>> hs.parameters.query("op == '=~' and rhs == 'x2'")[["est", "published", "se", "published_se"]].round(3)
         est  published   se  published_se
    1  0.554      0.554  0.1           0.1
    >>> bool(hs.deviations().within_tolerance.all())
    True
    """
    settings = run_settings(fast, seed=0)
    caught: list[str] = []
    data = load_holzinger_swineford()
    with collecting(caught):
        cfa = fit_sem(HS_MODEL, data)
        inv, fits = invariance(HS_MODEL, data, group="school", levels=_LEVELS, return_fits=True)
    params = compare_parameters(_ml_rows(cfa), published.HS_CFA)
    fit = compare_measures(cfa.fit_measures, published.HS_FIT, model="cfa", measures=_FIT)

    inv_rows = [compare_measures(inv.loc[level].to_dict(), published.HS_INVARIANCE, model=level) for level in _LEVELS]
    inv_long = pd.concat(inv_rows, ignore_index=True)
    conf = fits["configural"].parameters
    conf = conf[conf.op.isin(["=~", "~~"])][["lhs", "op", "rhs", "group", "est", "se"]]
    labels = dict(enumerate(fits["configural"].spec.group_labels, start=1))
    conf = compare_parameters(
        conf.assign(school=conf.group.map(labels)), published.HS_CONFIGURAL.drop(columns=["school"])
    )
    conf = conf[conf.published.notna()].assign(estimator="ML").reset_index(drop=True)

    lrt = inv.loc["metric"]
    notes = wrap(
        "Data: Holzinger & Swineford (1939), 301 seventh- and eighth-grade pupils of two schools "
        "(Pasteur, Grant-White), nine mental-ability tests x1-x9, as shipped with lavaan "
        "(HolzingerSwineford1939) and semopy.",
        "Published numbers: "
        + published.SOURCES["lavaan-cfa"]
        + ". Invariance: "
        + published.SOURCES["lavaan-groups"]
        + ".",
        "All published figures are rounded to the printed decimals, so agreement means a difference "
        "within half a unit of the last digit (the 'tolerance' column). Both programs maximise the "
        "same normal likelihood with expected-information standard errors; the remaining "
        "differences are rounding.",
        f"Invariance: equal loadings cost {lrt.chisq_diff:.3f} on {lrt.df_diff:.0f} df "
        f"(p = {lrt.pvalue_diff:.3f}), so metric invariance holds; equal intercepts cost "
        f"{inv.loc['scalar', 'chisq_diff']:.3f} on {inv.loc['scalar', 'df_diff']:.0f} df "
        f"(p = {inv.loc['scalar', 'pvalue_diff']:.2g}): scalar invariance fails, and latent means "
        "cannot be compared across the two schools without freeing some intercepts.",
    )
    return Study(
        name="holzinger_swineford",
        title="Holzinger-Swineford CFA and invariance by school (lavaan tutorial)",
        parameters=params,
        fit=fit,
        notes=notes,
        tables={"invariance": inv_long, "configural": conf},
        fits={"cfa": cfa, **fits},
        settings=settings,
        warnings=tuple(caught),
    )


def political_democracy(*, fast: bool | None = None) -> Study:
    """The lavaan tutorial's SEM of Bollen's Political Democracy data.

    Reproduces ``sem(model, data = PoliticalDemocracy)`` with its residual covariances:
    estimates, SEs, std.all and the fit measures lavaan prints.

    Parameters
    ----------
    fast : bool, optional
        Accepted for symmetry with the other studies (ML only: fast and full are the same).

    Returns
    -------
    Study
        ``parameters`` and ``fit`` with ``published`` and ``difference``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> pd_ = lm.studies.political_democracy()  # In R: lavaan::sem(model, PoliticalDemocracy)
    >>> pd_.paths[["lhs", "rhs", "est", "published", "std_all", "published_std_all"]].round(3)
         lhs    rhs    est  published  std_all  published_std_all
    0  dem60  ind60  1.483      1.483    0.447              0.447
    1  dem65  ind60  0.572      0.572    0.182              0.182
    2  dem65  dem60  0.837      0.837    0.885              0.885
    """
    settings = run_settings(fast, seed=0)
    caught: list[str] = []
    with collecting(caught):
        sem = fit_sem(POLDEM_MODEL, load_political_democracy())
    params = compare_parameters(_ml_rows(sem), published.POLDEM_SEM)
    fit = compare_measures(sem.fit_measures, published.POLDEM_FIT, model="sem", measures=_FIT)
    r = sem.parameters.query("lhs == 'dem65' and op == '~' and rhs == 'dem60'").std_all.iloc[0]
    notes = wrap(
        "Data: Bollen (1989), 75 developing countries: industrialisation in 1960 (x1-x3) and four "
        "indicators of political democracy in 1960 (y1-y4) and 1965 (y5-y8), as shipped with lavaan "
        "(PoliticalDemocracy) and semopy. Residual covariances link the same indicator in 1960 and "
        "1965 and the indicators from the same source.",
        "Published numbers: "
        + published.SOURCES["lavaan-sem"]
        + "; "
        + published.SOURCES["lavaan-sem-fit"]
        + ". The tutorial prints no CFI, TLI, RMSEA or SRMR "
        "for this model: those rows have no published value.",
        f"Democracy is very stable over five years (standardized dem65 ~ dem60 = {r:.3f}); the "
        "collinearity warning on dem60 and dem65 says exactly that, and is why the dem65 residual "
        "variance is small and imprecise (0.172, SE 0.215).",
    )
    return Study(
        name="political_democracy",
        title="Political Democracy SEM (lavaan tutorial)",
        parameters=params,
        fit=fit,
        notes=notes,
        fits={"sem": sem},
        settings=settings,
        warnings=tuple(caught),
    )
