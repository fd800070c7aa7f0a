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
from scipy import special

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
#: What a robust estimator adds (lavaan's names with ``_`` for ``.``): the scaled test of the model
#: and of the baseline, fit indices computed from the scaled statistics (``_scaled``) and the
#: robust indices of Brosseau-Liard, Savalei & Li (2012, 2014) (``_robust``).
SCALED_NAMES = (
    "chisq_scaled",
    "df_scaled",
    "pvalue_scaled",
    "chisq_scaling_factor",
    "baseline_chisq_scaled",
    "baseline_df_scaled",
    "baseline_pvalue_scaled",
    "baseline_chisq_scaling_factor",
    "cfi_scaled",
    "tli_scaled",
    "cfi_robust",
    "tli_robust",
    "rmsea_scaled",
    "rmsea_ci_lower_scaled",
    "rmsea_ci_upper_scaled",
    "rmsea_pvalue_scaled",
    "rmsea_robust",
    "rmsea_ci_lower_robust",
    "rmsea_ci_upper_robust",
)


def chisq_measures(
    npar: int, n: float, chisq: float, df: int, base_chisq: float, base_df: int, g: int
) -> dict[str, float]:
    """The measures read from the model's and the baseline's test statistics alone (chi-square
    test, CFI, TLI, RMSEA with its interval and close-fit test), as lavaan computes them; shared by
    ML and WLSMV."""
    out: dict[str, float] = dict(
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
    return out


def fit_measures(problem: Problem, theta: np.ndarray, npar: int, df: int) -> pd.Series:
    """Every fit measure of :data:`NAMES` for the solution ``theta`` of ``problem``."""
    n, g = problem.ntotal, problem.ngroups
    fg = problem.group_objectives(theta)
    chisq = float(np.sum(problem.n * fg))
    base_chisq, base_df = baseline(problem, df + npar)
    logl = problem.logl(theta)
    h1 = float(sum(st.logl_h1 for st in problem.stats))
    out = chisq_measures(npar, n, chisq, df, base_chisq, base_df, g)
    out["srmr"] = srmr(problem, theta)
    out.update(
        logl=logl,
        unrestricted_logl=h1,
        aic=-2 * logl + 2 * npar,
        bic=-2 * logl + npar * math.log(n),
        bic2=-2 * logl + npar * math.log((n + 2) / 24),
    )
    return pd.Series(out, name="fit_measures", dtype=float)[list(NAMES)]


def scaled_measures(
    fm: pd.Series,
    c: float,
    c_base: float,
    n: float,
    g: int,
    shift: float = 0.0,
    base_shift: float = 0.0,
) -> pd.Series:
    """``fm`` plus :data:`SCALED_NAMES`, from the scaling factors ``c`` (model) and ``c_base``
    (baseline) of a robust test: ``T / c`` (Satorra-Bentler, Yuan-Bentler), or ``T / c + shift``
    for the scaled-and-shifted test (then ``c`` is lavaan's ``1 / a``).

    The ``_robust`` indices (for the scaled tests without a shift) estimate the population values
    of CFI, TLI and RMSEA, not those of the scaled statistic: noncentrality ``T - c df``
    (Brosseau-Liard & Savalei 2014, Brosseau-Liard, Savalei & Li 2012); the robust RMSEA interval
    is that of the scaled statistic times ``sqrt(c)``. With a shift they are NaN.

    >>> fm = pd.Series({"chisq": 85.306, "df": 24.0, "baseline_chisq": 918.852, "baseline_df": 36.0})
    >>> out = scaled_measures(fm, 0.979, 1.05, 301, 1)
    >>> round(float(out["chisq_scaled"]), 3), round(float(out["chisq_scaling_factor"]), 3)
    (87.136, 0.979)
    """
    x2, df, xb, dfb = (float(fm[k]) for k in ("chisq", "df", "baseline_chisq", "baseline_df"))
    t, tb = x2 / c + shift, xb / c_base + base_shift
    out = dict(
        chisq_scaled=t,
        df_scaled=df,
        pvalue_scaled=_pchisq_upper(t, df),
        chisq_scaling_factor=c,
        baseline_chisq_scaled=tb,
        baseline_df_scaled=dfb,
        baseline_pvalue_scaled=_pchisq_upper(tb, dfb),
        baseline_chisq_scaling_factor=c_base,
        cfi_scaled=cfi(t, df, tb, dfb),
        tli_scaled=tli(t, df, tb, dfb),
        rmsea_scaled=rmsea(t, df, n, g),
        rmsea_pvalue_scaled=rmsea_closefit(t, df, n, g),
    )
    out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"] = rmsea_ci(t, df, n, g)
    nan = math.nan
    if shift or base_shift or not math.isfinite(c):
        out.update(
            cfi_robust=nan, tli_robust=nan, rmsea_robust=nan, rmsea_ci_lower_robust=nan, rmsea_ci_upper_robust=nan
        )
    else:
        out["cfi_robust"] = cfi(x2, c * df, xb, c_base * dfb)  # max(T - c df, 0) / max(., Tb - cb dfb, 0)
        t1, t2 = (x2 - c * df) * dfb, (xb - c_base * dfb) * df
        out["tli_robust"] = 1 - t1 / t2 if df > 0 and abs(t2) > 0 else 1.0
        out["rmsea_robust"] = math.sqrt(max((x2 - c * df) / (n * df), 0.0)) * math.sqrt(g) if df > 0 else 0.0
        lo, hi = out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"]
        out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = lo * math.sqrt(c), hi * math.sqrt(c)
    extra = pd.Series(out, dtype=float)[list(SCALED_NAMES)]
    return pd.concat([fm, extra]).rename("fit_measures")


def _pchisq_upper(x: float, df: float) -> float:
    # scipy.special's ufuncs, not scipy.stats' distribution objects: the same cdflib/Boost code
    # without ~100 us of argument checking per call (fit_sem's budget is a few milliseconds)
    return float(special.chdtrc(df, x)) if df > 0 else math.nan


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
    """90% CI by inverting the noncentral chi-square in its noncentrality (lav_fit_rmsea_ci):
    the noncentrality ``lam`` with ``P(chi2(df, lam) <= X2) = 0.95`` (lower) and ``0.05`` (upper),
    ``sqrt(lam / (N df)) sqrt(G)``, 0 where no such ``lam >= 0`` exists (lavaan's guards).

    The inversion is cdflib's (``scipy.special.chndtrinc``): exact to rounding (within 1e-13 of
    lavaan's root-finding on HS, PolDem and ECSI) in one call instead of ~30 noncentral CDFs.

    >>> [round(v, 3) for v in rmsea_ci(85.306, 24, 301)]  # lavaan tutorial, HS CFA: 0.071 0.114
    [0.071, 0.114]
    """
    if df < 1 or not math.isfinite(x2):
        return 0.0, 0.0
    hi_p, lo_p = 1 - (1 - level) / 2, (1 - level) / 2
    central = float(special.chdtr(df, x2))  # the CDF at lam = 0; it decreases in lam
    scale = math.sqrt(g) / math.sqrt(n * df)
    lower = 0.0 if central < hi_p else math.sqrt(float(special.chndtrinc(x2, df, hi_p))) * scale
    n_rmsea = max(n, x2 * 4)  # lavaan searches lam in [0, max(N, 4 X2)]
    if float(special.chndtr(x2, df, n_rmsea)) > lo_p or central < lo_p:
        upper = 0.0
    else:
        upper = math.sqrt(float(special.chndtrinc(x2, df, lo_p))) * scale
    return lower, upper


def rmsea_closefit(x2: float, df: float, n: float, g: int = 1, h0: float = 0.05) -> float:
    """p-value of H0: RMSEA <= 0.05 (lav_fit_rmsea_closefit, Dudgeon's G correction)."""
    if df <= 0:
        return math.nan
    return 1.0 - float(special.chndtr(x2, df, n * df * h0**2 / g))


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
    mean, cov = independence_moments(st, yi, xi)
    # the independence model's FIML log-likelihood: the normal one at its estimates, whose
    # covariance is block-diagonal (each modelled variable alone, the covariates together)
    return fiml_logl(st.patterns, mean, cov)


def independence_moments(st: GroupStats, yi: list[int], xi: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, cov)`` implied by the independence model's estimates in one group: the sample
    (complete data) or available-case (FIML) means and variances of the modelled variables, zero
    covariances, and the (EM) moments of fixed-x covariates."""
    p = len(st.mean)
    cov, mean = np.zeros((p, p)), st.mean.copy()
    if st.patterns is None:
        cov[yi, yi] = np.diag(st.cov)[yi]
        if xi:
            cov[np.ix_(xi, xi)] = st.cov[np.ix_(xi, xi)]
        return mean, cov
    rows, weights = _rows(st)
    for k in yi:
        seen = ~np.isnan(rows[:, k])
        col, w = rows[seen, k], weights[seen]
        mean[k] = w @ col / w.sum()
        cov[k, k] = w @ (col - mean[k]) ** 2 / w.sum()
    if xi:
        mu, sigma = em_saturated(missing_patterns(rows[:, xi], weights=weights), len(xi))
        mean[xi], cov[np.ix_(xi, xi)] = mu, sigma
    return mean, cov


def _rows(st: GroupStats) -> tuple[np.ndarray, np.ndarray]:
    """The group's data matrix (NaN = missing) rebuilt from its patterns, and its rows' sampling
    weights (ones without)."""
    out = np.full((st.n, len(st.mean)), np.nan)
    weights = np.ones(st.n)
    assert st.patterns is not None  # called for FIML groups only
    for pat in st.patterns:
        out[np.ix_(pat.rows, pat.idx)] = pat.y
        if pat.weights is not None:
            weights[pat.rows] = pat.weights
    return out, weights
