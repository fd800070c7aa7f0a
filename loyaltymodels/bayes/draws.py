"""Posterior draws -> the model's implied moments per draw, and the data the draws were fitted to.

Everything downstream of a Bayesian fit (log-likelihood, posterior predictive checks, fit indices,
factor scores) needs the same two things: every draw's implied covariance matrix and mean vector,
rebuilt in NumPy from the ``param`` draws (see :mod:`loyaltymodels.spec.layout`), and the observed items
with their groups. The kernels take plain arrays with the draws on the first axis; the
``DataTree`` readers below them only pull arrays out of a posterior.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import DataError
from ..spec.layout import parameter_rows
from ..algebra.matrices import RamLayout, ram_layout
from ..spec.provenance import spec_from_attrs
from ..spec.model import ModelSpec

__all__ = ["ObservedData", "add_log_likelihood", "implied_draws", "model_spec", "mvn_logpdf",
           "observed_data", "row_draws",
           "sample_moments", "saturated_moments"]

_LOG2PI = np.log(2 * np.pi)


# -- kernels: arrays with the draws first ----------------------------------------------------------
def implied_draws(layout: RamLayout, values: np.ndarray, group: int = 1,
                  full: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Implied covariance ``(D, p, p)`` and mean ``(D, p)`` of every draw of per-row ``values``
    ``(D, nrows)`` (of all variables, latents last, with ``full=True``).

    The batched form of :func:`loyaltymodels.algebra.matrices.implied_moments`:
    ``Sigma = F (I - A)^-1 S (I - A)^-T F'``, ``mu = F (I - A)^-1 m``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.algebra.matrices import ram_layout, row_values
    >>> spec = lm.parse_model("f =~ 1*x1 + 0.5*x2; f ~~ 2*f; x1 ~~ 1*x1; x2 ~~ 1*x2")
    >>> v = np.stack([row_values(spec.table), row_values(spec.table)])
    >>> v[1, 2] = 4.0  # the second draw has var(f) = 4
    >>> sigma, mu = implied_draws(ram_layout(spec), v)
    >>> sigma[:, 0, :]
    array([[3., 1.],
           [5., 2.]])
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    d, n = values.shape[0], layout.n
    A, S, m = np.zeros((d, n, n)), np.zeros((d, n, n)), np.zeros((d, n))
    c = layout.A[group]
    A[:, c.i, c.j] = values[:, c.row]
    c = layout.S[group]
    S[:, c.i, c.j] = values[:, c.row]
    c = layout.m[group]
    m[:, c.i] = values[:, c.row]
    T = np.linalg.inv(np.eye(n) - A)
    cov = T @ S @ np.swapaxes(T, -1, -2)
    mean = np.einsum("dij,dj->di", T, m)
    if full:
        return cov, mean
    p = layout.n_observed
    return cov[:, :p, :p], mean[:, :p]


def mvn_logpdf(y: np.ndarray, sigma: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Log density ``(D, N)`` of rows ``y`` ``(N, p)`` under every draw's ``N(mu, sigma)``.

    Missing values (NaN) are integrated out: each row is scored on the marginal density of its
    observed items, one missing-data pattern at a time (the FIML casewise likelihood). A draw whose
    covariance is not positive definite gets ``-inf``.

    Examples
    --------
    >>> from scipy.stats import multivariate_normal
    >>> y = np.array([[0.5, -1.0], [1.0, np.nan]])
    >>> sigma, mu = np.array([[[2.0, 0.5], [0.5, 1.0]]]), np.zeros((1, 2))
    >>> got = mvn_logpdf(y, sigma, mu)
    >>> bool(np.isclose(got[0, 0], multivariate_normal([0, 0], sigma[0]).logpdf(y[0])))
    True
    >>> bool(np.isclose(got[0, 1], multivariate_normal(0, 2.0).logpdf(1.0)))
    True
    """
    y = np.asarray(y, dtype=float)
    sigma, mu = np.asarray(sigma, dtype=float), np.asarray(mu, dtype=float)
    out = np.full((sigma.shape[0], y.shape[0]), -np.inf)
    observed = ~np.isnan(y)
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        rows = np.flatnonzero(which.ravel() == k)
        if not pattern.any():
            out[:, rows] = 0.0  # an empty row carries no information
            continue
        o = np.flatnonzero(pattern)
        s = sigma[:, o[:, None], o[None, :]]
        chol, ok = _cholesky(s)
        # whitened residuals z = L^-1 (y - mu): (D, N_k, p_o)
        resid = y[np.ix_(rows, o)][None, :, :] - mu[:, None, o]
        z = np.linalg.solve(chol[ok], np.swapaxes(resid[ok], 1, 2))
        logdet = 2 * np.log(np.diagonal(chol[ok], axis1=1, axis2=2)).sum(axis=1)
        out[np.ix_(np.flatnonzero(ok), rows)] = -0.5 * (
            (z ** 2).sum(axis=1) + logdet[:, None] + len(o) * _LOG2PI)
    return out


