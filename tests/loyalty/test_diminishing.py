"""Diminishing returns as a term of its own (``fit_loyalty(..., diminishing=[...])``,
``lm.diminishing_returns``), told apart from a promise gap, on truths written in NumPy in the tests
(tests/loyalty/test_surface.py's and test_promise.py's; loyalty residual SD 0.7, so a curvature
of -0.15 in the truth is -0.214 in the model's units):

- concave, no promise items: ``0.4 B + 0.4 E - 0.15 (E^2 - 1)``, fitted with the kink on
  ``|E - B|`` too: the curvature is found, the kink is not (issue 19's 0.48 "asymmetry");
- concave on commensurate items: ``0.4 P + 0.3 G - 0.15 E^2``: the curvature is found (the kink
  beside it is too loosely determined at this size to assert on, see the test);
- shortfall-only on commensurate items: the gap's slopes differ, no curvature is found.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.errors import SpecError
from loyaltymodels.loyalty.build import make_design
from tests.loyalty import test_promise, test_surface

SAMPLER = dict(draws=300, tune=300, chains=2, seed=1, target_accept=0.95, progressbar=False)
CURVATURE = -0.15 / 0.7


@pytest.fixture(scope="module")
def fits():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["concave"] = lm.fit_loyalty(
            test_surface.MODEL,
            test_surface.numpy_truth("concave"),
            sector="sector",
            diminishing=["Experience"],
            asymmetry=True,
            **SAMPLER,
        )
        for kind in ("concave", "shortfall"):
            out[f"promise {kind}"] = lm.fit_loyalty(
                test_promise.MODEL,
                test_promise.numpy_truth(kind),
                sector="sector",
                promise_pairs=test_promise.PAIRS,
                diminishing=["Experience"],
                **SAMPLER,
            )
    return out


def _converged(post):
    import arviz_stats as azs

    ds = post["posterior"].dataset
    for name in ("diminishing", "asymmetry", "weight"):
        assert float(np.max(azs.rhat(ds[name]).values)) < 1.05, name
    assert int(post["sample_stats"]["diverging"].sum()) <= 5


def _curvature(post):
    return lm.diminishing_returns(post).set_index(["driver", "quantity"]).loc[("Experience", "curvature")]


def test_concave_truth_found_and_not_read_as_an_asymmetry(fits):
    post = fits["concave"]
    _converged(post)
    c = _curvature(post)
    assert c.found and c.ci_lower < CURVATURE < c.ci_upper
    d = post["posterior"]["asymmetry"].to_numpy().ravel()
    lo, hi = np.quantile(d, [0.05, 0.95])
    assert lo < 0 < hi  # no broken promise reported
    table = lm.diminishing_returns(post).set_index(["driver", "quantity"])
    assert table.loc[("Experience", "slope_low"), "mean"] > table.loc[("Experience", "slope_high"), "mean"]
    assert table.attrs["ci"] == lm.defaults.CI_POSTERIOR


def test_concave_truth_on_commensurate_items_found(fits):
    post = fits["promise concave"]
    _converged(post)
    c = _curvature(post)
    # found, though short of the truth at this n (-0.12 [-0.16, -0.08] against -0.21; the same
    # truth at 2 x 600 gave -0.19 [-0.23, -0.16]). The kink on the measured gap is not asserted
    # here: beside the square it is poorly determined at this size (0.43 [0.04, 0.80] on this seed,
    # -0.35 [-0.66, -0.03] at 2 x 600), which only replications can calibrate
    assert c.found and c.ci_upper < CURVATURE / 3


def test_shortfall_truth_has_a_gap_and_no_curvature(fits):
    post = fits["promise shortfall"]
    _converged(post)
    c = _curvature(post)
    assert not c.found and c.prob_negative < 0.5  # no diminishing returns reported
    gap = lm.promise_gap(post).set_index(["sector", "quantity"]).loc[("pooled", "slope_difference")]
    assert gap.ci_lower > 0


def test_diminishing_is_refused_where_it_cannot_be_read(fits):
    data = test_surface.numpy_truth("linear", n=40)
    with pytest.raises(SpecError, match="must name different drivers"):
        make_design(test_surface.MODEL, data, sector="sector", diminishing=["Nope"])
    with pytest.raises(SpecError, match="squares already"):
        make_design(test_surface.MODEL, data, sector="sector", diminishing=["Experience"], surface=True)
    post = fits["concave"].copy()
    import json

    info = json.loads(post.attrs["loyalty"])
    info["diminishing"] = []
    post.attrs["loyalty"] = json.dumps(info)
    with pytest.raises(SpecError, match="no diminishing-returns term"):
        lm.diminishing_returns(post)


def test_lazy_log_likelihood_rebuilds_the_diminishing_term(fits):
    """LOO's pointwise log-likelihood rebuilt from the posterior alone (loyalty/loglik.py) equals
    the one of the design built from the user's frame with ``diminishing`` and the pairs."""
    from loyaltymodels.bayes.draws import model_spec, row_draws
    from loyaltymodels.loyalty import loglik
    from loyaltymodels.loyalty.build import make_design

    post = fits["promise concave"].isel(draw=slice(0, 20))
    got, labels = loglik.log_likelihood_block(post)
    design = make_design(
        test_promise.MODEL,
        test_promise.numpy_truth("concave"),
        sector="sector",
        promise_pairs=test_promise.PAIRS,
        diminishing=["Experience"],
    )
    ref = loglik.loglik_draws(design, row_draws(post, model_spec(post)), post["posterior"].dataset)
    order = {lab: k for k, lab in enumerate(np.asarray(design.summary.index))}
    np.testing.assert_allclose(got, ref[:, [order[lab] for lab in labels]], rtol=1e-12, atol=1e-10)
    assert np.isfinite(got).all()
