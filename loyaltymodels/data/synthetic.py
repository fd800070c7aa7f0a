"""Synthetic survey data from a model specification, with the ground truth that generated them.

Population values follow lavaan's ``simulateData()`` conventions wherever the syntax is silent:
latent variables are identified by their variance (``std_lv``), so every loading is free;
a number written in the syntax (``0.7*x1``, ``start(0.7)*x1``) is its population value;
unspecified loadings are 1 (0.7 with ``standardized=True``), unspecified (residual) variances 1,
unspecified regressions 0 (with a warning, as lavaan gives), everything else 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, overload

import numpy as np
import pandas as pd

from ..algebra.matrices import RamLayout, implied_moments, ram_layout, ram_matrices
from ..algebra.matrices import standardized as standardized_solution
from ..defaults import check_seed
from ..errors import ArgumentError, SpecError
from ..spec.layout import param_name
from ..spec.model import ModelSpec, SpecWarning, as_spec

__all__ = ["simulate", "population_values", "parse_scale"]


@overload
def parse_scale(scale: str | Sequence[int]) -> tuple[int, int]: ...
@overload
def parse_scale(scale: None) -> None: ...


def parse_scale(scale: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"0-10"`` or ``(0, 10)`` -> ``(0, 10)``; ``None`` stays ``None``.

    Examples
    --------
    >>> parse_scale("1-7"), parse_scale((0, 10))
    ((1, 7), (0, 10))
    """
    if scale is None:
        return None
    if isinstance(scale, str):
        try:
            lo, hi = (int(x) for x in scale.replace(" ", "").split("-", 1))
        except ValueError:
            raise ArgumentError(
                f"scale={scale!r}: write the lowest and highest answers as integers, e.g. '0-10' or '1-5'"
            ) from None
    else:
        ends: list[Any] = list(scale) if isinstance(scale, Sequence) else []
        if len(ends) != 2 or not all(_integral(x) for x in ends):
            raise ArgumentError(
                f"scale={scale!r}: give the lowest and highest answers as two integers, e.g. (1, 5) or '1-5'"
            )
        lo, hi = (int(x) for x in ends)
    if hi <= lo:
        raise ArgumentError(f"scale=({lo}, {hi}) needs its upper end above its lower end, e.g. '{hi}-{lo}'")
    return lo, hi


