"""What a power analysis looks for: targets.

A :class:`Target` says what counts as a detection in one fitted replication and which estimates to
keep for bias and RMSE (what to simulate is a :class:`~loyaltymodels.power.scenarios.Scenario`).
Targets are small, picklable objects: Dask ships them to the workers, and their :meth:`describe`
(plain JSON) goes into the run's manifest so that a rerun can tell whether it is asked the same
question.

Ready-made: :func:`weights_differ` and :func:`parameter_nonzero` (and, comparing sectors,
:func:`~loyaltymodels.power.between.sectors_differ`); any callable ``(fit, truth) -> bool`` is a
target too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ArgumentError
from ..spec.provenance import jsonable

if TYPE_CHECKING:
    from xarray import DataTree

    from ..sem.fit import SemFit

__all__ = [
    "Target",
    "weights_differ",
    "parameter_nonzero",
    "as_targets",
    "std_all_contrast",
    "contrast_result",
]


@dataclass(frozen=True)
class Target:
    """What counts as a detection in one replication, and which estimates to keep.

    ``check(fit, truth, estimator)`` returns ``{"detected": bool, "estimate", "se", "truth",
    "parameters": [{"quantity", "estimate", "se", "truth"}, ...]}`` (missing numbers are NaN);
    ``fit`` is a :class:`~loyaltymodels.SemFit` (``estimator="sem"``) or a posterior DataTree
    (``"bayes"``). Build one with :func:`weights_differ`, :func:`parameter_nonzero` or
    :meth:`from_callable`.
    """

    name: str
    check: Callable[..., dict] = field(repr=False)
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_callable(cls, func: Callable[[Any, pd.DataFrame], bool], name: str | None = None) -> Target:
        """A target from ``func(fit, truth) -> bool`` (picklable: a module-level function).

        Examples
        --------
        >>> t = Target.from_callable(lambda fit, truth: True, name="always")
        >>> t.check(None, None, "sem")["detected"]
        True
        """
        return cls(
            name or str(getattr(func, "__name__", "custom")),
            partial(_custom, func),
            {"kind": "custom", "function": jsonable(func)},
        )

    def describe(self) -> dict:
        return {"name": self.name, **jsonable(dict(self.spec))}


def as_targets(target: Target | Callable | Sequence) -> list[Target]:
    """One target, a callable, or a list of them -> a list of :class:`Target` (names unique)."""
    items: list[Any] = list(target) if isinstance(target, (list, tuple)) else [target]
    out = [t if isinstance(t, Target) else Target.from_callable(t) for t in items]
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ArgumentError(f"target names must be unique, got {names}")
    return out


def _custom(func: Callable[[Any, pd.DataFrame], bool], fit: Any, truth: pd.DataFrame, estimator: str) -> dict:
    return {"detected": bool(func(fit, truth)), "estimate": np.nan, "se": np.nan, "truth": np.nan, "parameters": []}


def weights_differ(
    sector: str | None = None,
    alpha: float = 0.05,
    *,
    beliefs: str = "Beliefs",
    experience: str = "Experience",
    outcome: str = "Loyalty",
    bayes_rule: str = "interval",
    probability: float = 0.95,
) -> Target:
    """Target: the standardized weights of beliefs and experience on loyalty differ (in ``sector``).

    SEM: Wald test of ``d = std_all(beliefs) - std_all(experience)``, two-sided at ``alpha``,
    with the delta-method SE from :func:`loyaltymodels.sem.inference.std_all_vcov`.
    Bayes: ``bayes_rule="interval"`` detects when the equal-tailed ``1 - alpha`` credible interval of
    ``d`` excludes 0 (the two-sided analogue); ``"probability"`` when ``P(d > 0)`` or ``P(d < 0)``
    exceeds ``probability`` (one-sided in either direction: at effect 0 it fires about
    ``2 (1 - probability)`` of the time). Key parameters kept: both standardized weights.

    Examples
    --------
    >>> weights_differ("banking").name
    'weights_differ[banking]'
    """
    if bayes_rule not in ("interval", "probability"):
        raise ArgumentError(f"bayes_rule={bayes_rule!r}: choose 'interval' or 'probability'")
    if not 0 < alpha < 1:
        raise ArgumentError(f"alpha must lie in (0, 1), got {alpha}")
    spec: dict[str, Any] = dict(
        kind="weights_differ",
        sector=sector,
        alpha=alpha,
        beliefs=beliefs,
        experience=experience,
        outcome=outcome,
        bayes_rule=bayes_rule,
        probability=probability,
    )
    name = "weights_differ" + (f"[{sector}]" if sector is not None else "")
    return Target(name, partial(_weights_differ, **spec), spec)


def parameter_nonzero(
    lhs: str, op: str, rhs: str, group: int | str = 1, alpha: float = 0.05, *, standardized: bool = False
) -> Target:
    """Target: one parameter differs from 0 (two-sided at ``alpha``; Bayes: its ``1 - alpha``
    equal-tailed interval excludes 0). ``group`` is a group's number or label (a sector);
    ``standardized`` tests ``std_all``. The truth is read from ``simulate``'s table
    (``value_marker`` or ``std_all``) or, for loyalty scenarios, the standardized weights.

    Examples
    --------
    >>> parameter_nonzero("Loyalty", "~", "Beliefs", group="retail", standardized=True).name
    'Loyalty~Beliefs[retail] std_all'
    """
    spec: dict[str, Any] = dict(
        kind="parameter_nonzero", lhs=lhs, op=op, rhs=rhs, group=group, alpha=alpha, standardized=standardized
    )
    name = f"{lhs}{op}{rhs}" + (f"[{group}]" if group != 1 else "") + (" std_all" if standardized else "")
    return Target(name, partial(_parameter_nonzero, **spec), spec)


# -- evaluation ------------------------------------------------------------------------------------
def group_labels(fit: Any) -> list:
    """Group labels of a SemFit or a posterior DataTree (in the order of their group numbers)."""
    if hasattr(fit, "spec"):
        return list(fit.spec.group_labels) or [1]
    labels = json.loads(fit.attrs.get("group_labels", "[]"))
    return labels or [1]


def group_number(fit: Any, group: int | str | None) -> int:
    labels = group_labels(fit)
    if group is None:
        if len(labels) > 1:
            raise ArgumentError(f"the model has groups {labels}: name the one to test")
        return 1
    if group in labels:  # a label wins over a group number
        return labels.index(group) + 1
    if isinstance(group, (int, np.integer)) and 1 <= group <= len(labels):
        return int(group)
    raise ArgumentError(f"group {group!r} is not among the fitted groups {labels}")


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=object)


def _rows(fit: SemFit, keys: list[tuple[str, str, str]], g: int) -> list[int]:
    p = fit.parameters  # numpy masks: this runs in every replication
    lhs, op, rhs, grp = _col(p, "lhs"), _col(p, "op"), _col(p, "rhs"), p["group"].to_numpy()
    out = []
    for key in keys:
        hit = np.flatnonzero((lhs == key[0]) & (op == key[1]) & (rhs == key[2]) & (grp == g))
        if len(hit) != 1:
            raise ArgumentError(f"the fitted model has no parameter {' '.join(key)} in group {g}")
        out.append(int(p.index[hit[0]]))
    return out


def _draws(post: DataTree, var: str, names: list[str]) -> np.ndarray:
    """Posterior draws (draws x names) of ``var`` ('param' or 'std_all') by lavaan name."""
    import xarray as xr

    da = post["posterior"][var]
    assert isinstance(da, xr.DataArray)  # a variable of the posterior group, not a subtree
    missing = [n for n in names if n not in da["parameter"].values]
    if missing:
        raise ArgumentError(f"the posterior has no parameter {missing[0]!r}")
    x = da.sel(parameter=names).to_numpy()
    return x.reshape(-1, len(names))


def _interval_excludes_zero(d: np.ndarray, alpha: float) -> bool:
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    return bool(lo > 0 or hi < 0)


def _truth_value(
    truth: pd.DataFrame | None,
    lhs: str,
    op: str,
    rhs: str,
    label: Any,
    g: int,
    standardized: bool,
    factors: Mapping[str, str] | None = None,
) -> float:
    """The population value of one parameter, from either kind of truth table (NaN if unknown)."""
    if truth is None:
        return np.nan
    cols = set(truth.columns)
    if "parameter" in cols and op == "~":  # loyalty_scenario: standardized weights by sector
        which = (factors or {}).get(rhs) or {"Beliefs": "w_beliefs", "Experience": "w_experience"}.get(rhs)
        hit = _col(truth, "parameter") == which
        if "sector" in cols and label is not None and len(set(_col(truth, "sector"))) > 1:
            hit &= _col(truth, "sector") == label
        return float(truth["value"].to_numpy()[hit][0]) if standardized and hit.sum() == 1 else np.nan
    if {"lhs", "op", "rhs"} <= cols:  # simulate: the parameter table with its values
        col = "std_all" if standardized else ("value_marker" if "value_marker" in cols else "value")
        grp = truth["group"].to_numpy() if "group" in cols else np.ones(len(truth))
        hit = (_col(truth, "lhs") == lhs) & (_col(truth, "op") == op) & (_col(truth, "rhs") == rhs) & (grp == g)
        return float(truth[col].to_numpy()[hit][0]) if hit.sum() == 1 else np.nan
    return np.nan


def _weights_differ(
    fit: Any,
    truth: pd.DataFrame | None,
    estimator: str,
    *,
    sector: str | None,
    alpha: float,
    beliefs: str,
    experience: str,
    outcome: str,
    bayes_rule: str,
    probability: float,
    **_: Any,
) -> dict:
    g = group_number(fit, sector)
    label = group_labels(fit)[g - 1]
    keys = [(outcome, "~", beliefs), (outcome, "~", experience)]
    true = [_truth_value(truth, *k, label, g, True, {beliefs: "w_beliefs", experience: "w_experience"}) for k in keys]
    suffix = f"[{sector}]" if sector is not None else ""
    names = [f"{outcome}~{beliefs}{suffix} std_all", f"{outcome}~{experience}{suffix} std_all"]
    d, se_d, est, se, diff = std_all_contrast(fit, estimator, [(keys[0], g), (keys[1], g)])
    if diff is None:
        detected = bool(2 * stats.norm.sf(abs(d) / se_d) < alpha) if se_d > 0 else False
    elif bayes_rule == "interval":
        detected = _interval_excludes_zero(diff, alpha)
    else:
        detected = bool(max((diff > 0).mean(), (diff < 0).mean()) > probability)
    return contrast_result(detected, d, se_d, true, names, est, se)


def std_all_contrast(
    fit: Any, estimator: str, cells: list[tuple[tuple[str, str, str], int]]
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray | None]:
    """``std_all`` of two parameters (``(lhs, op, rhs)`` in a group) and their difference ``d``:
    ``(d, se_d, estimates, ses, draws of d)``. SEM: delta-method covariance of the two (they may
    be correlated, within a group or through equality constraints across groups), draws None;
    Bayes: posterior means and SDs, and the draws of ``d`` for the detection rule."""
    if estimator == "sem":
        from ..sem.inference import std_all_vcov

        rows = [_rows(fit, [key], g)[0] for key, g in cells]
        est = fit.parameters.loc[rows, "std_all"].to_numpy(float)
        v = std_all_vcov(fit, rows).to_numpy()
        se_d = float(np.sqrt(max(v[0, 0] + v[1, 1] - 2 * v[0, 1], 0.0)))
        return float(est[0] - est[1]), se_d, est, np.sqrt(np.clip(np.diag(v), 0, None)), None
    from ..spec.layout import param_name

    x = _draws(fit, "std_all", [param_name(*key, g) for key, g in cells])
    diff = x[:, 0] - x[:, 1]
    return float(diff.mean()), float(diff.std(ddof=1)), x.mean(0), x.std(0, ddof=1), diff


def contrast_result(
    detected: bool, d: float, se_d: float, true: list[float], names: list[str], est: np.ndarray, se: np.ndarray
) -> dict:
    """A target's answer for a difference of two standardized parameters, both kept as parameters."""
    return {
        "detected": detected,
        "estimate": float(d),
        "se": se_d,
        "truth": true[0] - true[1],
        "parameters": [
            {"quantity": n, "estimate": float(e), "se": float(s), "truth": t}
            for n, e, s, t in zip(names, est, se, true)
        ],
    }


def _parameter_nonzero(
    fit: Any,
    truth: pd.DataFrame | None,
    estimator: str,
    *,
    lhs: str,
    op: str,
    rhs: str,
    group: int | str,
    alpha: float,
    standardized: bool,
    **_: Any,
) -> dict:
    g = group_number(fit, group)
    label = group_labels(fit)[g - 1]
    true = _truth_value(truth, lhs, op, rhs, label, g, standardized)
    if estimator == "sem":
        row = fit.parameters.loc[_rows(fit, [(lhs, op, rhs)], g)[0]]
        est, se = (row["std_all"], row["std_all_se"]) if standardized else (row["est"], row["se"])
        detected = bool(se > 0 and 2 * stats.norm.sf(abs(est) / se) < alpha)
    else:
        from ..spec.layout import param_name

        x = _draws(fit, "std_all" if standardized else "param", [param_name(lhs, op, rhs, g)])[:, 0]
        est, se, detected = x.mean(), x.std(ddof=1), _interval_excludes_zero(x, alpha)
    return {"detected": detected, "estimate": float(est), "se": float(se), "truth": true, "parameters": []}
