"""Diagnostics of Bayesian fits: convergence, LOO, WAIC, model comparison.

Small functions on posterior draws laid out as :mod:`loyaltymodels.spec.layout` says. Convergence
statistics (rank-normalised split R-hat, bulk and tail ESS, E-BFMI) come from ``arviz_stats``
(Vehtari et al. 2021); this module decides what fails and says what to try. Posterior predictive
checks live in :mod:`loyaltymodels.bayes.predictive_checks`, fit indices in
:mod:`loyaltymodels.bayes.global_fit`, factor scores in :mod:`loyaltymodels.bayes.scores`, the pointwise
log-likelihood (:func:`add_log_likelihood`, re-exported here) in :mod:`loyaltymodels.bayes.draws`.

In R: ``blavInspect(fit, "rhat")``, ``blavInspect(fit, "neff")``, ``fitMeasures(fit)`` (looic,
waic), ``blavCompare(fit1, fit2)``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ArgumentError, ConvergenceWarning, DataError, LoyaltyModelsWarning
from .draws import add_log_likelihood, model_spec

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDData

__all__ = ["add_log_likelihood", "check_convergence", "compare", "loo", "waic"]

_COLUMNS = ["check", "parameter", "value", "threshold", "advice"]
_ADVICE = {
    "rhat": "chains disagree: run longer (more draws and tuning, e.g. tune=2000, draws=2000); if one "
    "chain sits elsewhere, check identification and sign flips (start values, marker loadings)",
    "ess_bulk": "too few effective draws for the posterior mean: draw more, or reparameterise",
    "ess_tail": "too few effective draws in the tails for the intervals: draw more",
    "divergences": "divergent transitions bias the posterior: raise target_accept (0.95, 0.99), put "
    "tighter priors on variances, or reparameterise",
    "ebfmi": "the sampler explores the energy distribution poorly: more tuning, tighter priors on "
    "variances, or reparameterise (non-centred latent scores)",
    "tree_depth": "transitions hit the maximum tree depth (an efficiency problem): raise the maximum "
    "tree depth, or rescale items measured on very different scales",
}
_DEPTH_FLAGS = ("reached_max_treedepth", "maxdepth_reached")  # PyMC, nutpie
_DEPTH_VARS = ("tree_depth", "depth")


# -- convergence -----------------------------------------------------------------------------------
def check_convergence(
    post: xr.DataTree,
    *,
    rhat_max: float = 1.01,
    ess_min: float = 400,
    ebfmi_min: float = 0.3,
    var_names: Sequence[str] = ("param",),
    max_treedepth: int | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """Check MCMC draws: R-hat, bulk and tail ESS, divergences, E-BFMI, tree-depth saturation.

    Thresholds follow Vehtari et al. (2021): rank-normalised split R-hat <= 1.01, bulk and tail
    ESS >= 400 (100 per chain for four chains); E-BFMI >= 0.3 (Betancourt 2016); no divergent
    transition; no transition at the sampler's maximum tree depth. Parameters that do not vary
    (fixed rows of the table) are skipped.

    Parameters
    ----------
    post : DataTree
        A posterior with ``posterior[var]`` of dims ``(chain, draw, ...)``; ``sample_stats`` is used
        when present (``diverging``, ``energy``, and ``reached_max_treedepth`` (PyMC) or
        ``maxdepth_reached`` (nutpie), else ``tree_depth``/``depth`` against ``max_treedepth``).
    rhat_max, ess_min, ebfmi_min : float
        Thresholds.
    var_names : sequence of str
        Posterior variables checked for R-hat and ESS (lavaan names along ``parameter``).
    max_treedepth : int, optional
        The sampler's maximum tree depth, when ``sample_stats`` has depths but no saturation flag
        (default: read from nutpie's settings, else 10 as PyMC and Stan).
    warn : bool
        Raise a :class:`ConvergenceWarning` naming the worst parameters when a check fails.

    Returns
    -------
    DataFrame
        One row per failed check: ``check`` (``rhat``, ``ess_bulk``, ``ess_tail``, ``divergences``,
        ``ebfmi``, ``tree_depth``), ``parameter`` (lavaan name; the chain for ``ebfmi``; empty for
        sampler-wide checks), ``value``, ``threshold``, ``advice``. Empty when all is well.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4, 500, 2))
    >>> x[3, :, 1] += 2.0                          # one chain stuck elsewhere
    >>> post = xr.DataTree.from_dict({"posterior": xr.Dataset(
    ...     {"param": (("chain", "draw", "parameter"), x)}, coords={"parameter": ["f=~x2", "f=~x3"]})})
    >>> table = check_convergence(post, warn=False)
    >>> table[["check", "parameter"]].values.tolist()
    [['rhat', 'f=~x3'], ['ess_bulk', 'f=~x3'], ['ess_tail', 'f=~x3']]

    References
    ----------
    Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021). Rank-normalization, folding, and
    localization: an improved R-hat for assessing convergence of MCMC. Bayesian Analysis 16(2).
    Betancourt (2016). Diagnosing suboptimal cotangent disintegrations in Hamiltonian Monte Carlo.
    arXiv:1604.00695.
    """
    from arviz_stats.validate import validate_ci_prob

    from .chains import ess_bulk, ess_tail, rhat_rank

    rows: list[dict] = []
    posterior = post["posterior"].dataset
    for var in var_names:
        if var not in posterior:
            raise DataError(f"the posterior has no variable {var!r} to check (it has {list(posterior.data_vars)})")
        da = _flat_entries(posterior[var])
        varying = (da.max(("chain", "draw")) > da.min(("chain", "draw"))).values
        da = da.isel(entry=np.flatnonzero(varying))
        if da.sizes["entry"] == 0:
            continue
        # arviz_stats' algorithm, vectorised over the entries (.chains: 2-3x faster, equal to 1e-10)
        x = da.transpose("chain", "draw", "entry").values
        stats = {
            "rhat": rhat_rank(x),
            "ess_bulk": ess_bulk(x),
            "ess_tail": ess_tail(x, validate_ci_prob(None)),  # arviz's default quantiles
        }
        names = _readable_names(da, post)
        for check, values in stats.items():
            bad = values > rhat_max if check == "rhat" else values < ess_min
            bad |= np.isnan(values)
            threshold = rhat_max if check == "rhat" else ess_min
            rows += [
                dict(
                    check=check, parameter=names[k], value=float(values[k]), threshold=threshold, advice=_ADVICE[check]
                )
                for k in np.flatnonzero(bad)
                if names[k] is not None
            ]
    rows += _sampler_checks(post, ebfmi_min, max_treedepth)
    table = pd.DataFrame(rows, columns=_COLUMNS)
    table = _worst_first(table)
    if warn and len(table):
        warnings.warn(_convergence_message(table, post, rhat_max, ess_min), ConvergenceWarning, stacklevel=2)
    return table


def _readable_names(da: xr.DataArray, post: xr.DataTree) -> list[str | None]:
    """Each entry's name for a reader: lavaan's ``.g3`` suffix becomes the group's (sector's) name,
    ``Loyalty=~y2 [Banque]``, and a parameter held equal across groups (the same draws in each)
    is named once, ``Loyalty=~y2 [all 4 groups]``, its other copies ``None``."""
    names = [str(n) for n in da["entry"].values]
    labels = group_names(post)
    if not labels:
        return list(names)
    split = [_LAVAAN_GROUP.match(n) for n in names]
    base = [m.group(1) if m else n for m, n in zip(split, names)]
    group = [int(m.group(2)) if m else 1 for m in split]
    draws = np.asarray(da.transpose("entry", ...).values)
    first: dict[tuple[str, bytes], int] = {}  # (name without group, draws) -> first entry
    copies: dict[int, list[int]] = {}
    for k in range(len(names)):
        key = (base[k], np.ascontiguousarray(draws[k]).tobytes())
        first.setdefault(key, k)
        copies.setdefault(first[key], []).append(group[k])
    out: list[str | None] = []
    for k in range(len(names)):
        if k not in copies:
            out.append(None)
            continue
        gs = copies[k]
        if len(gs) == len(labels) > 1:
            cd = post["constant_data"].dataset if "constant_data" in post.children else None
            word = (
                "groups" if cd is None or "cell_sector" not in cd else "cells" if "segment" in cd.coords else "sectors"
            )
            out.append(f"{base[k]} [all {len(labels)} {word}]")
        else:
            out.append(f"{base[k]} [{', '.join(labels[g - 1] if g <= len(labels) else str(g) for g in gs)}]")
    return out


_LAVAAN_GROUP = re.compile(r"^(.*)\.g(\d+)$")


def group_names(post: xr.DataTree) -> list[str]:
    """The groups' names recorded with the posterior, in group order (the loyalty model's cells
    named by their sector, and segment); empty for one group or a posterior that is not ours."""
    if "model_syntax" not in post.attrs:  # not ours (ArviZ's own, a test's): lavaan's names
        return []
    spec = model_spec(post)
    if spec.ngroups <= 1:
        return []
    labels = [str(g) for g in spec.group_labels]
    cd = post["constant_data"].dataset if "constant_data" in post.children else None
    if cd is not None and "cell_sector" in cd and "sector" in cd.coords:
        # the loyalty model's groups are its cells, coded by integers: name them by sector (/ segment)
        names = {}
        for cell, s, g in zip(cd["cell"].values, cd["cell_sector"].values, cd["cell_segment"].values):
            name = str(cd["sector"].values[int(s)])
            if "segment" in cd.coords and int(g) >= 0:
                name += f" / {cd['segment'].values[int(g)]}"
            names[str(cell)] = name
        labels = [names.get(lab, lab) for lab in labels]
    return labels


def _flat_entries(da: xr.DataArray) -> xr.DataArray:
    """``da`` as ``(chain, draw, entry)``, entries named by the ``parameter`` coordinate (or by
    variable and index for other dims)."""
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if extra == ["parameter"]:
        return da.rename(parameter="entry").assign_coords(entry=[str(x) for x in da["parameter"].values])
    if not extra:
        return da.expand_dims(entry=[da.name])
    stacked = da.stack(entry=extra)
    labels = [f"{da.name}[{', '.join(map(str, np.atleast_1d(k)))}]" for k in stacked["entry"].values]
    return stacked.drop_vars(["entry", *extra]).assign_coords(entry=labels)


def _sampler_checks(post: xr.DataTree, ebfmi_min: float, max_treedepth: int | None) -> list[dict]:
    if "sample_stats" not in post.children:
        return []
    import arviz_stats as azs

    ss = post["sample_stats"].dataset
    if "tuning" in ss:  # nutpie marks warm-up draws when they are stored
        ss = ss.where(~ss["tuning"].astype(bool), drop=False)
    rows = []
    if "diverging" in ss:
        n_div = int(ss["diverging"].fillna(False).astype(bool).sum())
        if n_div:
            share = n_div / ss["diverging"].size
            rows.append(
                dict(
                    check="divergences",
                    parameter="",
                    value=float(n_div),
                    threshold=0.0,
                    advice=f"{_ADVICE['divergences']} ({share:.1%} of transitions)",
                )
            )
    if "energy" in ss:
        values = azs.bfmi(ss["energy"]).values
        rows += [
            dict(check="ebfmi", parameter=f"chain {c}", value=float(v), threshold=ebfmi_min, advice=_ADVICE["ebfmi"])
            for c, v in zip(ss["chain"].values, values)
            if v < ebfmi_min
        ]
    hit = _tree_depth_hits(post, ss, max_treedepth)
    if hit is not None and hit > 0:
        rows.append(
            dict(
                check="tree_depth",
                parameter="",
                value=float(hit),
                threshold=0.0,
                advice=_ADVICE["tree_depth"] + " (value: share of transitions)",
            )
        )
    return rows


def _tree_depth_hits(post: xr.DataTree, ss: xr.Dataset, max_treedepth: int | None) -> float | None:
    """Share of transitions that reached the maximum tree depth (None when nothing says)."""
    for flag in _DEPTH_FLAGS:
        if flag in ss:
            return float(ss[flag].fillna(False).astype(bool).mean())
    for var in _DEPTH_VARS:
        if var in ss:
            limit = max_treedepth or _nutpie_maxdepth(post) or 10
            return float((ss[var] >= limit).mean())
    return None


def _nutpie_maxdepth(post: xr.DataTree) -> int | None:
    text = post["sample_stats"].attrs.get("inference_library_settings")
    try:
        return int(json.loads(text)["settings"]["maxdepth"]) if text else None
    except (ValueError, KeyError, TypeError):
        return None


def _worst_first(table: pd.DataFrame) -> pd.DataFrame:
    order = {c: k for k, c in enumerate(_ADVICE)}
    key = table.assign(_o=table.check.map(order), _v=np.where(table.check == "rhat", -table.value, table.value))
    return table.loc[key.sort_values(["_o", "_v"], kind="stable").index].reset_index(drop=True)


def _convergence_message(table: pd.DataFrame, post: xr.DataTree, rhat_max: float, ess_min: float) -> str:
    parts = []
    for check, grp in table.groupby("check", sort=False):
        if check in ("rhat", "ess_bulk", "ess_tail"):
            worst = ", ".join(f"{p} ({v:.3g})" for p, v in zip(grp.parameter[:5], grp.value[:5]))
            more = f" and {len(grp) - 5} more" if len(grp) > 5 else ""
            limit = f"<= {rhat_max}" if check == "rhat" else f">= {ess_min:g}"
            parts.append(f"{len(grp)} parameter(s) fail {check.replace('_', ' ')} {limit}: {worst}{more}")
        elif check == "divergences":
            parts.append(f"{int(grp.value.iloc[0])} divergent transition(s)")
        elif check == "ebfmi":
            parts.append(
                "E-BFMI below the threshold in " + ", ".join(f"{p} ({v:.2f})" for p, v in zip(grp.parameter, grp.value))
            )
        else:
            parts.append(f"{grp.value.iloc[0]:.1%} of transitions at the maximum tree depth")
    flips = _sign_flips(post)
    tips: list[str] = []
    for c in dict.fromkeys(table.check):
        tip = _ADVICE[c].split(": ", 1)[1]
        if not any(tip in t for t in tips):  # "draw more" is already in "draw more, or ..."
            tips.append(tip)
    if flips:
        tips.insert(
            0,
            "chains in a reflected (sign-flipped) mode: "
            + "; ".join(flips)
            + " - start loadings at positive values / item means, keep marker identification, "
            "or give the loadings priors that exclude the reflection",
        )
    return "MCMC draws failed convergence checks: " + "; ".join(parts) + ". Try: " + "; ".join(tips) + "."


def _sign_flips(post: xr.DataTree) -> list[str]:
    """'factor F in chain(s) c' for factors whose free loadings have the opposite sign, chain by
    chain, from the majority of chains (the reflection mode of factor models)."""
    ds = post["posterior"].dataset
    if "param" not in ds or "op" not in ds["param"].coords:
        return []
    da = ds["param"]
    out = []
    loadings = da.isel(parameter=np.flatnonzero(da["op"].values == "=~"))
    for (lhs, group), idx in pd.Series(range(loadings.sizes["parameter"])).groupby(
        [loadings["lhs"].values, loadings["group"].values]
    ):
        block = loadings.isel(parameter=idx.to_numpy())
        block = block.isel(parameter=np.flatnonzero((block.std(("chain", "draw")) > 0).values))
        if block.sizes["parameter"] == 0:
            continue
        # per chain (xarray's own sign: numpy's stubs type np.sign(DataArray) as an ndarray)
        orient = np.sign(xr.apply_ufunc(np.sign, block.median("draw")).sum("parameter").values)
        majority = np.sign(orient.sum()) or 1.0
        flipped = [str(c) for c, o in zip(block["chain"].values, orient) if o == -majority]
        if flipped:
            name = lhs if group <= 1 else f"{lhs} (group {group})"
            out.append(f"factor {name} in chain(s) {', '.join(flipped)}")
    return out


# -- pointwise log-likelihood ----------------------------------------------------------------------
def _with_log_likelihood(post: xr.DataTree) -> xr.DataTree:
    return post if "log_likelihood" in post.children else add_log_likelihood(post)


# -- LOO, WAIC, comparison -------------------------------------------------------------------------
def loo(post: xr.DataTree, *, var_name: str | None = None, pointwise: bool = True) -> ELPDData:
    """PSIS-LOO cross-validation (``arviz_stats.loo``), with respondents of high Pareto k named.

    The pointwise log-likelihood is computed by :func:`add_log_likelihood` when the posterior lacks
    it; when it would exceed :data:`LOO_BLOCK` values (draws x respondents), it is computed and
    Pareto-smoothed block by block of respondents (PSIS is per respondent, so the result is the
    same) and never held whole: memory stays flat in the number of respondents. ArviZ's generic
    Pareto-k warning is replaced by a :class:`LoyaltyModelsWarning` naming the
    respondents whose k exceeds the threshold (``min(1 - 1/log10(S), 0.7)``, Vehtari et al. 2024),
    since those are the rows to inspect.

    Returns
    -------
    arviz_stats.ELPDDataLOO
        ``elpd``, ``se``, ``p`` (p_loo), ``pareto_k`` per respondent, ...; ``-2 * elpd`` is blavaan's
        ``looic``.
    """
    import arviz_stats as azs

    res: Any
    if "log_likelihood" not in post.children and _ndraws(post) * _nrespondents(post) > LOO_BLOCK:
        res = _loo_in_blocks(post)
    else:
        post = _with_log_likelihood(post)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            res = azs.loo(post, pointwise=True, var_name=var_name)
    if res.warning and res.pareto_k is not None:
        k = res.pareto_k
        bad = k.where(k > res.good_k, drop=True).sortby(lambda x: -x)
        dim = bad.dims[0] if bad.dims else "respondent"
        named = ", ".join(f"{r} (k={v:.2f})" for r, v in zip(bad[dim].values[:10], bad.values[:10]))
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        warnings.warn(
            f"PSIS-LOO is unreliable for {bad.size} respondent(s) with Pareto k > "
            f"{res.good_k:.2f}: {named}{more}. These respondents are influential or poorly "
            "predicted: inspect them, compare models by K-fold CV, or refit without them.",
            LoyaltyModelsWarning,
            stacklevel=2,
        )
    if not pointwise:
        res.elpd_i = res.pareto_k = None
    return res


#: Largest pointwise log-likelihood (draws x respondents, 160 MB in float64) that :func:`loo` holds
#: at once; beyond it, respondents are taken in blocks of this many values.
LOO_BLOCK = 20_000_000


def _ndraws(post: xr.DataTree) -> int:
    sizes = post["posterior"].dataset.sizes
    return int(sizes["chain"] * sizes["draw"])


def _nrespondents(post: xr.DataTree) -> int:
    if "observed_data" not in post.children:
        return 0
    sizes = post["observed_data"].dataset.sizes
    return int(sizes.get("respondent", 0))


def _loo_in_blocks(post: xr.DataTree) -> ELPDData:
    """PSIS-LOO respondent block by respondent block, with ArviZ's relative efficiency of the
    whole posterior (``r_eff``: the mean ESS of the parameters over the number of draws)."""
    import arviz_stats as azs
    from arviz_stats.utils import ELPDDataLOO

    from .draws import log_likelihood_block

    n, S = _nrespondents(post), _ndraws(post)
    sizes = post["posterior"].dataset.sizes
    ess = post["posterior"].dataset[["param"]].azstats.ess(method="mean")["param"].values
    reff = float(np.nanmean(ess)) / S if sizes["chain"] > 1 else 1.0
    step = max(1, LOO_BLOCK // S)
    elpd_i, k_i, labels, p_sum, warned = [], [], [], 0.0, False
    for start in range(0, n, step):
        ll, lab = log_likelihood_block(post, slice(start, start + step))
        block = xr.DataTree.from_dict(
            {
                "posterior": post["posterior"].dataset[["param"]],
                "log_likelihood": xr.Dataset(
                    {"y": (("chain", "draw", "respondent"), ll.reshape(sizes["chain"], sizes["draw"], -1))},
                    coords={"respondent": np.arange(ll.shape[1])},
                ),
            }
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            res = azs.loo(block, pointwise=True, reff=reff)
        elpd_i.append(res.elpd_i.values)
        k_i.append(res.pareto_k.values)
        labels.append(lab)
        p_sum += float(res.p)
        warned = warned or bool(res.warning)
        good_k = res.good_k
    e = np.concatenate(elpd_i)
    coords = {"respondent": np.concatenate(labels)}
    return ELPDDataLOO(
        elpd=float(e.sum()),
        se=float(np.sqrt(n * np.var(e))),
        p=p_sum,
        n_samples=S,
        n_data_points=n,
        scale="log",
        warning=warned,
        good_k=good_k,
        elpd_i=xr.DataArray(e, dims="respondent", coords=coords),
        pareto_k=xr.DataArray(np.concatenate(k_i), dims="respondent", coords=coords),
    )


@dataclass(kw_only=True, repr=False)
class ELPDDataWAIC:
    """WAIC results (Watanabe 2010), shaped like ArviZ's ``ELPDData`` (``elpd``, ``se``, ``p``,
    ``elpd_i``, ``p_waic_i``); ``-2 * elpd`` is blavaan's ``waic``."""

    kind: ClassVar[str] = "waic"
    elpd: float
    se: float
    p: float
    n_samples: int
    n_data_points: int
    warning: bool
    elpd_i: xr.DataArray
    p_waic_i: xr.DataArray
    scale: str = "log"

    def __repr__(self) -> str:
        return (
            f"Computed from {self.n_samples} posterior samples and {self.n_data_points} observations"
            f" log-likelihood matrix.\n\n           Estimate      SE\nelpd_waic  {self.elpd:9.2f} "
            f"{self.se:7.2f}\np_waic     {self.p:9.2f}        -\n"
        )


