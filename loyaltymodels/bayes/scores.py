"""Factor scores from posterior draws: each respondent's latent values, with their uncertainty.

For the marginal (continuous-item) model the latent variables were integrated out, so their scores
come from each draw's conditional normal distribution given the respondent's observed items,

    E[eta | y] = mu_eta + Cov(eta, y_o) Sigma_oo^-1 (y_o - mu_o),
    Var[eta | y] = Var(eta) - Cov(eta, y_o) Sigma_oo^-1 Cov(y_o, eta),

(``o`` the items the respondent answered), and are mixed over the draws. The reported mean is the
posterior mean of the latent value, and the sd and interval cover both the parameters' posterior
uncertainty and the score's own (conditional) uncertainty. One draw's conditional mean is
Thurstone's regression factor score. In R: ``blavPredict(fit, type = "lv")`` (draws) and
``type = "lvmeans"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..algebra.matrices import implied_moments, ram_layout
from ..algebra.moments import saturated_moments
from ..data.validate import suggest_column  # the package's "did you mean" for column names
from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import DataError, plain
from ..spec.model import ModelSpec
from .draws import _group_labels, model_spec, observed_data, row_draws

__all__ = ["factor_scores"]

_BLOCK = 4_000_000  # draws x respondents x factors held at once
_MIN_SAMPLES = 4000  # latent draws per respondent behind each interval (several per posterior draw
# when there are few posterior draws)


def factor_scores(
    post: xr.DataTree,
    data: pd.DataFrame | None = None,
    *,
    ci: float = CI_POSTERIOR,
    seed: int | None = None,
    group: str = "group",
) -> pd.DataFrame:
    """Posterior means, SDs and equal-tailed intervals of every respondent's latent scores.

    Parameters
    ----------
    post : DataTree
        A posterior with ``param`` draws and the spec in its attrs; or one holding sampled latent
        scores ``posterior["eta"]`` with dims ``(chain, draw, respondent, factor)`` (a conditional or
        ordinal model), which are summarised as they are.
    data : DataFrame, optional
        New respondents (rows) with the model's observed variables, missing values allowed, and a
        ``group`` column for a multigroup model. Default: the fitted data (``observed_data``).
    ci : float
        Mass of the equal-tailed intervals.
    seed : int, optional
        For the intervals, which are quantiles of latent values drawn from every posterior draw's
        conditional distribution (at least 4000 in all; the mean and sd are exact mixture moments,
        without Monte Carlo error).
    group : str
        Name of the group column of ``data``.

    Returns
    -------
    DataFrame
        Tidy: ``respondent`` (index label of the data), ``group`` (multigroup models), ``factor``,
        ``mean``, ``sd``, ``ci_lower``, ``ci_upper``; respondents in data order, factors in
        model order.

    Examples
    --------
    >>> import numpy as np, loyaltymodels as lm
    >>> from loyaltymodels.spec.layout import parameter_rows
    >>> from loyaltymodels.spec.provenance import spec_attrs
    >>> spec = lm.parse_model("f =~ 1*x1 + 1*x2; f ~~ 1*f; x1 ~~ 1*x1; x2 ~~ 1*x2; x1 + x2 ~ 0*1")
    >>> names = parameter_rows(spec.table)["name"].tolist()
    >>> param = np.tile(spec.table["value"].to_numpy(), (1, 1, 1))  # one draw at the true values
    >>> post = xr.DataTree.from_dict({"posterior": xr.Dataset(
    ...     {"param": (("chain", "draw", "parameter"), param)}, coords={"parameter": names})})
    >>> post.attrs.update(spec_attrs(spec))
    >>> new = pd.DataFrame({"x1": [1.0, 2.0], "x2": [1.0, np.nan]})
    >>> factor_scores(post, new)[["respondent", "factor", "mean", "sd"]].round(3)
       respondent factor   mean     sd
    0           0      f  0.667  0.577
    1           1      f  1.000  0.707

    With loadings 1 and unit variances, ``E[f | x1, x2] = (x1 + x2) / 3`` and ``Var = 1/3``; with
    ``x2`` missing, ``E[f | x1] = x1 / 2`` and ``Var = 1/2``.
    """
    if "eta" in post["posterior"].data_vars and data is None:
        return labelled_interval(_summarise_sampled(post["posterior"].dataset["eta"], ci), ci)
    spec = model_spec(post)
    if spec.ordinal:
        raise DataError(
            f"ordinal items {spec.ordinal}: factor scores need the sampled latent "
            "scores (posterior 'eta') of a conditional model"
        )
    if not spec.latents:
        raise DataError("the model has no latent variable to score")
    if data is not None:
        data = _check_new_rows(spec, data, group)
    obs = observed_data(post, spec, data, group)
    fitted = None
    if not spec.meanstructure:  # item means are then the fitted data's (saturated) means
        fitted = obs if data is None else observed_data(post, spec, None) if "observed_data" in post.children else obs
    values = row_draws(post, spec)
    layout = ram_layout(spec)
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - ci) / 2, (1 + ci) / 2
    p, k = layout.n_observed, len(layout.latents)
    frames = []
    for g in range(1, spec.ngroups + 1):
        y = obs.y[g]
        if not len(y):
            continue
        cov, mean = implied_moments(layout, values, g, full=True)
        if fitted is not None:
            mean = mean.copy()
            mean[:, :p] = saturated_moments(fitted.y[g])[1]
            mean[:, p:] = 0.0
        out = np.empty((len(y), k, 4))
        observed = ~np.isnan(y)
        patterns, which = np.unique(observed, axis=0, return_inverse=True)
        for j, pattern in enumerate(patterns):
            rows = np.flatnonzero(which.ravel() == j)
            out[rows] = _pattern_scores(y[rows], np.flatnonzero(pattern), cov, mean, p, rng, (lo_q, hi_q))
        frame = pd.DataFrame(
            {
                "respondent": np.repeat(obs.respondents[g], k),
                "factor": np.tile(layout.latents, len(y)),
                "mean": out[:, :, 0].ravel(),
                "sd": out[:, :, 1].ravel(),
                "ci_lower": out[:, :, 2].ravel(),
                "ci_upper": out[:, :, 3].ravel(),
            }
        )
        frame.insert(0, "_pos", np.repeat(obs.rows[g], k))
        if spec.ngroups > 1:
            frame.insert(2, "group", _group_labels(post, spec)[g - 1])
        frames.append(frame)
    table = pd.concat(frames).sort_values("_pos", kind="stable").drop(columns="_pos")
    return labelled_interval(table.reset_index(drop=True), ci)


def _pattern_scores(
    y: np.ndarray,
    o: np.ndarray,
    cov: np.ndarray,
    mean: np.ndarray,
    p: int,
    rng: np.random.Generator,
    q: tuple[float, float],
) -> np.ndarray:
    """``(rows, factors, [mean, sd, lower, upper])`` for rows sharing the observed items ``o``."""
    d = cov.shape[0]
    lat = np.arange(p, cov.shape[-1])
    s_ll = cov[:, lat[:, None], lat[None, :]]
    if len(o):
        s_oo = cov[:, o[:, None], o[None, :]]
        s_lo = cov[:, lat[:, None], o[None, :]]
        gain = np.swapaxes(np.linalg.solve(s_oo, np.swapaxes(s_lo, 1, 2)), 1, 2)  # (D, k, p_o)
        cvar = s_ll - gain @ np.swapaxes(s_lo, 1, 2)
    else:  # nothing answered: the latent's marginal distribution
        gain, cvar = None, s_ll
    # a symmetric square root that tolerates singular conditional covariances (error-free items)
    w, v = np.linalg.eigh(cvar)
    root = v * np.sqrt(np.clip(w, 0, None))[:, None, :]
    k = len(lat)
    reps = -(-_MIN_SAMPLES // d)
    out = np.empty((len(y), k, 4))
    block = max(1, _BLOCK // max(1, d * reps * k))
    for start in range(0, len(y), block):
        rows = slice(start, start + block)
        cmean = np.broadcast_to(mean[:, None, lat], (d, len(y[rows]), k)).copy()
        if gain is not None:
            resid = y[rows][:, o][None, :, :] - mean[:, None, o]
            cmean += np.einsum("dkp,dnp->dnk", gain, resid)
        var = np.diagonal(cvar, axis1=1, axis2=2).mean(axis=0) + cmean.var(axis=0)
        z = rng.standard_normal((reps, *cmean.shape))
        sample = (cmean + np.einsum("dkj,rdnj->rdnk", root, z)).reshape(-1, *cmean.shape[1:])
        out[rows, :, 0] = cmean.mean(axis=0)
        out[rows, :, 1] = np.sqrt(var)
        out[rows, :, 2:] = np.moveaxis(np.quantile(sample, q, axis=0), 0, -1)
    return out


def _summarise_sampled(eta: xr.DataArray, ci: float) -> pd.DataFrame:
    missing = {"chain", "draw", "respondent", "factor"} - set(eta.dims)
    if missing:
        raise DataError(f"posterior 'eta' needs dims (chain, draw, respondent, factor); lacks {sorted(missing)}")
    x = eta.transpose("chain", "draw", "respondent", "factor").values
    x = x.reshape(-1, *x.shape[2:])
    lo, hi = np.quantile(x, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    n, k = x.shape[1:]
    resp = eta["respondent"].values if "respondent" in eta.coords else np.arange(n)
    fac = eta["factor"].values if "factor" in eta.coords else np.arange(k)
    frame = pd.DataFrame(
        {
            "respondent": np.repeat(resp, k),
            "factor": np.tile(fac, n),
            "mean": x.mean(0).ravel(),
            "sd": x.std(0, ddof=1).ravel(),
            "ci_lower": lo.ravel(),
            "ci_upper": hi.ravel(),
        }
    )
    if "group" in eta.coords and eta["group"].dims == ("respondent",):
        frame.insert(1, "group", np.repeat(eta["group"].values, k))
    return frame


def _check_new_rows(spec: ModelSpec, data: pd.DataFrame, group: str) -> pd.DataFrame:
    """New rows checked against the model's observed variables: present, numeric, finite."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame with the model's items as columns, not {type(data).__name__}")
    cols = [str(c) for c in data.columns]
    for item in spec.observed:
        if item not in data.columns:
            raise DataError(
                f"new data lack the model's observed variable {item!r}{suggest_column(item, cols)}", column=item
            )
        values = pd.to_numeric(data[item], errors="coerce")
        bad = values.isna() & data[item].notna()
        if bad.any():
            row = data.index[bad.to_numpy()][0]
            raise DataError(
                f"column {item!r} has a non-numeric value {plain(data[item][row])!r} in row {plain(row)!r}",
                column=item,
                row=row,
                value=data[item][row],
            )
        if np.isinf(values.to_numpy(dtype=float)).any():
            raise DataError(f"column {item!r} has an infinite value", column=item)
    if spec.ngroups > 1 and group not in data.columns:
        raise DataError(f"a multigroup model needs each new row's group: no column {group!r}", column=group)
    out = data[list(spec.observed)].apply(pd.to_numeric, errors="coerce").astype(float)
    if spec.ngroups > 1:
        out[group] = data[group]
    return out
