"""sectors_differ: the Wald test of one driver's standardized weight in two sectors, against the
covariance it must use (independent groups: the variances add) and the truth it reads."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import stats

import loyaltymodels as lm

WEIGHTS = {"retail": (0.5, 0.2), "banking": (0.35, 0.35)}


def test_independent_groups_add_their_variances():
    data, truth = lm.loyalty_scenario(300, weights=WEIGHTS, seed=8, scale=None)
    fit = lm.fit_sem(truth.attrs["model"], data, group="sector")  # nothing held equal: groups independent
    out = lm.sectors_differ("Experience", ("retail", "banking")).check(fit, truth, "sem")
    p = fit.parameters.query("op == '~' and rhs == 'Experience'").set_index("group")
    a, b = p.loc[1], p.loc[2]  # retail first in the data
    assert out["estimate"] == pytest.approx(a.std_all - b.std_all)
    assert out["se"] == pytest.approx(np.hypot(a.std_all_se, b.std_all_se), rel=1e-6)
    p_value = 2 * stats.norm.sf(abs(out["estimate"]) / out["se"])
    assert out["detected"] == (p_value < 0.05)
    assert out["truth"] == pytest.approx(0.2 - 0.35)
    assert [q["quantity"] for q in out["parameters"]] == [
        "Loyalty~Experience[retail] std_all",
        "Loyalty~Experience[banking] std_all",
    ]


def test_equal_loadings_correlate_the_sectors_estimates():
    data, truth = lm.loyalty_scenario(300, weights=WEIGHTS, seed=8, scale=None)
    fit = lm.fit_sem(truth.attrs["model"], data, group="sector", group_equal=("loadings", "intercepts"))
    out = lm.sectors_differ("Beliefs", ("retail", "banking")).check(fit, truth, "sem")
    from loyaltymodels.sem.inference import std_all_vcov

    rows = fit.parameters.query("op == '~' and rhs == 'Beliefs'").index
    v = std_all_vcov(fit, rows).to_numpy()
    assert v[0, 1] != 0 and out["se"] == pytest.approx(np.sqrt(v[0, 0] + v[1, 1] - 2 * v[0, 1]))


def test_target_is_plain_and_checks_its_arguments():
    t = lm.sectors_differ("Experience", ("retail", "banking"), alpha=0.1)
    assert pickle.loads(pickle.dumps(t)).name == t.name == "sectors_differ[Experience: retail vs banking]"
    assert t.describe()["sectors"] == ["retail", "banking"]
    with pytest.raises(ValueError, match="two different sectors"):
        lm.sectors_differ("Experience", ("retail", "retail"))
    with pytest.raises(ValueError, match="alpha"):
        lm.sectors_differ("Experience", ("a", "b"), alpha=2)
