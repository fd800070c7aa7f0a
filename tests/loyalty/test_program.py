"""The loyalty model on the package's compiled log density against the PyMC model it stands in for.

The reference is PyTensor's log density and automatic gradient of ``build_loyalty_model``'s graph at
random unconstrained points (both parameterised by the same value variables, in the same order);
the kernel must agree to rounding error, for sectors, segments, one sector, missing items, a driver
that drives another, and other priors.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.bayes.density import kernel as K
from loyaltymodels.loyalty.build import build_graph, make_design
from loyaltymodels.loyalty.fit import _kernel_start
from loyaltymodels.loyalty.program import loyalty_program, program_unsupported, zero_sum_map
from tests.loyalty.test_ordinal import MODEL, numpy_truth

CHAIN = """
Beliefs =~ bel1 + bel2 + bel3 + bel4
Experience =~ exp1 + exp2 + exp3 + exp4
Loyalty =~ loy1 + loy2 + loy3 + loy4
Experience ~ Beliefs
Loyalty ~ Beliefs + Experience
"""


def _reference(model):
    import pytensor
    import pytensor.tensor as pt
    from pytensor.compile.mode import Mode
    from pytensor.graph.basic import Constant
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.traversal import graph_inputs
    from pytensor.scalar import Add
    from pytensor.tensor.elemwise import Elemwise

    # no graph rewrites: PyTensor's own derivation, evaluated node by node (FAST_COMPILE spent
    # 11 of a test's 24 s rewriting the gradient graph, which a handful of points do not repay).
    # Python mode evaluates at most 32 operands (inputs and output) per elementwise node; the gradient's sums over
    # many uses of one row (the latent-score forms' graphs) are split into nested sums first.
    outputs = [model.logp(), model.dlogp()]
    roots = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]
    fg = FunctionGraph(roots, outputs, clone=False)
    for node in list(fg.toposort()):
        if isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Add) and len(node.inputs) > 31:
            parts = [pt.add(*node.inputs[k : k + 16]) for k in range(0, len(node.inputs), 16)]
            fg.replace(node.outputs[0], pt.add(*parts), import_missing=True)
    fn = pytensor.function(model.value_vars, fg.outputs, mode=Mode(linker="py", optimizer=None))
    point = model.initial_point()
    shapes = [(v.name, np.shape(point[v.name])) for v in model.value_vars]

    def unpack(x):
        out, pos = [], 0
        for _name, shape in shapes:
            size = int(np.prod(shape))
            out.append(x[pos : pos + size].reshape(shape))
            pos += size
        return out

    def evaluate(x):
        value, grad = fn(*unpack(x))
        return float(value), np.asarray(grad)

    return evaluate


def _agree(design, n=5, scale=0.3, seed=0):
    """Value and gradient at ``n`` random points near the start: the two log densities agree to
    1e-11 of their size, constants included. (A constant offset of up to 4e-7 on ~4e3, once put
    down to the ordered logit's padding, was PyTensor's: it makes a Python float that float32 holds
    exactly, as the 5 of normal(0,5), a float32 constant and takes its log in float32.)"""
    lp = loyalty_program(design)
    model = build_graph(design)
    transformed = re.compile(r"_(log|interval|logodds|zerosum|ordered)__$")
    assert [transformed.sub("", v.name) for v in model.value_vars] == list(lp.program.names)
    ref = _reference(model)
    x0 = _kernel_start(design, lp)  # the fit's own start: cut points at the observed log-odds
    rng = np.random.default_rng(seed)
    checked, gaps = 0, []
    for _ in range(n):
        x = x0 + scale * rng.standard_normal(x0.shape)
        ours, grad = lp.program.logp_and_grad(x)
        theirs, their_grad = ref(x)
        if not np.isfinite(theirs):
            assert ours == -np.inf
            continue
        gaps.append(ours - theirs)
        assert abs(gaps[-1]) <= 1e-11 * abs(theirs)
        assert abs(gaps[-1] - gaps[0]) <= 1e-11 * abs(theirs)
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


@pytest.mark.parametrize("level", ["configural", "metric", "approximate"])
def test_invariance_levels_on_the_compiled_density_equal_the_pymc_model(level):
    # approximate invariance: the small-variance priors are value priors on the cells' loadings and
    # (centred) intercepts around their mean, beside PyMC's Potential (2 cells: PyTensor's Python
    # mode refuses a sum of more than 32 terms, which more cells' gradients make)
    data, _ = lm.loyalty_scenario(70, sectors=2, seed=6)
    design = make_design(lm.loyalty_model(), data, sector="sector", invariance=level, wiggle_sd=0.07)
    assert program_unsupported(design) is None
    lp = _agree(design, n=4)
    if level == "approximate":
        assert design.wiggle is not None and design.wiggle.shape == (24, 2)  # 12 loadings, 12 intercepts
        assert lp.program.ib[K.H_NDPRI] == 48


def test_latent_form_with_approximate_invariance_equals_the_pymc_model():
    data, _ = lm.loyalty_scenario(60, sectors=2, seed=8, outcomes=True)
    design = make_design(lm.loyalty_model(), data, sector="sector", interaction=True, invariance="approximate")
    _agree(design, n=3, scale=0.2)


def test_zero_sum_map_is_pymcs_transform():
    import pytensor.tensor as pt
    from pymc.distributions.transforms import ZeroSumTransform

    y = np.random.default_rng(0).normal(size=(2, 4))
    theirs = ZeroSumTransform([-1]).backward(pt.as_tensor(y)).eval()
    np.testing.assert_allclose(np.einsum("si,ki->ks", zero_sum_map(5), y), theirs, atol=1e-14)


LATENT_FORMS = {
    "asymmetry and interaction": dict(interaction=True, asymmetry=True),
    "churn and an ordinal rating": dict(outcomes={"churn": "churn", "recommend": ("recommend", "ordinal")}),
    "interaction and churn": dict(interaction=True, outcomes=["churn"]),
    # the response surface: B^2, B E and E^2, one pooled coefficient per sector each
    "response surface": dict(surface=True),
    "response surface and churn": dict(surface=True, outcomes=["churn"]),
}


@pytest.mark.parametrize("form", list(LATENT_FORMS), ids=list(LATENT_FORMS))
def test_latent_forms_on_the_compiled_density_equal_the_pymc_model(form):
    # the forms with latent scores (nonlinear terms, outcomes of the loyalty latent; each alone is a
    # special case of a pair here): the compiled
    # likelihood integrates the drivers' block analytically as the PyMC graph does, with missing items
    data, _ = lm.loyalty_scenario(70, sectors=2, seed=4, outcomes=True)
    data.loc[data.index[::9], "bel2"] = np.nan
    design = make_design(lm.loyalty_model(), data, sector="sector", **LATENT_FORMS[form])
    assert program_unsupported(design) is None
    _agree(design, n=4, scale=0.2)


def test_latent_programs_have_their_own_entry_point_and_the_sem_one_refuses_them():
    # the latent likelihood is compiled apart (a plain SEM's cold start does not pay for it): the
    # marginal SEM's kernel must not pass a latent program off as a density, nor the reverse
    from loyaltymodels.bayes.density.latent_entry import c_logp_latent, logp_grad_latent

    data, _ = lm.loyalty_scenario(60, sectors=2, seed=4)
    latent_design = make_design(lm.loyalty_model(), data, sector="sector", interaction=True)
    latent = loyalty_program(latent_design)
    linear = loyalty_program(make_design(lm.loyalty_model(), data, sector="sector"))
    assert latent.program.latent and not linear.program.latent
    assert latent.program.logp_address == c_logp_latent.address
    assert linear.program.logp_address == K.c_logp.address
    x = _kernel_start(latent_design, latent)
    grad = np.empty_like(x)
    assert np.isnan(K.logp_grad(x, grad, latent.program.ib, latent.program.fb)) and np.isnan(grad).all()
    value, gradient = latent.program.logp_and_grad(x)
    assert np.isfinite(value) and value == logp_grad_latent(x, grad, latent.program.ib, latent.program.fb)
    np.testing.assert_array_equal(gradient, grad)


def test_the_response_surface_on_one_sector_equals_the_pymc_model():
    data, _ = lm.loyalty_scenario(80, sectors=1, seed=6)
    _agree(make_design(lm.loyalty_model(), data, surface=True), n=4, scale=0.2)


ORDINAL_FORMS = {
    # skewed 5-point items (tests/loyalty/test_ordinal.py's truth): every score sampled, ordered probit
    "linear, metric invariance, skipped answers": dict(invariance="metric"),
    "surface, kink, churn and an ordinal rating, approximate invariance": dict(
        surface=True,
        asymmetry=("Experience", "Beliefs"),
        outcomes={"churn": "churn", "rating": ("rating", "ordinal")},
        invariance="approximate",
    ),
}


@pytest.mark.parametrize("form", list(ORDINAL_FORMS), ids=list(ORDINAL_FORMS))
def test_ordinal_items_on_the_compiled_density_equal_the_pymc_model(form):
    data = numpy_truth(40, churn=True, seed=2)
    data["rating"] = (data.loy1 + data.loy2 > 4).astype(int) + (data.loy3 > 2)
    data.loc[data.index[::7], "bel2"] = np.nan
    data.loc[data.index[3::11], "loy3"] = np.nan
    design = make_design(MODEL, data, sector="sector", **ORDINAL_FORMS[form])
    assert design.form == "conditional" and program_unsupported(design) is None
    lp = _agree(design, n=2, scale=0.2)
    assert lp.program.names[-1] == "z" and lp.program.sizes[-1] == design.summary.n * 3
    assert lp.ordered == {f"tau_{v}" for v in design.summary.items} | (
        {f"tau_{v}_g2" for v in design.summary.items} if "metric" in form else set()
    )


def test_thresholds_with_other_priors_are_left_to_the_pymc_graph():
    design = make_design(MODEL, numpy_truth(40), sector="sector", priors={"tau": "student_t(3,0,2)"})
    assert "student_t priors on ordered thresholds" in program_unsupported(design)


def test_driver_paths_in_the_scores_form_are_refused_by_the_kernel():
    data, _ = lm.loyalty_scenario(90, sectors=2, seed=3)
    design = make_design(CHAIN, data, sector="sector", interaction=True)
    assert "paths between the drivers" in program_unsupported(design)


@pytest.mark.slow
def test_fit_on_the_compiled_density_records_it_and_equals_the_graph_in_distribution():
    # the two paths sample the same posterior: their means agree within Monte Carlo error (slow:
    # it compiles the PyMC graph for nutpie, ~35 s; the densities' equality at random points above
    # is the fast suite's check of the same thing)
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


def test_a_fit_with_an_ordinal_outcome_names_its_cut_points_as_the_graph_does():
    # the posterior of a compiled-density fit carries the cut points under the PyMC model's name
    # (notebook 03's fit failed with KeyError 'recommend' when they came back by outcome name)
    data, _ = lm.loyalty_scenario(60, sectors=2, seed=1, outcomes=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = lm.fit_loyalty(
            lm.loyalty_model(),
            data,
            sector="sector",
            outcomes=["churn", "recommend"],
            interaction=True,
            draws=30,
            tune=30,
            chains=1,
            seed=1,
            check=False,
        )
    assert post.attrs["density"] == "kernel"
    cuts = post["posterior"]["cuts_recommend"]
    assert cuts.dims == ("chain", "draw", "cuts_recommend_dim_0") and cuts.sizes["cuts_recommend_dim_0"] == 10
    assert (cuts.diff("cuts_recommend_dim_0") > 0).all()
    assert set(lm.outcome_effects(post).outcome) == {"churn", "recommend"}


@pytest.mark.parametrize("items", ["continuous", "ordinal"])
def test_promise_pairs_on_the_compiled_density_equal_the_pymc_model(items):
    # shared loadings and intercepts (ordinal: thresholds) across the pairs, the experience factor's
    # variance and mean free in the reference cell, the asymmetry on the measured gap: the same log
    # density and gradient
    from tests.loyalty.test_promise import MODEL, PAIRS, likert_truth, numpy_truth

    data = numpy_truth("shortfall", n=60) if items == "continuous" else likert_truth("shortfall", n=40)
    design = make_design(MODEL, data, sector="sector", promise_pairs=PAIRS)
    assert program_unsupported(design) is None and design.roles.asymmetry == ("Experience", "Promise")
    assert (design.form == "conditional") == (items == "ordinal")
    t = design.plan.table
    free_e = t[(t.lhs == "Experience") & (t.op.isin(["~~", "~1"])) & (t.rhs.isin(["Experience", ""])) & (t.group == 1)]
    assert free_e.free.all() and len(free_e) == 2
    _agree(design, n=4 if items == "continuous" else 2, scale=0.2)


def test_diminishing_returns_on_the_compiled_density_equal_the_pymc_model():
    # a driver's centred square as a term of its own, beside the asymmetry and an outcome
    data, _ = lm.loyalty_scenario(70, sectors=2, seed=4, outcomes=True)
    design = make_design(
        lm.loyalty_model(), data, sector="sector", diminishing=["Experience"], asymmetry=True, outcomes=["churn"]
    )
    assert program_unsupported(design) is None and design.form == "scores"
    _agree(design, n=4, scale=0.2)
