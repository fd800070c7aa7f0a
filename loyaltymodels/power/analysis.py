"""Power analysis by simulation: how many respondents does a survey need to detect an effect?

For each sample size, :func:`power_analysis` draws ``reps`` data sets from a :class:`Scenario`
(known truth), fits the model (ML SEM or Bayesian SEM), asks each :class:`Target` whether it
detects its effect, and returns the detection rate with its Wilson Monte Carlo interval, the bias
and RMSE of the key estimates, and the number of failed fits.

Reproducibility: replication ``rep`` at sample size ``n`` draws from
``SeedSequence(seed, spawn_key=(n, rep))`` -- the stream ``SeedSequence(seed).spawn(n + 1)[n]
.spawn(rep + 1)[rep]`` -- so its data and fit do not depend on the number of workers, the order in
which replications finish, a resume, or which other sample sizes are in the study. Replications
run as Dask tasks (batches sized by time, or ``batch_size``) and every finished batch is appended to a Parquet
store (:mod:`loyaltymodels.power.store`), from which a rerun resumes.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import CI_ML, check_seed, one_blas_thread
from ..errors import ArgumentError
from ..spec.provenance import jsonable
from .batch import PROBE_REPS, batch_size_for, dask_client, fit_model, fit_status, progress_bar, worker_name
from .scenarios import Scenario
from .store import SCHEMA, append, completed, open_store, read_records
from .summary import power_summary
from .targets import Target, as_targets

__all__ = ["power_analysis", "read_power_records", "replication_seed", "ESTIMATORS"]

#: ``"none"``: no model is fitted; each target receives the simulated data (a statistic computed
#: from the data, such as an index or a regression on composite scores).
ESTIMATORS = ("sem", "bayes", "none")


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker needs to run replications (shipped with each task; small)."""

    scenario: Scenario
    targets: tuple[Target, ...]
    estimator: str
    fit_options: Mapping[str, Any]
    entropy: int
    reuse: bool = True


def replication_seed(entropy: int, n: int, rep: int) -> np.random.SeedSequence:
    """The random stream of replication ``rep`` at sample size ``n``.

    Examples
    --------
    >>> a = replication_seed(2026, 300, 7)
    >>> b = np.random.SeedSequence(2026).spawn(301)[300].spawn(8)[7]
    >>> bool((a.generate_state(4) == b.generate_state(4)).all())
    True
    """
    return np.random.SeedSequence(entropy, spawn_key=(int(n), int(rep)))


def run_replication(job: Job, n: int, rep: int) -> list[dict]:
    """One replication: draw, fit, evaluate every target; records as in ``power_store.SCHEMA``."""
    data_seq, fit_seq = replication_seed(job.entropy, n, rep).spawn(2)
    base = dict(
        n=int(n), rep=int(rep), seed_entropy=str(job.entropy), spawn_key=f"{n},{rep}", worker=worker_name(), setup=False
    )
    started = time.perf_counter()
    fit, truth, converged, error, notes = None, None, False, "", ""
    with one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded in the `warnings` column, not printed per worker
        try:
            data, truth = job.scenario.generate(n, np.random.default_rng(data_seq))
            if job.estimator == "none":  # the targets compute their statistic from the data
                fit, converged = data, True
            else:
                fit, base["setup"] = fit_model(
                    job.scenario.fitted_model(truth),
                    data,
                    job.estimator,
                    job.fit_options,
                    seed=int(fit_seq.generate_state(1)[0]),
                    reuse=job.reuse,
                )
                converged, notes = fit_status(fit, job.estimator, job.fit_options.get("rhat_max"))
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
        rows: list[dict[str, Any]] = []
        params: dict[str, dict[str, Any]] = {}
        for target in job.targets:
            row = dict(
                kind="target",
                quantity=target.name,
                detected=None,
                estimate=np.nan,
                se=np.nan,
                truth=np.nan,
                error=error,
            )
            if fit is not None:
                try:
                    out = target.check(fit, truth, job.estimator)
                    row.update(
                        detected=bool(out["detected"]), estimate=out["estimate"], se=out["se"], truth=out["truth"]
                    )
                    for p in out.get("parameters", []):
                        params.setdefault(p["quantity"], dict(kind="parameter", detected=None, error="", **p))
                except Exception as err:
                    row["error"] = f"target {target.name}: {type(err).__name__}: {err}"
            rows.append(row)
    elapsed = time.perf_counter() - started
    return [
        {**base, **r, "converged": converged and not r["error"], "warnings": notes, "elapsed": elapsed}
        for r in rows + list(params.values())
    ]


