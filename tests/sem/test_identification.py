"""The rank condition before an ML fit (sem/identification.py), against an independent rank: the
Jacobian of the implied moments by central differences of ``algebra.implied_moments``."""

from __future__ import annotations

import numpy as np
import pytest

from loyaltymodels import datasets
from loyaltymodels.algebra.matrices import implied_moments, ram_layout
from loyaltymodels.algebra.moments import moment_stats
from loyaltymodels.errors import SpecError
from loyaltymodels.sem.constraints import constraints
from loyaltymodels.sem.identification import check_rank, moment_jacobian
from loyaltymodels.sem.kernel import Problem
from loyaltymodels.spec import check_identified, parse_model


def _problem(model: str, **options) -> Problem:
    spec = parse_model(model, **options)
    p = len(spec.observed)
    stats = [moment_stats(100, np.eye(p), np.zeros(p)) for _ in range(spec.ngroups)]
    return Problem(spec, stats)


def _numeric_rank(problem: Problem, theta: np.ndarray) -> int:
    """The rank of d(vech Sigma, mu)/d theta by central differences, written without the kernel."""
    layout, low = ram_layout(problem.spec), np.tril_indices(problem.p)

    def moments(th):
        values = problem.values(th)
        out = []
        for g in range(1, problem.ngroups + 1):
            sigma, mu = implied_moments(layout, values, g)
            out += [sigma[low], mu if problem.meanstructure else []]
        return np.concatenate(out)

    h = 1e-6
    J = np.array([(moments(theta + h * e) - moments(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    s = np.linalg.svd(J, compute_uv=False)
    return int((s > 1e-6 * s.max()).sum())


IDENTIFIED = [
    (datasets.HS_MODEL, {}),
    (datasets.HS_MODEL, {"std_lv": True}),
    (datasets.POLDEM_MODEL, {}),
    (datasets.ECSI_MODEL, {}),
    (datasets.HS_MODEL, {"ngroups": 2, "group_equal": ["loadings", "intercepts"]}),
    ("F =~ x1 + x2\nG =~ x3 + x4", {}),  # two indicators each, identified by the covariance
    ("y ~ x1 + x2\nm ~ x1\ny ~ m", {}),
]
NOT_IDENTIFIED = [
    (
        "F =~ x1 + x2\nG =~ x3 + x4\nF ~~ 0*G",
        {"F=~x2", "G=~x4", "x1~~x1", "x2~~x2", "x3~~x3", "x4~~x4", "F~~F", "G~~G"},
    ),
    # a path and a covariance between the same two factors: one covariance to tell them apart
    ("F =~ x1 + x2 + x3\nG =~ x4 + x5 + x6\nG ~ F\nF ~~ G", {"G~F", "F~~G", "G~~G"}),
]


@pytest.mark.parametrize("model,options", IDENTIFIED)
def test_identified_models_pass_and_have_full_rank(model, options):
    problem = _problem(model, **options)
    cons = constraints(problem)
    check_identified(problem.spec)
    check_rank(problem, cons)
    theta = cons.theta(cons.z(np.random.default_rng(1).uniform(0.4, 1.0, problem.npar)))
    assert _numeric_rank(problem, theta) == cons.K.shape[1]


@pytest.mark.parametrize("model,moving", NOT_IDENTIFIED)
def test_rank_deficient_models_are_refused_naming_the_parameters(model, moving):
    problem = _problem(model)
    check_identified(problem.spec)  # they pass the counting rule and have scales
    with pytest.raises(SpecError, match="not identified") as err:
        check_rank(problem, constraints(problem))
    named = str(err.value).split("not identified: ")[1].split(" can change")[0].split(", ")
    assert set(named) == moving
    theta = np.random.default_rng(2).uniform(0.4, 1.0, problem.npar)
    assert _numeric_rank(problem, theta) < problem.npar
    J = moment_jacobian(problem, theta)
    assert J.shape == (problem.npar, problem.p * (problem.p + 1) // 2)
