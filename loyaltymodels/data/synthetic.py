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
from typing import overload

import numpy as np
import pandas as pd

from ..algebra.matrices import RamLayout, implied_moments, ram_layout, ram_matrices
from ..algebra.matrices import standardized as standardized_solution
from ..errors import SpecError
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
            raise ValueError(f"scale {scale!r} should look like '0-10' or '1-5'") from None
    else:
        lo, hi = (int(x) for x in scale)
    if hi <= lo:
        raise ValueError(f"scale ({lo}, {hi}) needs its upper end above its lower end")
    return lo, hi


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
        keys = params.get("group", pd.Series(1, index=params.index))
        params = {
            param_name(l, o, r, int(g)): v
            for l, o, r, g, v in zip(params.lhs, params.op, params.rhs, keys, params["value"])
        }
    names = [param_name(l, o, r, g) for l, o, r, g in zip(t.lhs, t.op, t.rhs, t.group)]
    for key, value in params.items():
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
    spec = as_spec(model, std_lv=True, auto_fix_first=False, fixed_x=False)
    ns = [int(k) for k in np.atleast_1d(n)]
    if len(ns) == 1 and spec.ngroups > 1:
        ns = ns * spec.ngroups
    if spec.ngroups == 1 and len(ns) > 1:
        spec = spec.with_options(ngroups=len(ns))
    if len(ns) != spec.ngroups:
        raise ValueError(f"n has {len(ns)} group sizes but the model has {spec.ngroups} groups")
    if min(ns) < 1:
        raise ValueError(f"n must be positive, got {ns}")
    layout = ram_layout(spec)
    values = population_values(spec, params, standardized)
    if standardized:
        values = _standardize_residuals(spec, layout, values)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rng_scale = parse_scale(scale)
    frames, th_rows = [], []
    for g, n_g in enumerate(ns, start=1):
        sigma, mu = implied_moments(layout, values, g)
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
