"""Data for the Bayesian back end: the model's items per respondent, groups, ordinal codes, and
the sufficient statistics (per group and missing-data pattern) the marginal likelihood needs.

Everything here is data-valued; what is structural (which items, how many groups, patterns and
respondents) goes into :func:`DataSummary.structure_key` so a compiled model can be reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ..algebra.patterns import Pattern, missing_patterns, sample_moments
from ..data.validate import validate_data
from ..defaults import ModelCache
from ..errors import DataError
from ..spec.model import ModelSpec, as_spec

MISSING = ("fiml", "listwise")


@dataclass(frozen=True)
class DataSummary:
    """The data as the model sees them (``y`` in ``items`` order, NaN where missing)."""

    items: tuple[str, ...]
    y: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)  # 1-based group of each respondent
    group_labels: tuple = ()
    index: np.ndarray | None = field(repr=False, default=None)  # row labels of the input data
    patterns: tuple[Pattern, ...] = field(repr=False, default=())
    ordinal: dict = field(default_factory=dict)  # item -> sorted category values
    missing: str = "fiml"
    group_column: str | None = None

    @property
    def n(self) -> int:
        return len(self.y)

    def structure_key(self, conditional: bool) -> tuple:
        pats = tuple((p.group, tuple(p.idx)) for p in self.patterns)
        # the conditional graph holds each group's respondents (their rows) as constants: the same
        # sizes in another order must not reuse it
        sizes = (tuple(np.bincount(self.group)[1:]), self.group.tobytes()) if conditional else ()
        return (self.items, pats, sizes, tuple((k, len(v)) for k, v in self.ordinal.items()))

    def codes(self, item: str) -> np.ndarray:
        """0-based category codes of an ordinal item (-1 where missing)."""
        j = self.items.index(item)
        y, cats = self.y[:, j], np.asarray(self.ordinal[item], float)
        out = np.full(len(y), -1)
        ok = ~np.isnan(y)
        out[ok] = np.searchsorted(cats, y[ok])
        return out


def ordinal_items(
    data: pd.DataFrame, items: Sequence[str], ordinal: str | Sequence[str] | Literal[False] | None
) -> list[str]:
    """Resolve ``ordinal=`` (None, a list of items, or ``"auto"``: integer-valued items with at most
    11 categories, i.e. rating scales up to 0-10)."""
    if ordinal is None or ordinal is False:
        return []
    if isinstance(ordinal, str) and ordinal == "auto":
        out = []
        for v in items:
            x = pd.to_numeric(data[v], errors="coerce").dropna().to_numpy()
            if len(x) and np.all(x == np.round(x)) and 2 <= len(np.unique(x)) <= 11:
                out.append(v)
        return out
    ordinal = [ordinal] if isinstance(ordinal, str) else list(ordinal)
    unknown = [v for v in ordinal if v not in items]
    if unknown:
        raise DataError(f"ordinal items {unknown} are not observed variables of the model ({list(items)})")
    return ordinal


def prepare(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    group: str | None = None,
    group_equal: str | Sequence[str] = (),
    ordinal: str | Sequence[str] | None = None,
    missing: str = "fiml",
    **options: Any,
) -> tuple[ModelSpec, DataSummary]:
    """The spec (with the groups and thresholds the data call for) and the :class:`DataSummary`."""
    if missing not in MISSING:
        raise DataError(f"missing must be one of {MISSING}, not {missing!r}")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    # a mean structure always, as blavaan: the likelihood per respondent (LOO) needs the means
    options.setdefault("meanstructure", True)
    base = as_spec(model, **options)
    items = list(base.observed)
    frame, _report = validate_data(base, data, group=group, missing=missing)
    ords = ordinal_items(frame, items, ordinal)
    categories = {v: np.unique(frame[v].dropna().to_numpy(float)) for v in ords}
    for v, cats in categories.items():
        if len(cats) < 2:
            raise DataError(f"ordinal item {v!r} has fewer than two categories in the data", column=v)
    opts = dict(options)
    if group is not None:
        levels = list(pd.unique(frame[group].dropna()))
        opts.update(ngroups=len(levels), group_labels=levels)
    if group_equal:
        opts["group_equal"] = tuple([group_equal] if isinstance(group_equal, str) else group_equal)
    if ords:
        opts["ordinal"] = {v: len(c) - 1 for v, c in categories.items()}
    spec = as_spec(model, **opts)
    labels = tuple(spec.group_labels)
    if group is None:
        gidx = np.ones(len(frame), int)
    else:
        gidx = frame[group].map({lab: k + 1 for k, lab in enumerate(labels)}).to_numpy(int)
    y = _item_block(frame, list(spec.observed))
    patterns = _patterns(y, gidx, spec.ngroups)
    return spec, DataSummary(
        tuple(spec.observed), y, gidx, labels, frame.index.to_numpy(), patterns, categories, missing, group
    )


def _item_block(frame: pd.DataFrame, items: list[str]) -> np.ndarray:
    """The items as one read-only column-major float block ``(n, p)``.

    validate_data builds its frame on one fresh block already (items in the spec's order): when
    the frame's columns are, address by address, that block's columns, the block is returned
    without a copy. A copy of a million respondents' items is 72 MB of fresh memory, whose first
    touch cost 0.3-1.4 s of fit_bayes's call on this (sandboxed) machine; numpy and pandas offer no
    public way to get a mixed-dtype frame's float block back, hence the check by hand (rows
    dropped: validate_data's ``frame.loc`` made a block of its own, read the same way). Otherwise
    (another order, another frame) the items are copied column by column (what
    ``frame[columns]`` returns, without its take: 0.66 of 1.8 s on a million respondents)."""
    n, p = len(frame), len(items)
    cols = [frame[v].to_numpy() for v in items]
    if n and all(c.dtype == np.float64 and c.ndim == 1 and c.strides == (8,) for c in cols):
        start = cols[0].__array_interface__["data"][0]
        owner = _owner(cols[0])
        if all(
            c.__array_interface__["data"][0] == start + 8 * n * j and _owner(c) is owner for j, c in enumerate(cols)
        ):
            # the p columns lie end to end in one allocation: an (n, p) Fortran block, kept alive
            # by cols[0]'s base
            block = np.lib.stride_tricks.as_strided(cols[0], shape=(n, p), strides=(8, 8 * n), writeable=False)
            return block
    y = np.empty((n, p), order="F")
    for j, c in enumerate(cols):
        y[:, j] = c.astype(float, copy=False)
    y.flags.writeable = False
    return y


def _owner(a: np.ndarray) -> object:
    """The object that owns ``a``'s memory (the end of its chain of bases)."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def _patterns(y: np.ndarray, group: np.ndarray, ngroups: int) -> tuple[Pattern, ...]:
    out: list[Pattern] = []
    for g in range(1, ngroups + 1):
        if ngroups == 1:  # no copy of a million rows for the common one-group case
            out += missing_patterns(y, group=g)
            continue
        rows = np.flatnonzero(group == g)
        if not len(rows):
            raise DataError(f"group {g} has no respondents")
        out += missing_patterns(y[rows], rows=rows, group=g)
    return tuple(out)


def item_stats(spec: ModelSpec, summary: DataSummary) -> dict[str, dict[Any, Any]]:
    """Per (item, group): mean, variance and probit cut points of the margins (starting values,
    fixed-x moments). Computed once per data summary (starting values, the fixed rows and the
    compiled density all ask for them; on a million respondents each pass costs a second)."""
    key = (id(summary), spec.ngroups)
    hit = _STATS.get(key)
    if hit is not None and hit[0] is summary:
        return hit[1]
    out = _item_stats(spec.ngroups, summary)
    _STATS.put(key, (summary, out))
    return out


_STATS: ModelCache[tuple[DataSummary, dict[str, dict[Any, Any]]]] = ModelCache(maxsize=2)


#: Respondents in a group above which its item moments are read off its complete-data pattern.
_BIG = 8192


def _item_stats(ngroups: int, summary: DataSummary) -> dict[str, dict[Any, Any]]:
    out: dict[str, dict[Any, Any]] = {"mean": {}, "var": {}, "cuts": {}, "cov": {}}
    p = len(summary.items)
    for g in range(1, ngroups + 1):
        pats = [pt for pt in summary.patterns if pt.group == g]
        big = len(pats) == 1 and pats[0].n > _BIG
        if big and len(pats[0].idx) == p and pats[0].weights is None and not summary.ordinal:
            # complete data: the group's one pattern already holds its moments (a million rows
            # cost a second per pass: copy, mean, variance, covariance); smaller data keep the
            # passes below, whose arithmetic earlier fits' starting values came from
            mean, cov = pats[0].mean, pats[0].cov
            for j, v in enumerate(summary.items):
                out["mean"][(v, g)], out["var"][(v, g)] = float(mean[j]), float(cov[j, j])
            out["cov"][g] = pd.DataFrame(cov.copy(), index=summary.items, columns=summary.items)
            continue
        y = summary.y if ngroups == 1 else summary.y[summary.group == g]
        seen = ~np.isnan(y)
        if seen.all():
            mean, var = y.mean(axis=0), y.var(axis=0)
        else:
            n = seen.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n > 0, np.nansum(y, axis=0) / np.maximum(n, 1), 0.0)
                var = np.where(n > 1, np.nansum((y - mean) ** 2, axis=0) / np.maximum(n, 1), 1.0)
        for j, v in enumerate(summary.items):
            out["mean"][(v, g)] = float(mean[j])
            out["var"][(v, g)] = float(var[j])
            if v in summary.ordinal:
                x = y[:, j][seen[:, j]]
                cats = summary.ordinal[v]
                cum = np.array([(x <= c).mean() for c in cats[:-1]])
                out["cuts"][(v, g)] = ndtri(np.clip(cum, 0.01, 0.99))
        if seen.all():  # pandas' pairwise-complete covariance only where values are missing
            cov, _ = sample_moments(y)  # np.cov up to 8192 rows, blocks of rows beyond
            out["cov"][g] = pd.DataFrame(cov, index=summary.items, columns=summary.items)
        else:
            out["cov"][g] = pd.DataFrame(y, columns=summary.items).cov(ddof=0)
    return out


def fixed_values(spec: ModelSpec, stats: dict[str, dict[Any, Any]]) -> np.ndarray:
    """The table's fixed values, exogenous (fixed.x) rows set to the sample moments of their group;
    free rows and ``:=`` rows hold 0 (they are filled elsewhere)."""
    t = spec.table
    values = t["value"].to_numpy(float).copy()
    for r in np.flatnonzero(t.exo.to_numpy()):
        lhs, op, rhs, g = t.lhs.iat[r], t.op.iat[r], t.rhs.iat[r], t.group.iat[r]
        values[r] = stats["mean"][(lhs, g)] if op == "~1" else float(stats["cov"][g].loc[lhs, rhs])
    values[np.isnan(values)] = 0.0
    return values
