"""Loyalty scenarios with known truth: beliefs and experience feeding loyalty, by sector.

The data-generating process, per respondent i in sector s (and segment g):

    (B_i, E_i) ~ N(0, [[1, rho], [rho, 1]])                 beliefs, experience (standardized)
    L_i = wB[s,g] B_i + wE[s,g] E_i                         main effects (the "weights")
          + gamma (B_i E_i - rho)                           claim 3: imbalance (interaction)
          - (d / 2) (|E_i - B_i| - E|E - B|)                claim 4: a shortfall costs d more
          + zeta_i,  zeta_i ~ N(0, psi[s,g])                       than a surplus gains
    items  = loading * factor + error, error variance 1 - loading^2, then cut into ratings
    outcome_k ~ Bernoulli(logit^-1(a_k + b_k L_i)),  or an ordered rating for "rating" outcomes

``psi`` is set so that Var(L) = 1 in every sector: the weights are then standardized (``std_all``)
coefficients, the scale ``driver_weights`` reports. Why the kink term: with E - B = D,
``a min(D, 0) + b max(D, 0) = (a + b)/2 D + (b - a)/2 |D|``, so beside the main effects only the
|D| coefficient is identified; ``d = a - b`` is "how much more a shortfall costs than a surplus gains".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import check_seed
from ..errors import ArgumentError
from .behaviour import behaviour_spec, behaviour_truth, convert_prospects, follow_customers, repeat_purchases
from .misspecified import misspecification, promise_items
from .synthetic import _integral, _to_ratings, parse_scale

#: Standardized (beliefs, experience) weights of a few sector profiles, for teaching and tests.
#: Image-led sectors weigh beliefs more; service-led sectors weigh experience more.
SECTOR_PROFILES: dict[str, tuple[float, float]] = {
    "luxury": (0.55, 0.20),
    "retail": (0.40, 0.30),
    "telecom": (0.25, 0.45),
    "banking": (0.20, 0.50),
    "utilities": (0.10, 0.55),
}
#: Segment shifts of the weights: image attracts (new customers), experience retains.
SEGMENT_SHIFTS: dict[str, tuple[float, float]] = {"new": (0.15, -0.15), "long-standing": (-0.15, 0.15)}
#: Default behaviour outcomes: log-odds per SD of loyalty and the base rate at average loyalty.
OUTCOMES: dict[str, dict[str, Any]] = {
    "churn": {"effect": -1.2, "base_rate": 0.15, "type": "binary"},
    "repurchase": {"effect": 0.9, "base_rate": 0.55, "type": "binary"},
    "recommend": {"effect": 1.4, "type": "rating", "scale": (0, 10)},
}
ITEMS = {
    "Beliefs": ("bel", (0.80, 0.75, 0.70, 0.78)),
    "Experience": ("exp", (0.82, 0.76, 0.72, 0.80)),
    "Loyalty": ("loy", (0.85, 0.80, 0.74, 0.70)),
}


def loyalty_model(items: Mapping[str, tuple[str, Sequence[float]]] = ITEMS) -> str:
    """lavaan syntax of the beliefs + experience -> loyalty model matching :func:`loyalty_scenario`.

    Examples
    --------
    >>> print(loyalty_model())
    Beliefs =~ bel1 + bel2 + bel3 + bel4
    Experience =~ exp1 + exp2 + exp3 + exp4
    Loyalty =~ loy1 + loy2 + loy3 + loy4
    Loyalty ~ Beliefs + Experience
    """
    lines = [f"{f} =~ " + " + ".join(f"{prefix}{k + 1}" for k in range(len(lo))) for f, (prefix, lo) in items.items()]
    return "\n".join(lines + ["Loyalty ~ Beliefs + Experience"])


def _nonlinear_moments(rho: float) -> dict[str, float]:
    """Moments of B*E and |E - B| for standardized bivariate-normal (B, E) with correlation rho
    (closed forms; see the module docstring): needed to keep Var(L) = 1 exactly."""
    s = math.sqrt(1 - rho)  # SD of (E - B)/sqrt(2)
    return {
        "var_be": 1 + rho**2,
        "mean_absd": 2 * s / math.sqrt(math.pi),
        "var_absd": 2 * s**2 * (1 - 2 / math.pi),
        "cov_be_absd": -(s**3) / math.sqrt(math.pi),
        # E^2 - 1 (concave experience): Var(E^2) = 2, Cov(E^2, BE) = E[B E^3] - rho = 2 rho, and
        # Cov(E^2, |E - B|) = s^3 / sqrt(pi) (E = (E - B)/2 + U, U independent of E - B)
        "var_e2": 2.0,
        "cov_e2_be": 2 * rho,
        "cov_e2_absd": s**3 / math.sqrt(math.pi),
    }


def loyalty_scenario(
    n: int | Mapping[str, int] | Sequence[int] = 300,
    *,
    sectors: int | Sequence[str] | None = None,
    weights: Mapping[str, tuple[float, float]] | tuple[float, float] | None = None,
    rho: float = 0.4,
    interaction: float = 0.0,
    asymmetry: float = 0.0,
    concave: float = 0.0,
    segments: Mapping[str, tuple[float, float]] | bool | None = None,
    outcomes: Mapping[str, Any] | Sequence[str] | bool | None = None,
    scale: str | Sequence[int] | None = (0, 10),
    scale_center: float | None = None,
    scale_sd: float | None = None,
    items: Mapping[str, tuple[str, Sequence[float]]] = ITEMS,
    latent_scores: bool = False,
    follow_up: int | None = None,
    behaviour: Mapping[str, Any] | None = None,
    driver_sd: Mapping[str, Sequence[float]] | None = None,
    noninvariant: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    congruence: float = 0.0,
    promise: str | None = None,
    skewed: bool = False,
    direct: Mapping[str, float] | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Survey data on beliefs, experience, loyalty and behaviour, with the truth beside them.

    Every claim of the loyalty model can be switched on or off: both drivers act (set a weight to 0
    to switch one off), weights differ by sector (give equal weights to switch off), imbalance
    (``interaction``), asymmetry (``asymmetry``), segments (``segments``), behaviour (``outcomes``).

    Parameters
    ----------
    n : int, mapping or sequence
        Respondents per sector (one number for all, or one per sector).
    sectors : int or list of names, optional
        Sector names (default: those of ``weights``, else the first ``sectors`` of
        :data:`SECTOR_PROFILES`, else 4 of them).
    weights : mapping sector -> (w_beliefs, w_experience), or one pair for all sectors
        Standardized weights (default: :data:`SECTOR_PROFILES`).
    rho : float
        Correlation of beliefs and experience.
    interaction : float
        gamma, the beliefs x experience coefficient (> 0: an imbalance costs loyalty).
    asymmetry : float
        d, how much steeper loyalty falls for a shortfall of experience below the promise than it
        rises for a surplus (> 0: "exceeding expectations adds little").
    concave : float
        k, diminishing returns of experience: loyalty gains ``- k (E^2 - 1)`` (> 0: each further
        SD of experience adds less), with no promise gap; the truth a kink or an interaction
        misreads as imbalance (issue 19).
    segments : mapping segment -> weight shifts, or True for :data:`SEGMENT_SHIFTS`
        Respondents are split evenly between segments; each shifts the sector's weights.
    outcomes : mapping, list of names, or True for :data:`OUTCOMES`
        Behaviour linked to loyalty: ``{"churn": -1.2}`` (log-odds per SD, binary, base rate 0.2)
        or full specs as in :data:`OUTCOMES`.
    scale : "0-10", (1, 5), ... or None
        Rating scale of the items (None keeps continuous items). ``scale_center`` (default: 65%
        up the scale, as satisfaction surveys skew high) and ``scale_sd`` (points per SD,
        default range / 5) place the answers.
    latent_scores : bool
        Also return the true factor scores as columns ``Beliefs``, ``Experience``, ``Loyalty``
        (for teaching, and to check factor scores against).
    follow_up : int, optional
        Follow the customers for this many periods after the survey: adds ``tenure`` (periods as a
        customer at the survey), ``time`` (periods observed) and ``event`` (1 = left, 0 = censored),
        drawn from a discrete-time hazard of the true scores (see :mod:`loyaltymodels.data.behaviour`).
    behaviour : mapping, optional
        Overrides of :data:`loyaltymodels.data.behaviour.BEHAVIOUR`: log hazard ratios per SD
        (``hazard``, per sector if wanted), their change per period of tenure (``tenure_change``),
        ``baseline`` hazard, ``censoring``; ``prospects`` per sector (rows answering the beliefs items
        only, with ``became_customer``) and their ``conversion`` log-odds; ``purchases=True`` adds
        BG/NBD ``frequency``, ``recency``, ``T`` over the follow-up (``purchase_rate``, ``purchase_dropout``).
    driver_sd, noninvariant, congruence, promise, skewed, direct
        Truths the loyalty model does not assume (:mod:`loyaltymodels.data.misspecified`):
        ``driver_sd={sector: (sd_B, sd_E)}`` (unequal driver variances), ``noninvariant={sector:
        {item: (loading shift, intercept shift)}}``, ``congruence=k`` (loyalty ``-k (E - B)^2``),
        ``promise="shortfall"`` or ``"symmetric"`` (the beliefs items become commensurate promise
        items, ``truth.attrs["pairs"]``, with a kink ``d = 2 w_E`` or none), ``skewed=True``
        (5-point items skewed to the top instead of ``scale``), ``direct={"churn": -0.8}``
        (experience acts on behaviour beside loyalty).
    seed : int or numpy Generator
        Same seed, same data.

    Returns
    -------
    data : DataFrame
        ``sector`` (and ``segment``), the items (``bel1..``, ``exp1..``, ``loy1..``), the outcomes.
    truth : DataFrame
        Tidy ``sector, segment, parameter, value``: ``w_beliefs``, ``w_experience`` (standardized),
        ``largest`` (1 for experience, 0 for beliefs), ``interaction``, ``asymmetry``, ``concave``, ``rho``,
        with ``follow_up`` also ``hazard:<driver>``, ``tenure_change:<driver>``, ``conversion:<driver>``,
        ``purchase_rate:<driver>``, ``purchase_dropout:<driver>``, ``baseline_hazard``,
        ``resid_var``, ``satisfied_not_loyal`` (share of customers above the median of experience
        who are below the median of loyalty, by Monte Carlo on 200 000 draws), loadings
        (``loading:<item>``), outcome effects (``effect:<outcome>``). ``truth.attrs["model"]``
        holds the matching lavaan syntax.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, truth = lm.loyalty_scenario(100, sectors=["retail", "banking"], seed=1)
    >>> data.shape, sorted(data.sector.unique())
    ((200, 13), ['banking', 'retail'])
    >>> truth.query("parameter == 'w_experience'").set_index("sector").value.to_dict()
    {'retail': 0.3, 'banking': 0.5}
    """
    check_seed(seed, generator=True)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    names, w = _sector_weights(sectors, weights)
    sizes = _sizes(n, names)
    segs = _segments(segments)
    outs = _outcomes(outcomes)
    lo_hi = parse_scale(scale)
    ms = misspecification(
        sectors=names,
        items=items,
        outcomes=outs,
        driver_sd=driver_sd,
        noninvariant=noninvariant,
        congruence=congruence,
        promise=promise,
        skewed=skewed,
        direct=direct,
    )
    items, pairs = promise_items(items, ms.promise)
    if not -1 < rho < 1:
        raise ArgumentError(f"rho must lie strictly between -1 and 1, got {rho}")
    mom = _nonlinear_moments(rho)
    c = asymmetry / 2
    kc = concave  # not k: the item loop below uses k
    nonlinear_var = (
        interaction**2 * mom["var_be"]
        + c**2 * mom["var_absd"]
        + kc**2 * mom["var_e2"]
        - 2 * interaction * c * mom["cov_be_absd"]
        - 2 * interaction * kc * mom["cov_e2_be"]
        + 2 * c * kc * mom["cov_e2_absd"]
    )
    frames, truth, latent = [], [], []
    for s in names:
        seg_names: list[str | None] = list(segs) or [None]
        counts = np.full(len(seg_names), sizes[s] // len(seg_names))
        counts[: sizes[s] - counts.sum()] += 1
        for g, n_g in zip(seg_names, counts):
            wb, we = np.add(w[s], (0.0, 0.0) if g is None else segs[g])
            explained = wb**2 + we**2 + 2 * rho * wb * we + nonlinear_var
            explained += ms.variance(we, rho, interaction, asymmetry, kc)
            resid = 1.0 - explained
            if resid < -1e-9:
                raise ArgumentError(
                    f"sector {s!r}{'' if g is None else f', segment {g!r}'}: weights "
                    f"({wb:.2f}, {we:.2f}) with interaction {interaction}, asymmetry "
                    f"{asymmetry} and concave {concave} explain {explained:.2f} > 1 of loyalty's variance; lower them"
                )
            resid = max(resid, 0.0)  # exactly 0 is allowed: loyalty fully determined by its drivers
            be = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=int(n_g), method="cholesky")
            b, e = be[:, 0], be[:, 1]
            loyal = (
                wb * b
                + we * e
                + interaction * (b * e - rho)
                - c * (np.abs(e - b) - mom["mean_absd"])
                - kc * (e**2 - 1)
                + ms.loyalty_terms(b, e, we, rho)
                + rng.normal(0, math.sqrt(resid), int(n_g))
            )
            b, e = ms.scores(s, b, e)  # what the items measure (driver_sd), loyalty built on standardized scores
            frame = pd.DataFrame({"sector": s} | ({"segment": g} if g is not None else {}), index=range(int(n_g)))
            for factor, scores in (("Beliefs", b), ("Experience", e), ("Loyalty", loyal)):
                prefix, loads = items[factor]
                for k, lam in enumerate(loads, start=1):
                    noise = rng.normal(0, math.sqrt(1 - lam**2), int(n_g))
                    frame[f"{prefix}{k}"] = ms.item(s, f"{prefix}{k}", lam, scores, noise)
            for name, spec in outs.items():
                frame[name] = _draw_outcome(spec, loyal, rng, ms.direct.get(name, 0.0) * e)
            latent.append(np.column_stack([b, e, loyal]))
            frames.append(frame)
            truth += _truth_rows(
                s,
                g,
                wb,
                we,
                rho,
                interaction,
                asymmetry,
                resid,
                items,
                outs,
                _satisfied_not_loyal(
                    float(wb), float(we), rho, interaction, c, resid, kc, (ms.congruence, ms.kink(float(we)) / 2)
                ),
            )
            truth.append({"sector": s, "segment": g, "parameter": "concave", "value": float(kc)})
            truth += ms.truth_rows(s, g, float(we))
    if follow_up is not None:
        spec = behaviour_spec(behaviour, names)
        frames, latent = _with_prospects(frames, latent, names, spec, rho, items, rng)
    data = pd.concat(frames, ignore_index=True)
    scores = np.concatenate(latent)
    if latent_scores:
        data["Beliefs"], data["Experience"], data["Loyalty"] = scores.T
    item_cols = [f"{p}{k}" for p, loads in items.values() for k in range(1, len(loads) + 1)]
    if ms.skewed:
        data = ms.cut(data, item_cols)
    elif lo_hi is not None:
        lo, hi = lo_hi
        center = lo + 0.65 * (hi - lo) if scale_center is None else scale_center
        ratings, _ = _to_ratings(
            data[item_cols], np.zeros(len(item_cols)), np.ones(len(item_cols)), lo_hi, center, scale_sd
        )
        data[item_cols] = ratings
    if follow_up is not None:
        data = _follow(data, scores, int(follow_up), spec, items, rng)
        truth += behaviour_truth(spec, names)
    out = pd.DataFrame(truth)
    out.attrs.update(
        model=loyalty_model(items),
        seed=seed if isinstance(seed, (int, type(None))) else "generator",
        rho=rho,
        interaction=interaction,
        asymmetry=asymmetry,
        concave=concave,
        scale=(1, 5) if ms.skewed else lo_hi,
        **ms.attrs(pairs),
        outcomes={k: dict(v) for k, v in outs.items()},
    )
    if follow_up is not None:
        out.attrs.update(follow_up=int(follow_up), behaviour=spec)
    return data, out


