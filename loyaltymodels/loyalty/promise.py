"""A measured promise: experience against the promise on commensurate items.

When a questionnaire asks the same attributes twice, as the promise (what the brand promised, what
the customer expected) and as the experience (what the customer got), ``fit_loyalty(...,
promise_pairs={"promise_item": "experience_item", ...})`` gives the two factors the *same loadings
and intercepts* on every pair. Then ``E - P`` is measured on one scale, and ``E = P`` (the promise
kept) is a point of the questionnaire, not an assumption about two sets of questions.

Identification changes accordingly. With ``std_lv`` every driver has variance 1 and mean 0 in the
reference cell; with shared loadings and intercepts the promise factor keeps them (it sets the
unit and the zero of both), and the experience factor's variance and mean in the reference cell
become free parameters: how far experience lies above or below the promise, and how much it
varies, in units of the promise's SD. The sharing is a testable hypothesis (``2 k - 2`` degrees of
freedom for ``k`` pairs): :func:`pairing_test` compares the pair-constrained and the free
measurement model by ML (lavaan's ``lavTestLRT``) and the posterior records the result; a rejected
sharing gives a ``DataWarning``, since the gap's zero then rests on items that do not measure the
same thing. Ordinal pairs (1-5 answers: the conditional form) share their thresholds instead,
lavaan's scalar invariance of ordered items (their intercepts are 0), tested by WLSMV with the
scaled difference test of ``satorra.2000``; both items of a pair must be ordinal and answered on
the same categories.

:func:`promise_gap` reads the gap and loyalty's slope on each side of it. With the asymmetry term
on the gap (added by default with pairs), loyalty is

    L = a + w_P P + w_E E - d/2 (|E - P| - E|E - P|) + residual,

so, the promise held fixed, a unit more experience (one unit of gap) moves loyalty by
``w_E + d/2`` below the promise (``E < P``) and ``w_E - d/2`` above it: "exceeding expectations
adds little" is ``slope_above`` well below ``slope_below``, i.e. ``d > 0``. ``d`` is a difference of
two slopes on the weights' scale, so its default prior here is the weights' ``normal(0,10)``
(:data:`loyaltymodels.loyalty.priors.PROMISE_ASYMMETRY`; the tighter ``normal(0,0.5)`` of the
unmeasured kink shrank a true 0.857 to 0.65 on average at 2 x 250).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import ndtr

from ..defaults import CI_POSTERIOR, labelled_interval
from ..errors import DataWarning, SpecError
from ..spec.model import ModelSpec, as_spec, parse_model, to_syntax
from .roles import Roles

__all__ = ["PromisePairs", "pairing_test", "paired_model", "promise_gap"]

#: Prefix of the labels that tie a pair's loadings and intercepts (kept out of users' way).
LABEL = "promise_pair"
#: Significance level at which the shared loadings and intercepts are reported as rejected.
ALPHA = 0.05
#: Why a gap needs commensurate items (said when there are none).
WHY_PAIRS = (
    "a promise gap needs commensurate items: experience minus promise has a zero only when both are "
    "measured on the same questions (each attribute asked as promise and as experience) with shared "
    "loadings and intercepts; two factors of different questions, each standardized, have no common "
    "zero. Refit with fit_loyalty(..., promise_pairs={'promise_item': 'experience_item', ...})"
)


@dataclass(frozen=True)
class PromisePairs:
    """The promise and experience factors, the item pairs, and the model syntax with each pair's
    loading and intercept shared and the experience factor's variance and mean freed."""

    promise: str
    experience: str
    pairs: tuple[tuple[str, str], ...]
    syntax: str
    free_syntax: str
    ordinal: tuple[str, ...] = ()  # paired items with thresholds (shared) instead of intercepts

    def check_drivers(self, roles: Roles) -> None:
        loyalty, drivers = roles.loyalty, roles.drivers
        if not {self.promise, self.experience} <= set(drivers):
            raise SpecError(
                f"promise_pairs: the promise factor {self.promise!r} and the experience factor "
                f"{self.experience!r} must both drive {loyalty!r} (its drivers: {', '.join(drivers)})"
            )

    def to_json(self, test: Mapping[str, Any]) -> str:
        return json.dumps(
            {"promise": self.promise, "experience": self.experience, "pairs": self.pairs, "test": dict(test)}
        )


