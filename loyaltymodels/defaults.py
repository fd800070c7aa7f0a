"""The package's cross-cutting defaults and policies, in one place: interval masses, seeds, BLAS
threads, and the in-process cache of compiled or parsed models."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

__all__ = ["CI_ML", "CI_POSTERIOR", "ModelCache", "labelled_interval", "one_blas_thread", "resolve_seed"]

#: Mass of the equal-tailed credible intervals of posterior summaries. ArviZ 1.x's own default is
#: 0.89 (``arviz_base.rcParams["stats.ci_prob"]``); 90% is the round number next to it that
#: blavaan users read, and it keeps the tails' Monte Carlo error small at 4 x 1000 draws.
CI_POSTERIOR = 0.90
#: Mass of the confidence intervals of ML estimates and of the survey indices: lavaan's
#: ``parameterEstimates(level = 0.95)``, the convention of published NPS and CSAT intervals.
CI_ML = 0.95


def labelled_interval(table: pd.DataFrame, mass: float) -> pd.DataFrame:
    """``table`` with ``attrs["ci"] = mass``: every table with ``ci_lower``/``ci_upper`` says its
    level (pandas keeps ``attrs`` through copies, selections and ``round``)."""
    table.attrs["ci"] = float(mass)
    return table


def resolve_seed(seed: int | np.integer | None) -> int:
    """The seed a fit records: ``seed`` itself, or fresh entropy when it is ``None`` (so every
    result can be reproduced from its attributes, whether or not the user chose a seed).

    Examples
    --------
    >>> resolve_seed(7), 0 <= resolve_seed(None) < 2 ** 31
    (7, True)
    """
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)  # drawn fresh from the OS: one int, never None or a sequence
        return int(entropy % (2**31))
    return int(seed)


_BLAS: Any = None


def one_blas_thread() -> Any:
    """Limit BLAS to one thread (a context manager; called bare, the limit stays).

    The package's matrices are small (tens of rows): OpenBLAS's threads beside the samplers' chains
    or Dask's workers only contend for the cores (one small solve took 20-30 ms instead of
    microseconds on a shared 2-core machine). The controller is built once per process: building
    it inspects every loaded library (about a millisecond).
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


V = TypeVar("V")


class ModelCache[V]:
    """The in-process cache of models keyed by their structure: least recently used out first.

    One policy for every cache of the package (compiled Bayesian SEMs, compiled loyalty models,
    parsed specifications of replications): bounded, so a long session fitting many structures
    does not hold every compiled model, and safe under threads (Dask's threaded workers share
    the process).

    Examples
    --------
    >>> cache = ModelCache(maxsize=2)
    >>> for k in "abc":
    ...     _ = cache.put(k, k.upper())
    >>> cache.get("a"), cache.get("c"), len(cache)
    (None, 'C', 2)
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = int(maxsize)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items