def waic(post: xr.DataTree, *, var_name: str | None = None) -> ELPDDataWAIC:
    """The widely applicable information criterion, from the pointwise log-likelihood.

    ``elpd_waic = sum_i [log mean_s p(y_i | theta_s) - var_s log p(y_i | theta_s)]`` with standard
    error ``sqrt(n var_i(elpd_i))`` (Watanabe 2010; Vehtari, Gelman & Gabry 2017, eq. 11-13).
    arviz-stats 1.x dropped WAIC in favour of PSIS-LOO, hence this short re-implementation; prefer
    :func:`loo`. Warns when some ``p_waic_i`` exceeds 0.4, where WAIC is known to be unreliable.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ll = np.log(np.full((2, 100, 3), 0.5))      # every draw gives density 0.5
    >>> post = xr.DataTree.from_dict({"log_likelihood": xr.Dataset(
    ...     {"y": (("chain", "draw", "respondent"), ll)})})
    >>> w = waic(post)
    >>> round(w.elpd, 4), w.p                        # 3 * log(0.5), no variance
    (-2.0794, 0.0)
    """
    from scipy.special import logsumexp

    post = _with_log_likelihood(post)
    ds = post["log_likelihood"].dataset
    name = var_name or (next(iter(ds.data_vars)) if len(ds.data_vars) == 1 else None)
    if name is None:
        raise DataError(f"log_likelihood has several variables {list(ds.data_vars)}; pass var_name")
    ll = ds[name].stack(__sample__=("chain", "draw")).transpose("__sample__", ...)
    s = ll.sizes["__sample__"]
    lppd_i = logsumexp(ll.values, axis=0) - np.log(s)
    p_i = ll.values.var(axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    n = elpd_i.size
    coords = {k: v for k, v in ll.coords.items() if "__sample__" not in v.dims and k != "__sample__"}
    dims = ll.dims[1:]
    warn_ = bool((p_i > 0.4).any())
    if warn_:
        warnings.warn(
            f"{int((p_i > 0.4).sum())} respondent(s) have p_waic > 0.4: WAIC may be unreliable; use loo() instead",
            LoyaltyModelsWarning,
            stacklevel=2,
        )
    return ELPDDataWAIC(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(n * elpd_i.var())),
        p=float(p_i.sum()),
        n_samples=s,
        n_data_points=n,
        warning=warn_,
        elpd_i=xr.DataArray(elpd_i.reshape(ll.shape[1:]), dims=dims, coords=coords),
        p_waic_i=xr.DataArray(p_i.reshape(ll.shape[1:]), dims=dims, coords=coords),
    )


