"""semopy's models of the parameter table, and the check that they are the table's model.

semopy builds each group's model from a description written from the table (free rows named
``_p<par>`` so that equal labels share a parameter, fixed rows as numbers), so it adds no parameter
of its own; :func:`check_against_semopy` verifies, at the solution, that its implied covariance
matrices equal ours. :mod:`loyaltymodels.sem.engine` runs semopy's optimiser on these models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from .kernel import Problem

__all__ = ["semopy_description", "semopy_mean_lines", "semopy_models", "semopy_means_models", "check_against_semopy"]


def semopy_description(table: pd.DataFrame, group: int, fixed: np.ndarray) -> str:
    """semopy syntax for one group of the table: ``lhs op mod*rhs`` for every =~, ~ and ~~ row."""
    lines = []
    for lhs, op, rhs, g, par, value in zip(table.lhs, table.op, table.rhs, table.group, table.par, fixed):
        if g == group and op in ("=~", "~", "~~"):
            mod = f"_p{par}" if par >= 0 else repr(float(value))
            lines.append(f"{lhs} {op} {mod}*{rhs}")
    return "\n".join(lines)


def semopy_mean_lines(table: pd.DataFrame, group: int, fixed: np.ndarray) -> str:
    """The ``~1`` rows of one group as semopy's ``ModelMeans`` writes them: ``lhs ~ mod*1``."""
    lines = []
    for lhs, op, g, par, value in zip(table.lhs, table.op, table.group, table.par, fixed):
        if g == group and op == "~1":
            mod = f"_p{par}" if par >= 0 else repr(float(value))
            lines.append(f"{lhs} ~ {mod}*1")
    return "\n".join(lines)


class _QuietSemopy(logging.Filter):
    """semopy logs "No fixed loadings for f" for std_lv models (our table scales f by its
    variance) and "Solver didn't converge" (we check every solution with the kernel)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not (msg.startswith("No fixed loadings") or msg.startswith("Solver didn"))


class _quiet:
    def __enter__(self):
        self.filter = _QuietSemopy()
        logging.getLogger().addFilter(self.filter)

    def __exit__(self, *exc):
        logging.getLogger().removeFilter(self.filter)


def _build(problem: Problem, cls: Any, description: Callable[[int], str], ops: tuple[str, ...]) -> list:
    """One semopy model of class ``cls`` per group; raises if semopy's free parameters differ
    from the table's. Fixed values are written into its matrices; its start rules are not used
    (they loop forever on a latent without a fixed loading)."""
    t = problem.spec.table
    with _quiet():
        models = [cls(description(g)) for g in range(1, problem.ngroups + 1)]
    for g, model in enumerate(models, start=1):
        active = {name for name, p in model.parameters.items() if p.active}
        expected = {f"_p{k}" for k, grp, op in zip(problem.par, t.group, t.op) if k >= 0 and grp == g and op in ops}
        if active != expected:
            extra, lost = sorted(active - expected), sorted(expected - active)
            raise SpecError(
                f"semopy's model of group {g} does not have the table's parameters "
                f"(added by semopy: {extra}; missing: {lost}); please report this model"
            )
        for p in model.parameters.values():
            if not p.active:  # fixed values (what semopy's load_starting_values would write)
                for loc in p.locations:
                    loc.matrix[loc.indices] = p.start
                    if loc.symmetric:
                        loc.matrix[loc.indices[::-1]] = p.start
        model.prepare_params()
    return models


def semopy_models(problem: Problem) -> list:
    """One ``semopy.Model`` (covariance structure) per group, built from the table."""
    import semopy  # heavy import, only when fitting

    t, fixed = problem.spec.table, problem.fixed
    return _build(problem, semopy.Model, lambda g: semopy_description(t, g, fixed), ("=~", "~", "~~"))


def semopy_means_models(problem: Problem, frames: list[pd.DataFrame]) -> list:
    """One ``semopy.ModelMeans`` (covariance and mean structure) per group, with its data loaded
    (ModelMeans' ML objective is FIML over the rows, so it needs them, not the moments)."""
    import semopy

    t, fixed = problem.spec.table, problem.fixed
    models = _build(
        problem,
        semopy.ModelMeans,
        lambda g: semopy_description(t, g, fixed) + "\n" + semopy_mean_lines(t, g, fixed),
        ("=~", "~", "~~", "~1"),
    )
    for model, frame in zip(models, frames):
        data = frame[list(problem.layout.observed)].astype(float).assign(**{"1": 1.0})
        model.load_data(data)  # not model.load(): that would run semopy's start rules
        model.prepare_fiml()
    return models


def _active(model: Any) -> tuple[list[str], np.ndarray]:
    names = [n for n, p in model.parameters.items() if p.active]
    return names, np.array([int(n[2:]) for n in names], dtype=int)


def check_against_semopy(problem: Problem, models: list, theta: np.ndarray, tol: float = 1e-8) -> float:
    """Largest difference between semopy's implied covariances at ``theta`` and ours."""
    values = problem.values(theta)
    worst = 0.0
    for g, model in enumerate(models, start=1):
        names = [n for n, p in model.parameters.items() if p.active]
        model.update_matrices(np.array([theta[int(n[2:])] for n in names]))
        sig_semopy, _ = model.calc_sigma()
        order = [model.vars["observed"].index(v) for v in problem.layout.observed]
        sig = problem.moments(values, g)[0]
        diff = float(np.abs(sig_semopy[np.ix_(order, order)] - sig).max())
        worst = max(worst, diff)
        if diff > tol * max(1.0, float(np.abs(sig).max())):
            raise SpecError(
                f"group {g}: semopy's implied covariance matrix differs from the table's "
                f"by {diff:.3g}; please report this model"
            )
    return worst
