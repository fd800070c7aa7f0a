"""What the loyalty model is made of, read from the parameter table and the data: roles, cells,
behaviour outcomes; and the checks that turn bad input into clear errors.

Roles come from the table (lavaan's ``~`` rows), not from names: the *loyalty* latent is the
endogenous latent regressed on latents that predicts no other latent (preferring one with two
drivers or more); its *drivers*
are the latents on the right of its regression. ``loyalty=`` / ``drivers=`` override when the
table leaves a choice. Sectors and segments are crossed into *cells* (one group of the multigroup
machinery per cell, coded by integers), so that per-cell moments stay sufficient statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.validate import suggest_column  # the package's "did you mean" for columns
from ..errors import DataError, SpecError, plain
from ..spec.model import ModelSpec

#: Fewest respondents a sector (or a sector x segment cell) may have: each cell gets its own latent
#: means, variances and structural weights, which a few dozen answers cannot pin down.
MIN_CELL_SIZE = 30
#: Integer outcomes with more than two and at most this many values are ratings (ordered logit).
MAX_RATING_LEVELS = 11


@dataclass(frozen=True)
class Roles:
    """The loyalty latent, its drivers (in the order of its regression), and the driver pairs the
    nonlinear terms use: ``interaction = (beliefs, experience)`` and ``asymmetry = (experience,
    promise)`` (the gap is ``experience - promise``), ``surface = (beliefs, experience)`` (the
    quadratic response surface, :mod:`loyaltymodels.loyalty.surface`), each ``None`` when not fitted."""

    loyalty: str
    drivers: tuple[str, ...]
    interaction: tuple[str, str] | None = None
    asymmetry: tuple[str, str] | None = None
    surface: tuple[str, str] | None = None
    diminishing: tuple[str, ...] = ()  # drivers with their own centred square (loyalty.diminishing)

    @property
    def nonlinear(self) -> bool:
        return (
            self.interaction is not None
            or self.asymmetry is not None
            or self.surface is not None
            or bool(self.diminishing)
        )


@dataclass(frozen=True)
class Outcome:
    """A behaviour column linked to a latent: ``kind`` is ``"binary"`` (logistic) or ``"ordinal"``
    (ordered logistic over ``levels``, the sorted observed values)."""

    name: str
    column: str
    latent: str
    kind: str
    levels: tuple[float, ...] = ()


def find_roles(
    spec: ModelSpec,
    loyalty: str | None = None,
    drivers: Sequence[str] | None = None,
    interaction: bool | Sequence[str] = False,
    asymmetry: bool | Sequence[str] | None = None,
    surface: bool | Sequence[str] = False,
    diminishing: Sequence[str] | None = None,
) -> Roles:
    """Loyalty latent and drivers from the structural rows of ``spec`` (see the module docstring).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> r = find_roles(lm.parse_model(lm.loyalty_model()), interaction=True)
    >>> r.loyalty, r.drivers, r.interaction, r.asymmetry
    ('Loyalty', ('Beliefs', 'Experience'), ('Beliefs', 'Experience'), None)
    """
    t = spec.table
    lv = list(spec.latents)
    reg = t[(t.op == "~") & (t.group <= 1) & t.lhs.isin(lv) & t.rhs.isin(lv)]
    on = {y: list(dict.fromkeys(rows.rhs)) for y, rows in reg.groupby("lhs", sort=False)}
    if loyalty is None:
        ends = [y for y in on if y not in set(reg.rhs)]
        # prefer a latent with two drivers or more; one-driver models (e.g. 'Loyalty ~ Experience',
        # to compare with the two-driver model by LOO, claim 1) are accepted too
        cands = [y for y in ends if len(on[y]) >= 2] or ends
        if not cands:
            raise SpecError(
                "the model has no loyalty regression: regress the loyalty latent on its "
                "drivers, e.g. 'Loyalty ~ Beliefs + Experience' (a latent regressed on "
                "latents that predicts no other latent)"
            )
        if len(cands) > 1:
            raise SpecError(
                f"several latents could be the loyalty latent ({', '.join(cands)}): say which with loyalty='{cands[0]}'"
            )
        loyalty = cands[0]
    if loyalty not in lv:
        raise SpecError(f"loyalty={loyalty!r} is not a latent variable of the model ({', '.join(lv)})")
    regressed = on.get(loyalty, [])
    if drivers is None:
        drivers = regressed
    drivers = tuple(drivers)
    missing = [d for d in drivers if d not in regressed]
    if missing or len(drivers) < 1:
        raise SpecError(
            f"drivers {missing or list(drivers)} are not regressors of {loyalty!r} in the "
            f"model (it is regressed on {regressed or 'nothing'}); write "
            f"'{loyalty} ~ {' + '.join(drivers or ['Beliefs', 'Experience'])}'"
        )
    if len(drivers) < 2 and (interaction is not False or asymmetry not in (None, False) or surface is not False):
        raise SpecError(f"{loyalty!r} needs two drivers for an interaction, an asymmetry or a response surface")
    return Roles(
        loyalty,
        drivers,
        _pair(interaction, drivers, "interaction"),
        _pair(asymmetry, drivers, "asymmetry"),
        _pair(surface, drivers, "surface"),
        _diminishing(diminishing, drivers, surface is not False),
    )


def _diminishing(value: Sequence[str] | None, drivers: tuple[str, ...], surface: bool) -> tuple[str, ...]:
    if value is None or (not isinstance(value, str) and not list(value)):
        return ()
    names = (value,) if isinstance(value, str) else tuple(value)
    bad = [v for v in names if v not in drivers]
    if bad or len(set(names)) != len(names):
        raise SpecError(f"diminishing={list(names)!r} must name different drivers among {', '.join(drivers)}")
    if surface:
        raise SpecError(
            "diminishing with surface=True: the response surface has the drivers' squares already "
            "(b3, b5); use one or the other"
        )
    return names


def _pair(value: bool | Sequence[str] | None, drivers: tuple[str, ...], what: str) -> tuple[str, str] | None:
    if value is None or value is False:
        return None
    if value is True:
        if len(drivers) != 2:
            example = (
                f"('{drivers[1]}', '{drivers[0]}')" if what == "asymmetry" else f"('{drivers[0]}', '{drivers[1]}')"
            )
            raise SpecError(
                f"{what}=True is ambiguous with {len(drivers)} drivers ({', '.join(drivers)}): "
                f"name the pair, e.g. {what}={example}"
            )
        # the asymmetry is experience relative to the promise: by convention the model lists
        # beliefs (the promise) first, as in 'Loyalty ~ Beliefs + Experience'
        return (drivers[1], drivers[0]) if what == "asymmetry" else (drivers[0], drivers[1])
    pair = tuple(value)
    if len(pair) != 2 or pair[0] == pair[1] or any(p not in drivers for p in pair):
        hint = "(experience, promise)" if what == "asymmetry" else "(beliefs, experience)"  # interaction, surface
        raise SpecError(f"{what}={value!r} must name two different drivers {hint} among {', '.join(drivers)}")
    return pair[0], pair[1]


def check_structure(spec: ModelSpec, roles: Roles, latent_form: bool) -> None:
    """What the latent-score forms need: loyalty's items load on loyalty only, no other item loads
    on loyalty, no residual covariance of loyalty, no paths from observed variables."""
    t = spec.table[spec.table.group == 1]
    L = roles.loyalty
    if L in set(t.rhs[t.op == "~"]):
        raise SpecError(f"{L!r} predicts another variable; the loyalty latent must be the end of the model")
    if not latent_form:
        return
    load = t[t.op == "=~"]
    items_L = set(load.rhs[load.lhs == L])
    shared = items_L & set(load.rhs[load.lhs != L])
    if shared:
        raise SpecError(
            f"items {sorted(shared)} load on {L!r} and on another latent; with interaction, "
            "asymmetry or outcomes, loyalty's items must measure loyalty only"
        )
    cov = t[(t.op == "~~") & (t.lhs != t.rhs) & ((t.lhs == L) | (t.rhs == L))]
    if len(cov):
        r = cov.iloc[0]
        raise SpecError(
            f"'{r.lhs} ~~ {r.rhs}': with interaction, asymmetry or outcomes the loyalty "
            "latent cannot have residual covariances"
        )
    obs = set(spec.observed)
    if ((t.op == "~") & t.rhs.isin(obs)).any() or ((t.op == "~~") & (t.lhs != t.rhs) & t.lhs.isin(obs)).any():
        raise SpecError(
            "with interaction, asymmetry or outcomes the model cannot have paths from "
            "observed variables or residual covariances between items"
        )


# -- cells: sector x segment ---------------------------------------------------------------------
def check_column(data: pd.DataFrame, column: str, what: str) -> None:
    if column not in data.columns:
        raise DataError(
            f"the data have no {what} column {column!r}{suggest_column(column, [str(c) for c in data.columns])}",
            column=column,
        )
    if data[column].isna().any():
        row = data.index[data[column].isna().to_numpy()][0]
        raise DataError(
            f"the {what} column {column!r} is missing at row {plain(row)!r}; drop or label those rows",
            column=column,
            row=row,
        )


def cell_codes(
    data: pd.DataFrame, sector: str | None, segment: str | None, min_size: int = MIN_CELL_SIZE
) -> tuple[np.ndarray, list[str], list[str]]:
    """Each row's cell as an integer code (``sector * max(1, #segments) + segment``, 0-based), the
    sectors and the segments as text (order of appearance). Every sector x segment cell must exist
    and hold at least ``min_size`` respondents.

    Examples
    --------
    >>> df = pd.DataFrame({"s": ["a", "b", "a", "b"], "g": ["new", "new", "old", "old"]})
    >>> codes, sectors, segments = cell_codes(df, "s", "g", min_size=1)
    >>> codes.tolist(), sectors, segments
    ([0, 2, 1, 3], ['a', 'b'], ['new', 'old'])
    """
    for col, what in ((sector, "sector"), (segment, "segment")):
        if col is not None:
            check_column(data, col, what)
    sec, sectors = pd.factorize(data[sector].astype(str)) if sector else (np.zeros(len(data), int), ["all"])
    seg, segments = pd.factorize(data[segment].astype(str)) if segment else (np.zeros(len(data), int), [])
    width = max(1, len(segments))
    codes = np.asarray(sec) * width + np.asarray(seg)
    counts = np.bincount(codes, minlength=len(sectors) * width)
    for code, n in enumerate(counts):
        if n < min_size:
            s, g = list(sectors)[code // width], (list(segments)[code % width] if segment else None)
            where = f"sector {s!r}" if sector else "the data"
            where += f", segment {g!r}" if g is not None else ""
            raise DataError(
                f"{where} has {n} respondent(s); the loyalty model needs at least "
                f"{min_size} per {'sector x segment cell' if g is not None else 'sector'} "
                "(merge small sectors, or pass min_size= at your own risk)",
                column=sector or segment,
                value=int(n),
            )
    return codes, [str(x) for x in sectors], [str(x) for x in segments]


# -- outcomes ------------------------------------------------------------------------------------
def parse_outcomes(
    outcomes: Mapping[str, Any] | Sequence[str] | None, data: pd.DataFrame, spec: ModelSpec, loyalty: str
) -> tuple[Outcome, ...]:
    """``{"churn": "col"}``, ``{"churn": ("col", "Loyalty")}``, ``{"recommend": ("col", "ordinal")}``
    or ``{"recommend": {"column": "col", "latent": "Loyalty", "kind": "ordinal"}}``, checked."""
    if not outcomes:
        return ()
    if not isinstance(outcomes, Mapping):
        outcomes = {str(c): str(c) for c in outcomes}
    out = []
    for name, spec_ in outcomes.items():
        column, latent, kind = _outcome_parts(name, spec_, spec, loyalty)
        if column not in data.columns:
            raise DataError(
                f"outcome {name!r}: the data have no column {column!r}"
                f"{suggest_column(column, [str(c) for c in data.columns])}",
                column=column,
            )
        out.append(_typed_outcome(name, column, latent, kind, data[column]))
    return tuple(out)


def _outcome_parts(
    name: str, value: str | Mapping[str, Any] | Sequence[str], spec: ModelSpec, loyalty: str
) -> tuple[str, str, str | None]:
    latent, kind = loyalty, None
    if isinstance(value, str):
        column = value
    elif isinstance(value, Mapping):
        column, latent, kind = value.get("column", name), value.get("latent", loyalty), value.get("kind")
    else:
        parts = list(value)
        column = parts[0]
        for extra in parts[1:]:
            if extra in ("binary", "ordinal"):
                kind = extra
            else:
                latent = extra
    if latent not in spec.latents:
        raise SpecError(
            f"outcome {name!r} is linked to {latent!r}, which is not a latent variable of "
            f"the model ({', '.join(spec.latents)})"
        )
    if kind not in (None, "binary", "ordinal"):
        raise SpecError(f"outcome {name!r}: kind must be 'binary' or 'ordinal', not {kind!r}")
    return str(column), str(latent), kind


def _typed_outcome(name: str, column: str, latent: str, kind: str | None, values: pd.Series) -> Outcome:
    x = pd.to_numeric(values, errors="coerce")
    bad = x.isna() & values.notna()
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise DataError(
            f"outcome {name!r} (column {column!r}) has the non-numeric value {plain(values[row])!r} "
            f"at row {plain(row)!r}",
            column=column,
            row=row,
            value=values[row],
        )
    seen = np.unique(x.dropna().to_numpy(float))
    if len(seen) < 2:
        raise DataError(
            f"outcome {name!r} (column {column!r}) takes {len(seen)} distinct value(s); a behaviour outcome must vary",
            column=column,
        )
    integer = bool(np.all(seen == np.round(seen)))
    if kind is None:
        kind = (
            "binary" if set(seen) <= {0.0, 1.0} else "ordinal" if integer and len(seen) <= MAX_RATING_LEVELS else None
        )
        if kind is None:
            row = values.index[(~x.isin([0, 1]) & x.notna()).to_numpy()][0]
            raise DataError(
                f"outcome {name!r} (column {column!r}) is neither 0/1 nor an integer rating "
                f"with at most {MAX_RATING_LEVELS} levels: first value outside 0/1 is "
                f"{plain(values[row])!r} at row {plain(row)!r}",
                column=column,
                row=row,
                value=values[row],
            )
    if kind == "binary" and not set(seen) <= {0.0, 1.0}:
        row = values.index[(~x.isin([0, 1]) & x.notna()).to_numpy()][0]
        raise DataError(
            f"outcome {name!r} (column {column!r}) must be 0/1: row {plain(row)!r} holds {plain(values[row])!r}",
            column=column,
            row=row,
            value=values[row],
        )
    if kind == "ordinal" and not integer:
        row = values.index[(x != np.round(x)).to_numpy()][0]
        raise DataError(
            f"outcome {name!r} (column {column!r}) is an ordinal rating but row {plain(row)!r} "
            f"holds the non-integer {values[row]!r}",
            column=column,
            row=row,
            value=values[row],
        )
    return Outcome(name, column, latent, kind, tuple(float(v) for v in seen) if kind == "ordinal" else ())


def outcome_codes(outcome: Outcome, values: pd.Series) -> np.ndarray:
    """0-based codes (binary: the 0/1 value; ordinal: the rank among ``levels``), -1 when missing."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    out = np.full(len(x), -1)
    ok = ~np.isnan(x)
    if outcome.kind == "binary":
        out[ok] = x[ok].astype(int)
    else:
        out[ok] = np.searchsorted(np.asarray(outcome.levels), x[ok])
    return out