def compare(models: Mapping[str, xr.DataTree], *, method: str = "stacking") -> pd.DataFrame:
    """Rank models by expected predictive accuracy (PSIS-LOO), with ``arviz_stats.compare``.

    Every posterior gets its pointwise log-likelihood (:func:`add_log_likelihood`) when missing, so
    all models are scored on the same respondents and items; comparing models fitted to different
    items (e.g. a model with both beliefs and experience items against one with experience items
    only) compares different data and is refused.

    Returns
    -------
    DataFrame
        One row per model, best first: ``rank, elpd, p, elpd_diff, weight, se, dse, warning, ...``
        (see ``arviz_stats.compare``), plus ``looic = -2 * elpd`` as blavaan reports.

    In R: ``blavCompare(fit1, fit2)`` or ``loo::loo_compare``.
    """
    import arviz_stats as azs

    if len(models) < 2:
        raise ArgumentError(f"compare() got {len(models)} model(s); give at least two, as a dict {{name: posterior}}")
    items = {name: tuple(model_spec(p).observed) for name, p in models.items()}
    if len({frozenset(v) for v in items.values()}) > 1:
        first = next(iter(items))
        other = next(n for n in items if set(items[n]) != set(items[first]))
        raise DataError(
            f"models {first!r} and {other!r} are fitted to different items "
            f"({sorted(set(items[first]) ^ set(items[other]))} differ); LOO compares "
            "predictions of the same data: give every model the same observed variables"
        )
    elpds = {name: loo(p) for name, p in models.items()}
    table = azs.compare(elpds, method=method, round_to="none")
    table["looic"] = -2 * table["elpd"]
    return table


__all__ += ["ELPDDataWAIC"]
