"""Robust ML: Huber-White sandwich standard errors and the scaled test statistics of lavaan's
``estimator = "MLR"`` (Yuan-Bentler, Mplus variant) and ``"MLM"`` (Satorra-Bentler).

Both estimators keep the ML estimates and change what is inferred from them. With ``E`` the
information of the model per observation (the bread), ``Delta_g = d eta_g / d theta`` the Jacobian of
group ``g``'s moments ``eta = (mu, vech Sigma)``, ``A_g`` the information of the unrestricted (h1)
model and ``B_g`` the per-observation "meat" in moment space:

- MLR (lavaan's ``se = "robust.huber.white"``, ``test = "yuan.bentler.mplus"``): ``E`` the observed
  information (the Hessian), ``A_g`` the observed h1 information, ``B_g = sum_i w_i^2 s_i s_i' / N_g``
  with ``s_i`` the casewise scores of the normal log-likelihood (complete data or FIML);
- MLM (``se = "robust.sem"``, ``test = "satorra.bentler"``): ``E`` and ``A_g`` expected,
  ``B_g = A_g Gamma_g A_g`` with ``Gamma_g`` the ADF covariance of the sample moments.

Every h1 quantity is evaluated at the model-implied moments (lavaan's default
``h1.information = "structured"``). Then, with ``f_g = N_g / N`` and ``B = sum_g f_g Delta_g' B_g Delta_g``,

    vcov = E^-1 B E^-1 / N,     c = (sum_g tr(A_g^-1 B_g) - tr(E^-1 B)) / df,     T_scaled = T / c,

(linear equality constraints enter through ``theta = c0 + K z``). For MLM ``tr(A^-1 B) - tr(E^-1 B)``
is Satorra-Bentler's ``tr(U Gamma)``. Moments of fixed-x covariates are not modelled (their
rows are left out of ``eta``), as they are left out of the degrees of freedom. Sampling weights
enter the moments and the scores (weights normalized to mean 1 within each group).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..algebra.moments import GroupStats
from .constraints import Constraints
from .h1 import adf_gamma, delta, expected_information, observed_information, scores
from .inference import invert_information
from .kernel import Problem
from .measures import independence_moments

__all__ = ["GroupData", "RobustML", "robust_ml", "scaling_factor"]


@dataclass(frozen=True)
class GroupData:
    """The rows of one group (NaN = missing under FIML) and their sampling weights (mean 1) or None."""

    y: np.ndarray
    weights: np.ndarray | None = None


@dataclass(frozen=True)
class RobustML:
    """What a robust ML estimator adds to the ML estimates."""

    vcov: np.ndarray
    notes: list[str]
    scaling_factor: float
    baseline_scaling_factor: float
    test: str
    se: str


def _kept_moments(problem: Problem) -> np.ndarray:
    """Mask over ``eta`` of the modelled moments (fixed-x covariates' means and (co)variances out)."""
    spec, p = problem.spec, problem.p
    obs = list(problem.layout.observed)
    x = np.zeros(p, bool)
    if spec.options.get("fixed_x", True):
        x[[obs.index(v) for v in spec.covariates]] = True
    rows, cols = np.tril_indices(p)
    keep = ~(x[rows] & x[cols])
    return np.concatenate([~x, keep]) if problem.meanstructure else keep


def _information(
    st: GroupStats, mu: np.ndarray, sigma: np.ndarray, meanstructure: bool, observed: bool, keep: np.ndarray
) -> np.ndarray:
    """h1 information per observation at ``(mu, sigma)``, restricted to the kept moments."""
    if observed:
        A = observed_information(st.cov, st.mean, mu, sigma, meanstructure, st.patterns)
    else:
        A = expected_information(sigma, meanstructure)
    return A[np.ix_(keep, keep)]


def _first_order(
    st: GroupStats, data: GroupData, mu: np.ndarray, sigma: np.ndarray, meanstructure: bool, keep: np.ndarray
) -> np.ndarray:
    """``sum_i w_i^2 s_i s_i' / N_g`` of the casewise scores at ``(mu, sigma)`` (lavaan's first-order
    information; not centred), restricted to the kept moments."""
    s = scores(data.y, mu, sigma, meanstructure, st.patterns)[:, keep]
    if data.weights is not None:
        s = s * data.weights[:, None]
    return s.T @ s / len(s)


def _meat(
    estimator: str,
    st: GroupStats,
    data: GroupData,
    mu: np.ndarray,
    sigma: np.ndarray,
    meanstructure: bool,
    observed: bool,
    keep: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A, B1, B0)`` of one group: the h1 information and meat of the trace ``tr(A^-1 B1)``,
    and the meat ``B0`` of the sandwich in moment space (``Delta' B0 Delta``), at the structured
    moments ``(mu, sigma)``.

    MLM (Satorra-Bentler): ``A`` the expected information at ``(mu, sigma)``, ``B1 = B0 = A Gamma A``.
    MLR (Yuan-Bentler, Mplus variant): ``A`` and ``B1`` at the unrestricted estimates (sample or EM
    moments: lavaan's ``yuan.bentler.mplus`` trace, which gives lavaan's 87.132 and 0.979 on the HS
    CFA, where the structured h1 would give 80.890), ``B0`` the first-order information at ``(mu, sigma)``.
    """
    if not meanstructure:
        mu = st.mean  # the means are the sample means and carry no information
    if estimator == "MLM":
        A = _information(st, mu, sigma, meanstructure, False, keep)
        gamma = adf_gamma(data.y, meanstructure)[np.ix_(keep, keep)]
        B = A @ gamma @ A
        return A, B, B
    A = _information(st, st.mean, st.cov, meanstructure, observed, keep)
    B1 = _first_order(st, data, st.mean, st.cov, meanstructure, keep)
    B0 = _first_order(st, data, mu, sigma, meanstructure, keep)
    return A, B1, B0


def _trace(A: np.ndarray, B: np.ndarray) -> float:
    return float(np.trace(np.linalg.solve(A, B)))


def robust_ml(
    problem: Problem,
    theta: np.ndarray,
    cons: Constraints,
    data: list[GroupData],
    estimator: str,
    observed: bool,
    df: int,
    baseline_df: int,
) -> RobustML:
    """Sandwich covariance matrix of ``theta`` and the scaling factors of the model's and the
    baseline model's chi-squares, for ``estimator`` ``"MLR"`` or ``"MLM"``.

    ``observed`` chooses the observed (Hessian) information as the bread and as the h1
    information of the test (lavaan's default for MLR), else the expected one (MLM).
    """
    if estimator not in ("MLR", "MLM"):
        raise ValueError(f"robust_ml: estimator={estimator!r}; choose 'MLR' or 'MLM'")
    keep = _kept_moments(problem)
    values = problem.values(theta)
    K = cons.K
    info = problem.observed_information(theta) if observed else problem.evaluate(theta)[2]
    bread, notes = invert_information(K.T @ info @ K)
    meat = np.zeros((problem.npar, problem.npar))
    trace_h1 = 0.0
    for g in range(problem.ngroups):
        sigma, mu, T, S, m = problem.moments(values, g + 1)
        Jsig, Jmu = problem.jacobian(values, g + 1, T, S, m)
        D = delta(Jsig, Jmu, problem.meanstructure)[keep]
        A, B1, B0 = _meat(estimator, problem.stats[g], data[g], mu, sigma, problem.meanstructure, observed, keep)
        meat += problem.weights[g] * D.T @ B0 @ D
        trace_h1 += _trace(A, B1)
    meat_z = K.T @ meat @ K
    v = K @ bread @ meat_z @ bread @ K.T / problem.ntotal
    trace_h0 = float(np.trace(bread @ meat_z))
    c = scaling_factor(trace_h1 - trace_h0, df)
    c_base = _baseline_scaling(problem, data, estimator, observed, keep, baseline_df)
    return RobustML(
        vcov=v,
        notes=notes,
        scaling_factor=c,
        baseline_scaling_factor=c_base,
        test="yuan.bentler.mplus" if estimator == "MLR" else "satorra.bentler",
        se="robust.huber.white" if estimator == "MLR" else "robust.sem",
    )


def scaling_factor(trace_u_gamma: float, df: float) -> float:
    """``tr(U Gamma) / df`` (NaN without degrees of freedom, as lavaan)."""
    return trace_u_gamma / df if df > 0 else math.nan


def _baseline_scaling(
    problem: Problem, data: list[GroupData], estimator: str, observed: bool, keep: np.ndarray, df: int
) -> float:
    """Scaling factor of the independence model's chi-square (lavaan fits the baseline with the
    same estimator, so its scaled test has its own factor): free variances (and means) of the
    modelled variables, evaluated at the baseline's estimates. The baseline is linear in its
    parameters, so its observed information is exactly ``Delta' A Delta``."""
    p, ms = problem.p, problem.meanstructure
    obs = list(problem.layout.observed)
    x = set(problem.spec.covariates) if problem.spec.options.get("fixed_x", True) else set()
    yi = [k for k, v in enumerate(obs) if v not in x]
    xi = [k for k, v in enumerate(obs) if v in x]
    rows, cols = np.tril_indices(p)
    diag_pos = {int(r): k for k, (r, c) in enumerate(zip(rows, cols)) if r == c}
    off = p if ms else 0
    q = len(rows) + off
    D = np.zeros((q, len(yi) * (2 if ms else 1)))
    for j, k in enumerate(yi):
        D[off + diag_pos[k], j] = 1.0
        if ms:
            D[k, len(yi) + j] = 1.0
    D = D[keep]
    total = 0.0
    for g, st in enumerate(problem.stats):
        mu, sigma = independence_moments(st, yi, xi)
        A, B1, B0 = _meat(estimator, st, data[g], mu, sigma, ms, observed, keep)
        # the baseline's own information (the bread of its test) at its estimates: exactly
        # Delta' A Delta, the baseline being linear in its parameters
        A0 = _information(st, mu if ms else st.mean, sigma, ms, observed, keep)
        total += _trace(A, B1) - _trace(D.T @ A0 @ D, D.T @ B0 @ D)
    return scaling_factor(total, df)
