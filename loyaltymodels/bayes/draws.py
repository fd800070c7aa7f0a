"""Posterior draws and the data they were fitted to, read out of a posterior ``DataTree``.

Everything downstream of a Bayesian fit (log-likelihood, posterior predictive checks, fit indices,
factor scores) needs the same two things: the ``param`` draws of every row of the parameter table
(laid out as :mod:`loyaltymodels.spec.layout` says), from which
:func:`loyaltymodels.algebra.matrices.implied_moments` rebuilds every draw's implied moments, and
the observed items with their groups. The readers here only pull arrays out of a posterior.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..algebra.matrices import implied_moments, ram_layout
from ..algebra.moments import saturated_moments
from ..algebra.normal import mvn_logpdf
from ..algebra.patterns import missing_patterns
from ..errors import DataError
from ..spec.layout import parameter_rows
from ..spec.model import ModelSpec
from ..spec.provenance import spec_from_attrs

__all__ = [
    "ObservedData",
    "add_log_likelihood",
    "log_likelihood_block",
    "model_spec",
    "observed_data",
    "row_draws",
]


# -- readers: DataTree -> arrays ------------------------------------------------------------------
def model_spec(post: xr.DataTree) -> ModelSpec:
    """The :class:`ModelSpec` a posterior was fitted with, from its root attributes."""
    attrs = dict(post.attrs)
    if "model_syntax" not in attrs:
        raise DataError(
            "the posterior does not say which model it comes from (no 'model_syntax' in "
            "its attributes); store provenance.spec_attrs(spec) in post.attrs"
        )
    return spec_from_attrs(attrs)


def row_draws(post: xr.DataTree, spec: ModelSpec, var_name: str = "param") -> np.ndarray:
    """Draws ``(chain * draw, nrows)`` of every row of ``spec.table`` (constraint rows NaN), read
    from ``posterior[var_name]`` after checking that its ``parameter`` coordinate is the table's."""
    if "posterior" not in post.children or var_name not in post["posterior"].data_vars:
        raise DataError(f"the posterior has no variable {var_name!r} in its 'posterior' group")
    da = post["posterior"].dataset[var_name]
    rows = parameter_rows(spec.table)
    names = [str(x) for x in da["parameter"].values]
    expected = rows["name"].tolist()
    if names != expected:
        k = next((k for k, (a, b) in enumerate(zip(names, expected)) if a != b), min(len(names), len(expected)))
        got, want = (names[k] if k < len(names) else None), (expected[k] if k < len(expected) else None)
        raise DataError(
            f"posterior[{var_name!r}] does not follow the model's parameter table: entry {k} "
            f"is {got!r} where the table has {want!r}; was it fitted with another model?"
        )
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


def observed_data(
    post: xr.DataTree, spec: ModelSpec, data: pd.DataFrame | None = None, group: str = "group"
) -> ObservedData:
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
            raise DataError(f"a multigroup model needs the group of every row: no column {group!r}", column=group)
    else:
        da = _observed_items(post)
        da = da.sel(item=list(items)) if "item" in da.coords else da
        y = da.transpose("respondent", "item").values.astype(float)
        labels = da["respondent"].values if "respondent" in da.coords else np.arange(len(y))
        groups = da["group"].values if (spec.ngroups > 1 and "group" in da.coords) else None
        if spec.ngroups > 1 and groups is None:
            raise DataError("observed_data of a multigroup fit needs a 'group' coordinate along 'respondent'")
    gidx = np.ones(len(y), int) if groups is None else _group_index(groups, _group_labels(post, spec))
    groups_ = range(1, spec.ngroups + 1)
    return ObservedData(
        items,
        {g: y[gidx == g] for g in groups_},
        {g: labels[gidx == g] for g in groups_},
        {g: np.flatnonzero(gidx == g) for g in groups_},
    )


def _observed_items(post: xr.DataTree) -> xr.DataArray:
    if "observed_data" not in post.children:
        raise DataError("the posterior has no 'observed_data' group; pass the data with data=...")
    ds = post["observed_data"].dataset
    cands = [v for v in ds.data_vars.values() if "respondent" in v.dims and "item" in v.dims]
    if len(cands) != 1:
        raise DataError(
            "observed_data should hold one variable with dims (respondent, item); found "
            f"{[(k, v.dims) for k, v in ds.data_vars.items()]}"
        )
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
def _hooked(path: str) -> Any:
    """The function named ``"loyaltymodels.room.module:function"`` by a posterior's
    ``log_likelihood_by`` attribute: how a room above this one (the loyalty model) supplies its own
    pointwise log-likelihood without this room importing it (the layering rule)."""
    import importlib

    module, _, name = path.partition(":")
    if not module.startswith("loyaltymodels.") or not name:
        raise DataError(
            f"the posterior's log_likelihood_by attribute {path!r} does not name a loyaltymodels "
            "function; was the attribute edited?"
        )
    return getattr(importlib.import_module(module), name)


