"""What a power analysis simulates and what it looks for: scenarios and targets.

A :class:`Scenario` says how to draw one data set of size ``n`` with its truth, and which model to
fit to it; a :class:`Target` says what counts as a detection in one fitted replication and which
estimates to keep for bias and RMSE. Both are small, picklable objects: Dask ships them to the
workers, and their :meth:`describe` (plain JSON) goes into the run's manifest so that a rerun can
tell whether it is asked the same question.

Ready-made: :func:`loyalty_power_scenario` (:func:`loyaltymodels.loyalty_scenario`, ``n`` per
sector), :func:`model_power_scenario` (:func:`loyaltymodels.simulate`), and the targets
:func:`weights_differ` and :func:`parameter_nonzero`; any callable ``(fit, truth) -> bool`` is a
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
    "Scenario",
    "loyalty_power_scenario",
    "model_power_scenario",
    "Target",
    "weights_differ",
    "parameter_nonzero",
    "as_targets",
]

GENERATORS = ("loyalty", "simulate")


@dataclass(frozen=True)
class Scenario:
    """How to draw one replication: a generator, its arguments, the model fitted to the draw.

    Parameters
    ----------
    generator : {"loyalty", "simulate"} or callable
        ``"loyalty"``: :func:`loyaltymodels.loyalty_scenario` (``n`` is per sector);
        ``"simulate"``: :func:`loyaltymodels.simulate` (``kwargs`` hold ``model``, ``params``...);
        or a picklable (module-level) callable ``(n, rng) -> (data, truth)``.
    kwargs : mapping
        Arguments of the generator besides ``n`` and the random generator.
    model : str, optional
        lavaan syntax fitted to each data set (default: ``truth.attrs["model"]``, else the
        generator's ``model`` argument).
    fit_options : mapping
        Passed to :func:`loyaltymodels.fit_sem` or :func:`loyaltymodels.compile_model`
        (``group``, ``group_equal``, ...).
    n_label : str
        Name of the sample-size column of the results (``"n_per_sector"`` for loyalty scenarios).

    Examples
    --------
    >>> import numpy as np
    >>> sc = Scenario("loyalty", {"sectors": ["retail"], "scale": None}, n_label="n_per_sector")
    >>> data, truth = sc.generate(50, np.random.default_rng(1))
    >>> data.shape, sc.fitted_model(truth).splitlines()[-1]
    ((50, 13), 'Loyalty ~ Beliefs + Experience')
    """

    generator: str | Callable = "loyalty"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    fit_options: Mapping[str, Any] = field(default_factory=dict)
    n_label: str = "n"

    def __post_init__(self) -> None:
        if isinstance(self.generator, str) and self.generator not in GENERATORS:
            raise ArgumentError(
                f"generator {self.generator!r}: choose one of {GENERATORS} or pass a callable (n, rng) -> (data, truth)"
            )
        if self.generator == "simulate" and "model" not in self.kwargs:
            raise ArgumentError("a 'simulate' scenario needs kwargs={'model': '<lavaan syntax>', ...}")

    def generate(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
        """One data set of size ``n`` drawn with ``rng``, and its truth."""
        if callable(self.generator):
            return self.generator(int(n), rng)
        if self.generator == "loyalty":
            from ..data.scenarios import loyalty_scenario

            return loyalty_scenario(int(n), seed=rng, **self.kwargs)
        from ..data.synthetic import simulate  # "simulate": __post_init__ admits no other name

        kw = dict(self.kwargs)
        return simulate(kw.pop("model"), int(n), seed=rng, **kw)

    def fitted_model(self, truth: pd.DataFrame) -> str:
        """The lavaan syntax fitted to every replication."""
        model = self.model or truth.attrs.get("model") or self.kwargs.get("model")
        if not model:
            raise ArgumentError(
                "the scenario names no model to fit: pass Scenario(model=...) or return "
                "truth with truth.attrs['model'] from the generator"
            )
        return model

    def describe(self) -> dict:
        """JSON description (for the manifest of a stored run)."""
        return {
            "generator": jsonable(self.generator),
            "kwargs": jsonable(dict(self.kwargs)),
            "model": self.model,
            "fit_options": jsonable(dict(self.fit_options)),
            "n_label": self.n_label,
        }


def loyalty_power_scenario(
    sectors: int | Sequence[str] | None = None,
    weights: Mapping[str, tuple[float, float]] | tuple[float, float] | None = None,
    *,
    rho: float = 0.4,
    scale: str | Sequence[int] | None = (0, 10),
    group_equal: Sequence[str] = ("loadings", "intercepts"),
    **kwargs: Any,
) -> Scenario:
    """A :func:`loyaltymodels.loyalty_scenario` to power: the beliefs + experience -> loyalty model
    fitted by sector, with loadings and intercepts equal across sectors (metric + scalar invariance).

    ``n`` in :func:`loyaltymodels.power_analysis` is then the number of respondents **per sector**
    (the results call the column ``n_per_sector``). Further ``kwargs`` go to ``loyalty_scenario``
    (``interaction``, ``asymmetry``, ``items``...).

    Examples
    --------
    >>> sc = loyalty_power_scenario(weights={"retail": (0.4, 0.3), "banking": (0.35, 0.35)})
    >>> sc.fit_options, sc.n_label
    ({'group': 'sector', 'group_equal': ('loadings', 'intercepts')}, 'n_per_sector')
    """
    kw = {"sectors": sectors, "weights": weights, "rho": rho, "scale": scale, **kwargs}
    kw = {k: v for k, v in kw.items() if v is not None or k == "scale"}
    return Scenario(
        "loyalty", kw, fit_options={"group": "sector", "group_equal": tuple(group_equal)}, n_label="n_per_sector"
    )


def model_power_scenario(
    model: str, params: Mapping[str, float] | None = None, *, fit_model: str | None = None, **kwargs: Any
) -> Scenario:
    """A :func:`loyaltymodels.simulate` scenario: data drawn from ``model`` (numbers in the syntax
    are population values), ``fit_model`` (default: ``model`` itself) fitted to each draw.

    Examples
    --------
    >>> sc = model_power_scenario("y ~ 0.2*x", fit_model="y ~ x")
    >>> sc.generator, sc.model
    ('simulate', 'y ~ x')
    """
    return Scenario("simulate", {"model": model, "params": dict(params or {}), **kwargs}, model=fit_model or model)


# -- targets ---------------------------------------------------------------------------------------
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
    if estimator == "sem":
        from ..sem.inference import std_all_vcov

        rows = _rows(fit, keys, g)
        est = fit.parameters.loc[rows, "std_all"].to_numpy(float)
        v = std_all_vcov(fit, rows).to_numpy()
        d, se_d = est[0] - est[1], float(np.sqrt(max(v[0, 0] + v[1, 1] - 2 * v[0, 1], 0.0)))
        detected = bool(2 * stats.norm.sf(abs(d) / se_d) < alpha) if se_d > 0 else False
        se = np.sqrt(np.clip(np.diag(v), 0, None))
    else:
        from ..spec.layout import param_name

        x = _draws(fit, "std_all", [param_name(*k, g) for k in keys])
        diff = x[:, 0] - x[:, 1]
        est, se, d, se_d = x.mean(0), x.std(0, ddof=1), float(diff.mean()), float(diff.std(ddof=1))
        if bayes_rule == "interval":
            detected = _interval_excludes_zero(diff, alpha)
        else:
            detected = bool(max((diff > 0).mean(), (diff < 0).mean()) > probability)
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
