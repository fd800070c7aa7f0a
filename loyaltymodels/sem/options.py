"""What :func:`loyaltymodels.fit_sem` accepts and what lavaan would make of it: the estimator and
its standard errors, test and information (lavaan's ``lav_options`` defaults), the options that
pass through to :func:`loyaltymodels.parse_model`, the cache of parsed specifications, and the
sampling weights.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import ModelCache
from ..errors import DataError, SpecError
from ..spec.model import ModelSpec, as_spec

__all__ = [
    "ESTIMATORS",
    "FIT_OPTIONS",
    "SPEC_OPTIONS",
    "Estimation",
    "cached_spec",
    "check_options",
    "resolve_estimation",
    "sampling_weights",
]

#: lavaan's estimators that fit_sem runs, with what lavaan pairs each with (``se``, ``test``).
ESTIMATORS: dict[str, tuple[str, str]] = {
    "ML": ("standard", "standard"),
    "MLR": ("robust.huber.white", "yuan.bentler.mplus"),
    "MLM": ("robust.sem", "satorra.bentler"),
    "WLSMV": ("robust.sem", "scaled.shifted"),
}
#: parse_model options that fit_sem passes through ``**options``.
SPEC_OPTIONS = (
    "fixed_x",
    "orthogonal",
    "auto",
    "auto_fix_first",
    "auto_fix_single",
    "auto_cov_lv_x",
    "auto_cov_y",
    "int_ov_free",
    "int_lv_free",
)
#: fit_sem's own keyword arguments (listed in the message about an unknown option).
FIT_OPTIONS = (
    "group",
    "group_equal",
    "group_partial",
    "std_lv",
    "missing",
    "estimator",
    "ordered",
    "sampling_weights",
    "bootstrap",
    "seed",
    "n_jobs",
    "meanstructure",
    "information",
    "engine",
)

#: Parsed specifications by (syntax, options): refitting a model (replications, invariance
#: sequences, the bootstrap's caller) parses it once. Bounded: a session that fits thousands of
#: structures keeps the most recent ones.
_SPECS: ModelCache[ModelSpec] = ModelCache(maxsize=256)


@dataclass(frozen=True)
class Estimation:
    """The estimator of a fit and what lavaan derives from it."""

    estimator: str
    se: str
    test: str
    information: str

    @property
    def robust(self) -> bool:
        return self.test != "standard"


def check_options(options: Mapping[str, Any], function: str = "fit_sem") -> None:
    """Raise a TypeError naming ``function``, the unknown option(s), the closest accepted names
    and everything accepted."""
    unknown = [k for k in options if k not in SPEC_OPTIONS]
    if not unknown:
        return
    accepted = list(FIT_OPTIONS) + list(SPEC_OPTIONS)
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        if close:
            hints.append(f"{name!r}: did you mean {close[0]!r}?")
    raise TypeError(
        f"{function}() got unknown option(s) {', '.join(map(repr, unknown))}"
        + (f" ({'; '.join(hints)})" if hints else "")
        + f". {function} accepts {', '.join(FIT_OPTIONS)}, and the model options {', '.join(SPEC_OPTIONS)}"
    )


def resolve_estimation(
    estimator: str | None, ordered: bool, fiml: bool, weighted: bool, information: str | None
) -> Estimation:
    """lavaan's choices: WLSMV when items are ordered, MLR with sampling weights, ML otherwise;
    the observed information for MLR and for ML under FIML, the expected one elsewhere."""
    if estimator is None:
        name = "WLSMV" if ordered else "MLR" if weighted else "ML"
    else:
        name = str(estimator).upper()
    if name not in ESTIMATORS:
        raise SpecError(f"estimator={estimator!r} is not available; choose among {', '.join(ESTIMATORS)}")
    if ordered and name != "WLSMV":
        raise SpecError(
            f"estimator={name!r} treats items as continuous, but ordered items were given; use "
            "estimator='WLSMV' (lavaan's default for ordered items) or drop ordered="
        )
    if name == "WLSMV" and not ordered:
        raise SpecError(
            "estimator='WLSMV' is fit_sem's estimator for ordered items: pass ordered=True (every item) "
            "or ordered=[columns]; for continuous items that are not normal use estimator='MLR'"
        )
    if name == "WLSMV" and fiml:
        raise SpecError("missing='fiml' is a likelihood method; with ordered items (WLSMV) use missing='listwise'")
    if name == "MLM" and (fiml or weighted):
        raise SpecError(
            "estimator='MLM' (Satorra-Bentler) needs complete, unweighted data (as in lavaan); "
            "use estimator='MLR' with missing='fiml' or sampling_weights"
        )
    if weighted and name == "ML":
        name = "MLR"  # lavaan: sampling weights call for robust standard errors and a scaled test
    se, test = ESTIMATORS[name]
    default = "observed" if name == "MLR" or (name == "ML" and fiml) else "expected"
    info = information or default
    if info not in ("expected", "observed"):
        raise ValueError(f"information={information!r}: choose 'expected' or 'observed'")
    if name in ("MLM", "WLSMV") and info != "expected":
        raise SpecError(f"estimator={name!r} uses the expected information (as lavaan); drop information=")
    return Estimation(name, se, test, info)


def _hashable(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_hashable(v) for v in value)
    return value


def cached_spec(model: str | ModelSpec, options: Mapping[str, Any]) -> ModelSpec:
    """:func:`as_spec` through the cache of parsed specifications (keyed by syntax and options)."""
    if not isinstance(model, str):
        return as_spec(model, **options)
    key = (model, _hashable(dict(options)))
    spec = _SPECS.get(key)
    if spec is None:
        spec = _SPECS.put(key, as_spec(model, **options))
    return spec


def sampling_weights(data: pd.DataFrame, column: str, rows: pd.Index) -> np.ndarray:
    """The sampling weights of the rows ``rows`` (index labels of ``data``), checked: a numeric
    column without missing, infinite or negative values and with a positive sum."""
    if column not in data.columns:
        close = difflib.get_close_matches(str(column), [str(c) for c in data.columns], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(f"sampling_weights column {column!r} not found in the data{hint}", column=column)
    raw = data.loc[rows, column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        # Python scalars: NumPy 2 would print the row as np.int64(5) in the message
        row, value = (v.item() if isinstance(v, np.generic) else v for v in (rows[k], raw.iloc[k]))
        raise DataError(
            f"sampling_weights column {column!r} has {int(bad.sum())} missing, non-numeric, infinite or "
            f"negative value(s), first at row {row!r} ({value!r}); weights must be numbers >= 0",
            column=column,
            row=row,
            value=value,
        )
    if values.sum() <= 0:
        raise DataError(f"sampling_weights column {column!r} sums to 0 over the rows used", column=column)
    return values