def add_log_likelihood(
    post: xr.DataTree,
    *,
    var_name: str | None = None,
    data: pd.DataFrame | None = None,
    dtype: type | str = np.float64,
) -> xr.DataTree:
    """``post`` with a ``log_likelihood`` group: every respondent's log density under every draw.

    The density is the marginal multivariate normal of the items, ``N(mu(theta), Sigma(theta))``,
    from each draw's implied moments; a respondent with missing items is scored on the items
    observed (FIML's casewise likelihood). Without a mean structure the item means are the
    saturated ones (sample means; EM means with missing values), as lavaan does. The array is
    ``draws x respondents``: :func:`~loyaltymodels.loo` does not need it whole (it works through
    :func:`log_likelihood_block` in blocks of respondents when the array would be large).

    Parameters
    ----------
    post : DataTree
        A posterior with ``param`` draws, ``observed_data`` (or ``data``) and the spec in its attrs.
    var_name : str, optional
        Name of the new variable (default: the name of the variable in ``observed_data``, else ``y``).
    data : DataFrame, optional
        The data the posterior was fitted to, when ``observed_data`` is absent.
    dtype : numpy dtype
        ``float64`` (default) or ``float32`` (half the memory; computed in float64, then rounded).

    Returns
    -------
    DataTree
        A shallow copy with ``log_likelihood[var_name]`` of dims ``(chain, draw, respondent)``.
    """
    ll, labels = log_likelihood_block(post, data=data, dtype=dtype)
    if var_name is None:
        names = list(post["observed_data"].data_vars) if "observed_data" in post.children else []
        var_name = names[0] if len(names) == 1 else "y"
    sizes = post["posterior"].dataset.sizes
    da = xr.DataArray(
        ll.reshape(sizes["chain"], sizes["draw"], len(labels)),
        dims=("chain", "draw", "respondent"),
        coords={
            "chain": post["posterior"]["chain"].values,
            "draw": post["posterior"]["draw"].values,
            "respondent": labels,
        },
    )
    out = post.copy()
    out["log_likelihood"] = xr.Dataset({var_name: da})
    return out


def log_likelihood_block(
    post: xr.DataTree,
    positions: np.ndarray | slice | None = None,
    *,
    data: pd.DataFrame | None = None,
    dtype: type | str = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """The pointwise log-likelihood ``(chain * draw, respondents)`` of the respondents at
    ``positions`` (in the order of the data; all by default) and their labels: the computation
    behind :func:`add_log_likelihood`, in pieces whose temporaries stay bounded whatever the size
    of the data."""
    form = post.attrs.get("likelihood_form", "marginal")
    hook = post.attrs.get("log_likelihood_by")
    if hook:  # a model family above this room whose likelihood is not the items' normal density
        return _hooked(str(hook))(post, positions, data=data, dtype=dtype)
    if form == "conditional":  # ordinal items: the scores integrated out (bayes.integrated)
        from .integrated import integrated_block

        return integrated_block(post, positions, data=data, dtype=dtype)
    if form not in ("marginal", "respondent"):
        raise DataError(
            f"this posterior's likelihood (form {form!r}) is not the marginal normal density of the items, "
            "which is what add_log_likelihood computes; its fit stores the pointwise log-likelihood itself "
            "(refit it if the 'log_likelihood' group was dropped)"
        )
    spec = model_spec(post)
    values = row_draws(post, spec)
    obs = observed_data(post, spec, data)
    layout = ram_layout(spec)
    every = np.arange(obs.n)
    wanted = every if positions is None else every[positions]
    keep = np.zeros(obs.n, bool)
    keep[wanted] = True
    ll = np.empty((values.shape[0], obs.n if positions is None else len(wanted)), dtype=dtype)
    where = np.full(obs.n, -1)
    where[wanted] = np.arange(len(wanted))
    labels = np.empty(ll.shape[1], dtype=object)
    for g in range(1, spec.ngroups + 1):
        mine = keep[obs.rows[g]]
        if not mine.any():
            continue
        y_all = obs.y[g]
        sat_mean = None if spec.meanstructure else saturated_moments(y_all)[1]
        y, cols = y_all[mine], where[obs.rows[g][mine]]
        pats = missing_patterns(y)
        step = max(1, int(4e6 // max(1, y.size)))  # bound the (draws, rows, items) temporaries
        for start in range(0, values.shape[0], step):
            sigma, mu = implied_moments(layout, values[start : start + step], g)
            if sat_mean is not None:
                mu = np.broadcast_to(sat_mean, mu.shape)
            ll[start : start + step, cols] = mvn_logpdf(y, sigma, mu, patterns=pats)
        labels[cols] = obs.respondents[g][mine]
    return ll, labels
