"""Inference on a fitted table: standard errors, the delta method, R-squared and the checks of
admissibility that make a solution trustworthy or not.

lavaan conventions: ``se`` from the inverse of the expected information (observed under FIML),
``z = est / se``, two-sided normal p-values, 95% Wald intervals; fixed rows get ``se = 0`` and no
``z``; defined parameters (``:=``) and standardized values get delta-method SEs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special, stats

from ..algebra.matrices import evaluate_defined, standardized
from ..defaults import CI_ML
from .engine import Constraints
from .kernel import Problem, table_arrays

if TYPE_CHECKING:
    from ..spec.model import ModelSpec
    from .fit import SemFit

#: The normal quantile of the ML confidence intervals (lavaan's ``parameterEstimates(level = 0.95)``).
Z_ML = float(stats.norm.ppf(0.5 + CI_ML / 2))
#: |latent correlation| above which two latents are reported as near-collinear.
COLLINEAR = 0.95


def vcov(
    problem: Problem, theta: np.ndarray, cons: Constraints, observed: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Covariance matrix of ``theta`` (``K (K' I K)^-1 K' / N``) and problems found on the way."""
    info = problem.observed_information(theta) if observed else problem.evaluate(theta)[2]
    vz, notes = invert_information(cons.K.T @ info @ cons.K)
    return cons.K @ vz @ cons.K.T / problem.ntotal, notes


