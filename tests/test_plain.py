"""The plain-language sentences: checked against the tables they read, and against an ML fit
whose fit and weights are known from lavaan (the ECSI model: RMSEA 0.080, a modification
index of 40 for Experience =~ imag5)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.defaults import show_progress
from loyaltymodels.errors import ArgumentError, SemWarning
from loyaltymodels.plain import convergence_sentence, fit_sentences, invest_sentences, ml_weights, weight_sentences


@pytest.fixture(scope="module")
def ecsi_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SemWarning)
        return lm.fit_sem(datasets.BELIEFS_EXPERIENCE_MODEL, datasets.load_ecsi())


def test_poor_fit_flagged_with_its_numbers(ecsi_fit):
    text = " ".join(fit_sentences(ecsi_fit))
    assert "fits poorly (RMSEA 0.080" in text
    assert "Experience =~ imag5" in text and "40.0" in text


def test_ml_probability_matches_the_normal_approximation(ecsi_fit):
    # the two standardized weights and their delta-method SEs; the Monte Carlo probability that
    # Experience weighs more must agree with P(N(diff, se_diff) > 0) for some correlation in [-1, 1]
    w = ml_weights(ecsi_fit, "Loyalty")
    assert list(w.driver) == ["Beliefs", "Experience"]
    p = ecsi_fit.parameters
    rows = p[(p.op == "~") & (p.lhs == "Loyalty")]
    np.testing.assert_allclose(w["mean"], rows.std_all)
    diff, (s1, s2) = rows.std_all.iloc[1] - rows.std_all.iloc[0], rows.std_all_se
    lo, hi = sorted(stats.norm.cdf(diff / np.sqrt(s1**2 + s2**2 + 2 * r * s1 * s2)) for r in (-1, 1))
    prob = w.set_index("driver").prob_largest["Experience"]
    assert lo - 0.02 < prob < hi + 0.02 and prob + w.set_index("driver").prob_largest["Beliefs"] == 1
    line = weight_sentences(w)[0]
    assert line.startswith("All respondents: Experience weighs more in loyalty than Beliefs")
    assert f"probability {prob:.0%}" in line


def test_weight_sentences_one_per_sector_without_segments():
    w = pd.DataFrame(
        {
            "sector": ["Banque", "Banque", "pooled", "pooled", "pooled", "pooled"],
            "driver": ["Image", "Qualité"] * 3,
            "mean": [0.2, 0.5, 0.3, 0.4, 0.9, 0.1],
            "prob_largest": [0.4, 0.6, 0.2, 0.8, 1.0, 0.0],
            "segment": [None, None, None, None, "jeunes", "jeunes"],
        }
    )
    lines = weight_sentences(w)
    assert len(lines) == 2
    assert lines[0] == (
        "Banque: Qualité weighs more in loyalty than Image (standardized weight 0.50 against 0.20); "
        "uncertain: the data cannot tell them apart (probability 60%)."
    )
    assert (
        lines[1].startswith("A typical sector (hierarchical mean): Qualité") and "likely (probability 80%)" in lines[1]
    )


def test_invest_sentences_read_the_table():
    t = pd.DataFrame(
        {
            "sector": ["Banque"] * 4,
            "driver": ["Image", "Qualité"] * 2,
            "target": ["loyalty", "loyalty", "churn", "churn"],
            "unit": ["loyalty points", "loyalty points", "probability", "probability"],
            "mean": [0.1, 0.42, -0.01, -0.031],
            "ci_lower": [0.0, 0.3, -0.02, -0.05],
            "ci_upper": [0.2, 0.55, 0.0, -0.01],
            "prob_best": [0.02, 0.98, 0.1, 0.9],
        }
    )
    t.attrs["ci"] = 0.9
    (line,) = invest_sentences(t)
    assert line.startswith("Banque: invest in Qualité: one more point on its questions brings +0.42 loyalty points")
    assert "(90% interval +0.30 to +0.55)" in line and "Image +0.10" in line
    assert (
        "almost certain (probability 98%)" in line
        and "The probability of churn changes by -3.1 percentage points" in line
    )


def test_convergence_sentence_says_what_to_do():
    ok = pd.DataFrame(columns=["check", "parameter", "value", "threshold"])
    assert convergence_sentence(ok).startswith("The sampler converged")
    bad = pd.DataFrame(
        {
            "check": ["rhat", "ess_bulk", "divergences"],
            "parameter": ["a [Banque]", "a [Banque]", ""],
            "value": 1.0,
            "threshold": 1.0,
        }
    )
    line = convergence_sentence(bad)
    assert "1 parameter(s) and 3 check(s)" in line and "--tune" in line and "\n" not in line


def test_show_progress():
    assert show_progress(True) and not show_progress(False)
    assert show_progress(None) in (True, False)
    with pytest.raises(ArgumentError):
        show_progress("yes")  # type: ignore[arg-type]


def test_demo_ends_in_plain_words(capsys):
    from loyaltymodels.demo import main

    main()
    out = capsys.readouterr().out
    tail = out.split("In plain words:")[1]
    assert "Experience weighs more in loyalty than Beliefs" in tail and "fits poorly" in tail
