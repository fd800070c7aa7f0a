"""simulate(): reproducibility, moments against the implied model, lavaan's default values,
ratings, multigroup data, and the marker re-expression of the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.algebra.matrices import implied_moments, ram_layout
from loyaltymodels.errors import SpecError
from loyaltymodels.spec.model import SpecWarning

BE = """
Beliefs    =~ 0.8*b1 + 0.7*b2 + 0.75*b3
Experience =~ 0.8*e1 + 0.85*e2 + 0.7*e3
Loyalty    =~ 0.9*l1 + 0.8*l2 + 0.7*l3
Loyalty ~ 0.4*Beliefs + 0.3*Experience
Beliefs ~~ 0.3*Experience
"""


def test_same_seed_same_data_other_seed_other_data():
    a, ta = lm.simulate(BE, 200, seed=7)
    b, tb = lm.simulate(BE, 200, seed=7)
    c, _ = lm.simulate(BE, 200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    assert not a.equals(c)


def test_sample_moments_approach_the_population():
    data, _truth = lm.simulate(BE, 200_000, seed=1)
    # population covariance written out by hand: loadings, latent covariance matrix, unit residuals
    lam = np.zeros((9, 3))
    lam[[0, 1, 2], 0] = [0.8, 0.7, 0.75]
    lam[[3, 4, 5], 1] = [0.8, 0.85, 0.7]
    lam[[6, 7, 8], 2] = [0.9, 0.8, 0.7]
    phi = np.array([[1, 0.3], [0.3, 1]])
    g = np.array([0.4, 0.3])
    var_l = g @ phi @ g + 1.0
    cov_eta = np.zeros((3, 3))
    cov_eta[:2, :2] = phi
    cov_eta[2, :2] = cov_eta[:2, 2] = phi @ g
    cov_eta[2, 2] = var_l
    expected = lam @ cov_eta @ lam.T + np.eye(9)
    np.testing.assert_allclose(np.cov(data.to_numpy().T), expected, atol=0.02)
    np.testing.assert_allclose(data.mean(), 0, atol=0.01)


def test_lavaan_defaults_for_unspecified_values():
    with pytest.warns(SpecWarning, match="regression coefficients are unspecified"):
        _, truth = lm.simulate("f =~ x1 + x2 + x3\ng =~ y1 + y2\ng ~ f", 10, seed=0)
    t = truth.set_index(["lhs", "op", "rhs"])
    assert t.loc[("f", "=~", "x2"), "value"] == 1.0  # loadings 1
    assert t.loc[("x1", "~~", "x1"), "value"] == 1.0  # residual variances 1
    assert t.loc[("f", "~~", "f"), "value"] == 1.0  # latent variances 1 (std.lv)
    assert t.loc[("g", "~", "f"), "value"] == 0.0  # regressions 0


def test_standardized_population_has_unit_variances():
    _data, truth = lm.simulate(BE, 100, seed=0, standardized=True)
    spec = lm.parse_model(BE, std_lv=True, auto_fix_first=False, fixed_x=False)
    cov, _ = implied_moments(ram_layout(spec), truth["value"].to_numpy(), full=True)
    np.testing.assert_allclose(np.diag(cov), 1.0, atol=1e-10)
    # with unit variances the standardized loadings are the loadings written in the syntax
    lo = truth[truth.op == "=~"]
    np.testing.assert_allclose(lo.std_all, lo.value, atol=1e-10)


def test_marker_values_describe_the_same_population():
    _, truth = lm.simulate(
        datasets.POLDEM_MODEL.replace("ind60 =~ x1", "ind60 =~ 0.7*x1"),
        10,
        seed=0,
        params={"dem60~ind60": 0.5, "dem65~ind60": 0.2, "dem65~dem60": 0.8},
    )
    marker = lm.parse_model(datasets.POLDEM_MODEL)
    t = marker.partable.drop(columns="value").merge(
        truth[["lhs", "op", "rhs", "group", "value", "value_marker"]], on=["lhs", "op", "rhs", "group"], how="left"
    )
    assert (t.loc[t.op == "=~", "value_marker"].groupby(t.lhs).first() == 1.0).all()
    std = lm.parse_model(datasets.POLDEM_MODEL, std_lv=True)
    a, _ = implied_moments(ram_layout(marker), t["value_marker"].to_numpy())
    b, _ = implied_moments(ram_layout(std), t["value"].to_numpy())
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_ratings_on_a_scale():
    data, truth = lm.simulate(BE, 3000, seed=3, scale=(0, 10))
    assert data.dtypes.map(lambda d: d.kind == "i").all()
    assert data.min().min() >= 0 and data.max().max() <= 10
    th = truth[truth.op == "|"]
    assert len(th) == 9 * 10
    # the share of answers at or below 4 estimates Phi(t5) for each item (t5 = (4.5 - 5) / 2)
    share = (data <= 4).mean()
    np.testing.assert_allclose(share, 0.4013, atol=0.03)
    d2, _ = lm.simulate(BE, 3000, seed=3, scale="0-10", scale_center=8, scale_sd=1.5)
    assert d2.median().median() == 8


def test_multigroup_from_vectors_and_group_sizes():
    data, truth = lm.simulate("F =~ x1 + c(0.5, 0.9)*x2 + x3\nF ~ c(0, 1)*1", [100, 300], seed=2)
    assert data.group.value_counts().to_dict() == {1: 100, 2: 300}
    assert data[data.group == 2].x1.mean() > data[data.group == 1].x1.mean() + 0.5
    t = truth[(truth.op == "=~") & (truth.rhs == "x2")]
    assert t.value.tolist() == [0.5, 0.9]
    d3, _ = lm.simulate(BE, [50, 60, 70], seed=1)
    assert d3.group.value_counts().sort_index().tolist() == [50, 60, 70]


def test_params_by_label_and_by_name():
    model = "F =~ x1 + a*x2 + x3\nG =~ y1 + y2\nG ~ b*F"
    _, truth = lm.simulate(model, 10, seed=0, params={"a": 0.3, "b": 0.5, "G=~y2": 0.2})
    t = truth.set_index(["lhs", "op", "rhs"]).value
    assert t[("F", "=~", "x2")] == 0.3 and t[("G", "~", "F")] == 0.5 and t[("G", "=~", "y2")] == 0.2
    with pytest.raises(SpecError, match="neither a label nor a parameter"):
        lm.simulate(model, 10, params={"nope": 1})


def test_impossible_population_is_an_error():
    with pytest.raises(SpecError, match="not positive definite"):
        lm.simulate("F =~ x1 + x2\nx1 ~~ -2*x1", 10, seed=0)
    with pytest.raises(SpecError, match="negative residual variance"):
        lm.simulate("F =~ 1.2*x1 + x2 + x3", 10, seed=0, standardized=True)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        # each of these used to give an answer: all-NaN data, the default value, 10 rows, 1 row...
        ({"params": {"a": float("inf")}}, r"params\['a'\] = inf: a population value must be a finite number"),
        ({"params": {"a": float("nan")}}, r"params\['a'\] = nan"),
        ({"params": {"a": "0.5"}}, r"params\['a'\] = '0.5'"),
        ({"n": 10.7}, r"n=10.7: give the number of respondents as an integer"),
        ({"n": True}, r"n=True"),
        ({"n": "10"}, r"n='10'"),
        ({"n": 0}, r"at least 1 respondent"),
        ({"seed": -1}, r"seed=-1: a seed is a non-negative integer"),
        ({"seed": 1.5}, r"seed=1.5"),
        ({"scale": (1,)}, r"scale=\(1,\): give the lowest and highest answers as two integers"),
        ({"scale": "5-1"}, r"upper end above its lower end"),
        ({"scale": "1-5", "scale_sd": 0}, r"scale_sd=0: the spread of the ratings must be positive"),
        ({"scale": "1-5", "scale_sd": float("nan")}, r"scale_sd=nan"),
    ],
)
def test_bad_arguments_are_named(kwargs, fragment):
    call = {"n": 20, "seed": 1, **kwargs}
    with pytest.raises(lm.ArgumentError, match=fragment):
        lm.simulate("f =~ x1 + a*x2 + x3", **call)


def test_integral_sizes_and_generators_are_accepted():
    data, _ = lm.simulate("f =~ x1 + x2 + x3", n=250.0, seed=np.random.default_rng(3))
    assert len(data) == 250
    data, _ = lm.simulate("f =~ x1 + x2 + x3", n=np.int64(7), seed=np.int64(3))
    assert len(data) == 7
