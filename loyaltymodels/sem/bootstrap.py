"""Nonparametric bootstrap of a fitted SEM: percentile intervals for every parameter, defined
parameter, standardized value and effect (lavaan's ``se = "bootstrap"`` with
``boot.ci.type = "perc"``).

Rows are resampled within groups. Replicate ``b`` draws from ``SeedSequence(seed).spawn(B)[b]``,
so results depend on ``seed`` only, never on the number of processes. Replicates start from the
full-sample estimates; one that fails to converge is counted and reported, not silently dropped.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ..algebra.matrices import evaluate_defined, standardized
from ..algebra.moments import group_stats
from ..defaults import CI_ML, one_blas_thread
from ..errors import ArgumentError, LoyaltyModelsError, SemWarning
from .effects import effect_pairs, effect_values
from .engine import constraints, optimize
from .kernel import Problem

if TYPE_CHECKING:
    import pandas as pd

    from .fit import SemFit

_CONTEXT: dict = {}


def _init(context: dict) -> None:
    _CONTEXT.clear()
    _CONTEXT.update(context)
    one_blas_thread()  # for the life of the worker process: the processes are the parallelism


def _replicate(seed_seq: np.random.SeedSequence) -> np.ndarray | None:
    """One bootstrap replicate: estimates, std_all and effects as one vector (None if failed)."""
    ctx = _CONTEXT
    rng = np.random.default_rng(seed_seq)
    spec, fiml = ctx["spec"], ctx["fiml"]
    try:
        stats = [group_stats(x[rng.integers(0, len(x), len(x))], fiml) for x in ctx["data"]]
        problem = Problem(spec, stats, fiml=fiml)
        opt = optimize(problem, ctx["theta"], constraints(problem), maxiter=500)
    except (LoyaltyModelsError, np.linalg.LinAlgError, ValueError, FloatingPointError):
        return None
    if not opt.converged:
        return None
    values = problem.values(opt.theta)
    keep = ctx["keep"]
    est = evaluate_defined(spec.table, values)[keep]
    std = standardized(spec, problem.layout, values, "std_all")[keep]
    eff = effect_values(problem, ctx["pairs"], opt.theta)[0] if ctx["pairs"] else np.empty(0)
    return np.concatenate([est, std, eff])


def _chunk(seeds: list) -> list:
    return [_replicate(s) for s in seeds]


def run(context: dict, B: int, seed: int | None, n_jobs: int | None = None, progress: bool = False) -> list:
    """Results of ``B`` replicates, in replicate order (None for failures)."""
    seeds = np.random.SeedSequence(seed).spawn(B)
    n_jobs = os.cpu_count() or 1 if n_jobs is None else max(1, int(n_jobs))
    bar = _progress(B, progress)
    if n_jobs == 1:
        _init(context)
        out = []
        for s in seeds:
            out.append(_replicate(s))
            bar.update(1)
        bar.close()
        return out
    size = max(1, B // (8 * n_jobs))
    chunks = [seeds[i : i + size] for i in range(0, B, size)]
    # fork: workers inherit the imported modules (no re-import, no __main__ guard needed)
    ctx = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    out = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_init, initargs=(context,)) as pool:
            for res in pool.map(_chunk, chunks):
                out.extend(res)
                bar.update(len(res))
    bar.close()
    return out


class _NoProgress:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, shown: bool) -> Any:
    if not shown:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="bootstrap", unit="fit")


def attach_bootstrap(
    fit: SemFit, frames: list[pd.DataFrame], B: int, seed: int | None, n_jobs: int | None, progress: bool = False
) -> SemFit:
    """``fit`` with ``boot_se, boot_ci_lower, boot_ci_upper, std_all_boot_lower,
    std_all_boot_upper`` columns and the draws in ``fit.bootstrap``."""
    if B < 2:
        raise ArgumentError(f"bootstrap={B}: ask for at least 2 replicates (1000 or more for intervals)")
    spec = fit.spec
    keep = ~np.isin(spec.table.op.to_numpy(dtype=object), ["==", "<", ">"])
    pairs = effect_pairs(fit)
    context = dict(
        spec=spec,
        data=[f.to_numpy(dtype=float) for f in frames],
        fiml=fit.info["missing"] == "fiml",
        theta=fit.theta,
        keep=keep,
        pairs=pairs,
    )
    results = run(context, B, seed, n_jobs, progress)
    ok = [r for r in results if r is not None]
    failed = B - len(ok)
    nrow = int(keep.sum())
    draws = np.array(ok).reshape(len(ok), -1) if ok else np.empty((0, 2 * nrow + 3 * len(pairs)))
    params = fit.parameters.copy()
    est, std, eff = draws[:, :nrow], draws[:, nrow : 2 * nrow], draws[:, 2 * nrow :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns when every replicate failed
        params["boot_se"] = np.nanstd(est, axis=0, ddof=1) if len(ok) > 1 else np.nan
        params["boot_ci_lower"], params["boot_ci_upper"] = (
            np.nanpercentile(est, [50 * (1 - CI_ML), 50 * (1 + CI_ML)], axis=0) if len(ok) else (np.nan, np.nan)
        )
        params["std_all_boot_lower"], params["std_all_boot_upper"] = (
            np.nanpercentile(std, [50 * (1 - CI_ML), 50 * (1 + CI_ML)], axis=0) if len(ok) else (np.nan, np.nan)
        )
    notes = list(fit.warnings)
    if failed:
        note = (
            f"bootstrap: {failed} of {B} replicates failed to converge and are left out of the "
            "intervals; many failures mean the model is fragile (few indicators, near-Heywood "
            "solutions)"
        )
        warnings.warn(note, SemWarning, stacklevel=4)
        notes.append(note)
    boot = dict(
        B=B,
        seed=seed,
        failed=failed,
        succeeded=len(ok),
        estimates=est.tolist(),
        std_all=std.tolist(),
        effects=eff.tolist(),
        effect_pairs=[list(p) for p in pairs],
    )
    return dataclasses.replace(fit, parameters=params, bootstrap=boot, warnings=tuple(notes), _problem=fit._problem)
