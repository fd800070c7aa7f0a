"""The pointwise log-likelihood of a loyalty posterior whose likelihood integrates over each
respondent's latent scores (the ``outcomes`` and ``scores`` forms), computed when something asks
for it (:func:`loyaltymodels.loo`, ``waic``, ``compare``, ``add_log_likelihood``), block by block
of respondents, and never stored by the fit: a fit's cost then does not grow with what LOO would
need (issue 18: at 4 sectors x 300 respondents and 4,000 draws the stored array took 236 s of the
interaction + asymmetry fit's 714 s).

The fit records ``likelihood_form`` and ``log_likelihood_by`` (this module's
:func:`log_likelihood_block`) in the posterior's attributes; the bayes room's
``log_likelihood_block`` hands such posteriors here. The loyalty design (cells, chunks, outcome
codes) is rebuilt from the posterior itself: the model syntax and roles in its attributes, the
items, sectors, segments and outcome values in its ``observed_data``, so a posterior saved to
netCDF and loaded in another process gives the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..bayes.draws import model_spec, row_draws
from ..errors import DataError
from .build import Design, data_values, make_design

__all__ = ["log_likelihood_block", "loglik_draws", "SCORE_POINTS"]

#: Quasi-Monte-Carlo points of the driver scores per respondent in the ``scores`` form's pointwise
#: log-likelihood (see :func:`loglik_draws`).
SCORE_POINTS = 32
#: Name of the outcomes' values in a loyalty posterior's ``observed_data``.
OUTCOME_VALUES = "outcome_value"
#: What the bayes room calls for these posteriors (recorded in their attributes).
HOOK = "loyaltymodels.loyalty.loglik:log_likelihood_block"


def log_likelihood_block(
    post: xr.DataTree,
    positions: np.ndarray | slice | None = None,
    *,
    data: pd.DataFrame | None = None,
    dtype: type | str = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """The pointwise log-likelihood ``(chain * draw, respondents)`` of the respondents at
    ``positions`` (in the order of ``observed_data``; all by default) and their labels, for a
    loyalty posterior of the ``outcomes`` or ``scores`` form.

    Only the chunks of respondents that hold the requested ones are evaluated, so
    :func:`loyaltymodels.loo` working block by block does the whole computation once.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(200, sectors=2, seed=1)
    >>> post = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", interaction=True)  # doctest: +SKIP
    >>> ll, who = log_likelihood_block(post, slice(0, 50))  # doctest: +SKIP
    >>> ll.shape  # doctest: +SKIP
    (4000, 50)
    """
    del data  # the loyalty posterior carries its data (observed_data); kept for the bayes signature
    design, order, labels = design_of(post)
    rows = row_draws(post, model_spec(post))
    n = design.summary.n
    wanted = np.arange(n)[positions] if positions is not None else np.arange(n)
    # ``order[k]`` is the observed_data position of the design's k-th respondent
    column = np.full(n, -1)
    column[wanted] = np.arange(len(wanted))
    ds = post["posterior"].dataset
    if design.form == "conditional":
        return _integrated(design, rows, ds, order, column, dtype), labels[wanted]
    ll = loglik_draws(design, rows, ds, keep=column[order], dtype=dtype)
    return ll, labels[wanted]


def _integrated(
    design: Design, rows: np.ndarray, ds: xr.Dataset, order: np.ndarray, column: np.ndarray, dtype: type | str
) -> np.ndarray:
    """The conditional form's (ordinal items with nonlinear terms or outcomes): every respondent's
    likelihood integrated over the scores around their posterior draws."""
    import warnings

    from ..bayes.integrated import MIN_ESS
    from ..errors import LoyaltyModelsWarning
    from .conditional import integrated_loglik

    if "eta" not in ds:
        raise DataError("this ordinal loyalty posterior has no 'eta' (the sampled scores): refit it to compute LOO")
    eta = ds["eta"].transpose("chain", "draw", "respondent", "factor").to_numpy()
    eta = eta.reshape(-1, *eta.shape[2:])[:, order]  # the design's respondents, in its order
    ll, ess = integrated_loglik(design, rows, ds, eta, column[order], dtype=dtype)
    low = int((ess < MIN_ESS).sum())
    if low > 0.01 * ess.size:
        warnings.warn(
            f"the integrated log-likelihood rests on fewer than {MIN_ESS:g} effective importance points for "
            f"{low} of {ess.size} (draw, respondent) pairs: LOO from it is noisy; check the fit's convergence",
            LoyaltyModelsWarning,
            stacklevel=3,
        )
    return ll


def design_of(post: xr.DataTree) -> tuple[Design, np.ndarray, np.ndarray]:
    """The loyalty design of a posterior, rebuilt from its attributes and ``observed_data``; with
    the ``observed_data`` position of each of the design's respondents and the respondents' labels."""
    from .draws import LoyaltyInfo

    info = LoyaltyInfo.from_post(post)
    if "observed_data" not in post.children:
        raise DataError("this loyalty posterior has no 'observed_data' group: its log-likelihood needs the data")
    obs = post["observed_data"].dataset
    y = obs["y"].transpose("respondent", "item")
    frame = pd.DataFrame(y.to_numpy(), columns=[str(c) for c in y["item"].values])
    sector = segment = None
    if len(info.sectors) > 1 or info.segments:
        sector = "_loyalty_sector"
        frame[sector] = obs["sector"].to_numpy().astype(str)
    if info.segments:
        segment = "_loyalty_segment"
        frame[segment] = obs["segment"].to_numpy().astype(str)
    outcomes: dict[str, Any] = {}
    if info.outcomes:
        if OUTCOME_VALUES not in obs:
            raise DataError(
                "this loyalty posterior does not carry its outcomes' values (it was saved by an earlier "
                "version of loyaltymodels); refit it with fit_loyalty to compute its log-likelihood"
            )
        values = obs[OUTCOME_VALUES].transpose("respondent", "outcome").to_numpy()
        for k, o in enumerate(info.outcomes):
            column = f"_loyalty_outcome_{k}"
            frame[column] = values[:, k]
            outcomes[o["name"]] = {"column": column, "latent": o["latent"], "kind": o["kind"]}
    level = post.attrs.get("invariance", "scalar")
    classes = [c for c in str(post.attrs.get("invariance_classes", "")).split(",") if c]
    design = make_design(
        post.attrs["model_syntax"],
        frame,
        sector=sector,
        segment=segment,
        outcomes=outcomes or None,
        interaction=tuple(info.interaction) if info.interaction else False,
        asymmetry=tuple(info.asymmetry) if info.asymmetry else False,
        surface=tuple(info.surface) if info.surface else False,
        diminishing=list(info.diminishing) or None,
        invariance=classes if level == "custom" else level,
        loyalty=info.loyalty,
        drivers=list(info.drivers),
        min_size=1,
        ordinal=_ordinal_items(post) or None,
        wiggle_sd=float(post.attrs.get("wiggle_sd") or 0.1),
    )
    if [str(s) for s in design.sectors] != [str(s) for s in info.sectors] or design.form != info.form:
        raise DataError(
            f"the loyalty posterior's data do not rebuild its model (sectors {list(design.sectors)} vs "
            f"{list(info.sectors)}, form {design.form!r} vs {info.form!r}); was observed_data changed?"
        )
    order = np.asarray(design.summary.index, int)
    return design, order, obs["respondent"].to_numpy()


def _ordinal_items(post: xr.DataTree) -> list[str]:
    """The items the fit treated as ordinal: those with thresholds in its parameter table."""
    table = model_spec(post).table
    return sorted(set(table.lhs[table.op == "|"]))


def loglik_draws(
    design: Design,
    rows: np.ndarray,
    ds: xr.Dataset,
    *,
    keep: np.ndarray | None = None,
    dtype: type | str = np.float64,
) -> np.ndarray:
    """Per-respondent marginal log-likelihood ``(draws, respondents)`` of the ``outcomes`` and
    ``scores`` forms, for LOO.

    ``outcomes``: exact (nothing but the parameters is sampled). ``scores``: the sampled driver
    scores must be integrated out too, or LOO would score a likelihood conditional on each
    respondent's own scores. Since ``p(y) = p(y_drivers) E[p(y_loyalty, o | eta)]`` over the
    drivers' posterior given their items, which is exactly the ``u ~ N(0, I)`` the sampler uses,
    the expectation is a mean over :data:`SCORE_POINTS` fixed quasi-Monte-Carlo points of ``u``
    (importance sampling with the optimal-shape proposal), evaluated at once by stacking the
    points along the chunk axis.

    ``keep[i]`` is the output column of the design's respondent ``i`` (-1: not wanted; default:
    every respondent, in the design's order); only chunks holding a wanted respondent are evaluated.
    """
    from .cells import respondent_loglik
    from .conditional import extra_draws

    assert design.chunks is not None  # these forms lay respondents out in chunks
    n = design.summary.n
    keep = np.arange(n) if keep is None else np.asarray(keep)
    chunks = design.chunks
    hit = ((chunks >= 0) & (keep[np.maximum(chunks, 0)] >= 0)).any(axis=1)
    assert design.chunk_group is not None and design.chunk_observed is not None
    chunks = chunks[hit]
    design = dataclasses.replace(
        design, chunks=chunks, chunk_group=design.chunk_group[hit], chunk_observed=design.chunk_observed[hit]
    )
    extra = extra_draws(design, ds)
    data = data_values(design)
    M = 1
    if design.form == "scores":
        from .draws import qmc_normal

        q = len(design.blocks["drivers"][1])
        pts = qmc_normal(q, SCORE_POINTS)
        M = SCORE_POINTS
        K, B = chunks.shape
        data = {
            k: (np.repeat(v, M, axis=1) if np.ndim(v) >= 2 and np.shape(v)[:2] == (K, B) else v)
            for k, v in data.items()
        }
        u = np.broadcast_to(np.tile(pts, (B, 1))[None], (K, B * M, q))
    slots = (chunks >= 0) & (keep[np.maximum(chunks, 0)] >= 0)
    cols = keep[chunks[slots]]
    out = np.empty((rows.shape[0], int((keep >= 0).sum())), dtype=dtype)
    for d in range(rows.shape[0]):
        e = {k: v[d] for k, v in extra.items()}
        if M > 1:
            from scipy.special import logsumexp

            e["u"] = u
            ll = respondent_loglik(design, rows[d], data, e, np)
            ll = logsumexp(ll.reshape(ll.shape[0], -1, M), axis=-1) - np.log(M)
        else:
            ll = respondent_loglik(design, rows[d], data, e, np)
        out[d, cols] = ll[slots]
    return out


def outcome_values(design: Design) -> dict[str, Any]:
    """The outcomes' values as ``observed_data`` stores them (``respondent x outcome``, NaN when
    missing), from which :func:`design_of` recovers the codes."""
    codes = design.codes
    assert codes is not None
    values = np.full(codes.shape, np.nan)
    for k, o in enumerate(design.outcomes):
        c = codes[:, k]
        ok = c >= 0
        levels = np.asarray(o.levels, float)
        values[ok, k] = c[ok] if o.kind == "binary" else levels[c[ok]]
    return {
        OUTCOME_VALUES: (("respondent", "outcome"), values),
        "outcome": ("outcome", [o.name for o in design.outcomes]),
    }
