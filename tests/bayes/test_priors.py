"""Priors table and the parameterisation (fast: no sampling, no compile of a sampler)."""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.algebra.matrices import ram_layout, standardized
from loyaltymodels.bayes.parameterization import make_plan, row_values, std_all_draws, with_defined
from loyaltymodels.bayes.priors import parse_prior, resolve_priors
from loyaltymodels.errors import SpecError

HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def test_default_priors_are_blavaans():
    # blavaan dpriors(target = "stan"): nu normal(0,32), lambda/beta normal(0,10),
    # theta/psi gamma(1,.5)[sd], rho beta(1,1), tau normal(0,1.5)
    table = lm.default_priors(HS, meanstructure=True)
    by_class = table.groupby("class")["prior"].first().to_dict()
    assert by_class == {
        "lambda": "normal(0,10)",
        "nu": "normal(0,32)",
        "theta": "gamma(1,0.5)[sd]",
        "psi": "gamma(1,0.5)[sd]",
        "rho": "beta(1,1)",
    }
    assert len(table) == 30 and table["par"].tolist() == list(range(30))  # 21 + 9 intercepts
    assert {"lhs", "op", "rhs", "group", "label", "class", "prior"} <= set(table.columns)


def test_priors_by_class_label_name_and_table():
    spec = lm.parse_model('f =~ x1 + a*x2 + x3 + x4\nx1 ~~ prior("gamma(2,1)[sd]")*x1')
    t = resolve_priors(spec, {"lambda": "normal(0,1)", "a": "normal(1,0.5)", "x3~~x3": "gamma(3,1)[var]"})
    p = t.set_index("name")["prior"]
    assert p["f=~x3"] == "normal(0,1)" and p["f=~x2"] == "normal(1,0.5)"
    assert p["x3~~x3"] == "gamma(3,1)[var]" and p["x1~~x1"] == "gamma(2,1)[sd]"  # syntax beats class
    edited = lm.default_priors(spec)
    edited.loc[edited.name == "f=~x4", "prior"] = "student_t(3,0,2)"
    t2 = resolve_priors(spec, edited)
    assert t2.set_index("name").loc["f=~x4", "parsed"].family == "student_t"


@pytest.mark.parametrize(
    "priors, words",
    [
        ({"lambada": "normal(0,1)"}, ["lambada", "classes"]),
        ({"lambda": "nromal(0,1)"}, ["nromal", "known"]),
        ({"theta": "normal(0,1)"}, ["positive", "theta"]),
        ({"rho": "normal(0,1)"}, ["beta"]),
        ({"lambda": "dnorm(0,1e-2)"}, ["Stan"]),
        ({"lambda": "normal(0)"}, ["2 argument"]),
    ],
)
def test_bad_priors_raise_spec_error(priors, words):
    with pytest.raises(SpecError) as err:
        resolve_priors(lm.parse_model(HS), priors)
    for w in words:
        assert w in str(err.value)


def test_parse_prior_scales():
    assert parse_prior("gamma(1,.5)[prec]", "psi").scale == "prec"
    assert parse_prior("beta(2,2)", "rho").family == "beta"


def test_rows_from_draws_match_the_table_and_pytensor():
    """Row values by gathers: fixed rows constant, equal labels equal, covariance = r sd sd."""
    import pytensor.tensor as pt

    spec = lm.parse_model("f =~ x1 + a*x2 + a*x3\ng =~ x4 + x5\nf ~~ g\nx1 ~~ x4", meanstructure=True)
    plan = make_plan(spec)
    rng = np.random.default_rng(0)
    draws = {g.name: rng.uniform(0.2, 0.9, (5, len(g.pars))) for g in plan.rvs}
    fixed = np.nan_to_num(spec.table["value"].to_numpy(float))
    rows = row_values(plan, draws, fixed, np)
    t = spec.table
    assert np.all(rows[:, (t.op == "=~") & ~t.free] == 1.0)
    assert np.allclose(rows[:, 1], rows[:, 2])  # label a
    var = {v: rows[:, np.flatnonzero((t.lhs == v) & (t.rhs == v) & (t.op == "~~"))[0]] for v in ("f", "g")}
    r = draws["rho"][:, list(plan.priors.loc[plan.priors["class"] == "rho", "name"]).index("f~~g")] * 2 - 1
    cov = rows[:, np.flatnonzero((t.lhs == "f") & (t.rhs == "g"))[0]]
    assert np.allclose(cov, r * np.sqrt(var["f"] * var["g"]))
    symbolic = row_values(plan, {k: pt.as_tensor(v[0]) for k, v in draws.items()}, fixed, pt).eval()
    assert np.allclose(symbolic, rows[0])


def test_std_all_draws_match_matrices_standardized():
    spec = lm.parse_model("f =~ x1 + x2 + x3\ny =~ y1 + y2\ny ~ b*f\nx1 ~~ y1\nbb := 2*b")
    plan = make_plan(spec)
    rng = np.random.default_rng(1)
    draws = {g.name: rng.uniform(0.3, 0.8, (4, len(g.pars))) for g in plan.rvs}
    rows = with_defined(spec.table, row_values(plan, draws, np.nan_to_num(spec.table.value.to_numpy(float)), np))
    ours = std_all_draws(spec, plan.layout, rows)
    for d in range(4):
        ref = standardized(spec, ram_layout(spec), rows[d])
        assert np.allclose(ours[d], ref, equal_nan=True)


def test_constraints_are_refused_with_advice():
    with pytest.raises(SpecError, match="shared label"):
        make_plan(lm.parse_model("f =~ x1 + a*x2 + b*x3\na == b"))