def _with_prospects(
    frames: list[pd.DataFrame],
    latent: list[np.ndarray],
    names: list[str],
    spec: Mapping[str, Any],
    rho: float,
    items: Mapping[str, tuple[str, Sequence[float]]],
    rng: np.random.Generator,
) -> tuple[list[pd.DataFrame], list[np.ndarray]]:
    """Prospects per sector: beliefs and experience (unobserved) as customers', no loyalty yet."""
    n_p = int(spec["prospects"])
    if n_p <= 0:
        return frames, latent
    frames, latent = list(frames), list(latent)
    for s in names:
        be = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n_p, method="cholesky")
        scores = np.column_stack([be, np.zeros(n_p)])
        frame = pd.DataFrame({"sector": s}, index=range(n_p))
        for j, factor in enumerate(("Beliefs", "Experience", "Loyalty")):
            prefix, loads = items[factor]
            for k, lam in enumerate(loads, start=1):
                frame[f"{prefix}{k}"] = lam * scores[:, j] + rng.normal(0, math.sqrt(1 - lam**2), n_p)
        frame["_prospect"] = True
        frames.append(frame)
        latent.append(scores)
    return frames, latent


def _follow(
    data: pd.DataFrame,
    scores: np.ndarray,
    periods: int,
    spec: Mapping[str, Any],
    items: Mapping[str, tuple[str, Sequence[float]]],
    rng: np.random.Generator,
) -> pd.DataFrame:
    prospect = data.pop("_prospect").eq(True).to_numpy() if "_prospect" in data else np.zeros(len(data), bool)
    cust = ~prospect
    follow = follow_customers(scores[cust], data["sector"].to_numpy()[cust], periods, spec, rng)
    for col in follow:
        data[col] = np.nan
        data.loc[cust, col] = follow[col].to_numpy()
    if prospect.any():
        others = [f"{p}{k}" for f, (p, lo) in items.items() if f != "Beliefs" for k in range(1, len(lo) + 1)]
        data.loc[prospect, others] = np.nan
        data["became_customer"] = np.nan
        data.loc[prospect, "became_customer"] = convert_prospects(scores[prospect], spec, rng)
        for col in ("Experience", "Loyalty"):
            if col in data:
                data.loc[prospect, col] = np.nan
    if spec["purchases"]:
        buys = repeat_purchases(scores[cust], float(periods), spec, rng)
        for col in buys:
            data[col] = np.nan
            data.loc[cust, col] = buys[col].to_numpy()
    return data