def run_batch(job: Job, keys: Sequence[tuple[int, int]]) -> pd.DataFrame:
    """A Dask task: several replications (amortises the per-task scheduling cost)."""
    rows = [r for n, rep in keys for r in run_replication(job, n, rep)]
    return pd.DataFrame(rows, columns=SCHEMA.names)


def _entropy(seed: int | None) -> int:
    check_seed(seed)
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)  # drawn fresh from the OS: one int, never None or a sequence
        return entropy
    return int(seed)


def power_analysis(
    scenario: Scenario | Callable,
    n: Sequence[int],
    reps: int = 1000,
    *,
    estimator: str = "sem",
    target: Target | Callable | Sequence,
    seed: int | None = None,
    client: Any = None,
    n_workers: int | None = None,
    store: str | Path | None = None,
    batch_size: int | None = None,
    fit_options: Mapping[str, Any] | None = None,
    ci: float = CI_ML,
    progress: bool = True,
    stop_after: int | None = None,
    reuse: bool = True,
) -> pd.DataFrame:
    """Detection rate of each target at each sample size, by simulation on Dask.

    Parameters
    ----------
    scenario : Scenario or callable
        What to simulate and fit (:func:`loyalty_power_scenario`, :func:`model_power_scenario`, or a
        callable ``(n, rng) -> (data, truth)`` whose ``truth.attrs["model"]`` names the model).
    n : sequence of int
        Sample sizes (per sector for loyalty scenarios: the column is then ``n_per_sector``).
    reps : int
        Replications per sample size.
    estimator : {"sem", "bayes", "none"}
        ML SEM (:func:`~loyaltymodels.fit_sem`) or Bayesian SEM, compiled once per worker; or
        ``"none"``: no model is fitted and each target receives the simulated data frame (a
        statistic computed from the data: an index difference, a regression on scores).
    target : Target, callable or list
        :func:`weights_differ`, :func:`parameter_nonzero`, or ``(fit, truth) -> bool``.
    seed : int, optional
        Root of every replication's stream (default: fresh entropy, stored in the manifest and in
        ``result.attrs["seed"]`` so the run can be repeated).
    client : dask.distributed.Client, optional
        Used unchanged (and left open). Default: a ``LocalCluster`` of ``n_workers``
        single-threaded worker processes (one per core), closed at the end. Scripts that start a
        local cluster need the ``if __name__ == "__main__":`` guard.
    store : path, optional
        Directory of the Parquet records and the manifest; rerunning with the same arguments
        resumes (only missing replications run; more ``reps`` or new ``n`` extend the study), with
        different ones raises :class:`~loyaltymodels.errors.StoreError`. Default: a temporary
        directory, deleted at the end (pass a store to keep the replications).
    batch_size : int, optional
        Replications per Dask task. Default: sized by time -- a probe of two replications per
        worker, then tasks of about one second of work each (at least three per worker), so that
        the per-task overhead stays small whatever a replication costs (Bayes: usually 1). The
        size chosen is in ``result.attrs["batch_size"]``.
    fit_options : mapping, optional
        Added to the scenario's (``fit_sem``/``compile_model`` options; Bayes also ``draws, tune,
        chains, cores``: default ``cores=1``, as every worker has one core; and ``rhat_max``, see
        :func:`loyaltymodels.power.batch.fit_status`).
    ci : float
        Mass of the Wilson intervals of the detection rates.
    progress : bool
        tqdm progress bar over finished replications.
    stop_after : int, optional
        Stop after this many finished batches (to run a long study in pieces; resume later).
    reuse : bool
        Keep the parsed/compiled model on each worker (False: set up every replication; to measure).

    Returns
    -------
    DataFrame
        :func:`power_summary` of the stored records: one row per target (``kind="target"``) and key
        parameter (``kind="parameter"``) and sample size. ``attrs``: ``seed``, ``store`` (None when
        temporary), ``complete`` (False after ``stop_after``), ``estimator``, ``batch_size`` (the
        replications per task after the probe; None when every task was a probe). Every replication's
        record: :func:`read_power_records` on the ``store``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> sc = lm.loyalty_power_scenario(weights={"retail": (0.45, 0.25), "banking": (0.3, 0.3)})
    >>> res = lm.power_analysis(sc, n=[100, 200, 400], reps=500, seed=1,
    ...                         target=[lm.weights_differ("retail"), lm.weights_differ("banking")])  # doctest: +SKIP
    >>> cols = ["quantity", "n_per_sector", "power", "power_lower", "power_upper"]
    >>> res.query("kind == 'target'")[cols]  # doctest: +SKIP
    >>> lm.plot_power(res)  # doctest: +SKIP
    """
    if estimator not in ESTIMATORS:
        raise ArgumentError(f"estimator={estimator!r}: choose one of {ESTIMATORS}")
    if not isinstance(scenario, Scenario):
        if not callable(scenario):
            raise ArgumentError("scenario must be a Scenario or a callable (n, rng) -> (data, truth)")
        scenario = Scenario(scenario)
    ns = sorted({int(k) for k in np.atleast_1d(np.asarray(n)).tolist()})
    if not ns or ns[0] < 1 or int(reps) < 1:
        raise ArgumentError(f"need sample sizes >= 1 and reps >= 1, got n={n}, reps={reps}")
    targets = tuple(as_targets(target))
    entropy = _entropy(seed)
    options = {**scenario.fit_options, **(fit_options or {})}
    job = Job(scenario, targets, estimator, options, entropy, reuse)
    _dry_run(scenario, ns[0], entropy, estimator)
    from ..spec.provenance import package_versions

    manifest = {
        "kind": "loyaltymodels.power_analysis",
        "scenario": scenario.describe(),
        "targets": [t.describe() for t in targets],
        "estimator": estimator,
        "fit_options": jsonable(options),
        "seed_entropy": str(entropy),
        "versions": package_versions(),
    }
    temporary: tempfile.TemporaryDirectory[str] | None = None
    location: str | Path
    if store is None:
        temporary = tempfile.TemporaryDirectory(prefix="power-")
        location = temporary.name
    else:
        location = store
    try:
        path = open_store(location, manifest)
        done = completed(path)
        todo = [(k, r) for k in ns for r in range(int(reps)) if (k, r) not in done]
        finished, chosen = _run(
            job, todo, len(ns) * int(reps) - len(todo), client, n_workers, batch_size, path, progress, stop_after
        )
        records = read_records(path)
    finally:
        if temporary:
            temporary.cleanup()
    records = records[records.n.isin(ns) & (records.rep < int(reps))].reset_index(drop=True)
    _raise_if_all_failed(records)
    out = power_summary(records, ci=ci, n_label=scenario.n_label)
    rank = {name: k for k, name in enumerate(t.name for t in targets)}  # targets in the order asked
    out = out.sort_values(
        ["kind", "quantity"],
        key=lambda s: s.map(rank).fillna(len(rank)) if s.name == "quantity" else s.map({"target": 0, "parameter": 1}),
        kind="stable",
    ).reset_index(drop=True)
    # scalars only: pandas compares attrs with == when concatenating, which a DataFrame cannot answer
    out.attrs.update(
        seed=entropy,
        store=None if temporary else str(path),
        complete=finished,
        estimator=estimator,
        batch_size=int(batch_size) if batch_size is not None else chosen,
    )
    return out


