"""lavaan's fit measures (``fitMeasures()``), with lavaan's conventions: ML with N (not N - 1),
the independence model as baseline, RMSEA corrected by sqrt(G) for G groups, SRMR as lavaan's
default ``srmr`` (Bentler's, with the means when there is a mean structure).

Sources: lavaan ``R/lav_fit_rmsea.R`` (RMSEA, its CI by inverting the noncentral chi-square and
the close-fit p-value), ``R/lav_fit_cfi.R`` (CFI, TLI), ``R/lav_fit_srmr.R`` and
``lav_residuals_summary()`` (SRMR), ``R/lav_fit_aic.R`` (logl, AIC, BIC, BIC2).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..algebra.moments import LOG2PI, GroupStats, em_saturated, fiml_logl
from ..algebra.patterns import missing_patterns
from .kernel import Problem

#: Names, in lavaan's order, with ``_`` for ``.``.
NAMES = (
    "npar",
    "ntotal",
    "chisq",
    "df",
    "pvalue",
    "baseline_chisq",
    "baseline_df",
    "baseline_pvalue",
    "cfi",
    "tli",
    "rmsea",
    "rmsea_ci_lower",
    "rmsea_ci_upper",
    "rmsea_pvalue",
    "srmr",
    "logl",
    "unrestricted_logl",
    "aic",
    "bic",
    "bic2",
)


def fit_measures(problem: Problem, theta: np.ndarray, npar: int, df: int) -> pd.Series:
    """Every fit measure of :data:`NAMES` for the solution ``theta`` of ``problem``."""
    n, g = problem.ntotal, problem.ngroups
    fg = problem.group_objectives(theta)
    chisq = float(np.sum(problem.n * fg))
    base_chisq, base_df = baseline(problem, df + npar)
    logl = problem.logl(theta)
    h1 = float(sum(st.logl_h1 for st in problem.stats))
    out = dict(
        npar=npar,
        ntotal=int(n),
        chisq=chisq,
        df=df,
        pvalue=_pchisq_upper(chisq, df),
        baseline_chisq=base_chisq,
        baseline_df=base_df,
        baseline_pvalue=_pchisq_upper(base_chisq, base_df),
        cfi=cfi(chisq, df, base_chisq, base_df),
        tli=tli(chisq, df, base_chisq, base_df),
        rmsea=rmsea(chisq, df, n, g),
    )
    out["rmsea_ci_lower"], out["rmsea_ci_upper"] = rmsea_ci(chisq, df, n, g)
    out["rmsea_pvalue"] = rmsea_closefit(chisq, df, n, g)
    out["srmr"] = srmr(problem, theta)
    out.update(
        logl=logl,
        unrestricted_logl=h1,
        aic=-2 * logl + 2 * npar,
        bic=-2 * logl + npar * math.log(n),
        bic2=-2 * logl + npar * math.log((n + 2) / 24),
    )
    return pd.Series(out, name="fit_measures", dtype=float)[list(NAMES)]


def _pchisq_upper(x: float, df: float) -> float:
    return float(stats.chi2.sf(x, df)) if df > 0 else math.nan


def cfi(x2: float, df: float, x2_null: float, df_null: float) -> float:
    """Bentler's CFI as lav_fit_cfi: 1 - max(X2 - df, 0) / max(X2 - df, X2null - dfnull, 0).

    >>> round(cfi(85.306, 24, 918.852, 36), 3)  # lavaan tutorial, HS CFA
    0.931
    """
    t1 = max(x2 - df, 0.0)
    t2 = max(x2 - df, x2_null - df_null, 0.0)
    return 1.0 if math.isclose(t1, 0, abs_tol=1e-12) and math.isclose(t2, 0, abs_tol=1e-12) else 1 - t1 / t2


def tli(x2: float, df: float, x2_null: float, df_null: float) -> float:
    """Tucker-Lewis index, lavaan >= 0.5-21: 1 - ((X2 - df) dfnull) / ((X2null - dfnull) df)."""
    t1, t2 = (x2 - df) * df_null, (x2_null - df_null) * df
    return 1 - t1 / t2 if df > 0 and abs(t2) > 0 else 1.0


def rmsea(x2: float, df: float, n: float, g: int = 1) -> float:
    """sqrt(max(X2/N/df - 1/N, 0)) * sqrt(G); 0 when df = 0 (lav_fit_rmsea)."""
    return math.sqrt(max(x2 / n / df - 1 / n, 0.0)) * math.sqrt(g) if df > 0 else 0.0


def rmsea_ci(x2: float, df: float, n: float, g: int = 1, level: float = 0.90) -> tuple[float, float]:
    """90% CI by inverting the noncentral chi-square in its noncentrality (lav_fit_rmsea_ci)."""
    if df < 1 or not math.isfinite(x2):
        return 0.0, 0.0
    hi_p, lo_p = 1 - (1 - level) / 2, (1 - level) / 2

    def cdf(lam: float) -> float:
        return float(stats.chi2.cdf(x2, df)) if lam <= 0 else float(stats.ncx2.cdf(x2, df, lam))

    if cdf(0) - hi_p < 0:
        lower = 0.0
    else:
        lam = optimize.brentq(lambda l: cdf(l) - hi_p, 0, x2, xtol=1e-9)
        lower = math.sqrt(lam / (n * df)) * math.sqrt(g)
    n_rmsea = max(n, x2 * 4)
    if cdf(n_rmsea) - lo_p > 0 or cdf(0) - lo_p < 0:
        upper = 0.0
    else:
        lam = optimize.brentq(lambda l: cdf(l) - lo_p, 0, n_rmsea, xtol=1e-9)
        upper = math.sqrt(lam / (n * df)) * math.sqrt(g)
    return lower, upper


def rmsea_closefit(x2: float, df: float, n: float, g: int = 1, h0: float = 0.05) -> float:
    """p-value of H0: RMSEA <= 0.05 (lav_fit_rmsea_closefit, Dudgeon's G correction)."""
    if df <= 0:
        return math.nan
    return float(stats.ncx2.sf(x2, df, n * df * h0**2 / g))


def srmr(problem: Problem, theta: np.ndarray) -> float:
    """lavaan's ``srmr`` (= ``srmr_bentler``): residuals scaled by the observed SDs, means
    included under a mean structure, groups weighted by N_g / N."""
    values = problem.values(theta)
    total = 0.0
    p = problem.p
    iu = np.triu_indices(p)
    for g, st in enumerate(problem.stats):
        sigma, mu, *_ = problem.moments(values, g + 1)
        sd = np.sqrt(np.diag(st.cov))
        r = ((st.cov - sigma) / np.outer(sd, sd))[iu]
        ss, count = float(r @ r), len(r)
        if problem.meanstructure:
            rm = (st.mean - mu) / sd
            ss, count = ss + float(rm @ rm), count + p
        total += problem.weights[g] * math.sqrt(ss / count)
    return total


def baseline(problem: Problem, ndat: int) -> tuple[float, int]:
    """Chi-square and df of lavaan's independence model: every modelled variable uncorrelated
    (free variances, and free means under a mean structure); fixed-x covariates keep their
    sample moments. Fitted by FIML too when the model is (its ML estimates are per-variable
    available-case moments, so no optimisation is needed)."""
    spec = problem.spec
    x_names = spec.covariates if spec.options.get("fixed_x", True) else []
    obs = list(problem.layout.observed)
    xi = [obs.index(v) for v in x_names]
    yi = [k for k in range(len(obs)) if k not in xi]
    chisq = 0.0
    for st in problem.stats:
        chisq += 2 * (st.logl_h1 - independence_logl(st, yi, xi))
    per_group = len(yi) * (2 if problem.meanstructure else 1)
    return float(chisq), int(ndat - per_group * problem.ngroups)


def independence_logl(st: GroupStats, yi: list[int], xi: list[int]) -> float:
    """Log-likelihood of the independence model in one group (complete data or FIML)."""
    if st.patterns is None:
        var = np.diag(st.cov)[yi]
        logl = float(np.sum(-st.n / 2 * (LOG2PI + np.log(var) + 1)))
        if xi:
            sx = st.cov[np.ix_(xi, xi)]
            logl += -st.n / 2 * (np.linalg.slogdet(sx)[1] + len(xi) + len(xi) * LOG2PI)
        return logl
    rows = _rows(st)
    logl = 0.0
    for k in yi:
        col = rows[:, k][~np.isnan(rows[:, k])]
        logl += -len(col) / 2 * (LOG2PI + math.log(col.var()) + 1)
    if xi:
        pats = missing_patterns(rows[:, xi])
        mu, sigma = em_saturated(pats, len(xi))
        logl += fiml_logl(pats, mu, sigma)
    return logl


def _rows(st: GroupStats) -> np.ndarray:
    """The group's data matrix (NaN = missing) rebuilt from its patterns."""
    out = np.full((st.n, len(st.mean)), np.nan)
    assert st.patterns is not None  # called for FIML groups only
    for pat in st.patterns:
        out[np.ix_(pat.rows, pat.idx)] = pat.y
    return out