def invert_information(iz: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The inverse of an information matrix (in the constrained coordinates ``z``), with the
    warnings an unidentified or empirically under-identified model deserves (pseudo-inverse if
    singular)."""
    notes: list[str] = []
    eig = np.linalg.eigvalsh(iz) if iz.size else np.ones(1)
    if eig.min() <= 1e-10 * max(eig.max(), 1e-300):
        notes.append(
            f"the information matrix is singular (smallest eigenvalue {eig.min():.3g}): the model "
            "may not be identified; standard errors cannot be trusted. Check that every latent "
            "has a scale (a fixed loading or variance) and enough indicators"
        )
        vz = np.linalg.pinv(iz)
    else:
        vz = np.linalg.inv(iz)
    ev = np.linalg.eigvalsh(vz) if vz.size else np.ones(1)
    if not notes and ev.min() <= 1e-12 * ev.max():
        notes.append(
            f"the covariance matrix of the estimates is not positive definite (smallest "
            f"eigenvalue {ev.min():.3g}); the model may be empirically under-identified"
        )
    return vz, notes


def jacobian(fun: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian (outputs x parameters) of a function that maps a
    ``(batch, npar)`` array of parameter vectors to ``(batch, outputs)``: one batched call."""
    k = len(theta)
    h = rel * np.maximum(1.0, np.abs(theta))
    steps = np.diag(h)
    out = np.asarray(fun(np.vstack([theta + steps, theta - steps])))
    return ((out[:k] - out[k:]) / (2 * h)[:, None]).T


def delta_se(J: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Delta-method standard errors ``sqrt(diag(J V J'))``."""
    return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", J, v, J), 0, None))


def parameter_table(problem: Problem, theta: np.ndarray, v: np.ndarray) -> pd.DataFrame:
    """``spec.partable`` + ``est se z pvalue ci_lower ci_upper std_lv std_all std_all_se``
    (+ ``std_nox`` with covariates), without the ``== < >`` rows (lavaan's parameterEstimates)."""
    spec, t = problem.spec, problem.spec.table
    layout = problem.layout
    values = evaluate_defined(t, problem.values(theta))
    est_fun = lambda th: evaluate_defined(t, problem.values(th).T).T  # noqa: E731
    std_fun = lambda th: standardized(spec, layout, problem.values(th), "std_all")  # noqa: E731
    free = problem.par >= 0
    defined = table_arrays(spec)["op"] == ":="
    se = np.zeros(len(t))
    se[free] = np.sqrt(np.clip(np.diag(v), 0, None))[problem.par[free]]
    if defined.any():
        se[defined] = delta_se(jacobian(lambda th: est_fun(th)[:, defined], theta), v)
    std_all = std_fun(theta)
    std_se = delta_se(jacobian(std_fun, theta), v)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where((free | defined) & (se > 0), values / se, np.nan)
    new = {
        "est": values,
        "se": se,
        "z": z,
        "pvalue": 2 * special.ndtr(-np.abs(z)),  # = norm.sf, without scipy.stats' per-call checks
        "ci_lower": values - Z_ML * se,
        "ci_upper": values + Z_ML * se,
        "std_lv": standardized(spec, layout, values, "std_lv"),
        "std_all": std_all,
        "std_all_se": std_se,
    }
    if spec.covariates:
        new["std_nox"] = standardized(spec, layout, values, "std_nox")
    keep = ~np.isin(table_arrays(spec)["op"], ["==", "<", ">"])
    # one concatenation, not one insertion per column (each insertion copies pandas' index)
    out = pd.concat([t, pd.DataFrame(new, index=t.index)], axis=1)
    return out[keep].reset_index(drop=True)


def r_squared(spec: ModelSpec, params: pd.DataFrame) -> pd.Series:
    """R-squared of every endogenous variable (lavaan's ``inspect(fit, "r2")``): 1 minus the
    standardized residual variance, for indicators, regressed observed variables and latents."""
    cols = table_arrays(spec)
    endo = (
        set(spec.indicators)
        | set(spec.endogenous_latents)
        | {lhs for lhs, op in zip(cols["lhs"], cols["op"]) if op == "~" and lhs in set(spec.observed)}
    )
    lhs, rhs, op = (params[c].to_numpy(dtype=object) for c in ("lhs", "rhs", "op"))
    keep = (op == "~~") & (lhs == rhs) & np.isin(lhs, list(endo))
    r2 = 1 - params["std_all"].to_numpy()[keep]
    if spec.ngroups == 1:
        return pd.Series(r2, index=pd.Index(lhs[keep], name="variable"), name="r2")
    index = pd.MultiIndex.from_arrays([params["group"].to_numpy()[keep], lhs[keep]], names=["group", "variable"])
    return pd.Series(r2, index=index, name="r2")


def admissibility(problem: Problem, theta: np.ndarray, params: pd.DataFrame) -> list[str]:
    """Heywood cases, latent correlations outside [-1, 1] and near-collinear latents."""
    notes = []
    lv = set(problem.spec.latents)
    multi = problem.ngroups > 1

    def where(g: int) -> str:
        return f" in group {problem.spec.group_labels[g - 1]!r}" if multi else ""

    lhs, rhs, op = (params[c].to_numpy(dtype=object) for c in ("lhs", "rhs", "op"))
    est, grp = params["est"].to_numpy(), params["group"].to_numpy()
    for k in np.flatnonzero((op == "~~") & (lhs == rhs) & (est < 0)):
        what = "variance of the latent" if lhs[k] in lv else "residual variance of"
        notes.append(
            f"Heywood case: the {what} {lhs[k]}{where(grp[k])} is negative ({est[k]:.4g}); "
            "the solution is improper. Check for an indicator that belongs elsewhere, too few "
            "indicators or a misspecified path; fixing it to a small positive value hides "
            "rather than solves the problem"
        )
    values = problem.values(theta)
    latents = problem.layout.latents
    k0 = problem.layout.n_observed
    for g in range(1, problem.ngroups + 1):
        if len(latents) < 2:
            break
        cov = problem.moments(values, g)[2]  # T
        _, S, _ = problem.matrices(values, g)
        full = cov @ S @ cov.T
        lcov = full[k0:, k0:]
        sd = np.sqrt(np.clip(np.diag(lcov), 1e-300, None))
        corr = lcov / np.outer(sd, sd)
        for i, j in itertools.combinations(range(len(latents)), 2):
            r = corr[i, j]
            if abs(r) > 1:
                notes.append(
                    f"the correlation between latents {latents[i]} and {latents[j]}{where(g)} is "
                    f"{r:.3f}, outside [-1, 1]: the solution is improper. The two constructs "
                    "are not distinguished by these data; merge them or revise their indicators"
                )
            elif abs(r) > COLLINEAR:
                notes.append(
                    f"latents {latents[i]} and {latents[j]}{where(g)} are nearly collinear "
                    f"(r = {r:.3f}): their separate effects are poorly determined (large SEs, "
                    "unstable signs); consider merging them or a higher-order factor"
                )
        ev = np.linalg.eigvalsh(lcov)
        if ev.min() < 0 and not any("outside [-1, 1]" in n for n in notes):
            notes.append(
                f"the covariance matrix of the latent variables{where(g)} is not positive "
                f"definite (smallest eigenvalue {ev.min():.3g}); the solution is improper"
            )
    return notes


def std_all_vcov(fit: SemFit, rows: Iterable[int] | None = None) -> pd.DataFrame:
    """Delta-method covariance matrix of the ``std_all`` estimates of a fitted SEM.

    ``parameter_table`` gives each standardized value its own SE (``std_all_se``); a test of a
    difference or ratio of standardized values (is beliefs' weight larger than experience's?) also
    needs their covariances: ``J V J'``, with ``J`` the Jacobian of ``std_all`` in the free parameters
    and ``V`` = ``fit.vcov``. In R: ``lavInspect(fit, "vcov.std.all")``.

    Parameters
    ----------
    fit : SemFit
        A fit from :func:`loyaltymodels.fit_sem`.
    rows : sequence of int, optional
        Index labels of ``fit.parameters`` (default: every row).

    Returns
    -------
    DataFrame
        Square, indexed and labelled by ``rows``; its diagonal is ``std_all_se ** 2``.

    Examples
    --------
    >>> import numpy as np, loyaltymodels as lm
    >>> from loyaltymodels.sem.inference import std_all_vcov
    >>> data, _ = lm.simulate("y ~ 0.4*x1 + 0.3*x2; x1 ~~ 0.5*x2", n=300, seed=1)
    >>> fit = lm.fit_sem("y ~ x1 + x2", data)
    >>> rows = fit.parameters.query("op == '~'").index
    >>> v = std_all_vcov(fit, rows)
    >>> bool(np.allclose(np.sqrt(np.diag(v)), fit.parameters.loc[rows, "std_all_se"]))
    True
    >>> d = np.array([1, -1])   # SE of std(x1) - std(x2)
    >>> round(float(np.sqrt(d @ v.to_numpy() @ d)), 3)
    0.099
    """
    problem = fit.problem
    spec = problem.spec
    keep = np.flatnonzero(~np.isin(spec.table.op.to_numpy(dtype=object), ["==", "<", ">"]))
    index = fit.parameters.index if rows is None else pd.Index(rows)
    std_fun = lambda th: standardized(spec, problem.layout, problem.values(th), "std_all")  # noqa: E731
    J = jacobian(std_fun, fit.theta)[keep[index.to_numpy(dtype=int)]]
    v = J @ fit.vcov.to_numpy() @ J.T
    return pd.DataFrame(v, index=index, columns=index)
