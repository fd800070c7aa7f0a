"""The loyalty model on the package's compiled log density against the PyMC model it stands in for.

The reference is PyTensor's log density and automatic gradient of ``build_loyalty_model``'s graph at
random unconstrained points (both parameterised by the same value variables, in the same order);
the kernel must agree to rounding error, for sectors, segments, one sector, missing items, a driver
that drives another, and other priors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.bayes.model import start_point
from loyaltymodels.loyalty.build import build_graph, make_design
from loyaltymodels.loyalty.program import loyalty_program, program_unsupported, zero_sum_map

CHAIN = """
Beliefs =~ bel1 + bel2 + bel3 + bel4
Experience =~ exp1 + exp2 + exp3 + exp4
Loyalty =~ loy1 + loy2 + loy3 + loy4
Experience ~ Beliefs
Loyalty ~ Beliefs + Experience
"""


def _reference(model):
    logp = model.compile_logp(mode="FAST_COMPILE")
    dlogp = model.compile_dlogp(mode="FAST_COMPILE")
    point = model.initial_point()
    shapes = [(v.name, np.shape(point[v.name])) for v in model.value_vars]

    def unpack(x):
        out, pos = {}, 0
        for name, shape in shapes:
            size = int(np.prod(shape))
            out[name] = x[pos : pos + size].reshape(shape)
            pos += size
        return out

    return lambda x: (float(logp(unpack(x))), np.asarray(dlogp(unpack(x))))


def _agree(design, n=5, scale=0.3, seed=0):
    lp = loyalty_program(design)
    model = build_graph(design)
    assert [
        v.name.split("_log__")[0].split("_interval__")[0].split("_logodds__")[0].split("_zerosum__")[0]
        for v in model.value_vars
    ] == list(lp.program.names)
    ref = _reference(model)
    x0 = lp.start(start_point(design.plan, design.summary, "marginal"))
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(n):
        x = x0 + scale * rng.standard_normal(x0.shape)
        ours, grad = lp.program.logp_and_grad(x)
        theirs, their_grad = ref(x)
        if not np.isfinite(theirs):
            assert ours == -np.inf
            continue
        assert ours == pytest.approx(theirs, rel=1e-11)
        np.testing.assert_allclose(grad, their_grad, rtol=1e-8, atol=1e-9 * np.abs(their_grad).max())
        checked += 1
    assert checked >= n - 1
    return lp


@pytest.mark.parametrize(
    "scenario, columns",
    [
        (dict(n=90, sectors=4), dict(sector="sector")),
        (dict(n=90, sectors=2, segments=True), dict(sector="sector", segment="segment")),
        (dict(n=150, sectors=1), {}),
    ],
    ids=["sectors", "segments", "one sector"],
)
def test_compiled_density_equals_the_pymc_model(scenario, columns):
    data, _ = lm.loyalty_scenario(
        scenario["n"], sectors=scenario["sectors"], segments=scenario.get("segments", False), seed=3
    )
    _agree(make_design(lm.loyalty_model(), data, **columns))


def test_missing_items_chained_drivers_and_other_priors():
    data, _ = lm.loyalty_scenario(80, sectors=3, seed=5)
    rng = np.random.default_rng(1)
    items = [c for c in data.columns if c[:3] in ("bel", "exp", "loy")]
    holes = data[items].mask(rng.random((len(data), len(items))) < 0.05)
    data = data.assign(**holes)
    design = make_design(
        CHAIN, data, sector="sector", priors={"weight_tau": "half_cauchy(1)", "weight_mu": "normal(0,2)"}
    )
    lp = _agree(design)
    assert lp.program.ib[5] > 3  # several missing-data patterns per cell


def test_zero_sum_map_is_pymcs_transform():
    import pytensor.tensor as pt
    from pymc.distributions.transforms import ZeroSumTransform

    y = np.random.default_rng(0).normal(size=(2, 4))
    theirs = ZeroSumTransform([-1]).backward(pt.as_tensor(y)).eval()
    np.testing.assert_allclose(np.einsum("si,ki->ks", zero_sum_map(5), y), theirs, atol=1e-14)


def test_nonlinear_forms_say_they_are_not_compiled_yet():
    data, _ = lm.loyalty_scenario(90, sectors=2, seed=3)
    design = make_design(lm.loyalty_model(), data, sector="sector", interaction=True)
    assert "scores" in program_unsupported(design)


def test_fit_on_the_compiled_density_records_it_and_equals_the_graph_in_distribution():
    # the two paths sample the same posterior: their means agree within Monte Carlo error
    data, _ = lm.loyalty_scenario(150, sectors=2, seed=8)
    kw = dict(sector="sector", draws=400, tune=400, chains=2, seed=2, check=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = lm.fit_loyalty(lm.loyalty_model(), data, **kw)
        slow = lm.fit_loyalty(lm.loyalty_model(), data, density="pytensor", **kw)
    assert fast.attrs["density"] == "kernel" and slow.attrs["density"] == "pytensor"
    a = fast["posterior"]["std_weight"].stack(s=("chain", "draw"))
    b = slow["posterior"]["std_weight"].stack(s=("chain", "draw"))
    se = np.sqrt(a.var("s") / 200 + b.var("s") / 200)  # conservative ESS of 200 per fit
    assert (abs(a.mean("s") - b.mean("s")) < 4 * se).all()
