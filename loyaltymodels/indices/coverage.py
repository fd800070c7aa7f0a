"""Exact coverage of the index intervals: for intervals that depend on the data only through counts,
the probability, summed over every possible sample of size n, that the interval holds the truth.

Used by the paper's coverage table and the coverage benchmark; the test suite checks these sums
against the same coverage computed through :func:`loyaltymodels.nps` and :func:`loyaltymodels.csat`
on every sample.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from . import intervals as iv

__all__ = ["nps_exact_coverage", "wilson_exact_coverage"]


def nps_exact_coverage(n: int, shares: tuple[float, float, float], method: str = "adjusted_wald") -> float:
    """Coverage of the NPS interval (``method`` ``"adjusted_wald"`` or ``"wald"``, 95%) at sample
    size ``n`` when the population shares of (detractors, passives, promoters) are ``shares``:
    every trinomial outcome weighted by its probability.

    Examples
    --------
    >>> round(nps_exact_coverage(100, (0.3, 0.4, 0.3)), 3)
    0.948
    """
    d, p = (a.ravel() for a in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    keep = d + p <= n
    d, p = d[keep], p[keep]
    with np.errstate(divide="ignore"):
        logpmf = (
            special.gammaln(n + 1)
            - special.gammaln(d + 1)
            - special.gammaln(p + 1)
            - special.gammaln(n - d - p + 1)
            + special.xlogy(d, shares[0])
            + special.xlogy(p, shares[2])
            + special.xlogy(n - d - p, shares[1])
        )
    kernel = {"adjusted_wald": iv.nps_adjusted_wald, "wald": iv.nps_wald}[method]
    lo, hi = kernel(p / n, d / n, n)
    truth = shares[2] - shares[0]
    return float(np.exp(logpmf)[(lo <= truth) & (truth <= hi)].sum())


def wilson_exact_coverage(n: int, p: float) -> float:
    """Coverage of the 95% Wilson interval of a share (CSAT, Secure Customer Index) at sample size
    ``n`` and true share ``p``: every binomial outcome weighted by its probability.

    Examples
    --------
    >>> round(wilson_exact_coverage(50, 0.3), 3)
    0.957
    """
    k = np.arange(n + 1)
    lo, hi = iv.wilson(k / n, n)
    return float(stats.binom.pmf(k, n, p)[(lo <= p) & (p <= hi)].sum())