def _dry_run(scenario: Scenario, n: int, entropy: int, estimator: str) -> None:
    """Draw one data set on the client so that a broken scenario fails at once, not in every task."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, truth = scenario.generate(n, np.random.default_rng(replication_seed(entropy, n, 0).spawn(2)[0]))
    if estimator != "none":
        scenario.fitted_model(truth)


def _batches(todo: list, size: int) -> list[list]:
    return [todo[i : i + size] for i in range(0, len(todo), size)]


def _run(
    job: Job,
    todo: list[tuple[int, int]],
    n_done: int,
    client: Any,
    n_workers: int | None,
    batch_size: int | None,
    path: Path,
    progress: bool,
    stop_after: int | None,
) -> tuple[bool, int | None]:
    """Submit the batches, append each finished one to the store.

    Returns whether every replication finished (False when stopped early) and the batch size used
    after the probe (None when ``batch_size`` was given).

    With ``batch_size=None`` the tasks are sized by time: a probe batch of :data:`PROBE_REPS`
    replications per worker runs first (the second one shows the time of a replication once the
    worker has set the model up), then the rest goes in batches of about :data:`TASK_SECONDS`
    each (:func:`~loyaltymodels.power.batch.batch_size_for`), so that the per-task overhead (the
    scheduler, shipping the job, storing the batch on the client) stays a few percent of the work
    whatever a replication costs. The largest sample sizes go first: the last tasks are the
    shortest, and no worker waits long for another at the end.
    """
    if not todo:
        return True, None
    todo = sorted(todo, key=lambda key: (-key[0], key[1]))
    with dask_client(client, n_workers) as c:
        from distributed import as_completed

        workers = max(1, sum(c.nthreads().values()))
        if batch_size is not None:
            first, pending = _batches(todo, int(batch_size)), []
        else:
            probe = min(len(todo), PROBE_REPS * workers)
            first, pending = _batches(todo[:probe], PROBE_REPS), todo[probe:]
        futures = as_completed([c.submit(run_batch, job, b, pure=False) for b in first])
        bar = progress_bar(n_done + len(todo), "power", progress, initial=n_done)
        finished = stored = 0
        chosen = None
        try:
            for fut in futures:
                frame = fut.result()
                append(path, frame)
                reps = frame[["n", "rep"]].drop_duplicates()
                stored += len(reps)
                bar.update(len(reps))
                if pending:  # the first probe is back: size the remaining tasks by its time
                    chosen = batch_size_for(_seconds_per_replication(frame), len(pending), workers)
                    futures.update(c.submit(run_batch, job, b, pure=False) for b in _batches(pending, chosen))
                    pending = []
                finished += 1
                if stop_after is not None and finished >= stop_after:
                    return stored == len(todo), chosen
        finally:
            bar.close()
            c.cancel([f for f in futures.futures if not f.done()])
    return True, chosen


def _seconds_per_replication(frame: pd.DataFrame) -> float:
    """Median time of the replications of a batch that did not pay the model's set-up (all of them
    if every one did)."""
    reps = frame.drop_duplicates(["n", "rep"])
    warm = reps[~reps.setup.astype(bool)]
    return float((warm if len(warm) else reps).elapsed.median())


def _raise_if_all_failed(records: pd.DataFrame) -> None:
    targets = records[records.kind == "target"]
    if len(targets) and (targets.error != "").all():
        first = targets.error.iloc[0]
        raise RuntimeError(f"every replication failed; the first error was: {first}")


def read_power_records(store: str | Path) -> pd.DataFrame:
    """The replications stored by :func:`power_analysis` in ``store`` (one row per replication and
    target or key parameter): ``n, rep, seed_entropy, spawn_key, kind, quantity, detected,
    converged, error, warnings, estimate, se, truth, elapsed, setup, worker``."""
    return read_records(store)
