"""Many fits of one model on Dask: the machinery behind :func:`~loyaltymodels.power_analysis` and
:func:`fit_many`.

- **Where.** ``client=None`` starts a ``LocalCluster`` with one single-threaded worker process per
  core (closed afterwards); a ``dask.distributed.Client`` passed in is used as it is and left open,
  so the same call runs on a cluster. Dask's nanny already sets ``OMP/MKL/OPENBLAS_NUM_THREADS=1``
  in worker processes; tasks also cap BLAS at one thread with threadpoolctl (SEM's matrices are
  small: more threads only fight over the cores).
- **Set-up once per worker.** Parsing the model (SEM: 0.2 s of a 0.3 s fit) and compiling it
  (Bayes: 20-50 s) happen once per worker and model structure, kept in a module-level cache of the
  worker process (:func:`fit_model`), not once per replication.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import ModelCache, one_blas_thread
from ..errors import ArgumentError

__all__ = [
    "dask_client",
    "fit_model",
    "fit_many",
    "progress_bar",
    "batch_size_for",
    "SAMPLE_OPTIONS",
    "TASK_SECONDS",
    "PROBE_REPS",
]

#: Options of ``fit_compiled`` (the rest of a Bayesian ``fit_options`` goes to ``compile_model``).
SAMPLE_OPTIONS = ("draws", "tune", "chains", "cores", "target_accept")
#: R-hat above which a Bayesian replication counts as not converged (see :func:`fit_status`);
#: ``fit_options={"rhat_max": ...}`` changes it.
BAYES_RHAT_MAX = 1.05

#: Work per Dask task that the batch size aims at, in seconds. Each task also costs the scheduler,
#: the shipping of the job and of the records, and one Parquet append on the client: 10-30 ms on a
#: 2-core machine (benchmarks/power.py), which competes for the cores with the workers. A second
#: of work per task keeps that a few percent.
TASK_SECONDS = 1.0
#: Replications of each worker's first (probe) task: the first pays the model's set-up, the second
#: shows what a replication costs once the model is set up.
PROBE_REPS = 2
#: Tasks per worker kept for the rest of the work at the least, so that the workers finish together.
MIN_TASKS_PER_WORKER = 3


def batch_size_for(seconds_per_rep: float, remaining: int, workers: int) -> int:
    """Replications per task: about :data:`TASK_SECONDS` of work, but at least
    :data:`MIN_TASKS_PER_WORKER` tasks per worker for the ``remaining`` replications.

    Examples
    --------
    >>> batch_size_for(0.056, 1000, 2), batch_size_for(0.056, 60, 2), batch_size_for(2.5, 100, 2)
    (18, 10, 1)
    """
    by_time = max(1, round(TASK_SECONDS / max(float(seconds_per_rep), 1e-6)))
    by_balance = max(1, -(-int(remaining) // (MIN_TASKS_PER_WORKER * max(1, int(workers)))))
    return int(min(by_time, by_balance))


#: structure key -> ModelSpec (SEM) or CompiledSEM (Bayes), per process (thread-safe: threaded
#: workers share the process and its cache)
_CACHE: ModelCache = ModelCache(maxsize=16)


@contextmanager
def dask_client(client: Any = None, n_workers: int | None = None, processes: bool = True) -> Iterator[Any]:
    """``client`` as it is, or a local cluster of ``n_workers`` single-threaded workers (default: one
    per core) that is closed on exit."""
    if client is not None:
        yield client
        return
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    # The scheduler runs in this process and logs at INFO on "distributed"; once anything has given
    # the root logger a handler (semopy logs at import, which calls logging.basicConfig), every line
    # of the cluster's life would print: silence_logs only sets the workers' level.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        # ":0": the scheduler always serves HTTP; a random port never collides with another cluster
        with (
            LocalCluster(
                n_workers=n_workers or CPU_COUNT,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as local,
        ):
            yield local
    finally:
        quiet.setLevel(level)


def progress_bar(total: int, desc: str, enabled: bool, initial: int = 0) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="fit", disable=not enabled)


def worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


def _key(estimator: str, model: str, data: pd.DataFrame, options: Mapping[str, Any]) -> str:
    group = options.get("group")
    labels = [str(x) for x in pd.unique(data[group].dropna())] if group else []
    opts = {k: v for k, v in options.items() if k not in SAMPLE_OPTIONS}
    return json.dumps([estimator, model, labels, opts], sort_keys=True, default=str)


def fit_model(
    model: str,
    data: pd.DataFrame,
    estimator: str = "sem",
    options: Mapping[str, Any] | None = None,
    seed: int | None = None,
    reuse: bool = True,
) -> tuple[Any, bool]:
    """Fit ``model`` to ``data``, reusing this process's parsed or compiled model of the structure.

    Returns ``(fit, setup)``: a :class:`~loyaltymodels.SemFit` or a posterior DataTree, and whether
    this call paid the set-up (parsing the model, or compiling it). ``reuse=False`` always pays it
    (to measure what the cache saves).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3", n=200, seed=1)
    >>> (fit, setup), (again, setup2) = [fit_model("f =~ x1 + x2 + x3", data) for _ in range(2)]
    >>> setup, setup2, again.spec is fit.spec
    (True, False, True)
    """
    options = {k: v for k, v in (options or {}).items() if k != "rhat_max"}
    key = _key(estimator, model, data, options)
    cached = _CACHE.get(key) if reuse else None
    if estimator == "sem":
        from ..sem.fit import fit_sem

        fit = fit_sem(cached if cached is not None else model, data, **options)
        if cached is None and reuse:
            _CACHE.put(key, fit.spec)  # exactly the spec fit_sem builds: passing it back is free
        return fit, cached is None
    if estimator != "bayes":
        raise ArgumentError(f"estimator={estimator!r}: choose 'sem' or 'bayes'")
    from ..bayes.fit import compile_model, fit_compiled
    from ..errors import DataError

    sample = {"cores": 1, **{k: options.pop(k) for k in SAMPLE_OPTIONS if k in options}}
    setup = cached is None
    compiled = cached if cached is not None else compile_model(model, data, cache=reuse, **options)
    try:
        post = fit_compiled(compiled, data, seed=seed, progressbar=False, check=False, **sample)
    except DataError:  # another missing-data pattern: compile_model's own cache is keyed by it
        compiled, setup = compile_model(model, data, **options), True
        post = fit_compiled(compiled, data, seed=seed, progressbar=False, check=False, **sample)
    if cached is None and reuse:
        _CACHE.put(key, compiled)
    return post, setup


def fit_status(fit: Any, estimator: str, rhat_max: float | None = None) -> tuple[bool, str]:
    """``(converged, warnings)`` of a fit that returned.

    SEM: ``fit_sem`` raises when it does not converge; its warnings (Heywood cases...) are kept.
    Bayes: every flag of :func:`~loyaltymodels.check_convergence` at its thresholds is summarised in
    the warnings, but only an R-hat above ``rhat_max`` (default :data:`BAYES_RHAT_MAX`: a chain
    stuck elsewhere, such as the sign trap of marker identification) or a divergent transition
    makes the replication count as not converged. The 1.01 threshold flags a few of 60 parameters
    in many healthy short runs, which would turn the power denominator into a selected subset.
    """
    if estimator == "sem":
        return bool(fit.converged), " | ".join(fit.warnings)
    from ..bayes.diagnostics import check_convergence

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = check_convergence(fit, warn=False)
    limit = BAYES_RHAT_MAX if rhat_max is None else float(rhat_max)
    failed = bool(((table.check == "rhat") & (table.value > limit)).any() or (table.check == "divergences").any())
    notes = []
    for check, g in table.groupby("check", sort=False):
        where = f" at {g.parameter.iloc[0]}" if g.parameter.iloc[0] else ""
        notes.append(f"{check}: {len(g)} flagged (worst {g.value.iloc[0]:.4g}{where})")
    return not failed, " | ".join(notes)


# -- fit_many --------------------------------------------------------------------------------------
def _fit_dataset(
    model: str,
    name: Any,
    data: pd.DataFrame,
    estimator: str,
    options: dict,
    seed: int | None,
    measures: tuple[str, ...],
) -> pd.DataFrame:
    started = time.perf_counter()
    glance: dict[str, Any] = {}
    try:
        with one_blas_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # recorded in the table, not printed by every worker
            fit, _ = fit_model(model, data, estimator, options, seed=seed)
            converged, notes = fit_status(fit, estimator, options.get("rhat_max"))
            if estimator == "sem":
                params = fit.parameters.copy()
                glance = {m: fit.fit_measures.get(m, np.nan) for m in measures}
            else:
                from ..bayes.fit import bayes_summary

                params = bayes_summary(fit)
                glance = {
                    "max_rhat": float(params.r_hat.max()),
                    "min_ess_bulk": float(params.ess_bulk.min()),
                    "divergences": int(fit["sample_stats"]["diverging"].sum()),
                }
        error = ""
    except Exception as err:
        params, converged, notes, error = pd.DataFrame(index=[0]), False, "", f"{type(err).__name__}: {err}"
    head = {"dataset": name, "converged": converged, "error": error, "nobs": len(data)}
    tail = {"warnings": notes, "seconds": time.perf_counter() - started, **{f"fit_{k}": v for k, v in glance.items()}}
    for k, (col, value) in enumerate(head.items()):
        params.insert(k, col, value)
    return params.assign(**tail)


def _split_datasets(
    datasets: pd.DataFrame | Mapping[Any, pd.DataFrame] | Sequence[pd.DataFrame], by: str | None
) -> dict:
    if isinstance(datasets, pd.DataFrame):
        if by is None:
            raise ArgumentError("a single DataFrame needs by=<column> naming the data sets (brand, wave...)")
        if by not in datasets.columns:
            raise ArgumentError(f"by={by!r} is not a column of the data")
        return {k: g.drop(columns=by) for k, g in datasets.groupby(by, sort=False, dropna=False)}
    if isinstance(datasets, Mapping):
        return dict(datasets)
    return dict(enumerate(datasets))


#: Fit measures copied into every row of :func:`fit_many`'s table (lavaan's names, prefixed ``fit_``).
FIT_MEASURES = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic")


def fit_many(
    model: str,
    datasets: pd.DataFrame | Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame],
    *,
    by: str | None = None,
    estimator: str = "sem",
    client: Any = None,
    n_workers: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    measures: Sequence[str] = FIT_MEASURES,
    **fit_options: Any,
) -> pd.DataFrame:
    """Fit one model to many data sets (brands, waves, countries) on Dask; one tidy table out.

    Parameters
    ----------
    model : str
        lavaan syntax.
    datasets : dict name -> DataFrame, list of DataFrames, or one DataFrame with ``by``
        The data sets (a list is named 0, 1, ...).
    by : str, optional
        Column of a single DataFrame that names the data sets (in order of appearance; the column
        is dropped before fitting).
    estimator : {"sem", "bayes"}
        :func:`~loyaltymodels.fit_sem`, or the Bayesian model compiled once per worker
        (:func:`~loyaltymodels.compile_model` / :func:`~loyaltymodels.fit_compiled`).
    client : dask.distributed.Client, optional
        Used as is; default: a local cluster with ``n_workers`` (default: one per core).
    seed : int, optional
        Bayes: data set ``k`` samples with a seed from ``SeedSequence(seed, spawn_key=(k,))``.
    measures : sequence of str
        SEM fit measures (lavaan's names, see :mod:`loyaltymodels.sem.measures`) to include.
    **fit_options
        Passed to ``fit_sem`` or ``compile_model`` (``group=``, ``group_equal=``...), and
        ``draws, tune, chains, cores`` to ``fit_compiled``.

    Returns
    -------
    DataFrame
        One row per data set and parameter: ``dataset, converged, error, nobs``, the parameter table
        of that fit (``fit.parameters``, or :func:`~loyaltymodels.bayes_summary`), then the data
        set's ``warnings, seconds`` and its fit as wide columns: ``fit_chisq, fit_df, fit_pvalue,
        fit_cfi, ...`` (Bayes: ``fit_max_rhat, fit_min_ess_bulk, fit_divergences``), repeated on its
        rows so that ``table.drop_duplicates("dataset")`` is the one-row-per-data-set view. A data set
        that failed has one row with its error and no estimates; none is dropped.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> data, _ = lm.loyalty_scenario(150, sectors=["retail", "banking"], seed=1)
    >>> table = lm.fit_many(lm.loyalty_model(), data, by="sector")  # doctest: +SKIP
    >>> table.query("op == '~'")[["dataset", "rhs", "est", "std_all"]]  # doctest: +SKIP
    >>> table.drop_duplicates("dataset")[["dataset", "fit_chisq", "fit_cfi", "fit_rmsea"]]  # doctest: +SKIP
    """
    sets = _split_datasets(datasets, by)
    names = list(sets)
    root = np.random.SeedSequence(seed).entropy
    seeds = [int(np.random.SeedSequence(root, spawn_key=(k,)).generate_state(1)[0]) for k in range(len(names))]
    results: dict = {}
    with dask_client(client, n_workers) as c:
        from distributed import as_completed

        futures = {
            c.submit(
                _fit_dataset, model, name, sets[name], estimator, dict(fit_options), s, tuple(measures), pure=False
            ): name
            for name, s in zip(names, seeds)
        }
        bar = progress_bar(len(futures), "fit_many", progress)
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update(1)
        bar.close()
    return pd.concat([results[k] for k in names], ignore_index=True)