def _sector_weights(
    sectors: int | Sequence[str] | None, weights: Mapping[str, tuple[float, float]] | tuple[float, float] | None
) -> tuple[list[str], dict[str, tuple[float, float]]]:
    if isinstance(weights, Mapping):
        if isinstance(sectors, int):
            raise ArgumentError("with weights per sector, sectors must be a list of names (or None for all of them)")
        names = list(weights) if sectors is None else list(sectors)
        missing = [s for s in names if s not in weights]
        if missing:
            raise ArgumentError(f"weights has no entry for sector(s) {missing}")
        return names, {s: _pair(weights[s]) for s in names}
    if sectors is None:
        sectors = 4
    if isinstance(sectors, int):
        names = (
            list(SECTOR_PROFILES)[:sectors]
            if sectors <= len(SECTOR_PROFILES)
            else [f"sector{k + 1}" for k in range(sectors)]
        )
    else:
        names = [str(s) for s in sectors]
    if weights is not None:
        return names, {s: (float(weights[0]), float(weights[1])) for s in names}
    unknown = [s for s in names if s not in SECTOR_PROFILES]
    if unknown:
        raise ArgumentError(
            f"no preset weights for sector(s) {unknown}: presets are "
            f"{list(SECTOR_PROFILES)}; pass weights={{sector: (w_beliefs, w_experience)}}"
        )
    return names, {s: SECTOR_PROFILES[s] for s in names}


