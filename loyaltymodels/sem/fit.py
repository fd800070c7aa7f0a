"""Structural equation models by maximum likelihood that give lavaan's answers.

:func:`fit_sem` fits a lavaan-syntax model (one or several groups, equality constraints across
groups, complete data or FIML) and returns a :class:`SemFit`: lavaan's parameter table with
estimates, standard errors and standardized solutions, lavaan's fit measures, R-squared, and the
warnings a methodologist needs before trusting the numbers.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..algebra.moments import GroupStats, group_stats, moment_stats
from ..algebra.patterns import Pattern
from ..data.validate import validate_data
from ..defaults import CI_ML, check_seed, labelled_interval, one_blas_thread, show_progress
from ..errors import ArgumentError, ConvergenceError, DataError, SemWarning, SpecError
from ..spec.identification import check_identified
from ..spec.model import ModelSpec
from . import engine as sem_engine
from .identification import check_rank
from .inference import admissibility, parameter_table, r_squared, vcov
from .kernel import Problem
from .measures import fit_measures, scaled_measures
from .options import Estimation, cached_spec, check_options, resolve_estimation
from .options import sampling_weights as _sampling_weights
from .robust import GroupData, robust_ml

__all__ = ["fit_sem", "SemFit"]

_MISSING = {"listwise": "listwise", "fiml": "fiml", "ml": "fiml"}


class SummaryText(str):
    """The text of :meth:`SemFit.summary`: a ``str`` that notebooks and the console do not show a
    second time after the summary printed it (its repr is one line)."""

    def __repr__(self) -> str:
        return f"<summary text: {len(self.splitlines())} lines>"

    def _ipython_display_(self) -> None:  # already printed
        pass


@dataclass(frozen=True)
class SemFit:
    """A fitted SEM: lavaan's tables, the fit measures and what to trust.

    Attributes
    ----------
    spec : ModelSpec
        The model as fitted (its parameter table is the spine of ``parameters``).
    parameters : DataFrame
        ``spec.partable`` (without ``== < >`` rows) plus ``est se z pvalue ci_lower ci_upper
        std_lv std_all std_all_se`` (``std_nox`` with covariates; ``boot_*`` columns after a
        bootstrap); one row per parameter, lavaan's ``parameterEstimates(standardized = TRUE)``.
    fit_measures : Series
        lavaan's ``fitMeasures()`` names with ``_`` for ``.`` (see :mod:`loyaltymodels.sem.measures`).
    r2 : Series
        R-squared of the endogenous variables (indexed by ``(group, variable)`` when multigroup).
    warnings : tuple of str
        Everything that makes the solution doubtful (also emitted as :class:`SemWarning`).
    converged : bool
    data_report : dict
        What data validation did (rows used and dropped, missing values, group sizes).
    vcov : DataFrame
        Covariance matrix of the free parameters, labelled by ``par``.
    sample : dict
        Per group ``n``, ``cov`` and ``mean`` (1/N; EM estimates under FIML), ``group_labels``,
        ``observed``: enough to rebuild the objective (modification indices after ``from_json``).
    info : dict
        Estimation details: ``estimator``, ``missing``, ``information``, ``iterations``,
        ``seconds``, ``gradient_max`` (largest |dF/dtheta| at the estimates), ``engine``
        (``"semopy"`` or ``"kernel"``: whose optimiser produced the estimates) with
        ``engine_reason`` when it is the kernel, ``semopy`` (semopy's run: model class, solver,
        ``ftol``, iterations, message), ``semopy_gradient_max`` and ``semopy_distance`` (the
        kernel's gradient and Fisher-scoring step at semopy's solution), ``polished`` (whether
        kernel steps finished semopy's work; then ``polish_iterations``, ``polish_change``), and
        ``semopy_check`` (largest difference to semopy's implied covariances).
    bootstrap : dict or None
        ``draws`` (DataFrame, one row per successful replicate), ``failed``, ``B``, ``seed``.
    """

    spec: ModelSpec = field(repr=False)
    parameters: pd.DataFrame = field(repr=False)
    fit_measures: pd.Series = field(repr=False)
    r2: pd.Series = field(repr=False)
    warnings: tuple[str, ...]
    converged: bool
    data_report: dict = field(repr=False)
    vcov: pd.DataFrame = field(repr=False)
    sample: dict = field(repr=False)
    info: dict = field(repr=False)
    bootstrap: dict | None = field(default=None, repr=False)
    _problem: Any = field(default=None, repr=False, compare=False)

    @property
    def theta(self) -> np.ndarray:
        """The free parameters, numbered by ``par``."""
        p = self.parameters
        free = p[p.par >= 0].drop_duplicates("par").sort_values("par")
        return free["est"].to_numpy(dtype=float)

    @property
    def problem(self) -> Problem:
        """The objective of this fit (rebuilt from ``sample`` after :meth:`from_json`: the sample
        moments, and under FIML the moments of every missing-data pattern)."""
        if self._problem is None:
            if self.info.get("estimator") == "WLSMV":
                raise ValueError("the WLSMV objective needs the polychoric statistics; refit with fit_sem")
            fiml = self.info.get("missing") == "fiml"
            object.__setattr__(self, "_problem", Problem(self.spec, saved_stats(self.sample, fiml), fiml=fiml))
        return self._problem

    def summary(self, *, standardized: bool = True, fit_measures: bool = True, print_: bool = True) -> SummaryText:
        """Print a lavaan-like report (``summary(fit, standardized = TRUE, fit.measures = TRUE)``)
        and return its text (a ``str``, for a file or a report); ``print_=False`` only returns it."""
        from .report import summary_text

        text = SummaryText(summary_text(self, standardized=standardized, fit_measures=fit_measures))
        if print_:
            print(text)
        return text

    def effects(self, *, indicators: bool = False) -> pd.DataFrame:
        """Direct, indirect and total effects between structural variables, with delta-method
        SEs (and percentile bootstrap CIs after ``bootstrap=B``); see :func:`sem_effects.effects`."""
        from .effects import effects

        return effects(self, indicators=indicators)

    def modindices(self, *, sort: bool = False, minimum: float = 0.0) -> pd.DataFrame:
        """Modification indices of lavaan's ``modindices()``: ``mi, epc, sepc_lv, sepc_all``."""
        from .modification import modindices

        if self.info.get("estimator") == "WLSMV":
            raise SpecError(
                "modification indices of a WLSMV fit are not available yet (they need the DWLS "
                "information, not the normal likelihood's); inspect residual correlations instead"
            )
        return modindices(self, sort=sort, minimum=minimum)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Save everything (estimates, fit, warnings, sample moments, versions) as JSON."""
        from .report import to_json

        to_json(self, path)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> SemFit:
        """Read a fit saved by :meth:`to_json` (the model is rebuilt from its syntax and options)."""
        from .report import from_json

        return from_json(path)

    def __post_init__(self) -> None:
        labelled_interval(self.parameters, CI_ML)  # ci_lower/ci_upper (and boot_ci_*) are 95%

    def __repr__(self) -> str:
        fm = self.fit_measures
        return (
            f"SemFit({self.spec!r}, chisq={fm['chisq']:.3f}, df={int(fm['df'])}, "
            f"cfi={fm['cfi']:.3f}, rmsea={fm['rmsea']:.3f}, converged={self.converged}, "
            f"{len(self.warnings)} warning(s))"
        )


def fit_sem(
    model: str | ModelSpec,
    data: pd.DataFrame,
    *,
    group: str | None = None,
    group_equal: Sequence[str] | str | None = None,
    group_partial: Sequence[str] | None = None,
    std_lv: bool | None = None,
    missing: str = "listwise",
    estimator: str | None = None,
    ordered: bool | Sequence[str] | None = None,
    sampling_weights: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    meanstructure: bool | None = None,
    information: str | None = None,
    engine: str = "auto",
    **options: Any,
) -> SemFit:
    """Fit a structural equation model as lavaan's ``sem()`` does: by maximum likelihood, with
    robust standard errors and scaled tests (MLR, MLM), or by diagonally weighted least squares
    on polychoric correlations for ordered items (WLSMV).

    Parameters
    ----------
    model : str or ModelSpec
        lavaan syntax (``=~ ~ ~~ ~1 := ==``, labels, fixed values, ``start()``...).
    data : DataFrame
        One row per respondent; never modified.
    group : str, optional
        Column defining the groups of a multigroup model (in order of first appearance).
    group_equal : str or sequence, optional
        lavaan's ``group.equal``: any of ``loadings, intercepts, residuals, means, lv.variances,
        lv.covariances, regressions, residual.covariances``.
    group_partial : sequence of str, optional
        ``"lhs op rhs"`` parameters exempt from ``group_equal`` (lavaan's ``group.partial``).
    std_lv : bool, optional
        Scale latents by fixing their variances to 1 (default: first loading fixed to 1).
    missing : {"listwise", "fiml"}
        Listwise deletion, or full-information ML (adds a mean structure, as lavaan does).
    estimator : {"ML", "MLR", "MLM", "WLSMV"}, optional
        lavaan's estimators: ``"ML"`` (the default for continuous items); ``"MLR"``, ML estimates
        with Huber-White sandwich SEs and the Yuan-Bentler (Mplus variant) scaled test, with
        complete data or FIML (the default with ``sampling_weights``); ``"MLM"``, ML estimates
        with Satorra-Bentler SEs and scaled test (complete data); ``"WLSMV"`` (the default, and
        the only choice, with ``ordered``): thresholds and polychoric correlations fitted by
        DWLS, robust SEs and the mean-and-variance adjusted (scaled-shifted) test, delta
        parameterization. Robust fits add lavaan's ``chisq_scaled, df_scaled, pvalue_scaled,
        chisq_scaling_factor, cfi_scaled, tli_scaled, cfi_robust, tli_robust, rmsea_scaled,
        rmsea_robust``... to ``fit_measures`` (see :mod:`loyaltymodels.sem.measures`).
    ordered : bool or sequence of str, optional
        lavaan's ``ordered``: ``True`` for every observed variable of the model (exogenous
        covariates excepted), or the ordered columns (integer codes; categories in the order of
        their values); the model's other variables stay continuous (polyserial covariances).
        Ordered items get thresholds ``item | t1, t2...``.
    sampling_weights : str, optional
        Column of sampling weights (lavaan's ``sampling.weights``): rescaled to sum to the
        number of rows (within each group), used in the sample statistics, and with MLR by
        default (robust SEs and scaled test, as lavaan). Weights must be numbers >= 0.
    bootstrap : int
        Number of nonparametric bootstrap replicates (percentile CIs for every parameter,
        defined parameter, standardized value and effect); 0 for none.
    seed : int, optional
        Seed of the bootstrap: results do not depend on ``n_jobs``.
    n_jobs : int, optional
        Processes for the bootstrap (default: all cores).
    progress : bool, optional
        A progress bar over the bootstrap's resamples; ``None``: in notebooks and terminals.
    meanstructure : bool, optional
        Add intercepts and latent means (default: as lavaan, with groups, ``~1`` rows or FIML).
    information : {"expected", "observed"}, optional
        Information matrix of the standard errors (the bread of MLR's sandwich); lavaan's
        default: observed for MLR and under FIML, expected otherwise.
    engine : {"auto", "semopy", "kernel"}
        Who optimises. ``"auto"``: semopy's optimiser for one group with complete data and no mean
        structure, our kernel (Fisher scoring + BFGS) for means, groups and FIML, where semopy's
        ``ModelMeans`` is 10-20x slower (measured reasons: ``sem_engine.KERNEL_REASONS``);
        ``"semopy"``: semopy wherever it can represent the model; ``"kernel"``: never semopy.
        ``info["engine"]`` says which one produced the estimates.
    **options
        Further :func:`loyaltymodels.parse_model` options (``fixed_x``, ``orthogonal``...;
        :data:`sem_options.SPEC_OPTIONS`); anything else raises a TypeError listing what is accepted.

    Returns
    -------
    SemFit

    Raises
    ------
    ConvergenceError
        When the optimiser does not converge (the message says what to try).
    DataError, SpecError
        For unusable data or models.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import HS_MODEL, load_holzinger_swineford
    >>> fit = lm.fit_sem(HS_MODEL, load_holzinger_swineford())  # In R: lavaan::cfa(HS.model, HolzingerSwineford1939)
    >>> print(fit.fit_measures[["chisq", "df", "cfi", "rmsea"]].round(3).to_dict())
    {'chisq': 85.306, 'df': 24.0, 'cfi': 0.931, 'rmsea': 0.092}
    >>> fit.parameters.query("lhs == 'visual' and rhs == 'x2'")[["est", "se"]].round(3).values.tolist()
    [[0.554, 0.1]]
    """
    started = time.perf_counter()
    check_options(options)
    _check_bootstrap(bootstrap, seed, n_jobs)
    shown = show_progress(progress)
    policy = _MISSING.get(str(missing).lower())
    if policy is None:
        raise DataError(f"missing={missing!r}: choose 'listwise' or 'fiml'")
    fiml = policy == "fiml"
    if engine not in sem_engine.ENGINES:
        raise ArgumentError(f"engine={engine!r}: choose one of {', '.join(sem_engine.ENGINES)}")
    how = resolve_estimation(estimator, ordered not in (None, False), fiml, sampling_weights is not None, information)
    spec_options = dict(options)
    if std_lv is not None:
        spec_options["std_lv"] = std_lv
    if group_partial is not None:
        spec_options["group_partial"] = tuple(group_partial)
    if group_equal is not None:
        spec_options["group_equal"] = (group_equal,) if isinstance(group_equal, str) else tuple(group_equal)
    if meanstructure is not None or fiml:
        spec_options["meanstructure"] = True if fiml else meanstructure
    labels = None
    if group is not None:
        if not isinstance(data, pd.DataFrame) or group not in data.columns:
            raise DataError(f"group column {group!r} not found in the data", column=group)
        labels = list(pd.unique(data[group].dropna()))
        spec_options.update(ngroups=len(labels), group_labels=tuple(labels))
    spec = cached_spec(model, spec_options)
    if how.estimator == "WLSMV":
        if bootstrap:
            raise SpecError("bootstrap= is not available with ordered items (WLSMV); its robust SEs are the default")
        from .wlsmv import fit_wlsmv

        with one_blas_thread():
            items = True if ordered is None else ordered  # WLSMV is only resolved with ordered items
            return fit_wlsmv(model, spec, spec_options, data, group, labels, items, sampling_weights, started)
    _check_supported(spec)
    if sampling_weights is not None and isinstance(data, pd.DataFrame) and not data.index.is_unique:
        data = data.reset_index(drop=True)  # weights are matched to the rows used by their labels
    check_identified(spec)
    clean, report = _validate(spec, data, group, policy)
    frames = _split(clean, spec, group, labels)
    weights = None
    if sampling_weights is not None and bootstrap:
        raise SpecError("bootstrap= with sampling_weights is not available; the robust (MLR) SEs are the default")
    if sampling_weights is not None:
        w = pd.Series(_sampling_weights(data, sampling_weights, clean.index), index=clean.index)
        weights = [w.loc[f.index].to_numpy() for f in frames]
        weights = [x * len(x) / x.sum() for x in weights]  # lavaan: rescaled to sum to N (per group)
        report = {**report, "sampling_weights": sampling_weights}
    with one_blas_thread():
        return _fit(spec, frames, weights, report, fiml, how, bootstrap, seed, (n_jobs, shown), started, engine)


def _fit(
    spec: ModelSpec,
    frames: list[pd.DataFrame],
    weights: list[np.ndarray] | None,
    report: dict[str, Any],
    fiml: bool,
    how: Estimation,
    bootstrap: int,
    seed: int | None,
    jobs: tuple[int | None, bool],
    started: float,
    engine: str,
) -> SemFit:
    rows = [f.to_numpy(dtype=float) for f in frames]
    stats = [group_stats(x, fiml, None if weights is None else weights[g]) for g, x in enumerate(rows)]
    problem = Problem(spec, stats, fiml=fiml)
    models = sem_engine.semopy_models(problem)
    cons = sem_engine.constraints(problem)
    check_rank(problem, cons)
    opt = sem_engine.estimate(problem, cons, models, frames, engine)
    if not opt.converged:
        raise ConvergenceError(
            f"the ML estimation did not converge ({opt.message}). Try start values "
            "(start(0.7)*x2), std_lv=True, rescaling variables with very different "
            "variances, or simplifying the model"
        )
    theta = opt.theta
    check = sem_engine.check_against_semopy(problem, models, theta)
    npar = cons.K.shape[1]
    df = spec.ndat - npar
    fm = fit_measures(problem, theta, npar, df)
    observed = how.information == "observed"
    if how.robust:
        per_group: list[np.ndarray | None] = list(weights) if weights is not None else [None] * len(rows)
        groups = [GroupData(x, w) for x, w in zip(rows, per_group)]
        rob = robust_ml(problem, theta, cons, groups, how.estimator, observed, df, int(fm["baseline_df"]))
        v, notes = rob.vcov, list(rob.notes)
        fm = scaled_measures(fm, rob.scaling_factor, rob.baseline_scaling_factor, problem.ntotal, problem.ngroups)
    else:
        v, notes = vcov(problem, theta, cons, observed=observed)
    params = parameter_table(problem, theta, v)
    notes += admissibility(problem, theta, params)
    for note in notes:
        warnings.warn(note, SemWarning, stacklevel=3)
    names = [f"p{k}" for k in range(problem.npar)]
    sample = dict(
        n=[st.n for st in stats],
        cov=[st.cov.tolist() for st in stats],
        mean=[st.mean.tolist() for st in stats],
        group_labels=list(spec.group_labels),
        observed=list(problem.layout.observed),
    )
    if fiml:  # what the FIML objective reads: each pattern's moments (not its rows), and logL(H1)
        sample["logl_h1"] = [st.logl_h1 for st in stats]
        sample["patterns"] = [
            [
                dict(idx=pat.idx.tolist(), n=pat.n, mean=pat.mean.tolist(), cov=pat.cov.tolist())
                for pat in st.patterns or ()
            ]
            for st in stats
        ]
    info = dict(
        estimator=how.estimator,
        se=how.se,
        test=how.test,
        missing="fiml" if fiml else "listwise",
        information=how.information,
        iterations=opt.iterations,
        gradient_max=float(np.abs(cons.K.T @ opt.grad).max()) if npar else 0.0,
        **opt.info,
        semopy_check=check,
        seconds=time.perf_counter() - started,
    )
    fit = SemFit(
        spec=spec,
        parameters=params,
        fit_measures=fm,
        r2=r_squared(spec, params),
        warnings=tuple(notes),
        converged=True,
        data_report=report,
        vcov=pd.DataFrame(v, index=names, columns=names),
        sample=sample,
        info=info,
        _problem=problem,
    )
    if bootstrap:
        from .bootstrap import attach_bootstrap

        fit = attach_bootstrap(fit, frames, int(bootstrap), seed, *jobs)
    return fit


def _check_bootstrap(bootstrap: Any, seed: Any, n_jobs: Any) -> None:
    """Bootstrap settings, before the fit (a bad one used to fail only after the estimation)."""
    integral = isinstance(bootstrap, (int, np.integer)) and not isinstance(bootstrap, (bool, np.bool_))
    if not integral or bootstrap < 0 or bootstrap == 1:
        raise ArgumentError(
            f"bootstrap={bootstrap!r}: give the number of resamples, 0 for none or at least 2 "
            "(1000 or more for intervals)"
        )
    check_seed(seed)
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1):
        raise ArgumentError(f"n_jobs={n_jobs!r}: give the number of processes (at least 1), or None for all cores")


def saved_stats(sample: dict[str, Any], fiml: bool) -> list[GroupStats]:
    """The per-group statistics a fit keeps in ``sample`` (what :meth:`SemFit.to_json` saves),
    rebuilt: sample moments, and under FIML the moments of each missing-data pattern.

    A rebuilt pattern holds its size and moments but not its rows (``rows`` and ``y`` are empty):
    the FIML objective, its gradient, information and modification indices need nothing else.
    """
    groups = zip(sample["n"], sample["cov"], sample["mean"])
    if not fiml:
        return [moment_stats(int(n), c, m) for n, c, m in groups]
    if "patterns" not in sample:
        raise DataError(
            "this FIML fit was saved without its missing-data patterns (by a version before 0.1.1); "
            "refit it with fit_sem(..., missing='fiml') and save it again"
        )
    out = []
    for g, ((n, cov, mean), pats, logl_h1) in enumerate(zip(groups, sample["patterns"], sample["logl_h1"]), start=1):
        patterns = tuple(
            Pattern(
                np.asarray(p["idx"], dtype=int),
                np.empty(0, dtype=int),
                int(p["n"]),
                np.asarray(p["mean"], dtype=float),
                np.asarray(p["cov"], dtype=float),
                np.empty((0, len(p["idx"]))),
                g,
            )
            for p in pats
        )
        out.append(
            GroupStats(int(n), np.asarray(cov, dtype=float), np.asarray(mean, dtype=float), float(logl_h1), patterns)
        )
    return out


def _check_supported(spec: ModelSpec) -> None:
    if spec.ordinal:
        raise SpecError(
            f"ordinal indicators ({', '.join(spec.ordinal)}) need the categorical estimator: pass "
            f"ordered=[{', '.join(map(repr, spec.ordinal))}] (WLSMV, lavaan's default for ordered items)"
        )
    if spec.composites or (spec.table.op.to_numpy(dtype=object) == "<~").any():
        raise SpecError(
            "composites (<~) are not supported by fit_sem; use PLS or model them as reflective factors (=~)"
        )


def _validate(
    spec: ModelSpec, data: pd.DataFrame, group: str | None, policy: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    clean, report = validate_data(spec, data, group=group, missing=policy)
    return clean, report.to_dict()


def _split(clean: pd.DataFrame, spec: ModelSpec, group: str | None, labels: list | None) -> list[pd.DataFrame]:
    cols = list(spec.observed)
    if group is None:
        return [clean[cols]]
    assert labels is not None  # fit_sem reads the labels whenever there is a group column
    frames = [clean.loc[clean[group] == lab, cols] for lab in labels]
    for lab, f in zip(labels, frames):
        if len(f) <= 1:
            raise DataError(
                f"group {lab!r} has {len(f)} usable row(s) after the missing-data policy", column=group, value=lab
            )
    return frames