def _factor_of(item: str, loads: pd.DataFrame, what: str) -> str:
    on = sorted(set(loads.lhs[loads.rhs == item]))
    if len(on) != 1:
        where = f"loads on {', '.join(on)}" if on else "loads on no latent"
        raise SpecError(f"promise_pairs: the {what} item {item!r} {where}; each paired item must load on one factor")
    return on[0]


def paired_model(
    model: str | ModelSpec, pairs: Mapping[str, str], thresholds: Mapping[str, int] | None = None
) -> PromisePairs:
    """The model with the pairs' loadings and intercepts shared (see the module docstring);
    ``thresholds`` (item -> number of thresholds) marks ordinal items, whose pairs share their
    thresholds instead (lavaan's scalar invariance of ordered items: their intercepts are 0).

    Examples
    --------
    >>> pp = paired_model(
    ...     "P =~ p1 + p2 + p3; E =~ e1 + e2 + e3; L =~ y1 + y2 + y3; L ~ P + E",
    ...     {"p1": "e1", "p2": "e2", "p3": "e3"},
    ... )
    >>> pp.promise, pp.experience, len(pp.pairs)
    ('P', 'E', 3)
    >>> print(pp.syntax.splitlines()[-2:])
    ['E ~~ NA*E', 'E ~ NA*1']
    """
    if not isinstance(pairs, Mapping) or not pairs:
        raise SpecError(
            f"promise_pairs must be a non-empty dict {{'promise_item': 'experience_item', ...}}, not {pairs!r}"
        )
    free_syntax = as_spec(model).syntax
    spec = parse_model(free_syntax, std_lv=True)
    t = spec.table
    observed = list(spec.observed)
    items = [str(x) for kv in pairs.items() for x in kv]
    for item in items:
        if item not in observed:
            raise SpecError(f"promise_pairs: {item!r} is not an item of the model (its items: {', '.join(observed)})")
    twice = sorted({x for x in items if items.count(x) > 1})
    if twice:
        raise SpecError(f"promise_pairs: item(s) {twice} appear in more than one pair or on both sides of a pair")
    loads = t[(t.op == "=~") & (t.group == 1)]
    promise = {_factor_of(p, loads, "promise") for p in pairs}
    experience = {_factor_of(e, loads, "experience") for e in pairs.values()}
    if len(promise) != 1 or len(experience) != 1 or promise == experience:
        raise SpecError(
            f"promise_pairs: the promise items must all load on one factor and the experience items on "
            f"another (promise items on {sorted(promise)}, experience items on {sorted(experience)})"
        )
    P, E = promise.pop(), experience.pop()
    user = t[t.user].copy()
    lines = []
    for k, (p, e) in enumerate(pairs.items(), start=1):
        rows = (user.op == "=~") & (((user.lhs == P) & (user.rhs == p)) | ((user.lhs == E) & (user.rhs == e)))
        taken = user.loc[rows & ((user.label != "") | ~user.free.astype(bool)), ["lhs", "rhs"]]
        if len(taken):
            r = taken.iloc[0]
            raise SpecError(
                f"promise_pairs: '{r.lhs} =~ {r.rhs}' carries its own label or fixed value; remove it, "
                "the pairs set the loadings equal"
            )
        user.loc[rows, "label"] = f"{LABEL}_l{k}"
        n = (thresholds or {}).get(p)
        if n is None:
            lines += [f"{p} ~ {LABEL}_i{k}*1", f"{e} ~ {LABEL}_i{k}*1"]
        else:  # ordinal pair: one set of thresholds for both items
            cuts = " + ".join(f"{LABEL}_t{k}_{j}*t{j}" for j in range(1, n + 1))
            lines += [f"{p} | {cuts}", f"{e} | {cuts}"]
    own = user[
        ((user.op == "~1") & user.lhs.isin(items + [E])) | ((user.op == "~~") & (user.lhs == E) & (user.rhs == E))
    ]
    if len(own):
        r = own.iloc[0]
        raise SpecError(
            f"promise_pairs: the model writes '{r.lhs} {r.op} {r.rhs}' itself; remove it, the pairs set "
            f"the paired intercepts equal and free {E}'s variance and mean"
        )
    lines += [f"{E} ~~ NA*{E}", f"{E} ~ NA*1"]
    text = to_syntax(user, {"std_lv": True}).rstrip() + "\n" + "\n".join(lines)
    ordinal = tuple(str(x) for x in items if x in (thresholds or {}))
    return PromisePairs(P, E, tuple((str(p), str(e)) for p, e in pairs.items()), text, free_syntax, ordinal)


