"""Plain-language answers: a few sentences a marketing director can read, with the numbers.

The tables answer the methodologist; these sentences close ``make demo``, ``loyaltymodels loyalty``
and ``loyaltymodels invest``: which driver weighs more in each sector and how sure we are (the
posterior probability, or for an ML fit the Monte Carlo probability from the estimates'
sampling distribution), whether the model fits well enough to trust, and where to invest.
Fit is judged by the usual cut-offs (Hu & Bentler 1999: RMSEA <= 0.06, CFI >= 0.95,
SRMR <= 0.08 fit well; RMSEA >= 0.08 or CFI < 0.90 fit poorly) and a modification index above 10
(a path or covariance the model misses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .defaults import CI_POSTERIOR

if TYPE_CHECKING:
    from .sem.fit import SemFit

__all__ = ["convergence_sentence", "fit_sentences", "invest_sentences", "ml_weights", "weight_sentences"]

#: A modification index above this says the model misses a path (chi-square(1) at p < 0.002).
MI_FLAG = 10.0


def _sure(p: float) -> str:
    """Words for a probability, with the number."""
    word = "almost certain" if p >= 0.95 else "likely" if p >= 0.8 else "uncertain: the data cannot tell them apart"
    return f"{word} (probability {p:.0%})"


def weight_sentences(weights: pd.DataFrame) -> list[str]:
    """One sentence per sector: the driver that weighs more, its weight against the others', and
    the probability that it is the largest (``driver_weights``' columns ``sector driver mean
    prob_largest``; segment rows are left out).

    >>> w = pd.DataFrame({"sector": ["Banque"] * 2, "driver": ["Image", "Qualité"], "mean": [0.5, 0.3],
    ...                   "prob_largest": [0.97, 0.03]})
    >>> print(weight_sentences(w)[0])  # doctest: +NORMALIZE_WHITESPACE
    Banque: Image weighs more in loyalty than Qualité (standardized weight 0.50 against 0.30);
    almost certain (probability 97%).
    """
    if "segment" in weights:
        weights = weights[weights["segment"].isna()]
    out = []
    for sector, rows in weights.groupby("sector", sort=False):
        rows = rows.sort_values("mean", ascending=False)
        top, rest = rows.iloc[0], rows.iloc[1:]
        others = " and ".join(rest["driver"].astype(str))
        against = ", ".join(f"{v:.2f}" for v in rest["mean"])
        name = "A typical sector (hierarchical mean)" if sector == "pooled" else str(sector)
        out.append(
            f"{name}: {top['driver']} weighs more in loyalty than {others} (standardized weight "
            f"{top['mean']:.2f} against {against}); {_sure(float(top['prob_largest']))}."
        )
    return out


def ml_weights(fit: SemFit, loyalty: str, *, draws: int = 4000, seed: int = 0) -> pd.DataFrame:
    """``driver_weights``' table for an ML fit: std_all weights of ``loyalty``'s regressors, with
    ``prob_largest`` by the Monte Carlo method (estimates drawn from N(theta, vcov) and
    standardized; semTools' ``monteCarloCI``), per group."""
    from .algebra.matrices import standardized

    p = fit.parameters.reset_index(drop=True)
    problem = fit.problem
    rng = np.random.default_rng(seed)
    theta = rng.multivariate_normal(fit.theta, fit.vcov.to_numpy(), draws)
    std = standardized(fit.spec, problem.layout, problem.values(theta), "std_all")
    labels = list(fit.spec.group_labels) if fit.spec.ngroups > 1 else ["All respondents"]
    rows = []
    for g, label in enumerate(labels, start=1):
        sel = np.flatnonzero(((p.op == "~") & (p.lhs == loyalty) & (p.group == g)).to_numpy())
        x = std[:, sel]
        largest = (x == x.max(1, keepdims=True)).mean(0)
        for k, i in enumerate(sel):
            rows.append(
                {
                    "sector": label,
                    "driver": p.rhs[i],
                    "mean": float(p.std_all[i]),
                    "prob_largest": float(largest[k]),
                }
            )
    return pd.DataFrame(rows)


def fit_sentences(fit: SemFit) -> list[str]:
    """Whether the model fits well enough to trust, with RMSEA, CFI, SRMR and the largest
    modification index (the missing path, when one is above :data:`MI_FLAG`)."""
    fm = fit.fit_measures
    # judged as printed (3 decimals): a reader who sees RMSEA 0.080 reads the 0.08 cut-off as met
    rmsea, cfi, srmr = (round(float(fm[k]), 3) for k in ("rmsea", "cfi", "srmr"))
    numbers = f"RMSEA {rmsea:.3f}, CFI {cfi:.3f}, SRMR {srmr:.3f}"
    if rmsea >= 0.08 or cfi < 0.90 or srmr > 0.10:
        verdict = f"The model fits poorly ({numbers}): do not act on these weights before the model is corrected."
    elif rmsea <= 0.06 and cfi >= 0.95 and srmr <= 0.08:
        verdict = f"The model fits well ({numbers}): its weights can be trusted."
    else:
        verdict = f"The model fits acceptably ({numbers}): read its weights with some caution."
    out = [verdict]
    try:
        mi = fit.modindices(sort=True)
    except Exception:  # some models have no modification indices (e.g. constraints); fit is judged anyway
        mi = pd.DataFrame()
    if len(mi) and float(mi["mi"].iloc[0]) > MI_FLAG:
        top = mi.iloc[0]
        out.append(
            f"It misses at least one link: freeing {top['lhs']} {top['op']} {top['rhs']} would improve the fit "
            f"by a chi-square of {float(top['mi']):.1f} (modification index above {MI_FLAG:g}); ask whether it "
            "makes sense for the questionnaire."
        )
    return out


def invest_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per sector from :func:`loyaltymodels.invest`: the better investment, its gain
    in loyalty points with the interval, and the change in each behaviour outcome."""
    out = []
    mass = float(table.attrs.get("ci", CI_POSTERIOR))
    loy = table[table.target == "loyalty"]
    for sector, rows in loy.groupby("sector", sort=False):
        rows = rows.sort_values("mean", ascending=False)
        top, rest = rows.iloc[0], rows.iloc[1:]
        others = "; ".join(f"{r.driver} {r.mean:+.2f}" for r in rest.itertuples())
        name = str(sector)
        text = (
            f"{name[:1].upper()}{name[1:]}: invest in {top['driver']}: one more point on its questions brings "
            f"{top['mean']:+.2f} "
            f"loyalty points ({mass:.0%} interval {top['ci_lower']:+.2f} to {top['ci_upper']:+.2f}), against "
            f"{others}; {_sure(float(top['prob_best']))}."
        )
        for target, o in table[(table.sector == sector) & (table.target != "loyalty")].groupby("target", sort=False):
            row = o[o.driver == top["driver"]].iloc[0]
            if row["unit"] == "probability":
                text += f" The probability of {target} changes by {100 * row['mean']:+.1f} percentage points."
            else:
                text += f" The mean {target} rating changes by {row['mean']:+.2f}."
        out.append(text)
    return out


def convergence_sentence(problems: pd.DataFrame) -> str:
    """The one line that says what to do when the draws failed their checks."""
    if not len(problems):
        return "The sampler converged: every parameter passed R-hat, ESS and divergence checks."
    checks = set(problems["check"])
    if "divergences" in checks or "tree_depth" in checks:
        todo = "rerun with more --tune (e.g. 2000); if divergences persist, simplify the model"
    else:
        todo = "rerun with more --draws and --tune (e.g. twice as many)"
    params = problems["parameter"][problems["parameter"].astype(str) != ""]
    return f"Do not use these results yet: {params.nunique()} parameter(s) and {len(problems)} check(s) failed; {todo}."
