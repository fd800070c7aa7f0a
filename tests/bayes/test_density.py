"""The generic numba log density against the PyMC model it stands in for, and its use by nutpie.

The reference is the PyMC graph of ``build_model`` (PyTensor's own log density and its automatic
gradient), evaluated at random unconstrained points; the kernel must agree to rounding error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.bayes.density.program import make_program, unsupported
from loyaltymodels.bayes.fit import _parts
from loyaltymodels.bayes.model import start_point
from loyaltymodels.bayes.sampling import compile_parts, kernel_unsupported
from loyaltymodels.datasets import HS_MODEL, POLDEM_MODEL

MULTIGROUP = "f =~ x1 + a*x2 + x3\nf ~~ x4\nd := 2*a"
PATH = "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ b*f\nx1 ~~ x4\nx2 ~~ x5\nx1 ~~ x5"


def _reference(parts):
    """PyTensor's log density and gradient of the PyMC model, on the flat unconstrained vector."""
    from pytensor.compile.mode import Mode

    m = parts.model
    mode = Mode(linker="py", optimizer=None)  # no graph rewrites (see tests/loyalty/test_program.py)
    logp = m.compile_logp(mode=mode)
    dlogp = m.compile_dlogp(mode=mode)
    point = m.initial_point()
    shapes = [(v.name, np.shape(point[v.name])) for v in m.value_vars]

    def unpack(x):
        out, pos = {}, 0
        for name, shape in shapes:
            size = int(np.prod(shape))
            out[name] = x[pos : pos + size].reshape(shape)
            pos += size
        return out

    return lambda x: (float(logp(unpack(x))), np.asarray(dlogp(unpack(x))))


def _agree(parts, n=6, scale=0.3, seed=0):
    program = make_program(parts.plan, parts.summary)
    ref = _reference(parts)
    x0 = program.unconstrain(start_point(parts.plan, parts.summary, parts.form))
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(n):
        x = x0 + scale * rng.standard_normal(x0.shape)
        ours, grad = program.logp_and_grad(x)
        theirs, their_grad = ref(x)
        if not np.isfinite(theirs):  # outside the support (e.g. not positive definite): both say so
            assert ours == -np.inf
            continue
        assert ours == pytest.approx(theirs, rel=1e-11, abs=1e-9)
        np.testing.assert_allclose(grad, their_grad, rtol=1e-9, atol=1e-10 * np.abs(their_grad).max())
        checked += 1
    assert checked >= n // 2
    return program


def _fixture(model, data, **kw):
    args = dict(priors=None, group=None, group_equal=(), ordinal=None, missing="fiml", form=None)
    args.update(kw)
    opts = args.pop("options", {})
    return _parts(
        model,
        data,
        args["priors"],
        args["group"],
        args["group_equal"],
        args["ordinal"],
        args["missing"],
        args["form"],
        opts,
    )


def test_kernel_equals_pymc_on_holzinger_swineford(hs):
    _agree(_fixture(HS_MODEL, hs))


def test_kernel_equals_pymc_on_political_democracy(poldem):
    parts = _fixture(POLDEM_MODEL, poldem)
    program = _agree(parts)
    assert program.ib[3] == 11  # 11 observed variables; a 4-variable correlated block is checked