def sample_moments(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariance (divided by N, as lavaan's ML) and mean of complete rows ``y`` ``(N, p)``."""
    y = np.asarray(y, dtype=float)
    mean = y.mean(axis=0)
    r = y - mean
    return r.T @ r / len(y), mean


def saturated_moments(y: np.ndarray, *, tol: float = 1e-11,
                      max_iter: int = 5000) -> tuple[np.ndarray, np.ndarray, float]:
    """ML estimates of the unrestricted (saturated) model ``(cov, mean, loglik)`` of rows ``y``.

    Complete rows: the sample moments (divided by N). With missing values: the EM algorithm for the
    multivariate normal (Little & Rubin 2002, sec. 11.2), as lavaan's ``h1`` under ``missing="ml"``.

    Examples
    --------
    >>> y = np.random.default_rng(1).normal(size=(200, 3))
    >>> cov, mean, ll = saturated_moments(y)
    >>> bool(np.allclose(cov, np.cov(y.T, bias=True)))
    True
    >>> y[::4, 0] = np.nan
    >>> cov2, mean2, ll2 = saturated_moments(y)
    >>> bool(np.isclose(mean2[1], y[:, 1].mean()))  # complete item: its mean is unchanged
    True
    """
    y = np.asarray(y, dtype=float)
    miss = np.isnan(y)
    if not miss.any():
        cov, mean = sample_moments(y)
        return cov, mean, float(mvn_logpdf(y, cov[None], mean[None]).sum())
    # start from the available-case moments
    mean = np.nanmean(y, axis=0)
    cov = np.diag(np.nanvar(y, axis=0))
    patterns, which = np.unique(~miss, axis=0, return_inverse=True)
    which = which.ravel()
    n, p = y.shape
    for _ in range(max_iter):
        sum_y, sum_yy = np.zeros(p), np.zeros((p, p))
        for k, pattern in enumerate(patterns):
            rows = y[which == k]
            o, m = np.flatnonzero(pattern), np.flatnonzero(~pattern)
            filled = np.repeat(mean[None, :], len(rows), axis=0)
            filled[:, o] = rows[:, o]
            cvar = np.zeros((p, p))
            if len(m) and len(o):
                beta = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])  # regression of m on o
                filled[:, m] = mean[m] + (rows[:, o] - mean[o]) @ beta
                cvar[np.ix_(m, m)] = cov[np.ix_(m, m)] - cov[np.ix_(m, o)] @ beta
            elif len(m):
                cvar[np.ix_(m, m)] = cov[np.ix_(m, m)]
            sum_y += filled.sum(axis=0)
            sum_yy += filled.T @ filled + len(rows) * cvar
        new_mean = sum_y / n
        new_cov = sum_yy / n - np.outer(new_mean, new_mean)
        # EM creeps near the optimum: stop on the parameters, not on the log-likelihood
        change = max(np.abs(new_mean - mean).max(), np.abs(new_cov - cov).max())
        mean, cov = new_mean, new_cov
        if change < tol * (1 + np.abs(cov).max()):
            break
    ll = float(mvn_logpdf(y, cov[None], mean[None]).sum())
    return cov, mean, ll


