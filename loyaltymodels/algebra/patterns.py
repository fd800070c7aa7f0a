"""Rows grouped by the variables they answer (missing-data patterns), with their sample moments.

Full-information ML, the Bayesian sufficient statistics and the pointwise normal density all sum
over the same patterns, so they are found once, here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Pattern", "missing_patterns", "sample_moments"]


@dataclass(frozen=True)
class Pattern:
    """Rows of one group that share one pattern of observed variables.

    ``idx`` the positions of the observed variables, ``rows`` the rows' positions in the data they
    came from, ``y`` their observed values ``(n, len(idx))``, ``mean`` and ``cov`` (1/n) the
    pattern's sample moments, ``group`` the group it belongs to (1-based, as the parameter table).
    With sampling ``weights`` (one per row), ``mean`` and ``cov`` are weighted (divided by the
    weights' sum) and ``size`` is that sum; without, ``size`` is ``n``.
    """

    idx: np.ndarray
    rows: np.ndarray
    n: int
    mean: np.ndarray
    cov: np.ndarray
    y: np.ndarray
    group: int = 1
    weights: np.ndarray | None = None

    @property
    def size(self) -> float:
        """What the pattern weighs in a likelihood: its number of rows, or its weights' sum."""
        return float(self.n) if self.weights is None else float(self.weights.sum())


def sample_moments(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample covariance (divided by N, as lavaan's ML) and mean of complete rows ``y`` ``(N, p)``.

    Examples
    --------
    >>> cov, mean = sample_moments(np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> cov.tolist(), mean.tolist()
    ([[1.0, 2.0], [2.0, 4.0]], [2.0, 4.0])
    """
    y = np.asarray(y, dtype=float)
    n, p = y.shape
    mean = y.mean(axis=0)
    if n <= _BLOCK:  # np.cov's arithmetic, to the last bit: fits reproduce earlier results exactly
        return np.cov(y, rowvar=False, bias=True).reshape(p, p), mean
    # centred cross-products in blocks of rows, not np.cov(y, rowvar=False): on row-major rows
    # np.cov multiplies a transposed, strided copy (0.6-1.1 s for a million rows of 9 items against
    # 0.06 s here; they agree to 2e-16), and blocks keep a million rows from needing a full copy
    cov = np.zeros((p, p))
    for start in range(0, n, _BLOCK):
        dev = y[start : start + _BLOCK] - mean
        cov += dev.T @ dev
    return cov / n, mean


#: Rows per block of :func:`sample_moments` (a 2 MB temporary at 32 items).
_BLOCK = 8192


def missing_patterns(
    y: np.ndarray, rows: np.ndarray | None = None, group: int = 1, weights: np.ndarray | None = None
) -> tuple[Pattern, ...]:
    """The rows of ``y`` grouped by the set of variables they observe, largest pattern first.

    Rows with nothing observed belong to no pattern (they carry no information). ``rows`` gives
    the rows' positions in a larger data set (default ``0..N-1``). With sampling ``weights`` the
    patterns' moments are weighted (see :class:`Pattern`).

    Examples
    --------
    >>> y = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0], [np.nan, np.nan]])
    >>> [(p.idx.tolist(), p.rows.tolist()) for p in missing_patterns(y)]
    [([0, 1], [0, 2]), ([1], [1])]
    """
    y = np.asarray(y, dtype=float)
    rows = np.arange(len(y)) if rows is None else np.asarray(rows)
    observed = ~np.isnan(y)
    if observed.all():  # complete data, the common case: one pattern, no sorting
        cov, mean = sample_moments(y)
        return (Pattern(np.arange(y.shape[1]), rows, len(y), mean, cov, y, group),) if len(y) else ()
    # each row's pattern as one number (its bits packed), so grouping a million rows is a sort of
    # integers, not of boolean rows (numpy's unique(axis=0) sorts rows lexically: 40x slower)
    packed = np.packbits(observed, axis=1, bitorder="little")
    width = packed.shape[1]
    if width <= 8:
        code = np.zeros((len(y), 8), np.uint8)
        code[:, :width] = packed
        keys = code.view("<u8").ravel()
    else:
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    by_pattern = np.argsort(inverse, kind="stable")  # rows grouped by pattern, in data order within
    ends = np.cumsum(counts)
    out = []
    for k in np.argsort(-counts, kind="stable"):  # largest first; ties in key order
        members = by_pattern[ends[k] - counts[k] : ends[k]]
        idx = np.flatnonzero(observed[members[0]])
        if not len(idx):
            continue
        sub = y[np.ix_(members, idx)]
        if weights is None:
            cov, mean = sample_moments(sub)
            out.append(Pattern(idx, rows[members], len(members), mean, cov, sub, group))
        else:
            w = np.asarray(weights, dtype=float)[members]
            mean = w @ sub / w.sum()
            dev = sub - mean
            cov = (dev * w[:, None]).T @ dev / w.sum()
            out.append(Pattern(idx, rows[members], len(members), mean, cov, sub, group, w))
    return tuple(out)