def test_kernel_equals_pymc_multigroup_labels_and_missing_patterns():
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3\nf ~~ 0.3*x4", n=[90, 70], seed=4)
    data = data.mask(np.random.default_rng(0).random(data.shape) < 0.08).assign(group=data["group"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = _fixture(MULTIGROUP, data, group="group", group_equal=("loadings",))
    assert len(parts.summary.patterns) > 6 and parts.plan.layout.ngroups == 2
    _agree(parts)


def test_kernel_equals_pymc_missing_data_on_hs(hs):
    data = hs.mask(np.random.default_rng(5).random(hs.shape) < 0.1)
    parts = _fixture(HS_MODEL, data)
    assert len(parts.summary.patterns) > 20
    _agree(parts)


@pytest.mark.parametrize(
    "priors",
    [
        {
            "lambda": "student_t(4,0,5)",
            "nu": "cauchy(0,10)",
            "theta": "lognormal(0,1)[sd]",
            "psi": "exponential(1)[var]",
            "rho": "uniform(-0.9,0.9)",
            "beta": "normal(0,1)",
        },
        {
            "lambda": "uniform(-5,5)",
            "theta": "inv_gamma(2,1)[var]",
            "psi": "half_normal(2)[prec]",
            "rho": "beta(2,2)",
            "beta": "cauchy(0,1)",
        },
        {"theta": "half_cauchy(1)[sd]", "psi": "gamma(2,1)[var]", "nu": "student_t(3,1,20)"},
    ],
)
def test_kernel_equals_pymc_for_every_prior_family(priors):
    data, _ = lm.simulate(PATH.replace("b*f", "0.5*f"), n=150, seed=9)
    _agree(_fixture(PATH, data, priors=priors))


def test_kernel_equals_pymc_with_observed_covariates():
    """fixed.x covariates: their (co)variances and means are fixed rows filled from the data."""
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3\nf ~ 0.4*z1 + 0.3*z2\nx3 ~ 0.2*z1", n=200, seed=12)
    parts = _fixture("f =~ x1 + x2 + x3\nf ~ z1 + z2\nx3 ~ z1", data)
    assert parts.plan.table.exo.any()
    _agree(parts)


def test_kernel_equals_pymc_nonrecursive_model():
    """A feedback loop: (I - A)^-1 by elimination instead of the path series."""
    model = "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\nf ~ g\ng ~ f"
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3\ng =~ 0.8*x4 + 0.7*x5 + 0.6*x6\nf ~~ 0.3*g", n=150, seed=2)
    parts = _fixture(model, data)
    from loyaltymodels.algebra.matrices import acyclic_depth

    assert acyclic_depth(parts.plan.layout, 1) is None
    _agree(parts, scale=0.1)


def test_kernel_equals_pymc_with_std_lv_sign_constraint(hs):
    parts = _fixture(HS_MODEL, hs, options={"std_lv": True})
    assert any(g.positive for g in parts.plan.rvs)  # truncated-normal first loadings
    _agree(parts)


def test_fast_path_is_used_and_falls_back(hs, monkeypatch):
    import nutpie
    import pymc as pm

    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model: "graph")  # no compile here
    parts = _fixture(HS_MODEL, hs)
    assert kernel_unsupported(parts) is None
    assert compile_parts(parts, cache=False).density == "kernel"
    assert compile_parts(parts, cache=False, density="pytensor").compiled == "graph"
    assert compile_parts(parts, sampler="pymc", cache=False).density == "pytensor"
    resp = _fixture(HS_MODEL, hs, form="respondent")
    assert "respondent" in unsupported(resp.plan, resp.summary, "respondent") == kernel_unsupported(resp)
    assert compile_parts(resp, cache=False).compiled == "graph"
    with pytest.raises(ValueError, match="respondent"):
        compile_parts(resp, cache=False, density="kernel")
    # a user who extends the pm.Model gets the PyMC graph, with the addition
    extended = _fixture(HS_MODEL, hs)
    with extended.model:
        pm.Potential("extra", -extended.model["lambda"].sum())
    assert "potentials" in kernel_unsupported(extended)
    compiled = compile_parts(extended, cache=False)
    assert compiled.density == "pytensor" and compiled.compiled == "graph"
    truncated = _fixture(HS_MODEL, hs, priors={"lambda": "student_t(3,0,5)"}, options={"std_lv": True})
    assert "truncated" in kernel_unsupported(truncated)


def test_kernel_failure_falls_back_to_the_graph(monkeypatch, hs):
    import nutpie

    from loyaltymodels.bayes.density import program as density_program
    from loyaltymodels.bayes.sampling import SamplerWarning

    def broken(*args, **kwargs):
        raise RuntimeError("no numba")

    monkeypatch.setattr(density_program, "make_program", broken)
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model: "graph")  # no compile here
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.5*x4", n=150, seed=3)
    with pytest.warns(SamplerWarning, match="kernel"):
        compiled = lm.compile_model("f =~ x1 + x2 + x3 + x4", data, cache=False)
    assert compiled.density == "pytensor" and compiled.compiled == "graph"