def _cholesky(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched Cholesky factors and a mask of the draws where it exists (others get identity)."""
    try:
        return np.linalg.cholesky(s), np.ones(len(s), bool)
    except np.linalg.LinAlgError:
        ok = np.linalg.eigvalsh(s)[:, 0] > 0
        chol = np.broadcast_to(np.eye(s.shape[-1]), s.shape).copy()
        if ok.any():
            chol[ok] = np.linalg.cholesky(s[ok])
        return chol, ok


# -- readers: DataTree -> arrays ------------------------------------------------------------------
def model_spec(post: xr.DataTree) -> ModelSpec:
    """The :class:`ModelSpec` a posterior was fitted with, from its root attributes."""
    attrs = dict(post.attrs)
    if "model_syntax" not in attrs:
        raise DataError("the posterior does not say which model it comes from (no 'model_syntax' in "
                        "its attributes); store provenance.spec_attrs(spec) in post.attrs")
    return spec_from_attrs(attrs)


def row_draws(post: xr.DataTree, spec: ModelSpec, var_name: str = "param") -> np.ndarray:
    """Draws ``(chain * draw, nrows)`` of every row of ``spec.table`` (constraint rows NaN), read
    from ``posterior[var_name]`` after checking that its ``parameter`` coordinate is the table's."""
    if "posterior" not in post.children or var_name not in post["posterior"].data_vars:
        raise DataError(f"the posterior has no variable {var_name!r} in its 'posterior' group")
    da = post["posterior"][var_name]
    rows = parameter_rows(spec.table)
    names = [str(x) for x in da["parameter"].values]
    expected = rows["name"].tolist()
    if names != expected:
        k = next((k for k, (a, b) in enumerate(zip(names, expected)) if a != b),
                 min(len(names), len(expected)))
        got, want = (names[k] if k < len(names) else None), (expected[k] if k < len(expected) else None)
        raise DataError(f"posterior[{var_name!r}] does not follow the model's parameter table: entry {k} "
                        f"is {got!r} where the table has {want!r}; was it fitted with another model?")
    flat = da.transpose("chain", "draw", "parameter").values.reshape(-1, len(names))
    values = np.full((flat.shape[0], len(spec.table)), np.nan)
    values[:, rows.index.to_numpy()] = flat
    return values


@dataclass(frozen=True)
class ObservedData:
    """The items of one data set split by group: ``y[g]`` rows ``(N_g, p)`` (NaN = missing), with the
    respondent labels ``respondents[g]`` and their positions ``rows[g]`` in the data as given;
    groups count from 1 as in the parameter table."""

    items: tuple[str, ...]
    y: dict[int, np.ndarray]
    respondents: dict[int, np.ndarray]
    rows: dict[int, np.ndarray]

    @property
    def complete(self) -> bool:
        return not any(np.isnan(v).any() for v in self.y.values())

    @property
    def n(self) -> int:
        return sum(len(v) for v in self.y.values())


def observed_data(post: xr.DataTree, spec: ModelSpec, data: pd.DataFrame | None = None,
                  group: str = "group") -> ObservedData:
    """The data a posterior was fitted to (``observed_data``: dims ``(respondent, item)``, a ``group``
    coordinate along ``respondent`` in multigroup fits), or ``data`` given as a DataFrame with the
    model's observed variables (and a ``group`` column for a multigroup model)."""
    items = tuple(spec.observed)
    if data is not None:
        missing = [c for c in items if c not in data.columns]
        if missing:
            raise DataError(f"data lack the model's observed variable(s) {missing}", column=missing[0])
        y = data[list(items)].to_numpy(dtype=float)
        labels = data.index.to_numpy()
        groups = data[group].to_numpy() if spec.ngroups > 1 else None
        if spec.ngroups > 1 and group not in data.columns:
            raise DataError(f"a multigroup model needs the group of every row: no column {group!r}",
                            column=group)
    else:
        da = _observed_items(post)
        da = da.sel(item=list(items)) if "item" in da.coords else da
        y = da.transpose("respondent", "item").values.astype(float)
        labels = da["respondent"].values if "respondent" in da.coords else np.arange(len(y))
        groups = da["group"].values if (spec.ngroups > 1 and "group" in da.coords) else None
        if spec.ngroups > 1 and groups is None:
            raise DataError("observed_data of a multigroup fit needs a 'group' coordinate along "
                            "'respondent'")
    gidx = np.ones(len(y), int) if groups is None else _group_index(groups, _group_labels(post, spec))
    groups_ = range(1, spec.ngroups + 1)
    return ObservedData(items, {g: y[gidx == g] for g in groups_}, {g: labels[gidx == g] for g in groups_},
                        {g: np.flatnonzero(gidx == g) for g in groups_})


def _observed_items(post: xr.DataTree) -> xr.DataArray:
    if "observed_data" not in post.children:
        raise DataError("the posterior has no 'observed_data' group; pass the data with data=...")
    ds = post["observed_data"].dataset
    cands = [v for v in ds.data_vars.values() if "respondent" in v.dims and "item" in v.dims]
    if len(cands) != 1:
        raise DataError("observed_data should hold one variable with dims (respondent, item); found "
                        f"{[(k, v.dims) for k, v in ds.data_vars.items()]}")
    return cands[0]


def _group_labels(post: xr.DataTree | None, spec: ModelSpec) -> list:
    """The groups' labels in model order: ``fit_bayes`` stores them as JSON in the root attrs (the
    data's group column), otherwise the spec's ``group_labels``."""
    text = post.attrs.get("group_labels") if post is not None else None
    if text:
        try:
            labels = json.loads(text)
            if len(labels) == spec.ngroups:
                return list(labels)
        except (TypeError, ValueError):
            pass
    return spec.group_labels


def _group_index(groups: np.ndarray, labels: list) -> np.ndarray:
    """Group numbers 1..G from the groups' labels (compared as text, so 1 and "1" agree)."""
    lookup = {str(lab): k for k, lab in enumerate(labels, start=1)}
    out = np.array([lookup.get(str(g), 0) for g in groups])
    if (out == 0).any():
        bad = groups[out == 0][0]
        raise DataError(f"group {bad!r} is not a group of the model (groups: {labels})", value=bad)
    return out


# -- pointwise log-likelihood ----------------------------------------------------------------------
def add_log_likelihood(post: xr.DataTree, *, var_name: str | None = None,
                       data: pd.DataFrame | None = None) -> xr.DataTree:
    """``post`` with a ``log_likelihood`` group: every respondent's log density under every draw.

    The density is the marginal multivariate normal of the items, ``N(mu(theta), Sigma(theta))``,
    from each draw's implied moments; a respondent with missing items is scored on the items
    observed (FIML's casewise likelihood). Without a mean structure the item means are the
    saturated ones (sample means; EM means with missing values), as lavaan does.

    Parameters
    ----------
    post : DataTree
        A posterior with ``param`` draws, ``observed_data`` (or ``data``) and the spec in its attrs.
    var_name : str, optional
        Name of the new variable (default: the name of the variable in ``observed_data``, else ``y``).
    data : DataFrame, optional
        The data the posterior was fitted to, when ``observed_data`` is absent.

    Returns
    -------
    DataTree
        A shallow copy with ``log_likelihood[var_name]`` of dims ``(chain, draw, respondent)``.
    """
    spec = model_spec(post)
    values = row_draws(post, spec)
    obs = observed_data(post, spec, data)
    layout = ram_layout(spec)
    ll = np.empty((values.shape[0], obs.n))
    labels = np.empty(obs.n, dtype=object)
    for g in range(1, spec.ngroups + 1):
        y = obs.y[g]
        sat_mean = None if spec.meanstructure else saturated_moments(y)[1]
        step = max(1, int(4e6 // max(1, y.size)))  # bound the (draws, rows, items) temporaries
        for start in range(0, values.shape[0], step):
            sigma, mu = implied_draws(layout, values[start:start + step], g)
            if sat_mean is not None:
                mu = np.broadcast_to(sat_mean, mu.shape)
            ll[start:start + step, obs.rows[g]] = mvn_logpdf(y, sigma, mu)
        labels[obs.rows[g]] = obs.respondents[g]
    if var_name is None:
        names = list(post["observed_data"].data_vars) if "observed_data" in post.children else []
        var_name = names[0] if len(names) == 1 else "y"
    sizes = post["posterior"].dataset.sizes
    da = xr.DataArray(ll.reshape(sizes["chain"], sizes["draw"], obs.n),
                      dims=("chain", "draw", "respondent"),
                      coords={"chain": post["posterior"]["chain"].values,
                              "draw": post["posterior"]["draw"].values, "respondent": labels})
    out = post.copy()
    out["log_likelihood"] = xr.Dataset({var_name: da})
    return out
