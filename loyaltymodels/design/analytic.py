"""The quick answer before the simulation: power of a Wald test from an effect and its standard error.

Every question :func:`loyaltymodels.sample_size` plans for is answered, in the end, by an estimate
``d`` compared with its standard error. In large samples ``SE(n) = sd1 / sqrt(n)``, with ``sd1`` the
standard deviation one respondent contributes, so the power of the two-sided test at level ``alpha``
is ``Phi(|d| sqrt(n) / sd1 - z) + Phi(-|d| sqrt(n) / sd1 - z)``, ``z = Phi^-1(1 - alpha / 2)``, and the
sample size that reaches a power follows in closed form. ``sd1`` comes from a closed form where one
exists (the NPS: two independent trinomial proportions) and otherwise from one fit to a very large
simulated sample (the asymptotic, expected-information standard error of the package's own estimator,
rescaled), which is the analytic power analysis of SEM (Satorra & Saris 1985) with the population
moments replaced by a large draw so that rating scales are accounted for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["wald_power", "wald_n", "nps_sd1", "shares_nps"]


def wald_power(
    effect: float, sd1: float, n: float | np.ndarray, alpha: float = 0.05, *, sides: int = 2, factor: float = 1.0
) -> np.ndarray:
    """Power of the Wald test of ``effect`` at ``n`` respondents (per unit), times ``factor``.

    ``sides=1`` tests in the direction of the effect only (a condition such as "a4 < 0" read from a
    two-sided interval: level ``alpha / 2`` on that side). ``factor`` multiplies in the probability of
    further conditions that must also hold.

    Examples
    --------
    A standardized regression weight of 0.25 with sd1 = 1 (the regression y = 0.25 x + e of unit
    residual variance), 126 respondents:

    >>> round(float(wald_power(0.25, 1.0, 126)), 3)
    0.801
    """
    z = stats.norm.ppf(1 - alpha / 2)
    lam = abs(effect) * np.sqrt(np.asarray(n, dtype=float)) / sd1
    power = stats.norm.cdf(lam - z)
    if sides == 2:
        power = power + stats.norm.cdf(-lam - z)
    return factor * power


def wald_n(
    effect: float, sd1: float, power: float = 0.8, alpha: float = 0.05, *, sides: int = 2, factor: float = 1.0
) -> float:
    """Fewest respondents (per unit) at which :func:`wald_power` reaches ``power`` (``inf`` when the
    effect is 0 or ``power`` exceeds ``factor``).

    Examples
    --------
    >>> wald_n(0.25, 1.0), wald_n(0.0, 1.0)
    (126.0, inf)
    """
    if effect == 0 or not np.isfinite(sd1) or power >= factor:
        return math.inf
    z = stats.norm.ppf(1 - alpha / 2)
    n = math.ceil(((z + stats.norm.ppf(power / factor)) * sd1 / abs(effect)) ** 2)
    while n > 1 and wald_power(effect, sd1, n - 1, alpha, sides=sides, factor=factor) >= power:
        n -= 1  # the far tail of a two-sided test can lower the closed form's answer by one
    return float(n)


def nps_sd1(*waves: Sequence[float]) -> float:
    """``sd1`` of the difference of two NPS (as proportions) from independent samples of equal size:
    ``sqrt(V_a + V_b)``, ``V = p + d - (p - d)^2`` for promoter share ``p`` and detractor share ``d``
    (the trinomial variance of ``p_hat - d_hat`` times n).

    Examples
    --------
    >>> round(nps_sd1((0.3, 0.35, 0.35), (0.25, 0.35, 0.40)), 4)
    1.1292
    """
    total = 0.0
    for detractors, _passives, promoters in waves:
        total += promoters + detractors - (promoters - detractors) ** 2
    return math.sqrt(total)


def shares_nps(shares: Sequence[float]) -> float:
    """The NPS (in points) of ``(detractors, passives, promoters)`` shares.

    >>> shares_nps((0.25, 0.35, 0.40))
    15.0
    """
    return round(100 * (shares[2] - shares[0]), 10)