def _pair(w: Sequence[float]) -> tuple[float, float]:
    wb, we = w
    return float(wb), float(we)


def _is_scalar(x: object) -> bool:
    """``np.isscalar`` as a plain bool (its type guard would narrow ``x`` to NumPy's scalar union)."""
    return bool(np.isscalar(x))


def _sizes(n: Any, names: list[str]) -> dict[str, int]:
    if isinstance(n, Mapping):
        missing = [s for s in names if s not in n]
        if missing:
            raise ArgumentError(f"n has no size for sector(s) {missing}")
        sizes = {s: n[s] for s in names}
    elif _is_scalar(n):
        sizes = {s: n for s in names}
    else:
        n = list(n)
        if len(n) != len(names):
            raise ArgumentError(f"n gives {len(n)} sizes for {len(names)} sectors")
        sizes = dict(zip(names, n))
    for s, k in sizes.items():  # a float is refused, not truncated; an empty sector is no sector
        if not _integral(k) or int(k) < 1:
            raise ArgumentError(f"n={k!r} for sector {s!r}: give the number of respondents, an integer of at least 1")
    return {s: int(k) for s, k in sizes.items()}


def _segments(segments: Mapping[str, tuple[float, float]] | bool | None) -> dict[str, tuple[float, float]]:
    if segments is None or segments is False:
        return {}
    if segments is True:
        return dict(SEGMENT_SHIFTS)
    return {str(k): (float(v[0]), float(v[1])) for k, v in segments.items()}