@pytest.mark.slow
def test_kernel_and_graph_sample_the_same_posterior():
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.7*x4", n=200, seed=21)
    posts = [
        lm.fit_bayes("f =~ x1 + x2 + x3 + x4", data, seed=5, draws=1000, density=d, progressbar=False, check=False)
        for d in ("kernel", "pytensor")
    ]
    assert [p.attrs["density"] for p in posts] == ["kernel", "pytensor"]
    s = [lm.bayes_summary(p).set_index("name") for p in posts]
    free = s[0].index[s[0].free]
    gap = (s[0].loc[free, "mean"] - s[1].loc[free, "mean"]).abs() / s[0].loc[free, "sd"]
    assert gap.max() < 0.15, gap.sort_values().tail()  # Monte Carlo error of two 4000-draw runs


def test_pyfunc_entry_point_samples(hs):
    """nutpie's public from_pyfunc interface, used if its C-callback interface changes."""
    import nutpie

    from loyaltymodels.bayes.sampling import _PyFuncKernel, kernel_model

    parts = _fixture("f =~ x1 + x2 + x3", hs)
    program = make_program(parts.plan, parts.summary)
    raw = kernel_model(program, parts.plan)
    x0 = program.unconstrain(start_point(parts.plan, parts.summary, "marginal"))
    init = lambda seed: x0 + 0.05 * np.random.default_rng(seed).standard_normal(x0.shape)  # noqa: E731
    slow = _PyFuncKernel(raw.dims, raw.coords).prepared(program, init)
    fast = raw.prepared(program, init)
    a, b = (nutpie.sample(m, draws=200, tune=200, chains=1, seed=3, progress_bar=False) for m in (slow, fast))
    for name in program.names:
        np.testing.assert_allclose(a.posterior[name].values, b.posterior[name].values, rtol=1e-8)


def test_kernel_output_layout_and_reproducibility():
    """The DataTree of a kernel fit has the layout of tests/bayes/test_fit.py::test_layout_contract."""
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.5*x4", n=150, seed=3)

    def fit(seed):
        return lm.fit_bayes(
            "f =~ x1 + x2 + x3 + x4",
            data,
            seed=seed,
            draws=100,
            tune=100,
            chains=2,
            progressbar=False,
            posterior_predictive=True,
            prior_predictive=True,
            check=False,
        )

    post = fit(1)
    assert post.attrs["density"] == "kernel" and post.attrs["sampler"] == "nutpie"
    assert set(post.children) >= {
        "posterior",
        "sample_stats",
        "observed_data",
        "posterior_predictive",
        "prior",
        "prior_predictive",
    }
    param = post["posterior"]["param"]
    assert param.dims == ("chain", "draw", "parameter") and param.shape[:2] == (2, 100)
    assert list(param.parameter.values[:4]) == ["f=~x1", "f=~x2", "f=~x3", "f=~x4"]
    assert float(param.sel(parameter="f=~x1").std()) == 0.0
    assert "log_likelihood" not in post.children  # computed on demand (LOO), not stored
    for name in ("diverging", "energy", "tree_depth", "step_size", "lp"):
        assert name in post["sample_stats"]
    dims = {d for node in post.subtree for d in node.dims}
    assert not any(d.endswith("_dim_0") for d in dims)
    again = fit(1)
    np.testing.assert_array_equal(post["posterior"]["param"].values, again["posterior"]["param"].values)
