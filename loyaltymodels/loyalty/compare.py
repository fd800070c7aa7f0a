"""Loyalty fits side by side: the hierarchical weights beside per-sector ML weights
(``fit_sem(..., group=sector)``), or several loyalty models ranked by PSIS-LOO.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import xarray as xr

from ..defaults import labelled_interval
from ..errors import DataError, SpecError
from .draws import LoyaltyInfo
from .summaries import POOLED, driver_weights

__all__ = ["compare_fits"]


def compare_fits(
    fits: xr.DataTree | Mapping[str, xr.DataTree],
    data: pd.DataFrame | None = None,
    *,
    sector: str | None = None,
    model: str | None = None,
    method: str = "stacking",
) -> pd.DataFrame:
    """Compare loyalty fits.

    * ``compare_fits(post)``: the hierarchical (partially pooled) standardized weights of each
      sector beside the unpooled ML ones of the same syntax through ``fit_sem(..., group=sector)``
      (``std_all`` and its SE). The data are rebuilt from the posterior's ``observed_data`` unless
      ``data`` and ``sector`` are given. ``shrinkage`` = Bayes mean - ML estimate: partial pooling
      pulls small or extreme sectors towards the pooled weight.
    * ``compare_fits({"both drivers": post1, "experience only": post2})``: models ranked by PSIS-LOO
      (:func:`loyaltymodels.bayes.diagnostics.compare`; ``elpd_diff``, ``dse``, ``weight``...), e.g.
      claim 1: both drivers against either alone, or invariance levels. Fits with ordinal items
      are ranked on each respondent's likelihood with the scores integrated out
      (:mod:`loyaltymodels.bayes.integrated`, as blavaan does), among themselves only: their
      probabilities of discrete answers do not compare with continuous fits' densities.

    Returns
    -------
    DataFrame
        ``sector, driver, bayes_mean, bayes_sd, ci_lower, ci_upper, ml_est, ml_se, shrinkage``, or
        the LOO comparison table.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=1)  # doctest: +SKIP
    >>> lm.compare_fits(post)  # doctest: +SKIP

    In R: ``blavCompare`` for the LOO table; ``sem(..., group = "sector")`` for the ML weights.
    """
    if isinstance(fits, Mapping) and not isinstance(fits, xr.DataTree):  # a DataTree is a Mapping too
        return _loo_table(fits, method)
    return _ml_table(fits, data, sector, model)


def _loo_table(fits: Mapping[str, xr.DataTree], method: str) -> pd.DataFrame:
    from ..bayes.diagnostics import compare

    ordinal = [name for name, post in fits.items() if post.attrs.get("likelihood_form") == "conditional"]
    # before 2026-12-08 ordinal fits stored the density given each respondent's sampled scores:
    # measured, 494 of 600 respondents with Pareto k > 0.64 on a 5-point fit (issue 20); their
    # likelihood is now integrated over the scores when LOO asks
    given_scores = [name for name in ordinal if "log_likelihood" in fits[name].children]
    if given_scores:
        raise SpecError(
            f"fits {given_scores} have ordinal items and carry a pointwise log-likelihood conditional on each "
            "respondent's sampled scores (saved by an earlier version, or added by hand), for which PSIS-LOO is "
            "unreliable (Pareto k > 0.7 for most respondents); drop their 'log_likelihood' group "
            "(post.drop_nodes('log_likelihood')) so that it is integrated over the scores, or refit them"
        )
    if ordinal and len(ordinal) < len(fits):
        continuous = [name for name in fits if name not in ordinal]
        raise SpecError(
            f"fits {ordinal} have ordinal items and {continuous} continuous ones: a probability of the "
            "answers given does not compare with a density of the same answers; compare fits that treat "
            "the items alike (all with ordinal='auto', or all with ordinal=None)"
        )
    return compare(dict(fits), method=method)  # each pointwise log-likelihood computed when missing


def _ml_table(post: xr.DataTree, data: pd.DataFrame | None, sector: str | None, model: str | None) -> pd.DataFrame:
    from ..sem.fit import fit_sem

    info = LoyaltyInfo.from_post(post)
    model = model or post.attrs["model_syntax"]
    if data is None:
        obs = post["observed_data"].dataset
        data = obs["y"].to_pandas()
        data.columns = [str(c) for c in data.columns]
        sector = post.attrs.get("group_column") or "sector"
        data[sector] = obs["sector"].to_numpy()
    elif sector is None:
        raise DataError("compare_fits(post, data) needs sector= (the sector column of data)")
    fit = fit_sem(model, data, group=sector if len(info.sectors) > 1 else None, missing="fiml")
    labels = list(pd.unique(data[sector].astype(str))) if len(info.sectors) > 1 else list(info.sectors)
    par = fit.parameters
    ml = par[(par.op == "~") & (par.lhs == info.loyalty) & par.rhs.isin(info.drivers)]
    ml = pd.DataFrame(
        {
            "sector": [labels[int(g) - 1] for g in ml.group],
            "driver": ml.rhs.to_numpy(),
            "ml_est": ml.std_all.to_numpy(float),
            "ml_se": ml.std_all_se.to_numpy(float),
        }
    )
    bayes = driver_weights(post)
    bayes = (
        bayes[bayes.sector != POOLED]
        if "segment" not in bayes
        else bayes[bayes.segment.isna() & (bayes.sector != POOLED)]
    )
    bayes = bayes.rename(columns={"mean": "bayes_mean", "sd": "bayes_sd"})[
        ["sector", "driver", "bayes_mean", "bayes_sd", "ci_lower", "ci_upper"]
    ]
    out = bayes.merge(ml, on=["sector", "driver"], how="left")
    out["shrinkage"] = out.bayes_mean - out.ml_est
    out["ml_in_interval"] = (out.ml_est >= out.ci_lower) & (out.ml_est <= out.ci_upper)
    out = out.reset_index(drop=True).astype({"ml_in_interval": bool}).pipe(_finite)
    return labelled_interval(out, bayes.attrs["ci"])  # the Bayesian interval's mass


def _finite(df: pd.DataFrame) -> pd.DataFrame:
    if df.ml_est.isna().any():
        missing = df.loc[df.ml_est.isna(), "sector"].unique().tolist()
        raise DataError(
            f"the ML fit has no weights for sector(s) {missing}; check that the sector labels of "
            "the data match the posterior's"
        )
    return df
