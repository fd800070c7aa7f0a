"""RAM matrices against the LISREL formulas written out by hand, and the standardized solution
against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.algebra.matrices import (
    compile_expression,
    evaluate_defined,
    implied_moments,
    ram_layout,
    row_values,
    standardized,
)
from loyaltymodels.errors import SpecError


def test_sem_matches_lisrel_formula():
    # Political-democracy-like SEM with made-up values; Sigma computed independently from the
    # LISREL all-y form Lambda (I-B)^-1 Psi (I-B)^-T Lambda' + Theta.
    spec = lm.parse_model("""
        ksi =~ 1*x1 + 0.8*x2
        eta1 =~ 1*y1 + 1.2*y2
        eta2 =~ 1*y3 + 0.9*y4
        eta1 ~ 0.5*ksi
        eta2 ~ 0.3*ksi + 0.7*eta1
        y1 ~~ 0.2*y3
        ksi ~~ 2*ksi; eta1 ~~ 0.6*eta1; eta2 ~~ 0.4*eta2
        x1 ~~ 0.3*x1; x2 ~~ 0.3*x2; y1 ~~ 0.5*y1; y2 ~~ 0.5*y2; y3 ~~ 0.4*y3; y4 ~~ 0.4*y4
    """)
    sigma, mu = implied_moments(ram_layout(spec), row_values(spec.table))
    lam = np.zeros((6, 3))
    lam[0, 0], lam[1, 0], lam[2, 1], lam[3, 1], lam[4, 2], lam[5, 2] = 1, 0.8, 1, 1.2, 1, 0.9
    B = np.zeros((3, 3))
    B[1, 0], B[2, 0], B[2, 1] = 0.5, 0.3, 0.7
    psi = np.diag([2, 0.6, 0.4])
    theta = np.diag([0.3, 0.3, 0.5, 0.5, 0.4, 0.4])
    theta[2, 4] = theta[4, 2] = 0.2
    ib = np.linalg.inv(np.eye(3) - B)
    expected = lam @ ib @ psi @ ib.T @ lam.T + theta
    assert spec.observed == ["x1", "x2", "y1", "y2", "y3", "y4"]
    np.testing.assert_allclose(sigma, expected, rtol=1e-12)
    np.testing.assert_allclose(mu, 0)


def test_observed_regression_and_means():
    spec = lm.parse_model("y ~ 2*x + 0.5*1; x ~ 3*1; x ~~ 4*x; y ~~ 1*y", fixed_x=False)
    sigma, mu = implied_moments(ram_layout(spec), row_values(spec.table))
    # var(y) = 2^2 * 4 + 1, cov(x, y) = 2 * 4, E(y) = 0.5 + 2 * 3
    order = spec.observed
    i, j = order.index("y"), order.index("x")
    assert sigma[i, i] == pytest.approx(17) and sigma[i, j] == pytest.approx(8)
    assert mu[i] == pytest.approx(6.5) and mu[j] == pytest.approx(3)


def test_standardized_solution_by_hand():
    spec = lm.parse_model("""
        f =~ 1*x1 + 0.5*x2
        g =~ 1*z1 + 1*z2
        g ~ 0.6*f
        f ~~ 4*f; g ~~ 1*g
        x1 ~~ 1*x1; x2 ~~ 2*x2; z1 ~~ 1*z1; z2 ~~ 1*z2
        x1 ~~ 0.5*z1
    """)
    t = spec.table
    std = standardized(spec, ram_layout(spec), row_values(t))
    get = lambda l, o, r: std[((t.lhs == l) & (t.op == o) & (t.rhs == r)).to_numpy()][0]  # noqa: E731
    var_g = 0.36 * 4 + 1  # var(f) = 4
    assert get("f", "=~", "x2") == pytest.approx(0.5 * 2 / np.sqrt(0.25 * 4 + 2))
    assert get("g", "~", "f") == pytest.approx(0.6 * 2 / np.sqrt(var_g))
    assert get("f", "~~", "f") == pytest.approx(1.0)
    assert get("g", "~~", "g") == pytest.approx(1 / var_g)  # unexplained share
    assert get("x1", "~~", "x1") == pytest.approx(1 / (4 + 1))
    assert get("x1", "~~", "z1") == pytest.approx(0.5 / np.sqrt(1 * 1))  # residual correlation
    std_lv = standardized(spec, ram_layout(spec), row_values(t), kind="std_lv")
    assert std_lv[((t.lhs == "f") & (t.rhs == "x2")).to_numpy()][0] == pytest.approx(1.0)  # 0.5 * sd(f)
    assert std_lv[((t.lhs == "x1") & (t.rhs == "x1")).to_numpy()][0] == pytest.approx(1.0)  # unchanged


def test_defined_parameters_use_labels_and_earlier_definitions():
    spec = lm.parse_model("m ~ a*x; y ~ b*m + c*x; ind := a*b; tot := c + ind; r := ind / tot")
    t = spec.table
    values = row_values(t)
    values[(t.label == "a").to_numpy()] = 0.5
    values[(t.label == "b").to_numpy()] = 0.4
    values[(t.label == "c").to_numpy()] = 0.1
    out = evaluate_defined(t, values)
    got = dict(zip(t.lhs[t.op == ":="], out[(t.op == ":=").to_numpy()]))
    assert got == pytest.approx({"ind": 0.2, "tot": 0.3, "r": 2 / 3})


def test_expressions_are_not_eval():
    with pytest.raises(SpecError, match="unsupported element"):
        compile_expression("__import__('os')")({}, np)
    assert compile_expression("-a^2 + exp(0)")({"a": 3.0}, np) == pytest.approx(-8.0)
    assert compile_expression("pnorm(0)")({}, np) == pytest.approx(0.5)


def test_batched_implied_moments_equal_the_lisrel_formula_draw_by_draw():
    # the RAM algebra over a batch of parameter vectors (posterior draws) against LISREL's
    # Sigma = Lambda (I - B)^-1 Psi (I - B)^-T Lambda' + Theta and mu = nu + Lambda (I - B)^-1 alpha
    spec = lm.parse_model("f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5\nf2 ~ f1", meanstructure=True)
    lay = ram_layout(spec)
    t = spec.table
    rng = np.random.default_rng(5)
    draws = np.tile(row_values(t, np.zeros(int(t.par.max()) + 1)), (4, 1))
    free = t.par.to_numpy() >= 0
    draws[:, free] = rng.uniform(0.3, 1.2, size=(4, int(free.sum())))
    sigma, mu = implied_moments(lay, draws)
    assert sigma.shape == (4, 5, 5) and mu.shape == (4, 5)
    obs, lat = list(lay.observed), ["f1", "f2"]
    for d in range(4):
        v = dict(zip(zip(t.lhs, t.op, t.rhs), draws[d]))
        L = np.zeros((5, 2))
        for i, x in enumerate(obs):
            L[i, 0 if x in ("x1", "x2", "x3") else 1] = v[("f1" if x in ("x1", "x2", "x3") else "f2", "=~", x)]
        B = np.array([[0, 0], [v[("f2", "~", "f1")], 0]])
        Psi = np.diag([v[("f1", "~~", "f1")], v[("f2", "~~", "f2")]])
        Theta = np.diag([v[(x, "~~", x)] for x in obs])
        nu = np.array([v[(x, "~1", "")] for x in obs])
        alpha = np.array([v[(f, "~1", "")] for f in lat])
        T = np.linalg.inv(np.eye(2) - B)
        np.testing.assert_allclose(sigma[d], L @ T @ Psi @ T.T @ L.T + Theta, rtol=1e-12)
        np.testing.assert_allclose(mu[d], nu + L @ T @ alpha, rtol=1e-12)
        single = implied_moments(lay, draws[d])
        np.testing.assert_array_equal(single[0], sigma[d])
