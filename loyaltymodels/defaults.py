"""The package's cross-cutting defaults and policies, in one place: interval masses, seeds (and the
checks of seeds and sampler settings every back end shares), BLAS threads, and the in-process cache of
compiled or parsed models."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .errors import ArgumentError

__all__ = [
    "show_progress",
    "CI_ML",
    "CI_POSTERIOR",
    "ModelCache",
    "check_sampler_args",
    "check_seed",
    "labelled_interval",
    "one_blas_thread",
    "resolve_seed",
]

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


def show_progress(progress: bool | None) -> bool:
    """Whether long work shows a progress bar: ``progress`` when given, else on in a notebook
    (an IPython kernel) or when standard error is a terminal, off in scripts whose output is
    captured (logs, CI) where a bar would only add carriage returns.

    >>> show_progress(False), show_progress(True)
    (False, True)
    """
    if progress is not None:
        if not isinstance(progress, (bool, np.bool_)):
            raise ArgumentError(f"progress={progress!r} must be True, False or None (automatic)")
        return bool(progress)
    import sys

    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def check_seed(seed: Any, *, name: str = "seed", generator: bool = False) -> None:
    """Raise :class:`~loyaltymodels.errors.ArgumentError` unless ``seed`` is ``None`` or a
    non-negative integer (or, with ``generator=True``, a NumPy ``Generator``).

    NumPy's own messages ("expected non-negative integer", "SeedSequence expects int or sequence
    of ints for entropy not 1.5") name neither the argument nor the fix; a float or a bool is
    refused rather than truncated, because ``seed=1.5`` and ``seed=1`` would give the same draws.

    Examples
    --------
    >>> check_seed(7), check_seed(None)
    (None, None)
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.ArgumentError: seed=-1: a seed is a non-negative integer (e.g. seed=1), or None ...
    """
    if seed is None or (generator and isinstance(seed, np.random.Generator)):
        return
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return
    also = " or a numpy Generator" if generator else ""
    raise ArgumentError(
        f"{name}={seed!r}: a seed is a non-negative integer (e.g. {name}=1){also}, or None for fresh entropy"
    )


def check_sampler_args(
    *,
    draws: Any = 1,
    tune: Any = 0,
    chains: Any = 1,
    cores: Any = None,
    seed: Any = None,
    target_accept: Any = None,
) -> None:
    """Check the MCMC settings shared by every sampler of the package before anything is compiled.

    ``draws`` and ``chains`` are integers of at least 1, ``tune`` an integer of at least 0,
    ``cores`` ``None`` or at least 1, ``seed`` as :func:`check_seed`, ``target_accept`` ``None`` or
    strictly between 0 and 1. A float such as ``draws=500.0`` is refused rather than truncated.

    Raises
    ------
    ArgumentError
        Naming the argument, the value and what to pass instead.

    Examples
    --------
    >>> check_sampler_args(draws=1000, tune=1000, chains=4, seed=1)
    >>> check_sampler_args(draws=0)
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.ArgumentError: draws=0: draws per chain must be an integer of at least 1 (1000 is usual)
    """
    wanted = {
        "draws": (draws, 1, "draws per chain", "1000 is usual"),
        "tune": (tune, 0, "tuning draws per chain", "1000 is usual"),
        "chains": (chains, 1, "the number of chains", "4 is usual"),
    }
    if cores is not None:
        wanted["cores"] = (cores, 1, "the number of cores", "or None for all of them")
    for name, (value, least, what, hint) in wanted.items():
        integral = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        if not integral or value < least:
            raise ArgumentError(f"{name}={value!r}: {what} must be an integer of at least {least} ({hint})")
    check_seed(seed)
    if target_accept is not None:
        ok = isinstance(target_accept, (int, float, np.floating)) and not isinstance(target_accept, bool)
        if not ok or not 0 < float(target_accept) < 1:
            raise ArgumentError(
                f"target_accept={target_accept!r}: the target acceptance rate lies strictly between 0 and 1 (e.g. 0.9)"
            )


def resolve_seed(seed: int | np.integer | None) -> int:
    """The seed a fit records: ``seed`` itself, or fresh entropy when it is ``None`` (so every
    result can be reproduced from its attributes, whether or not the user chose a seed).

    Examples
    --------
    >>> resolve_seed(7), 0 <= resolve_seed(None) < 2 ** 31
    (7, True)
    """
    check_seed(seed)
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