def with_pairs(
    model: str | ModelSpec,
    pairs: Mapping[str, str],
    level: str,
    asymmetry: bool | Sequence[str] | None,
    data: pd.DataFrame | None = None,
    ordinal: Sequence[str] = (),
) -> tuple[PromisePairs, str, bool | Sequence[str] | None]:
    """What ``fit_loyalty`` fits with ``promise_pairs``: the pairs, the paired model's syntax, and
    the asymmetry term on the gap unless the user chose otherwise. ``ordinal`` items of a pair
    share thresholds, which needs both items ordinal and answered on the same categories in
    ``data``."""
    if level != "scalar":
        raise SpecError(
            f"promise_pairs with {level} invariance: the pairs' shared loadings and intercepts hold in "
            "every cell, which needs scalar invariance (the default); drop invariance="
        )
    pp = paired_model(model, pairs)  # the pairs checked first
    thresholds: dict[str, int] = {}
    for p, e in pp.pairs:
        kinds = [x in (ordinal or ()) for x in (p, e)]
        if any(kinds) and not all(kinds):
            one, other = (p, e) if kinds[0] else (e, p)
            raise SpecError(
                f"promise_pairs: {one!r} is ordinal and {other!r} continuous; a pair needs both on the same "
                f"footing: pass ordinal=[..., {other!r}] or ordinal=None"
            )
        if all(kinds) and data is not None:
            cats = [sorted(pd.unique(data[x].dropna())) for x in (p, e)]
            if cats[0] != cats[1]:
                raise SpecError(
                    f"promise_pairs: the ordinal pair {p!r} / {e!r} was answered on different categories "
                    f"({cats[0]} vs {cats[1]}); their shared thresholds need the same ones: merge the "
                    "empty categories' neighbours, or pass ordinal=None"
                )
            thresholds[p] = thresholds[e] = len(cats[0]) - 1
    if thresholds:
        pp = paired_model(model, pairs, thresholds)
    return pp, pp.syntax, (pp.experience, pp.promise) if asymmetry is None else asymmetry


