"""WLSMV: ordered items fitted as lavaan's ``sem(..., ordered = ..., estimator = "WLSMV")`` does.

Thresholds and polychoric correlations per group (:mod:`loyaltymodels.sem.polychoric`; continuous
variables beside the ordered items enter by their means, variances, polyserial covariances and
covariances, :mod:`loyaltymodels.sem.polyserial`), the DWLS
estimates on them (:mod:`loyaltymodels.sem.dwls`), robust standard errors (lavaan's
``se = "robust.sem"``: ``E^-1 Delta' W Gamma W Delta E^-1 / N`` with ``E = Delta' W Delta``) and the
mean-and-variance adjusted test of Asparouhov & Muthen (2010) (lavaan's ``test = "scaled.shifted"``):
``T* = a T + b`` with ``a = sqrt(df / tr((U Gamma)^2))``, ``b = df - a tr(U Gamma)``,
``U = W - W Delta E^-1 Delta' W``; lavaan prints ``1 / a`` as the scaling factor and ``b`` as the
shift. Delta parameterization; with several groups, lavaan's identification: thresholds free in
every group unless ``group_equal`` has ``"thresholds"``, which also frees the scales ``y ~*~ y``
and the latent means of groups 2+.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..algebra.moments import moment_stats
from ..data.validate import validate_data
from ..errors import ConvergenceError, DataError, SemWarning, SpecError
from ..spec.model import ModelSpec
from . import engine as sem_engine
from .dwls import OrdinalProblem
from .fit import SemFit
from .inference import admissibility, invert_information, parameter_table, r_squared
from .measures import _pchisq_upper, chisq_measures, scaled_measures
from .options import cached_spec
from .polychoric import OrdinalStats, ordinal_stats

__all__ = ["ScaledShifted", "fit_wlsmv", "ordered_items", "scaled_shifted"]


def ordered_items(spec: ModelSpec, ordered: bool | Sequence[str]) -> list[str]:
    """The ordered items: every observed variable (``True``) or those named, checked."""
    if isinstance(ordered, bool):
        items = [v for v in spec.observed if v not in spec.covariates] if ordered else []
    elif isinstance(ordered, str):
        items = [ordered]
    else:
        items = list(ordered)
    unknown = [v for v in items if v not in spec.observed]
    if unknown:
        raise SpecError(
            f"ordered item {unknown[0]!r} is not an observed variable of the model ({', '.join(spec.observed)})"
        )
    if spec.covariates:
        raise SpecError(
            f"exogenous covariates ({', '.join(spec.covariates)}) with ordered items need lavaan's "
            "conditional.x (probit regressions), which fit_sem does not do yet; model them as "
            "indicators of a latent or fit the items as continuous (estimator='MLR')"
        )
    t = spec.table
    predictors = sorted(set(t.rhs[(t.op == "~") & t.rhs.isin(items)]))
    if predictors:
        raise SpecError(
            f"ordered item(s) {', '.join(predictors)} predict other variables ('~'); with the delta "
            "parameterization fit_sem needs ordered items to be indicators or outcomes only: "
            "regress on a latent measured by the item instead"
        )
    return items


def _extend(spec: ModelSpec) -> ModelSpec:
    """lavaan's parameter table for ordered items: one scale ``y ~*~ y`` per item and group (fixed
    to 1), freed in groups 2+ with the latent means when thresholds are equal across groups."""
    if (spec.table.op == "~*~").any():  # already extended (a fit's spec passed back)
        return spec
    t = spec.table.copy()
    ge = set(spec.options.get("group_equal") or ())
    tie = "thresholds" in ge and spec.ngroups > 1
    next_par = int(t.par.max()) + 1 if (t.par >= 0).any() else 0
    if tie and "means" not in ge and "intercepts" not in ge:  # parse_model frees them for intercepts
        rows = (t.op == "~1") & t.lhs.isin(spec.latents) & (t.group > 1) & ~t.user
        for r in np.flatnonzero(rows.to_numpy()):
            t.loc[r, ["free", "value", "par"]] = [True, math.nan, next_par]
            next_par += 1
    new = []
    for g in range(1, spec.ngroups + 1):
        for v in spec.ordinal:
            free = tie and g > 1
            new.append(
                dict(lhs=v, op="~*~", rhs=v, group=g, label="", free=free, value=math.nan if free else 1.0)
                | dict(start=math.nan, lower=math.nan, upper=math.nan, prior="", user=False, exo=False)
                | dict(par=next_par if free else -1)
            )
            next_par += free
    body, cons = t[t.group > 0], t[t.group == 0]
    out = pd.concat([body, pd.DataFrame(new), cons], ignore_index=True)
    out["id"] = np.arange(1, len(out) + 1)
    out["plabel"] = [f".p{i}." if g > 0 else "" for i, g in zip(out.id, out.group)]
    out = out.astype({"free": bool, "user": bool, "exo": bool, "par": int, "group": int})[list(t.columns)]
    return ModelSpec(table=out, syntax=spec.syntax, options=spec.options)


@dataclass(frozen=True)
class ScaledShifted:
    """``a`` and ``b`` of the scaled-and-shifted statistic ``a T + b``, and the traces."""

    a: float
    b: float
    trace: float
    trace2: float


def scaled_shifted(
    deltas: list[np.ndarray], ordinal: list[OrdinalStats], fg: np.ndarray, K: np.ndarray, df: float
) -> ScaledShifted:
    """Asparouhov & Muthen's (2010) scaled-and-shifted test from the stacked groups: ``Delta`` of each
    group in the constrained coordinates, ``W = diag(f_g / diag(Gamma_g))``, ``Gamma_g / f_g``."""
    D = np.vstack([d @ K for d in deltas])
    w = np.concatenate([f / np.diag(st.gamma) for f, st in zip(fg, ordinal)])
    sizes = [len(st.stats) for st in ordinal]
    WG = np.zeros((len(w), len(w)))  # W Gamma, block-diagonal over groups
    start = 0
    for f, st, q in zip(fg, ordinal, sizes):
        WG[start : start + q, start : start + q] = (w[start : start + q, None] * st.gamma) / f
        start += q
    WD = w[:, None] * D
    E = D.T @ WD
    M = WG - WD @ np.linalg.solve(E, D.T @ WG) if D.shape[1] else WG
    trace, trace2 = float(np.trace(M)), float(np.sum(M * M.T))
    if df <= 0 or trace2 <= 0:
        return ScaledShifted(math.nan, math.nan, trace, trace2)
    a = math.sqrt(df / trace2)
    return ScaledShifted(a, df - a * trace, trace, trace2)


def _codes(frame: pd.DataFrame, observed: list[str], categories: dict[str, list]) -> tuple[np.ndarray, list[int]]:
    """Ordered items as codes ``0..K`` with their numbers of categories; continuous variables as
    they are, with 0 categories."""
    cols, ncat = [], []
    for v in observed:
        if v not in categories:
            cols.append(frame[v].to_numpy(dtype=float))
            ncat.append(0)
            continue
        levels = np.asarray(categories[v], dtype=float)
        if len(levels) < 2:
            raise DataError(
                f"ordered item {v!r} has a single category ({levels[0]:g}); it carries no information", column=v
            )
        cols.append(np.searchsorted(levels, frame[v].to_numpy(dtype=float)))
        ncat.append(len(levels))
    return np.column_stack(cols), ncat


def fit_wlsmv(
    model: Any,
    spec: ModelSpec,
    spec_options: dict[str, Any],
    data: pd.DataFrame,
    group: str | None,
    labels: list | None,
    ordered: bool | Sequence[str],
    weights_column: str | None,
    started: float,
) -> SemFit:
    """:func:`loyaltymodels.fit_sem` with ordered items (WLSMV); the arguments as fit_sem resolved them."""
    from .fit import _split
    from .options import sampling_weights

    items = ordered_items(spec, ordered)
    if weights_column is not None and not data.index.is_unique:
        data = data.reset_index(drop=True)
    clean, report_obj = validate_data(spec, data, group=group, missing="listwise", ordinal=items)
    categories = {k: list(v) for k, v in report_obj.ordinal.items()}
    report = report_obj.to_dict()
    counts = {v: len(categories[v]) - 1 for v in items}
    spec = _extend(cached_spec(model, {**spec_options, "ordinal": counts, "meanstructure": True}))
    frames = _split(clean, spec, group, labels)
    weights: list[np.ndarray | None] = [None] * len(frames)
    if weights_column is not None:
        w = pd.Series(sampling_weights(data, weights_column, clean.index), index=clean.index)
        raw = [w.loc[f.index].to_numpy() for f in frames]
        weights = [x * len(x) / x.sum() for x in raw]  # rescaled to sum to N (per group)
        report = {**report, "sampling_weights": weights_column}
    ordinal = []
    for g, frame in enumerate(frames):
        codes, ncat = _codes(frame, list(spec.observed), categories)
        for j, v in enumerate(spec.observed):
            if not ncat[j]:
                continue
            empty = np.flatnonzero(np.bincount(codes[:, j].astype(int), minlength=ncat[j]) == 0)
            if len(empty) and len(frames) > 1:
                raise DataError(
                    f"ordered item {v!r} has no response in category {categories[v][empty[0]]!r} in group "
                    f"{labels[g] if labels else g + 1!r}; thresholds cannot be estimated there (merge "
                    "sparse categories, as lavaan requires)",
                    column=v,
                )
        ordinal.append(ordinal_stats(codes, ncat, weights[g]))
    stats = [moment_stats(o.n, o.corr, o.mean if o.mean is not None else np.zeros(len(o.ncat))) for o in ordinal]
    problem = OrdinalProblem(spec, stats, ordinal=ordinal)
    cons = sem_engine.constraints(problem)
    theta0 = sem_engine.start_values(problem)
    for g in range(problem.ngroups):  # thresholds start at the sample thresholds
        _, rows = problem._first[g]
        par = np.where(rows >= 0, problem.par[rows], -1)
        free = par >= 0
        theta0[par[free]] = ordinal[g].stats[: len(rows)][free]
        scales = problem.par[problem._delta_rows[g]]
        theta0[scales[scales >= 0]] = 1.0  # the scales of groups 2+ start at group 1's
    opt = sem_engine.optimize(problem, theta0, cons)
    if not opt.converged:
        raise ConvergenceError(
            f"the DWLS estimation did not converge ({opt.message}); try start values, std_lv=True, "
            "merging sparse categories, or simplifying the model"
        )
    theta = opt.theta
    K = cons.K
    fg = problem.weights
    deltas = [problem.delta(theta, g) for g in range(problem.ngroups)]
    E = sum(f * (D * (1 / np.diag(st.gamma))[:, None]).T @ D for f, D, st in zip(fg, deltas, ordinal))
    bread, notes = invert_information(K.T @ E @ K)
    meat = sum(
        f * D.T @ ((st.gamma / np.outer(np.diag(st.gamma), np.diag(st.gamma))) @ D)
        for f, D, st in zip(fg, deltas, ordinal)
    )
    v = K @ bread @ (K.T @ meat @ K) @ bread @ K.T / problem.ntotal
    npar = K.shape[1]
    ndat = sum(len(st.stats) for st in ordinal)
    df = ndat - npar
    fm = _measures(problem, theta, npar, df, ordinal, deltas, fg, K)
    params = parameter_table(problem, theta, v)
    notes += admissibility(problem, theta, params)
    for note in notes:
        warnings.warn(note, SemWarning, stacklevel=4)
    names = [f"p{k}" for k in range(problem.npar)]
    info = dict(
        estimator="WLSMV",
        se="robust.sem",
        test="scaled.shifted",
        parameterization="delta",
        missing="listwise",
        information="expected",
        iterations=opt.iterations,
        gradient_max=float(np.abs(K.T @ opt.grad).max()) if npar else 0.0,
        engine="kernel",
        engine_reason="DWLS on polychoric correlations: semopy's ordinal path fails on NumPy 2 / SciPy >= 1.17",
        ordered=items,
        categories={v: [float(c) for c in categories[v]] for v in items},
        chisq_shift_parameter=fm.attrs.pop("shift"),
        seconds=time.perf_counter() - started,
    )
    sample = dict(
        n=[o.n for o in ordinal],
        cov=[o.corr.tolist() for o in ordinal],
        mean=[(o.mean if o.mean is not None else np.zeros(len(o.ncat))).tolist() for o in ordinal],
        thresholds=[_thresholds(o) for o in ordinal],
        group_labels=list(spec.group_labels),
        observed=list(problem.layout.observed),
    )
    return SemFit(
        spec=spec,
        parameters=params,
        fit_measures=fm,
        r2=r_squared(spec, params),
        warnings=tuple(notes),
        converged=True,
        data_report=report,
        vcov=pd.DataFrame(v, index=names, columns=names),
        sample=sample,
        info=info,
        _problem=problem,
    )


def _thresholds(st: OrdinalStats) -> list[float]:
    """The sample thresholds of the ordered items, in order (the continuous variables' means,
    which sit between them in ``stats``, left out)."""
    out, pos = [], 0
    for k in st.ncat:
        if k:
            out += st.stats[pos : pos + k - 1].tolist()
            pos += k - 1
        else:
            pos += 1
    return out


def _measures(
    problem: OrdinalProblem,
    theta: np.ndarray,
    npar: int,
    df: int,
    ordinal: list[OrdinalStats],
    deltas: list[np.ndarray],
    fg: np.ndarray,
    K: np.ndarray,
) -> pd.Series:
    """lavaan's fit measures of a WLSMV fit: the DWLS test and its scaled-and-shifted version,
    the baseline's (thresholds free, correlations zero), CFI/TLI/RMSEA from each, and SRMR on
    the correlations."""
    n, g = problem.ntotal, problem.ngroups
    chisq = float(n * problem.objective(theta))
    base_chisq, base_df = 0.0, 0
    base_deltas = []
    for f, st in zip(fg, ordinal):
        nt = st.nfirst  # thresholds, means and variances: free in the baseline
        r = st.stats[nt:]
        base_chisq += n * f * float(r @ (r / np.diag(st.gamma)[nt:]))
        base_df += len(r)
        base_deltas.append(np.eye(len(st.stats))[:, :nt])
    test = scaled_shifted(deltas, ordinal, fg, K, df)
    # the baseline's parameters are each group's thresholds: Delta_g = [0 .. I (own block) .. 0]
    widths = [d.shape[1] for d in base_deltas]
    stacked = [
        np.hstack([d if k == i else np.zeros((d.shape[0], widths[k])) for k in range(len(widths))])
        for i, d in enumerate(base_deltas)
    ]
    base = scaled_shifted(stacked, ordinal, fg, np.eye(sum(widths)), base_df)
    out = chisq_measures(npar, n, chisq, df, base_chisq, base_df, g)
    total = 0.0
    for k, st in enumerate(ordinal):  # SRMR: residuals of the (co)variances on the correlation scale
        p = st.corr.shape[0]
        model = problem.model_stats(theta, k, jacobian=False)[0]
        sd = np.sqrt(np.diag(st.corr))
        j, l = np.tril_indices(p, -1)
        num = np.flatnonzero(np.array(st.ncat) == 0)
        nt, nv = st.nthresholds + len(num), len(num)
        res = np.concatenate(
            [
                (st.stats[nt : nt + nv] - model[nt : nt + nv]) / sd[num] ** 2,
                (st.stats[nt + nv :] - model[nt + nv :]) / (sd[j] * sd[l]),
            ]
        )
        total += fg[k] * math.sqrt(float(res @ res) / (p * (p + 1) / 2))
    out["srmr"] = total
    nan = math.nan
    out.update(logl=nan, unrestricted_logl=nan, aic=nan, bic=nan, bic2=nan)
    fm = pd.Series(out, name="fit_measures", dtype=float)
    fm = scaled_measures(fm, 1 / test.a, 1 / base.a, n, g, shift=test.b, base_shift=base.b)
    fm.attrs["shift"] = test.b
    return fm


def satorra_2000(larger: SemFit, nested: SemFit) -> dict[str, float]:
    """lavTestLRT's difference test of two WLSMV fits (``method = "satorra.2000"``,
    ``scaled.shifted = TRUE``, ``A.method = "delta"``): with ``P = E1^-1`` the inverse information of
    the larger model, ``A`` the constraints that make it the nested one (the orthogonal complement
    of ``H = (Delta1' Delta1)^-1 Delta1' Delta0``), ``M = W Delta1 P A' (A P A')^-1 A P Delta1' W Gamma``,
    the difference ``T0 - T1`` of the DWLS statistics becomes ``a (T0 - T1) + b`` with
    ``a = sqrt(m / tr(M^2))``, ``b = m - a tr(M)``, ``m`` the difference in degrees of freedom."""
    p1, p0 = larger._problem, nested._problem
    if not isinstance(p1, OrdinalProblem) or not isinstance(p0, OrdinalProblem):
        raise ValueError("satorra_2000 compares two WLSMV fits made in this session (refit with fit_sem)")
    K1, K0 = sem_engine.constraints(p1).K, sem_engine.constraints(p0).K
    D1 = np.vstack([p1.delta(larger.theta, g) for g in range(p1.ngroups)]) @ K1
    D0 = np.vstack([p0.delta(nested.theta, g) for g in range(p0.ngroups)]) @ K0
    m = int(nested.fit_measures["df"] - larger.fit_measures["df"])
    d = float(nested.fit_measures["chisq"] - larger.fit_measures["chisq"])
    if m <= 0:
        return {"chisq_diff": math.nan, "df_diff": m, "pvalue_diff": math.nan}
    H = np.linalg.lstsq(D1, D0, rcond=None)[0]
    u, sv, _ = np.linalg.svd(H, full_matrices=True)
    rank = int((sv > 1e-8 * sv.max()).sum())
    A = u[:, rank:].T  # rows: the directions of the larger model that the nested one fixes
    trace, trace2 = _difference_traces(D1, A, p1.ordinal, p1.weights)
    a = math.sqrt(m / trace2)
    b = m - a * trace
    stat = a * d + b
    return {"chisq_diff": stat, "df_diff": m, "pvalue_diff": _pchisq_upper(stat, m)}


def _difference_traces(
    D1: np.ndarray, A: np.ndarray, ordinal: list[OrdinalStats], fg: np.ndarray
) -> tuple[float, float]:
    """``tr(M)`` and ``tr(M^2)`` of Satorra's (2000) difference test over the stacked groups."""
    w = np.concatenate([f / np.diag(st.gamma) for f, st in zip(fg, ordinal)])
    sizes = [len(st.stats) for st in ordinal]
    gamma = np.zeros((len(w), len(w)))
    start = 0
    for f, st, q in zip(fg, ordinal, sizes):
        gamma[start : start + q, start : start + q] = st.gamma / f
        start += q
    WD = w[:, None] * D1
    P = np.linalg.inv(D1.T @ WD)
    PA = P @ A.T
    core = PA @ np.linalg.solve(A @ PA, PA.T)  # P A' (A P A')^-1 A P
    M = WD @ core @ WD.T @ gamma
    return float(np.trace(M)), float(np.sum(M * M.T))
