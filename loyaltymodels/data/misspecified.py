"""Truths the loyalty model does not assume: switches of :func:`loyaltymodels.loyalty_scenario`.

Each switch departs from the model's own form in one way a reviewer would ask about, so that a
claim can be tested on data it was not built for (issue 19):

``driver_sd``     unequal driver variances by sector: the sector's beliefs and experience scores
                  are ``sd x`` the standardized ones, loyalty still built on the standardized
                  scores (so its *standardized* weights are the given ones, its weights per unit
                  of the common latent scale are ``w / sd``).
``noninvariant``  items whose loading and intercept differ by sector (``{sector: {item: (loading
                  shift, intercept shift)}}``): scalar invariance is false.
``congruence``    a congruence surface: loyalty gains ``-k ((E - B)^2 - E(E - B)^2)``, falling on
                  both sides of ``E = B`` (Edwards & Parry's ``a4 = -4 k < 0``, ``p10 = 0, p11 = 1``).
``promise``       commensurate promise items: the beliefs items become the promise side of the
                  experience items (same loadings, same intercepts, ``bel_k`` paired with
                  ``exp_k``), and the gap ``E - B`` has a known effect: ``"shortfall"`` (loyalty's
                  slope in experience, the promise held fixed, is ``2 w_E`` below the promise and 0
                  above: the kink ``d = 2 w_E``) or ``"symmetric"`` (no kink, ``d = 0``).
``skewed``        5-point items skewed to the top (category shares :data:`SKEWED_SHARES` for an item
                  of variance 1), cut from the continuous items instead of the rating ``scale``.
``direct``        a direct path from experience to behaviour, beside loyalty: ``{"churn": -0.8}``
                  adds ``-0.8 E`` to the outcome's log-odds (or its ordered-logit scale).

The moments that keep ``Var(L) = 1`` in every cell stay closed forms: for ``D = E - B`` with
``sigma^2 = 2 (1 - rho)``, ``Var(D^2) = 2 sigma^4``, ``Cov(D^2, |D|) = sigma^3 sqrt(2 / pi)``,
``Cov(D^2, B E) = -sigma^4 / 2`` and ``Cov(D^2, E^2) = sigma^4 / 2`` (``B + E`` is independent of
``E - B``; ``B E = ((B + E)^2 - D^2) / 4``), and ``D^2`` is uncorrelated with ``B`` and ``E``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..errors import ArgumentError

__all__ = ["SKEWED_SHARES", "Misspecified", "misspecification"]

#: Shares of the five categories of a skewed item of variance 1 (satisfaction answers lean high).
SKEWED_SHARES = (0.04, 0.08, 0.18, 0.35, 0.35)
#: The cut points on the standardized item that give :data:`SKEWED_SHARES`.
SKEWED_CUTS = tuple(float(ndtri(q)) for q in np.cumsum(SKEWED_SHARES)[:-1])
PROMISE_GAPS = ("shortfall", "symmetric")


@dataclass(frozen=True)
class Misspecified:
    """The switches, checked (see the module docstring)."""

    driver_sd: dict[str, tuple[float, float]] = field(default_factory=dict)
    noninvariant: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    congruence: float = 0.0
    promise: str | None = None
    skewed: bool = False
    direct: dict[str, float] = field(default_factory=dict)

    def scores(self, sector: str, b: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scores the items measure (scaled by the sector's driver SDs)."""
        sb, se = self.driver_sd.get(sector, (1.0, 1.0))
        return sb * b, se * e

    def item(self, sector: str, name: str, lam: float, score: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """One item: ``(lam + dl) score + di + noise`` with the sector's shifts."""
        dl, di = self.noninvariant.get(sector, {}).get(name, (0.0, 0.0))
        return (lam + dl) * score + di + noise

    def kink(self, we: float) -> float:
        """The promise gap's kink ``d`` of a cell whose experience weight is ``we``."""
        return 2.0 * we if self.promise == "shortfall" else 0.0

    def loyalty_terms(self, b: np.ndarray, e: np.ndarray, we: float, rho: float) -> np.ndarray:
        """The congruence and promise-gap terms of loyalty, each centred at its expectation."""
        sigma2 = 2 * (1 - rho)
        d = e - b
        out = -self.congruence * (d**2 - sigma2)
        c = self.kink(we) / 2
        return out - c * (np.abs(d) - math.sqrt(2 * sigma2 / math.pi))

    def variance(self, we: float, rho: float, interaction: float, asymmetry: float, concave: float) -> float:
        """Variance of :meth:`loyalty_terms` and its covariance with the scenario's own nonlinear
        terms (``gamma B E - (a/2) |D| - k E^2``), counted twice as in a variance of a sum."""
        sigma2 = 2 * (1 - rho)
        sigma = math.sqrt(sigma2)
        ks, c = self.congruence, self.kink(we) / 2
        var_d2, var_absd = 2 * sigma2**2, sigma2 * (1 - 2 / math.pi)
        cov_d2_absd, cov_d2_be, cov_d2_e2 = sigma**3 * math.sqrt(2 / math.pi), -(sigma2**2) / 2, sigma2**2 / 2
        cov_absd_be, cov_absd_e2 = -((sigma2 / 2) ** 1.5) / math.sqrt(math.pi), (sigma2 / 2) ** 1.5 / math.sqrt(math.pi)
        own = ks**2 * var_d2 + c**2 * var_absd + 2 * ks * c * cov_d2_absd
        a = asymmetry / 2
        # terms: -ks D^2 - c |D| against gamma B E - a |D| - concave E^2
        cross = (
            -ks * interaction * cov_d2_be
            + ks * a * cov_d2_absd
            + ks * concave * cov_d2_e2
            - c * interaction * cov_absd_be
            + c * a * var_absd
            + c * concave * cov_absd_e2
        )
        return own + 2 * cross

    def truth_rows(self, sector: str, segment: str | None, we: float) -> list[dict]:
        """Truth rows of the switches that are on (a scenario without them keeps its table)."""
        rows: list[tuple[str, float]] = []
        if self.driver_sd:
            sb, se = self.driver_sd.get(sector, (1.0, 1.0))
            rows += [("sd:Beliefs", sb), ("sd:Experience", se)]
        if self.congruence:
            rows.append(("congruence", self.congruence))
        if self.promise is not None:
            d = self.kink(we)  # the promise held fixed, loyalty's slope in experience is w_E -+ d/2 above/below
            rows += [("promise_kink", d), ("slope_below", we + d / 2), ("slope_above", we - d / 2)]
        for item, (dl, di) in self.noninvariant.get(sector, {}).items():
            rows += [(f"loading_shift:{item}", dl), (f"intercept_shift:{item}", di)]
        rows += [(f"direct:{name}", v) for name, v in self.direct.items()]
        return [{"sector": sector, "segment": segment, "parameter": p, "value": float(v)} for p, v in rows]

    def attrs(self, pairs: Mapping[str, str]) -> dict[str, Any]:
        """The truth's attributes of the switches that are on."""
        out: dict[str, Any] = {}
        if self.congruence:
            out["congruence"] = self.congruence
        if self.promise is not None:
            out.update(promise=self.promise, pairs=dict(pairs))
        return out

    def cut(self, data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        """The items as skewed 5-point answers (1..5), cut at :data:`SKEWED_CUTS`."""
        cuts = np.asarray(SKEWED_CUTS)
        values = data[list(columns)].to_numpy(float)
        data[list(columns)] = 1 + (values[..., None] > cuts).sum(-1)
        return data


def _pairs_of(value: Any, what: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{what} must be a pair of numbers, not {value!r}") from None
    return a, b


def misspecification(
    *,
    sectors: Sequence[str],
    items: Mapping[str, tuple[str, Sequence[float]]],
    outcomes: Mapping[str, Any],
    driver_sd: Mapping[str, Sequence[float]] | None = None,
    noninvariant: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    congruence: float = 0.0,
    promise: str | None = None,
    skewed: bool = False,
    direct: Mapping[str, float] | None = None,
) -> Misspecified:
    """The switches, checked against the scenario's sectors, items and outcomes.

    Examples
    --------
    >>> from loyaltymodels.data.scenarios import ITEMS
    >>> m = misspecification(sectors=["a", "b"], items=ITEMS, outcomes={}, driver_sd={"b": (1.5, 0.8)})
    >>> m.driver_sd
    {'b': (1.5, 0.8)}
    """
    sd = {}
    for s, v in (driver_sd or {}).items():
        if s not in sectors:
            raise ArgumentError(f"driver_sd names sector {s!r}, which is not among {list(sectors)}")
        sd[str(s)] = _pairs_of(v, f"driver_sd[{s!r}]")
        if min(sd[str(s)]) <= 0:
            raise ArgumentError(f"driver_sd[{s!r}] = {v!r}: standard deviations must be positive")
    names = {f"{p}{k}" for p, lo in items.values() for k in range(1, len(lo) + 1)}
    shifts: dict[str, dict[str, tuple[float, float]]] = {}
    for s, per in (noninvariant or {}).items():
        if s not in sectors:
            raise ArgumentError(f"noninvariant names sector {s!r}, which is not among {list(sectors)}")
        for item, v in per.items():
            if item not in names:
                raise ArgumentError(f"noninvariant[{s!r}] names item {item!r}, which is not among {sorted(names)}")
            shifts.setdefault(str(s), {})[str(item)] = _pairs_of(v, f"noninvariant[{s!r}][{item!r}]")
    if promise is not None and promise not in PROMISE_GAPS:
        raise ArgumentError(f"promise={promise!r}: choose 'shortfall' or 'symmetric'")
    if promise is not None and len(items["Beliefs"][1]) != len(items["Experience"][1]):
        raise ArgumentError("promise needs as many beliefs items as experience items (they are asked in pairs)")
    unknown = sorted(set(direct or {}) - set(outcomes))
    if unknown:
        raise ArgumentError(f"direct names outcome(s) {unknown}, which the scenario does not draw (outcomes=...)")
    return Misspecified(
        sd,
        shifts,
        float(congruence),
        promise,
        bool(skewed),
        {str(k): float(v) for k, v in (direct or {}).items()},
    )


def promise_items(
    items: Mapping[str, tuple[str, Sequence[float]]], promise: str | None
) -> tuple[dict[str, tuple[str, Sequence[float]]], dict[str, str]]:
    """With commensurate promise items, the beliefs items take the experience items' loadings;
    the pairs ``{"bel1": "exp1", ...}`` (intercepts are shared already: every item is centred)."""
    out = dict(items)
    if promise is None:
        return out, {}
    (pb, _), (pe, le) = items["Beliefs"], items["Experience"]
    out["Beliefs"] = (pb, tuple(le))
    return out, {f"{pb}{k}": f"{pe}{k}" for k in range(1, len(le) + 1)}
