"""Who estimates: semopy's optimiser where it serves, the kernel where it cannot, and the kernel's
check of every semopy solution. These tests fail if the engine silently changes.

References not produced by this package: lavaan's invariance chi-squares (lavaan tutorial,
"Measurement invariance": configural 115.851, metric 124.044, scalar 164.103) and lavaan's HS
chi-square 85.306 (tutorial, "A CFA example").
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.datasets import BELIEFS_EXPERIENCE_MODEL, ECSI_MODEL, HS_MODEL, POLDEM_MODEL
from loyaltymodels.errors import SemWarning
from loyaltymodels.sem import engine as sem_engine

FIT_MODEL = "F =~ x1 + x2 + x3 + x4\nG =~ y1 + y2 + y3\nG ~ F"
TRUE_MODEL = "F =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.7*x4\nG =~ 0.7*y1 + 0.6*y2 + 0.8*y3\nG ~ 0.5*F"


def _fit(model, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        return lm.fit_sem(model, data, **kw)


@pytest.fixture(scope="module")
def both(hs, poldem, ecsi):
    """name -> (auto fit, kernel fit) for the single-group models semopy estimates."""
    cases = {
        "hs": (HS_MODEL, hs),
        "poldem": (POLDEM_MODEL, poldem),
        "ecsi": (ECSI_MODEL, ecsi),
        "beliefs": (BELIEFS_EXPERIENCE_MODEL, ecsi),
    }
    return {k: (_fit(m, d), _fit(m, d, engine="kernel")) for k, (m, d) in cases.items()}


@pytest.mark.parametrize("name", ["hs", "poldem", "ecsi", "beliefs"])
def test_single_group_ml_is_estimated_by_semopy(both, name):
    fit, _ = both[name]
    info = fit.info
    assert info["engine"] == "semopy" and "engine_reason" not in info
    run = info["semopy"]
    assert (run["model"], run["objective"], run["solver"]) == ("Model", "MLW", "SLSQP")
    assert run["ftol"] == sem_engine.FTOL and run["iterations"] > 0 and run["success"]
    # the kernel's check at semopy's solution is recorded, and the final gradient is ~0
    assert info["semopy_gradient_max"] < 1e-5 and info["gradient_max"] < 1e-6
    assert isinstance(info["polished"], bool)
    if not info["polished"]:  # semopy's own solution, within ACCEPT of the optimum
        assert info["semopy_distance"] <= sem_engine.ACCEPT * max(1, np.abs(fit.theta).max())
    else:
        assert 0 < info["polish_change"] < 1e-5 and info["polish_iterations"] <= 10


@pytest.mark.parametrize("name", ["hs", "poldem", "ecsi", "beliefs"])
def test_semopy_and_kernel_paths_agree(both, name):
    fit, kernel = both[name]
    assert kernel.info["engine"] == "kernel" and "requested" in kernel.info["engine_reason"]
    assert np.abs(fit.parameters.est - kernel.parameters.est).max() < 1e-6
    assert np.abs(fit.parameters.se - kernel.parameters.se).max() < 1e-5
    assert fit.fit_measures["chisq"] == pytest.approx(kernel.fit_measures["chisq"], rel=1e-9)


def test_kernel_where_semopy_cannot_serve(hs):
    means = _fit(HS_MODEL, hs, meanstructure=True)
    groups = _fit(HS_MODEL, hs, group="school", group_equal="loadings")
    fiml = _fit(HS_MODEL, hs, missing="fiml")
    for fit, key in ((means, "means"), (groups, "groups"), (fiml, "fiml")):
        assert fit.info["engine"] == "kernel"
        assert fit.info["engine_reason"] == sem_engine.KERNEL_REASONS[key]
    assert "ModelMeans" in sem_engine.KERNEL_REASONS["groups"]


def test_semopy_stopping_short_is_polished_and_reported(hs, monkeypatch):
    reference = _fit(HS_MODEL, hs, engine="kernel")
    monkeypatch.setattr(sem_engine, "FTOL", 1e-8)  # semopy stops ~1e-5 short
    fit = _fit(HS_MODEL, hs)
    info = fit.info
    assert info["engine"] == "semopy" and info["semopy"]["ftol"] == 1e-8
    assert info["polished"] and info["semopy_distance"] > 1e-6 and info["polish_change"] > 1e-6
    assert np.abs(fit.parameters.est - reference.parameters.est).max() < 1e-6


def test_semopy_far_from_the_optimum_hands_over_to_the_kernel(hs, monkeypatch):
    monkeypatch.setattr(sem_engine, "FTOL", 1e-3)  # semopy stops ~1% short: not a solution
    fit = _fit(HS_MODEL, hs)
    assert fit.info["engine"] == "kernel" and "from the optimum" in fit.info["engine_reason"]
    assert fit.info["semopy_distance"] > sem_engine.NEAR and fit.info["semopy"]["ftol"] == 1e-3
    assert fit.fit_measures["chisq"] == pytest.approx(85.306, abs=5e-4)


def test_semopy_failure_falls_back_to_the_kernel_and_says_why(hs, monkeypatch):
    def broken(problem, cons, model, theta0):
        raise np.linalg.LinAlgError("boom")

    monkeypatch.setattr(sem_engine, "_run_model", broken)
    fit = _fit(HS_MODEL, hs)
    assert fit.info["engine"] == "kernel" and "semopy" in fit.info["engine_reason"]
    assert "boom" in fit.info["engine_reason"]
    assert fit.fit_measures["chisq"] == pytest.approx(85.306, abs=5e-4)


def test_active_bound_is_handled_by_semopy(hs):
    # lavaan's answer on a bounded parameter is the bound; the kernel alone cannot stop there
    fit = _fit(HS_MODEL.replace("x2 + x3", "a*x2 + x3") + "\na > 0.6", hs)
    assert fit.info["engine"] == "semopy"
    assert fit.parameters.query("rhs == 'x2' and op == '=~'").est.iloc[0] == pytest.approx(0.6, abs=1e-9)
    assert fit.fit_measures["chisq"] > 85.306


def test_equality_constraints_go_to_semopy(hs):
    fit = _fit(HS_MODEL.replace("x2 + x3", "a*x2 + b*x3") + "\na == b", hs)
    assert fit.info["engine"] == "semopy" and not fit.info["polished"]
    p = fit.parameters.query("op == '=~' and rhs in ['x2', 'x3']")
    assert p.est.iloc[0] == pytest.approx(p.est.iloc[1], abs=1e-9)


def test_model_means_one_group_agrees_with_the_kernel(hs):
    fit = _fit(HS_MODEL, hs, meanstructure=True, engine="semopy")
    kernel = _fit(HS_MODEL, hs, meanstructure=True)
    assert fit.info["engine"] == "semopy" and fit.info["semopy"]["model"] == "ModelMeans"
    assert np.abs(fit.parameters.est - kernel.parameters.est).max() < 1e-6
    assert fit.fit_measures["chisq"] == pytest.approx(85.306, abs=5e-4)


@pytest.mark.slow
def test_joint_semopy_optimisation_reproduces_lavaans_invariance_chisquares(hs):
    lavaan = {(): 115.851, ("loadings",): 124.044, ("loadings", "intercepts"): 164.103}
    for equal, chisq in lavaan.items():
        fit = _fit(HS_MODEL, hs, group="school", group_equal=equal or None, engine="semopy")
        kernel = _fit(HS_MODEL, hs, group="school", group_equal=equal or None)
        assert fit.info["engine"] == "semopy" and fit.info["semopy"]["objective"] == "FIML (sum over groups)"
        assert fit.fit_measures["chisq"] == pytest.approx(chisq, abs=5e-4)
        assert np.abs(fit.parameters.est - kernel.parameters.est).max() < 1e-6


@pytest.mark.slow
def test_model_means_fiml_agrees_with_the_kernel_under_mcar():
    data, _ = lm.simulate(TRUE_MODEL, n=2000, seed=5)
    holed = (data + 3.0).mask(np.random.default_rng(6).random(data.shape) < 0.15)  # non-zero means
    fit = _fit(FIT_MODEL, holed, missing="fiml", engine="semopy")
    kernel = _fit(FIT_MODEL, holed, missing="fiml")
    assert fit.info["engine"] == "semopy" and kernel.info["engine"] == "kernel"
    assert np.abs(fit.parameters.est - kernel.parameters.est).max() < 1e-6
    assert fit.fit_measures["chisq"] == pytest.approx(kernel.fit_measures["chisq"], rel=1e-8)


def test_engine_argument_is_checked(hs):
    with pytest.raises(ValueError, match="engine='lavaan'"):
        lm.fit_sem(HS_MODEL, hs, engine="lavaan")
