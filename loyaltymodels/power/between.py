"""Targets that compare sectors: does a driver weigh differently on loyalty in two sectors?

:func:`weights_differ` (in :mod:`loyaltymodels.power.targets`) compares two drivers within one
sector; :func:`sectors_differ` compares one driver across two sectors of a multigroup fit. The two
sectors' estimates are correlated when the measurement model is held equal across sectors, so the
test uses their joint delta-method covariance, not the sum of their variances.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
from scipy import stats

from ..errors import ArgumentError
from .targets import (
    Target,
    _interval_excludes_zero,
    _truth_value,
    contrast_result,
    group_labels,
    group_number,
    std_all_contrast,
)

__all__ = ["sectors_differ"]


def sectors_differ(
    driver: str,
    sectors: tuple[str, str],
    alpha: float = 0.05,
    *,
    outcome: str = "Loyalty",
) -> Target:
    """Target: the standardized weight of ``driver`` on ``outcome`` differs between two sectors.

    SEM: Wald test of ``d = std_all[a] - std_all[b]``, two-sided at ``alpha``, with the delta-method
    covariance of the two estimates (:func:`loyaltymodels.sem.inference.std_all_vcov`). Bayes: the
    equal-tailed ``1 - alpha`` interval of ``d`` excludes 0. Key parameters kept: both weights.

    Examples
    --------
    >>> sectors_differ("Experience", ("retail", "banking")).name
    'sectors_differ[Experience: retail vs banking]'
    """
    a, b = (str(s) for s in sectors)
    if a == b:
        raise ArgumentError(f"sectors_differ needs two different sectors, got {a!r} twice")
    if not 0 < alpha < 1:
        raise ArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    spec: dict[str, Any] = dict(kind="sectors_differ", driver=driver, sectors=[a, b], alpha=alpha, outcome=outcome)
    return Target(f"sectors_differ[{driver}: {a} vs {b}]", partial(_sectors_differ, **spec), spec)


def _sectors_differ(
    fit: Any,
    truth: pd.DataFrame | None,
    estimator: str,
    *,
    driver: str,
    sectors: list[str],
    alpha: float,
    outcome: str,
    **_: Any,
) -> dict:
    groups = [group_number(fit, s) for s in sectors]
    labels = group_labels(fit)
    key = (outcome, "~", driver)
    true = [_truth_value(truth, *key, labels[g - 1], g, True) for g in groups]
    names = [f"{outcome}~{driver}[{s}] std_all" for s in sectors]
    d, se_d, est, se, diff = std_all_contrast(fit, estimator, [(key, g) for g in groups])
    if diff is None:
        detected = bool(2 * stats.norm.sf(abs(d) / se_d) < alpha) if se_d > 0 else False
    else:
        detected = _interval_excludes_zero(diff, alpha)
    return contrast_result(detected, d, se_d, true, names, est, se)