def _integral(x: object) -> bool:
    """An integer, or a float with an integer value (``250.0``); never a bool."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, np.integer)):
        return True
    return isinstance(x, (float, np.floating)) and bool(np.isfinite(x)) and float(x).is_integer()


def _finite_number(x: object) -> bool:
    return (
        isinstance(x, (int, float, np.integer, np.floating))
        and not isinstance(x, (bool, np.bool_))
        and bool(np.isfinite(x))
    )


def _group_sizes(n: int | Sequence[int]) -> list[int]:
    """``n`` as group sizes, each an integer of at least 1: ``n=10.7`` is refused, not truncated."""
    sizes = [n] if not isinstance(n, Sequence) or isinstance(n, str) else list(n)
    if not sizes or not all(_integral(k) for k in sizes):
        raise ArgumentError(f"n={n!r}: give the number of respondents as an integer (or one per group), e.g. n=500")
    if min(int(k) for k in sizes) < 1:
        raise ArgumentError(f"n={n!r}: every group needs at least 1 respondent")
    return [int(k) for k in sizes]


def population_values(
    spec: ModelSpec, params: Mapping[str, float] | pd.DataFrame | None = None, standardized_: bool = False
) -> np.ndarray:
    """Population value of every row of ``spec.table`` (simulateData's defaults + ``params``)."""
    t = spec.table
    values = t["value"].to_numpy(dtype=float).copy()
    start = t["start"].to_numpy(dtype=float)
    values = _apply_params(t, np.where(np.isnan(values), start, values), params)
    op, lhs, rhs = t.op.to_numpy(), t.lhs.to_numpy(), t.rhs.to_numpy()
    unset = np.isnan(values) & (t.group.to_numpy() > 0)
    values[unset & (op == "=~")] = 0.7 if standardized_ else 1.0
    values[unset & (op == "~~") & (lhs == rhs)] = 1.0
    if (unset & (op == "~")).any():
        warnings.warn("some regression coefficients are unspecified and will be set to zero", SpecWarning, stacklevel=3)
    values[unset & ~np.isin(op, [":=", "==", "<", ">"]) & np.isnan(values)] = 0.0
    # equal labels mean equal values: the first given (or set) value of a label wins
    for _, idx in t[(t.label != "") & (t.group > 0)].groupby("label").groups.items():
        values[np.asarray(idx)] = values[idx[0]]
    return values


def _apply_params(t: pd.DataFrame, values: np.ndarray, params: Mapping[str, float] | pd.DataFrame | None) -> np.ndarray:
    if params is None:
        return values
    if isinstance(params, pd.DataFrame):
        missing = {"lhs", "op", "rhs", "value"} - set(params.columns)
        if missing:
            raise ArgumentError(
                f"params: a table of population values needs the columns lhs, op, rhs, value; missing {sorted(missing)}"
            )
        rows = params[~params.op.isin([":=", "==", "<", ">"])]  # definitions and constraints have no value
        keys = rows.get("group", pd.Series(1, index=rows.index))
        params = {
            param_name(l, o, r, int(g)): v for l, o, r, g, v in zip(rows.lhs, rows.op, rows.rhs, keys, rows["value"])
        }
    elif not isinstance(params, Mapping):
        raise ArgumentError(
            f"params must map labels or parameter names to values ({{'a': 0.4}}) or be a table with lhs, op, rhs, "
            f"value; got {type(params).__name__}"
        )
    names = [param_name(l, o, r, g) for l, o, r, g in zip(t.lhs, t.op, t.rhs, t.group)]
    for key, value in params.items():
        if not _finite_number(value):
            # NaN used to fall back to the default value and inf to give all-NaN data, silently
            raise ArgumentError(f"params[{key!r}] = {value!r}: a population value must be a finite number")
        hit = (t.label == key).to_numpy()
        if not hit.any():
            hit = np.array([n == key or (n.split(".g")[0] == key and "." not in key) for n in names])
        if not hit.any():
            raise SpecError(
                f"params: {key!r} is neither a label nor a parameter of the model "
                f"(names look like {names[1]!r} or a label such as 'a')"
            )
        values[hit] = float(value)
    return values


def _standardize_residuals(spec: ModelSpec, layout: RamLayout, values: np.ndarray) -> np.ndarray:
    """Residual variances that give every latent and observed variable unit variance."""
    t = spec.table
    values = values.copy()
    for g in range(1, spec.ngroups + 1):
        # user-written residual variances are kept, as lavaan's simulateData warns it would
        res_rows = {
            lhs: r
            for r, (lhs, op, rhs, grp, user) in enumerate(zip(t.lhs, t.op, t.rhs, t.group, t.user))
            if op == "~~" and lhs == rhs and grp == g and not user
        }
        for _ in range(200):  # fixed point: residual = 1 - explained; exact after a few sweeps
            cov, _ = implied_moments(layout, values, g, full=True)
            _, S, _ = ram_matrices(layout, values, g)
            explained = np.diag(cov) - np.diag(S)
            new = values.copy()
            for k, v in enumerate(layout.variables):
                if v in res_rows and (v not in spec.exogenous_latents):
                    new[res_rows[v]] = 1.0 - explained[k]
            if np.allclose(new, values, atol=1e-12, equal_nan=True):
                break
            values = new
        if (values[list(res_rows.values())] <= 0).any():
            bad = [v for v, r in res_rows.items() if values[r] <= 0]
            raise SpecError(
                f"standardized=True needs explained variance below 1, but {bad} would get "
                "a negative residual variance; lower the loadings or regressions"
            )
    return values


def marker_values(spec: ModelSpec, layout: RamLayout, values: np.ndarray) -> np.ndarray:
    """The same population expressed with each latent scaled by its first loading (the marker
    identification that ``fit_sem`` and lavaan use by default), so it compares with estimates."""
    t = spec.table
    out = values.copy()
    for g in range(1, spec.ngroups + 1):
        A, S, m = ram_matrices(layout, values, g)
        d = np.ones(layout.n)
        for k, f in enumerate(layout.latents, start=layout.n_observed):
            first = t[(t.group == g) & (t.op == "=~") & (t.lhs == f)]
            if len(first):
                d[k] = values[first.index[0]]
        d[d == 0] = 1.0
        A2, S2, m2 = (d[:, None] * A / d[None, :], d[:, None] * S * d[None, :], d * m)
        for cells, M in ((layout.A[g], A2), (layout.S[g], S2)):
            out[cells.row] = M[cells.i, cells.j]
        out[layout.m[g].row] = m2[layout.m[g].i]
    return out


def simulate(
    model: str | ModelSpec,
    n: int | Sequence[int],
    params: Mapping[str, float] | pd.DataFrame | None = None,
    seed: int | np.random.Generator | None = None,
    scale: str | Sequence[int] | None = None,
    *,
    standardized: bool = False,
    scale_center: float | None = None,
    scale_sd: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw multivariate-normal survey data implied by a model, and return the truth beside them.

    Parameters
    ----------
    model : str or ModelSpec
        lavaan syntax; numbers in it are population values (``0.8*x2``).
    n : int or sequence of int
        Respondents (per group, for a multigroup model written with ``c(...)`` vectors).
    params : mapping or DataFrame, optional
        Population values by label (``{"a": 0.4}``) or lavaan name (``{"Loyalty~Beliefs": 0.5}``),
        or a table with ``lhs, op, rhs[, group], value``.
    seed : int or numpy Generator, optional
        Same seed, same data.
    scale : "0-10", (1, 5), ... optional
        Cut every observed variable into integer ratings on this range. The standardized variable
        is mapped to ``round(scale_center + z * scale_sd)`` clipped to the range, i.e. thresholds
        at ``(k + 0.5 - scale_center) / scale_sd``; the defaults put the mean at the midpoint and
        +-2.5 SD at the ends. The thresholds are in ``truth`` as ``|`` rows (z units).
    standardized : bool
        Set residual variances so that every variable has variance 1 (loadings then read as
        standardized loadings); unspecified loadings default to 0.7.

    Returns
    -------
    data : DataFrame
        One row per respondent, the model's observed variables (plus ``group`` when multigroup).
    truth : DataFrame
        The parameter table with ``value`` (population, latent variances fixed to 1 unless the
        syntax says otherwise), ``value_marker`` (the same population under first-loading
        identification, to compare with ``fit_sem`` estimates) and ``std_all``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.simulate("F =~ 0.8*x1 + 0.7*x2 + 0.6*x3", n=500, seed=1)
    >>> data.shape, round(float(data.x1.var()), 1)
    ((500, 3), 1.6)
    >>> truth.loc[truth.op == "=~", ["rhs", "value", "value_marker"]].round(3).to_dict("list")
    {'rhs': ['x1', 'x2', 'x3'], 'value': [0.8, 0.7, 0.6], 'value_marker': [1.0, 0.875, 0.75]}
    """
    ns = _group_sizes(n)
    check_seed(seed, generator=True)
    if not isinstance(standardized, (bool, np.bool_)):
        raise ArgumentError(f"standardized={standardized!r}: give True or False")
    for name, value in (("scale_center", scale_center), ("scale_sd", scale_sd)):
        if value is not None and not _finite_number(value):
            raise ArgumentError(f"{name}={value!r}: give a finite number (or leave it unset)")
    if scale_sd is not None and scale_sd <= 0:
        raise ArgumentError(f"scale_sd={scale_sd!r}: the spread of the ratings must be positive (e.g. 2)")
    rng_scale = parse_scale(scale)
    spec = as_spec(model, std_lv=True, auto_fix_first=False, fixed_x=False)
    if len(ns) == 1 and spec.ngroups > 1:
        ns = ns * spec.ngroups
    if spec.ngroups == 1 and len(ns) > 1:
        spec = spec.with_options(ngroups=len(ns))
    if len(ns) != spec.ngroups:
        raise ArgumentError(f"n has {len(ns)} group sizes but the model has {spec.ngroups} groups")
    layout = ram_layout(spec)
    values = population_values(spec, params, standardized)
    if standardized:
        values = _standardize_residuals(spec, layout, values)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    frames, th_rows = [], []
    for g, n_g in enumerate(ns, start=1):
        with np.errstate(all="ignore"):
            sigma, mu = implied_moments(layout, values, g)
        if not (np.isfinite(sigma).all() and np.isfinite(mu).all()):
            raise SpecError(
                f"the model-implied moments of group {g} are not finite (population values too large, "
                "or a loop of paths with product 1); change the population values"
            )
        try:
            chol = np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            ev = np.linalg.eigvalsh(sigma).min()
            raise SpecError(
                f"the model-implied covariance matrix of group {g} is not positive "
                f"definite (smallest eigenvalue {ev:.4g}); change the population values"
            ) from None
        y = mu + rng.standard_normal((n_g, len(mu))) @ chol.T
        frame = pd.DataFrame(y, columns=list(layout.observed))
        if rng_scale is not None:
            frame, th = _to_ratings(frame, mu, np.sqrt(np.diag(sigma)), rng_scale, scale_center, scale_sd)
            th_rows += [
                dict(lhs=v, op="|", rhs=f"t{k + 1}", group=g, value=tau)
                for v in frame.columns
                for k, tau in enumerate(th)
            ]
        if spec.ngroups > 1:
            frame["group"] = spec.group_labels[g - 1]
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    truth = spec.partable
    truth["value"] = values
    truth["value_marker"] = marker_values(spec, layout, values)
    truth["std_all"] = standardized_solution(spec, layout, values)
    if th_rows:
        extra = pd.DataFrame(th_rows).assign(free=True, user=False, exo=False, label="")
        truth = pd.concat([truth, extra], ignore_index=True)
    truth.attrs.update(
        seed=seed if isinstance(seed, (int, type(None))) else "generator",
        n=ns,
        scale=rng_scale,
        standardized=standardized,
    )
    return data, truth


def _to_ratings(
    frame: pd.DataFrame,
    mu: np.ndarray,
    sd: np.ndarray,
    scale: tuple[int, int],
    center: float | None,
    spread: float | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    lo, hi = scale
    center = (lo + hi) / 2 if center is None else float(center)
    spread = (hi - lo) / 5 if spread is None else float(spread)
    z = (frame.to_numpy() - mu) / sd
    ratings = np.clip(np.floor(center + z * spread + 0.5), lo, hi).astype(int)
    thresholds = (np.arange(lo, hi) + 0.5 - center) / spread
    return pd.DataFrame(ratings, columns=frame.columns, index=frame.index), thresholds
