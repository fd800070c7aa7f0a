"""Posteriors built by hand for the diagnostics tests, before (and beside) real MCMC fits.

``ml_fit`` is a plain ML estimator on the RAM form (scipy, no semopy), checked in the tests against
lavaan's published Holzinger-Swineford chi-square; ``normal_posterior`` draws "posterior samples" from
the asymptotic normal approximation ``N(theta_hat, I(theta_hat)^-1)`` around it and lays them out as
the contract in ``loyaltymodels.spec.layout`` says a Bayesian fit does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.optimize
import xarray as xr
from arviz_base import from_dict

from loyaltymodels.algebra.matrices import evaluate_defined, implied_moments, ram_layout, row_values
from loyaltymodels.spec.layout import parameter_coords, parameter_rows
from loyaltymodels.spec.provenance import spec_attrs


def _groups(spec, data, group):
    if spec.ngroups == 1:
        return {1: data[spec.observed].to_numpy(float)}
    labels = spec.group_labels
    return {g: data.loc[data[group] == lab, spec.observed].to_numpy(float) for g, lab in enumerate(labels, start=1)}


def ml_fit(spec, data, group="group"):
    """ML estimates of the free parameters, their asymptotic covariance and the chi-square."""
    t = spec.table
    layout = ram_layout(spec)
    ys = _groups(spec, data, group)
    mom = {}
    for g, y in ys.items():
        m = y.mean(0)
        mom[g] = ((y - m).T @ (y - m) / len(y), m, len(y))
    ntot = sum(v[2] for v in mom.values())
    npar = int(t.loc[t.free, "par"].max()) + 1

    def fml(theta):
        values = row_values(t, theta)
        f = 0.0
        for g, (S, m, n) in mom.items():
            sigma, mu = implied_moments(layout, values, g)
            if not spec.meanstructure:
                mu = m
            if np.linalg.eigvalsh(sigma)[0] <= 0:
                return 1e10
            logdet = np.linalg.slogdet(sigma)[1]
            inv = np.linalg.inv(sigma)
            r = m - mu
            f += n / ntot * (logdet + np.trace(S @ inv) - np.linalg.slogdet(S)[1] - len(m) + r @ inv @ r)
        return f

    start = np.zeros(npar)
    free = t[t.free]
    for par, grp in free.groupby("par"):
        r = grp.iloc[0]
        if r.op == "=~":
            start[par] = 1.0
        elif r.op == "~~" and r.lhs == r.rhs:
            start[par] = 0.5 * mom[r.group][0][spec.observed.index(r.lhs)].mean() if r.lhs in spec.observed else 0.5
        elif r.op == "~1" and r.lhs in spec.observed:
            start[par] = mom[r.group][1][spec.observed.index(r.lhs)]
    res = scipy.optimize.minimize(fml, start, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
    theta = res.x
    # observed information of the log-likelihood -N/2 F by central differences
    h = 1e-4
    H = np.zeros((npar, npar))
    for i in range(npar):
        for j in range(i, npar):
            e_i, e_j = np.eye(npar)[i] * h, np.eye(npar)[j] * h
            H[i, j] = H[j, i] = (
                fml(theta + e_i + e_j) - fml(theta + e_i - e_j) - fml(theta - e_i + e_j) + fml(theta - e_i - e_j)
            ) / (4 * h * h)
    cov = np.linalg.inv(ntot / 2 * H)
    return theta, cov, ntot * res.fun


def draws_to_posterior(spec, theta_draws, data, group="group", chains=4, extra=None):
    """A DataTree laid out as the contract says, from free-parameter draws ``(chains*draws, npar)``."""
    t = spec.table
    values = np.stack([evaluate_defined(t, row_values(t, th)) for th in theta_draws])
    rows = parameter_rows(t)
    param = values[:, rows.index.to_numpy()].reshape(chains, -1, len(rows))
    coords = parameter_coords(t)
    items = list(spec.observed)
    obs = data[items].to_numpy(float)
    post = from_dict(
        {"posterior": {"param": param, **(extra or {})}, "observed_data": {"y": obs}},
        dims={"param": ["parameter"], "y": ["respondent", "item"]},
        coords={"parameter": coords["parameter"][1], "item": items, "respondent": data.index.to_numpy()},
    )
    post["posterior"] = (
        post["posterior"].to_dataset().assign_coords({k: v for k, v in coords.items() if k != "parameter"})
    )
    if spec.ngroups > 1:
        post["observed_data"] = (
            post["observed_data"].to_dataset().assign_coords(group=("respondent", data[group].to_numpy()))
        )
    post.attrs.update(spec_attrs(spec))
    return post


def normal_posterior(spec, data, *, chains=4, draws=250, seed=0, group="group", fit=None):
    """Draws from the normal approximation around the ML solution, as a contract posterior.

    Variances are drawn on the log scale (delta method), so they stay positive and skewed as real
    posteriors of variances are."""
    theta, cov, _ = fit if fit is not None else ml_fit(spec, data, group)
    t = spec.table
    free = t[t.free].drop_duplicates("par").sort_values("par")
    is_var = ((free.op == "~~") & (free.lhs == free.rhs)).to_numpy()
    jac = np.where(is_var, 1 / np.abs(theta), 1.0)
    z_hat = np.where(is_var, np.log(np.abs(theta)), theta)
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(z_hat, cov * np.outer(jac, jac), size=chains * draws)
    th = np.where(is_var, np.exp(z), z)
    return draws_to_posterior(spec, th, data, group, chains)


def with_sample_stats(post, **stats):
    """``post`` with a ``sample_stats`` group holding ``stats`` (arrays of shape (chain, draw))."""
    out = post.copy()
    chain, draw = post["posterior"].dataset.sizes["chain"], post["posterior"].dataset.sizes["draw"]
    ds = xr.Dataset(
        {k: (("chain", "draw"), np.asarray(v)) for k, v in stats.items()},
        coords={"chain": np.arange(chain), "draw": np.arange(draw)},
    )
    out["sample_stats"] = ds
    return out


def frame(y, items):
    return pd.DataFrame(y, columns=items)


_CACHE: dict = {}


def cached(key, make):
    """Build once per test session (ML fits take a second; several test files share them)."""
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def hs_posterior(meanstructure=False, chains=4, draws=250, seed=0):
    import loyaltymodels as lm
    from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford

    hs = cached("hs", load_holzinger_swineford)
    spec = lm.parse_model(HS_MODEL, meanstructure=meanstructure)
    fit = cached(("hs_fit", meanstructure), lambda: ml_fit(spec, hs))
    return normal_posterior(spec, hs, chains=chains, draws=draws, seed=seed, fit=fit)


def point_posterior(spec, theta, data, group="group"):
    """A one-draw posterior at ``theta`` (free parameters): the ML point as a 'posterior'."""
    return draws_to_posterior(spec, np.asarray(theta)[None, :], data, group, chains=1)