def _outcomes(outcomes: Mapping[str, Any] | Sequence[str] | bool | None) -> dict[str, dict[str, Any]]:
    if outcomes is None or outcomes is False:
        return {}
    if outcomes is True:
        return {k: dict(v) for k, v in OUTCOMES.items()}
    if not isinstance(outcomes, Mapping):
        return {k: dict(OUTCOMES[k]) for k in outcomes}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in outcomes.items():
        base = dict(OUTCOMES.get(name, {"type": "binary", "base_rate": 0.2}))
        base.update({"effect": float(spec)} if _is_scalar(spec) else dict(spec))
        out[name] = base
    return out


def _draw_outcome(
    spec: Mapping[str, Any], loyal: np.ndarray, rng: np.random.Generator, direct: np.ndarray | float = 0.0
) -> np.ndarray:
    """One behaviour outcome of loyalty; ``direct``: what other latents add to its log-odds."""
    if spec.get("type", "binary") == "binary":
        rate = spec.get("base_rate", 0.2)
        p = 1 / (1 + np.exp(-(math.log(rate / (1 - rate)) + spec["effect"] * loyal + direct)))
        return (rng.random(len(loyal)) < p).astype(int)
    # ordered-logit rating: thresholds spread so that the answers at average loyalty lean to the
    # loyal end of the scale (the top for positive links, the bottom for reversed questions)
    lo, hi = parse_scale(spec.get("scale", (0, 10)))
    cuts = np.linspace(-2.5, 2.5, hi - lo) - 0.8 * np.sign(spec["effect"])
    latent = spec["effect"] * loyal + direct + rng.logistic(size=len(loyal))
    return lo + (latent[:, None] > cuts[None, :]).sum(axis=1)


