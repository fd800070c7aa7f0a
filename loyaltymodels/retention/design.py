"""The retention model's design: which latents drive behaviour, the items that measure them, and
the behaviour data laid out for the likelihood (person-period rows for the hazard, prospects for
conversion, counts and recency for repeat purchase), each checked with a message that names the
column and row at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError, SpecError
from ..spec import parse_model
from ..spec.model import ModelSpec

#: The models of leaving: the discrete-time hazard, or pymc-marketing's shifted-beta-geometric.
CHURN = ("hazard", "sbg")


@dataclass(frozen=True)
class RetentionDesign:
    """Everything structural about one retention model for one data set."""

    factors: tuple[str, ...]  # every latent, drivers first then loyalty
    drivers: tuple[str, ...]  # exogenous latents: beliefs, experience...
    loyalty: str | None  # the latent regressed on the drivers, if the model has one
    items: tuple[str, ...]
    item_factor: np.ndarray = field(repr=False)  # (p,) index into factors
    y: np.ndarray = field(repr=False)  # (n, p) standardized items, NaN when not answered
    item_mean: np.ndarray = field(repr=False)
    item_sd: np.ndarray = field(repr=False)
    sectors: tuple[str, ...] = ("all",)
    sector_idx: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    customers: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))  # rows followed
    periods: int = 0
    pp_row: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))  # person-period -> row
    pp_period: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))  # 0-based period
    pp_tenure: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # tenure in that period
    pp_event: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    tenure_ref: float = 0.0
    tenure_unit: float = 12.0
    prospects: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    converted: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, int))
    acquisition_drivers: tuple[str, ...] = ()
    purchases: dict = field(repr=False, default_factory=dict)  # frequency, recency, T of customers
    columns: dict = field(default_factory=dict)  # the user's column names, recorded in the posterior
    churn: str = "hazard"  # "hazard" (discrete-time, tenure-varying effects) or "sbg" (shifted-beta-geometric)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def make_design(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    time: str | None,
    event: str | None,
    sector: str | None = None,
    tenure: str | None = None,
    tenure_unit: float = 12.0,
    acquisition: str | None = None,
    purchases: Sequence[str] | None = None,
    churn: str = "hazard",
) -> RetentionDesign:
    """Check ``data`` against the model and lay it out (see :func:`~loyaltymodels.retention.fit_retention`)."""
    if churn not in CHURN:
        raise SpecError(f"churn={churn!r}: choose one of {list(CHURN)}")
    if churn == "sbg" and time is None:
        raise SpecError("churn='sbg' models leaving: give time= and event=")
    spec = model if isinstance(model, ModelSpec) else parse_model(model)
    table = spec.partable
    loads = table[table.op == "=~"]
    if loads.empty:
        raise SpecError("the retention model needs a measurement model (lines 'Factor =~ item1 + item2 ...')")
    latents = list(dict.fromkeys(loads.lhs))
    regs = table[(table.op == "~") & table.lhs.isin(latents)]
    endo = list(dict.fromkeys(regs.lhs))
    if len(endo) > 1:
        raise SpecError(f"the retention model takes one loyalty latent regressed on the drivers; got {endo}")
    loyalty = endo[0] if endo else None
    drivers = tuple(f for f in latents if f != loyalty)
    if loyalty is not None and set(regs.rhs) != set(drivers):
        raise SpecError(
            f"{loyalty} must be regressed on every driver ({list(drivers)}), got {sorted(set(regs.rhs))}: "
            "write 'Loyalty ~ Beliefs + Experience'"
        )
    factors = drivers + ((loyalty,) if loyalty else ())
    items = tuple(loads.rhs)
    missing = [c for c in (*items, time, event, sector, tenure, acquisition, *(purchases or ())) if c and c not in data]
    if missing:
        raise DataError(f"data has no column(s) {missing}; the columns are {list(data.columns)}", column=missing[0])
    y = _numeric(data, list(items))
    mean, sd = np.nanmean(y, 0), np.nanstd(y, 0)
    if np.any(~(sd > 0)):
        bad = items[int(np.argmin(np.nan_to_num(sd)))]
        raise DataError(f"item {bad!r} has no variance (or no answers): drop it from the model", column=bad)
    z = (y - mean) / sd
    if sector is None:
        sectors, sector_idx = ("all",), np.zeros(len(data), int)
    else:
        if data[sector].isna().any():
            row = data.index[data[sector].isna()][0]
            raise DataError(
                f"column {sector!r} is missing at row {row}: every respondent needs a sector", column=sector, row=row
            )
        cat = pd.Categorical(data[sector].astype(str))
        sectors, sector_idx = tuple(cat.categories), cat.codes.astype(int)
    prospect = np.zeros(len(data), bool)
    acq_drivers: tuple[str, ...] = ()
    converted = np.zeros(0, int)
    if acquisition is not None:
        prospect = data[acquisition].notna().to_numpy()
        conv = data.loc[prospect, acquisition]
        if not conv.isin([0, 1]).all():
            row = conv.index[~conv.isin([0, 1])][0]
            raise DataError(
                f"column {acquisition!r} must be 0/1 for prospects (blank for customers); row {row} has {conv[row]!r}",
                column=acquisition, row=row, value=conv[row],
            )  # fmt: skip
        converted = conv.to_numpy(int)
        answered = ~np.isnan(z[prospect])
        acq_drivers = tuple(
            f for k, f in enumerate(drivers) if answered[:, np.flatnonzero(loads.lhs.to_numpy() == f)].any()
        )
        if not acq_drivers:
            raise DataError(f"the prospects (rows with {acquisition!r}) answered no driver's items", column=acquisition)
    customers = np.flatnonzero(~prospect)
    layout = {} if time is None else _person_periods(data, customers, time, event, tenure)
    if layout and tenure is None:
        tenure_ref = 0.0
    elif layout:
        tenure_ref = float(np.median(data[tenure].to_numpy(float)[customers]))
    else:
        tenure_ref = 0.0
    buys = _purchases(data, customers, purchases) if purchases else {}
    if time is None and not buys:
        raise SpecError("give time= and event= (retention), purchases= (repeat purchase), or both")
    return RetentionDesign(
        factors=factors,
        drivers=drivers,
        loyalty=loyalty,
        items=items,
        item_factor=np.array([factors.index(f) for f in loads.lhs]),
        y=z,
        item_mean=mean,
        item_sd=sd,
        sectors=sectors,
        sector_idx=sector_idx,
        customers=customers,
        tenure_ref=tenure_ref,
        tenure_unit=float(tenure_unit),
        prospects=np.flatnonzero(prospect),
        converted=converted,
        acquisition_drivers=acq_drivers,
        purchases=buys,
        columns={
            "time": time,
            "event": event,
            "sector": sector,
            "tenure": tenure,
            "acquisition": acquisition,
            "purchases": list(purchases or []),
        },
        churn=churn,
        **layout,
    )


def _numeric(data: pd.DataFrame, cols: list[str]) -> np.ndarray:
    for c in cols:
        values = pd.to_numeric(data[c], errors="coerce")
        bad = values.isna() & data[c].notna()
        if bad.any():
            row = data.index[bad][0]
            raise DataError(
                f"column {c!r} row {row} holds {data[c][row]!r}, not a number: recode it (read_survey reads "
                "decimal commas and labelled answers)",
                column=c, row=row, value=data[c][row],
            )  # fmt: skip
    return data[cols].apply(pd.to_numeric).to_numpy(float)


def _whole(data: pd.DataFrame, rows: np.ndarray, col: str, low: int, what: str) -> np.ndarray:
    values = data[col].iloc[rows]
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | (num < low) | (num != np.round(num))
    if bad.any():
        row = values.index[bad.to_numpy()][0]
        raise DataError(
            f"column {col!r} row {row} holds {values[row]!r}: {what}",
            column=col, row=row, value=values[row],
        )  # fmt: skip
    return num.to_numpy(int)


def _person_periods(
    data: pd.DataFrame, customers: np.ndarray, time: str, event: str | None, tenure: str | None
) -> dict:
    if event is None:
        raise SpecError("give event= with time=: the column that is 1 when the customer left, 0 when censored")
    t = _whole(data, customers, time, 1, "time is the number of periods observed after the survey, 1, 2, ...")
    e = _whole(data, customers, event, 0, "event is 1 (left in the last period observed) or 0 (still a customer)")
    if (e > 1).any():
        row = data.index[customers[np.argmax(e > 1)]]
        raise DataError(f"column {event!r} row {row} must be 0 or 1", column=event, row=row)
    ten = np.zeros(len(customers)) if tenure is None else _whole(data, customers, tenure, 0, "tenure is periods >= 0")
    periods = int(t.max())
    pp_row = np.repeat(customers, t)
    start = np.repeat(np.cumsum(t) - t, t)
    pp_period = np.arange(len(pp_row)) - start
    last = pp_period == np.repeat(t, t) - 1
    return {
        "periods": periods,
        "pp_row": pp_row,
        "pp_period": pp_period,
        "pp_tenure": np.repeat(ten, t) + pp_period,
        "pp_event": (last & (np.repeat(e, t) == 1)).astype(int),
    }


def _purchases(data: pd.DataFrame, customers: np.ndarray, cols: Sequence[str]) -> dict:
    if len(cols) != 3:
        raise SpecError(f"purchases= takes three columns (frequency, recency, T), got {list(cols)}")
    f, r, T = (data[c].iloc[customers].to_numpy(float) for c in cols)
    bad = np.isnan(f) | np.isnan(r) | np.isnan(T) | (f < 0) | (r < 0) | (r > T) | ((f == 0) & (r > 0))
    if bad.any():
        row = data.index[customers[np.argmax(bad)]]
        raise DataError(
            f"row {row}: purchases need frequency >= 0, 0 <= recency <= T (recency 0 when frequency is 0); "
            f"got {f[bad][0]}, {r[bad][0]}, {T[bad][0]} in columns {list(cols)}",
            row=row,
        )
    return {"frequency": f, "recency": r, "T": T}
