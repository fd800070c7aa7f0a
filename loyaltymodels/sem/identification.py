"""The rank condition of identification, checked before an ML fit: the free parameters must move the
implied moments in as many directions as there are parameters.

A model passes the counting rule and has a scale for every latent (:func:`loyaltymodels.spec.check_identified`)
and may still not be identified: two factors with two indicators each and no covariance, a
path and a covariance between the same two variables, a loop of loadings. Its information matrix is
then singular wherever it is evaluated, and an optimiser returns one point of a ridge with
standard errors that mean nothing (or fails on a singular matrix). The Jacobian of the implied
moments (``vech Sigma_g`` and ``mu_g`` of every group) with respect to the free parameters, at
random values, has the model's generic rank (a rank deficit at a random point happens with
probability 0 unless it holds everywhere); a deficit is reported with the parameters that move
together (Bekker, Merckens & Wansbeek, 1994, *Identification, Equivalent Models, and Computer
Algebra*). lavaan only warns after the fit that "the information matrix could not be inverted".
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..spec.layout import param_name
from .constraints import Constraints
from .kernel import Problem

__all__ = ["check_rank", "moment_jacobian"]

#: A singular value below this fraction of the largest one is zero: the analytic Jacobian is
#: exact to rounding (1e-15 relative), well-conditioned models stay above 1e-6 at random values.
RANK_TOL = 1e-9


def moment_jacobian(problem: Problem, theta: np.ndarray) -> np.ndarray:
    """d (vech Sigma_g, mu_g for every group) / d theta, shape ``(npar, moments)``."""
    values = problem.values(theta)
    low = np.tril_indices(problem.p)
    blocks = []
    for g in range(1, problem.ngroups + 1):
        Jsig, Jmu = problem.jacobian(values, g)
        blocks.append(Jsig[:, low[0], low[1]])
        if problem.meanstructure:
            blocks.append(Jmu)
    return np.concatenate(blocks, axis=1)


def _random_point(problem: Problem, rng: np.random.Generator) -> np.ndarray:
    """Free parameters at values of the usual size and sign: loadings and paths 0.4-1,
    variances 0.5-1.5, covariances -0.2-0.2, means around 0 (the table's fixed values stay)."""
    t = problem.spec.table
    theta = np.empty(problem.npar)
    for r in problem.free_rows:
        op, same = t.op.iat[r], t.lhs.iat[r] == t.rhs.iat[r]
        if op in ("=~", "~", "<~"):
            theta[problem.par[r]] = rng.uniform(0.4, 1.0)
        elif op == "~~" and same:
            theta[problem.par[r]] = rng.uniform(0.5, 1.5)
        elif op == "~~":
            theta[problem.par[r]] = rng.uniform(-0.2, 0.2)
        else:
            theta[problem.par[r]] = rng.normal()
    return theta


def check_rank(problem: Problem, cons: Constraints) -> None:
    """Raise :class:`SpecError` naming the parameters that are not identified (rank condition).

    ``cons`` carries the linear equality constraints (``==`` and shared labels are in ``par``):
    the rank is that of the Jacobian with respect to the parameters left free by them.

    Examples
    --------
    >>> from loyaltymodels.algebra.moments import moment_stats
    >>> from loyaltymodels.spec import parse_model
    >>> from loyaltymodels.sem.constraints import constraints
    >>> spec = parse_model("f =~ x1 + x2; g =~ x3 + x4; f ~~ 0*g")  # df = 2, yet not identified
    >>> problem = Problem(spec, [moment_stats(100, np.eye(4), np.zeros(4))])
    >>> check_rank(problem, constraints(problem))
    Traceback (most recent call last):
    ...
    loyaltymodels.errors.SpecError: the model is not identified: f=~x2, g=~x4, x1~~x1, ... can change without ...
    """
    if problem.npar == 0:
        return
    bad = cons.lower > cons.upper
    if bad.any():
        raise SpecError(
            f"the bounds of {_names(problem, np.flatnonzero(bad))} leave no admissible value "
            f"(lower {cons.lower[bad][0]:g} above upper {cons.upper[bad][0]:g}, from lower()/upper() and "
            "'a > x' constraints on one label); correct the bounds"
        )
    rng = np.random.default_rng(20261207)
    with np.errstate(all="ignore"):
        try:
            J = cons.K.T @ moment_jacobian(problem, cons.theta(cons.z(_random_point(problem, rng))))
        except np.linalg.LinAlgError:  # (I - A) singular: a loop of paths with product 1
            return  # the optimiser reports it; not an identification question
    if not np.isfinite(J).all() or J.shape[0] == 0:
        return
    _, s, vt = np.linalg.svd(J.T, full_matrices=True)
    s = np.concatenate([s, np.zeros(J.shape[0] - len(s))])
    null = vt[s <= RANK_TOL * s.max()]
    if not len(null):
        return
    # a parameter is not identified when it moves along some direction of the null space: its
    # share of the null space (the norm of its row of K N') is 0 to rounding otherwise
    share = np.linalg.norm(cons.K @ null.T, axis=1)
    moving = np.flatnonzero(share > 1e-6 * share.max())
    raise SpecError(
        f"the model is not identified: {_names(problem, moving)} can change without changing the implied "
        f"moments ({len(null)} such direction(s) among {J.shape[0]} parameters); fix one of them, add "
        "equality constraints or indicators, or remove a path"
    )


def _names(problem: Problem, pars: np.ndarray) -> str:
    """lavaan's names of free parameters (the first table row of each), as one string."""
    t = problem.spec.table
    first: dict[int, int] = {}
    for r in problem.free_rows:
        first.setdefault(int(problem.par[r]), int(r))
    names = [
        param_name(t.lhs.iat[first[k]], t.op.iat[first[k]], t.rhs.iat[first[k]], int(t.group.iat[first[k]]))
        for k in pars
    ]
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