@functools.lru_cache(maxsize=256)
def _satisfied_not_loyal(
    wb: float,
    we: float,
    rho: float,
    gamma: float,
    c: float,
    resid: float,
    k: float = 0.0,
    gap: tuple[float, float] = (0.0, 0.0),
    draws: int = 200_000,
) -> float:
    # Fixed seed: the truth must not depend on the data's seed, and MC error (~0.002) is far below
    # any estimate's uncertainty. Cached: it is a pure function of the population values and ~90%
    # of a data set's cost, which power analyses draw thousands of times.
    mom = _nonlinear_moments(rho)
    rng = np.random.default_rng(20261124)
    be = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=draws, method="cholesky")
    b, e = be[:, 0], be[:, 1]
    loyal = (
        wb * b
        + we * e
        + gamma * (b * e - rho)
        - c * (np.abs(e - b) - mom["mean_absd"])
        - k * (e**2 - 1)
        - gap[0] * ((e - b) ** 2 - 2 * (1 - rho))  # congruence and promise gap (data.misspecified)
        - gap[1] * (np.abs(e - b) - mom["mean_absd"])
        + rng.normal(0, math.sqrt(resid), draws)
    )
    satisfied = e > np.median(e)
    return float(np.mean(loyal[satisfied] < np.median(loyal)))


def _truth_rows(
    s: str,
    g: str | None,
    wb: float,
    we: float,
    rho: float,
    gamma: float,
    d: float,
    resid: float,
    items: Mapping[str, tuple[str, Sequence[float]]],
    outs: Mapping[str, Mapping[str, Any]],
    snl: float,
) -> list[dict]:
    rows = [
        ("w_beliefs", wb),
        ("w_experience", we),
        ("largest", float(we > wb)),
        ("interaction", gamma),
        ("asymmetry", d),
        ("rho", rho),
        ("resid_var", resid),
        ("satisfied_not_loyal", snl),
    ]
    rows += [(f"loading:{p}{k}", lam) for p, loads in items.values() for k, lam in enumerate(loads, 1)]
    rows += [(f"effect:{name}", spec["effect"]) for name, spec in outs.items()]
    return [{"sector": s, "segment": g, "parameter": p, "value": float(v)} for p, v in rows]