def pairing_test(pp: PromisePairs, frame: pd.DataFrame, group: str | None, missing: str) -> dict[str, Any]:
    """ML test of the shared loadings and intercepts: the model with the pairs constrained against
    the same model without (both scalar invariant across ``group``'s cells, ``std_lv``), by the
    chi-square difference (lavaan's ``lavTestLRT``). ``chisq_diff, df_diff, pvalue_diff``, and
    ``rejected`` (``pvalue_diff < 0.05``); ``df_diff = 0`` with one pair (nothing to test).
    Ordinal pairs share thresholds instead of intercepts, tested by WLSMV (``shared`` says which)."""
    from ..sem.fit import fit_sem
    from ..sem.invariance_tests import difference_test

    ordinal = pp.ordinal

    kw: dict[str, Any] = dict(group=group, std_lv=True, missing=missing, progress=False)
    if group is not None:
        kw["group_equal"] = ("loadings", "intercepts") + (("thresholds",) if ordinal else ())
    if ordinal:  # WLSMV on the polychoric correlations (listwise); the difference test is satorra.2000
        kw |= dict(ordered=list(ordinal), missing="listwise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the two fits' own warnings are not the user's question here
        free = fit_sem(pp.free_syntax, frame, **kw)
        paired = fit_sem(pp.syntax, frame, **kw)
    out = difference_test(free, paired)
    out = {k: (v if isinstance(v, str) else float(v)) for k, v in out.items()}
    out["chisq_free"] = float(free.fit_measures["chisq"])
    out["chisq_paired"] = float(paired.fit_measures["chisq"])
    out["rejected"] = bool(out["df_diff"] > 0 and out["pvalue_diff"] < ALPHA)
    out["shared"] = "loadings and thresholds" if ordinal else "loadings and intercepts"
    out["estimator"] = "WLSMV" if ordinal else "ML"
    return out


def pairing_sentence(test: Mapping[str, Any]) -> str:
    """The pairing test in one line."""
    shared, by = test.get("shared", "loadings and intercepts"), test.get("estimator", "ML")
    if test["df_diff"] <= 0:
        return f"shared {shared} not testable with one pair (0 df): the gap's zero is assumed"
    verdict = "rejected" if test["rejected"] else "not rejected"
    return (
        f"shared {shared} of the promise/experience pairs {verdict} by {by}: chi-square "
        f"difference {test['chisq_diff']:.2f} on {test['df_diff']:.0f} df, p = {test['pvalue_diff']:.3g}"
    )


def warn_if_rejected(test: Mapping[str, Any]) -> None:
    if test.get("rejected"):
        warnings.warn(
            pairing_sentence(test) + ": the paired items do not measure promise and experience alike, so the "
            "gap's zero is doubtful; check the wording of the pairs (lm.fit_sem(...).modindices())",
            DataWarning,
            stacklevel=3,
        )


# -- the summary -----------------------------------------------------------------------------------
def _promise_info(post: xr.DataTree) -> dict:
    text = post.attrs.get("promise")
    if not text:
        raise SpecError("promise_gap: this posterior has no promise pairs; " + WHY_PAIRS)
    return dict(json.loads(text))


def promise_gap(post: xr.DataTree, *, mass: float = CI_POSTERIOR) -> pd.DataFrame:
    """Experience against the measured promise, per sector (and ``pooled``): one row per sector and
    quantity with ``mean, sd, ci_lower, ci_upper``.

    Quantities: ``gap_mean`` (mean of ``E - P`` in promise SDs of the reference cell),
    ``share_below`` (share of customers whose experience falls short of the promise, under the
    cell's latent normal), ``slope_below`` and ``slope_above`` (loyalty's slope in the gap below and
    above the promise, the promise held fixed: ``w_E + d/2`` and ``w_E - d/2``, loyalty residual
    SDs per promise SD, both of the reference cell), and ``slope_difference`` (below minus above,
    ``d``). Sectors with segments average their cells (gap and share weighted by size); ``pooled``
    is every customer for the gap and the share, the sectors' common mean for the slopes. The
    table's ``test`` attribute holds the ML test of the shared loadings and intercepts (a
    ``DataWarning`` when it rejects them), ``sentence`` says it in words.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(300, promise="shortfall", seed=1)  # doctest: +SKIP
    >>> post = lm.fit_loyalty(truth.model, data, sector="sector", promise_pairs=truth.pairs)  # doctest: +SKIP
    >>> lm.promise_gap(post).query("quantity == 'slope_difference'")  # doctest: +SKIP
    """
    from .draws import Draws
    from .summaries import _interval

    info = _promise_info(post)
    dr = Draws.from_post(post)
    li = dr.info
    if li.interaction or li.surface:
        raise SpecError(
            "promise_gap: with an interaction or a response surface beside the gap, loyalty's slope in "
            "the gap depends on where it is taken; refit with promise_pairs and the asymmetry only"
        )
    if li.asymmetry is None or set(li.asymmetry) != {info["experience"], info["promise"]}:
        raise SpecError(
            "promise_gap: the model has no asymmetry term on the measured gap, so its slopes below and "
            "above the promise are equal by construction; refit with promise_pairs and asymmetry left "
            "at its default"
        )
    e, p, iL = li.index(info["experience"]), li.index(info["promise"]), li.index(li.loyalty)
    mean, cov = dr.mats["mean"], dr.mats["cov"]  # (D, G, q), (D, G, q, q)
    gap = mean[..., e] - mean[..., p]
    sd = np.sqrt(cov[..., e, e] + cov[..., p, p] - 2 * cov[..., e, p])
    below = ndtr(-gap / sd)
    w_e = dr.mats["beta"][:, :, iL, e]  # (D, G)
    d = dr.extra["asymmetry"].reshape(-1)[:, None]
    ds = post["posterior"].dataset
    mu = ds["weight_mu"].sel(driver=info["experience"]).to_numpy().reshape(-1)
    sizes = li.cell_sizes.astype(float)
    rows = []
    labels = [*li.sectors, "pooled"]
    for s, label in enumerate(labels):
        cells = np.ones(len(sizes), bool) if label == "pooled" else li.cell_sector == s
        wt = sizes[cells] / sizes[cells].sum()
        slope = mu if label == "pooled" else w_e[:, cells].mean(1)
        q = {
            "gap_mean": gap[:, cells] @ wt,
            "share_below": below[:, cells] @ wt,
            "slope_below": slope + d[:, 0] / 2,
            "slope_above": slope - d[:, 0] / 2,
            "slope_difference": d[:, 0],
        }
        rows += [{"sector": label, "quantity": name, **_interval(v, mass=mass)} for name, v in q.items()]
    out = pd.DataFrame(rows)
    test = info["test"]
    warn_if_rejected(test)
    out.attrs.update(
        test=test,
        sentence=pairing_sentence(test),
        promise=info["promise"],
        experience=info["experience"],
        prob_shortfall_costs_more=float((d[:, 0] > 0).mean()),
    )
    return labelled_interval(out, mass)
