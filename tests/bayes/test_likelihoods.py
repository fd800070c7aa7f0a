"""The likelihood forms against SciPy densities and against each other (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.bayes.fit import _parts
from loyaltymodels.bayes.likelihoods import loglik_draws
from loyaltymodels.bayes.model import start_point, unconstrained
from loyaltymodels.bayes.output import eta_of, rows_of
from loyaltymodels.bayes.parameterization import moments

MODEL = "f =~ x1 + x2 + x3 + x4\ng =~ x5 + x6 + x7\ng ~ f\nx1 ~~ x5"


@pytest.fixture(scope="module")
def incomplete():
    data, _ = lm.simulate(MODEL.replace("g ~ f", "g ~ 0.5*f"), n=120, seed=11)
    rng = np.random.default_rng(2)
    data = data.mask(rng.random(data.shape) < 0.1)
    return data


def _point(parts, seed=0):
    point = start_point(parts.plan, parts.summary, parts.form)
    rng = np.random.default_rng(seed)
    for k, v in point.items():  # move away from the symmetric start
        point[k] = v * np.exp(0.1 * rng.standard_normal(np.shape(v))) if k != "z" else v
    return point


def _potential(parts, point):
    model = parts.model
    pot = model.replace_rvs_by_values([model["loglik"]])[0]
    fn = model.compile_fn(pot, inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")
    return float(fn(unconstrained(model, point)))


def test_marginal_form_equals_scipy_and_per_respondent_form(incomplete):
    marg = _parts(MODEL, incomplete, None, None, (), None, "fiml", "marginal", {})
    resp = _parts(MODEL, incomplete, None, None, (), None, "fiml", "respondent", {})
    assert len(marg.summary.patterns) > 5  # several missing-data patterns
    point = _point(marg)
    ours = _potential(marg, point)
    # reference: SciPy's MVN density of each respondent's answered items
    draws = {k: np.asarray(v)[None] for k, v in point.items()}
    fixed = np.nan_to_num(marg.plan.table["value"].to_numpy(float))
    rows = rows_of(marg.plan, marg.summary, draws, fixed)
    sigma, mu = moments(marg.plan.layout, rows[0], 1, np)
    y = marg.summary.y
    ref = 0.0
    for i in range(len(y)):
        o = ~np.isnan(y[i])
        ref += stats.multivariate_normal(mu[o], sigma[np.ix_(o, o)]).logpdf(y[i, o])
    assert ours == pytest.approx(ref, rel=1e-9)
    # the per-respondent log-likelihood that goes into log_likelihood sums to the same
    assert loglik_draws(marg.plan, marg.summary, rows).sum() == pytest.approx(ref, rel=1e-9)
    # the whole model density (priors + Jacobians + likelihood) is the same in both forms
    u = unconstrained(marg.model, point)
    logp = [p.model.compile_logp(mode="FAST_COMPILE")(u) for p in (marg, resp)]  # no C compile
    assert logp[0] == pytest.approx(logp[1], rel=1e-9)


def test_ordinal_conditional_likelihood_equals_scipy():
    data, _truth = lm.simulate("f =~ 0.8*u1 + 0.7*u2 + 0.6*u3", n=80, seed=5, scale=(1, 4))
    parts = _parts("f =~ u1 + u2 + u3", data, None, None, (), "auto", "fiml", None, {})
    assert parts.form == "conditional" and set(parts.summary.ordinal) == {"u1", "u2", "u3"}
    assert [rv.name for rv in parts.model.free_RVs][-1] == "z"
    point = _point(parts)
    ours = _potential(parts, point)
    draws = {k: np.asarray(v)[None] for k, v in point.items()}
    fixed = np.nan_to_num(parts.plan.table["value"].to_numpy(float))
    rows = rows_of(parts.plan, parts.summary, draws, fixed)
    eta = eta_of(parts.plan, parts.summary, rows, point["z"][None])[0]
    t = parts.plan.table.assign(v=rows[0])
    ref = 0.0
    for item in ("u1", "u2", "u3"):
        lam = t[(t.op == "=~") & (t.rhs == item)].v.iat[0]
        tau = np.r_[-np.inf, t[(t.op == "|") & (t.lhs == item)].v.to_numpy(), np.inf]
        code = parts.summary.codes(item)
        mu = lam * eta[:, 0]
        ref += np.log(stats.norm.cdf(tau[code + 1] - mu) - stats.norm.cdf(tau[code] - mu)).sum()
    assert ours == pytest.approx(ref, rel=1e-8)
    assert loglik_draws(parts.plan, parts.summary, rows, eta[None]).sum() == pytest.approx(ref, rel=1e-8)


def test_conditional_form_refuses_residual_covariances(incomplete):
    with pytest.raises(lm.SpecError, match="residual covariances"):
        _parts(MODEL, incomplete, None, None, (), None, "fiml", "conditional", {})


def test_missing_data_errors_name_the_column():
    with pytest.raises(lm.DataError, match="x9"):
        lm.build_model("f =~ x1 + x2 + x9", pd.DataFrame({"x1": [1.0], "x2": [2.0]}))


def test_the_conditional_structure_key_holds_the_groups_order():
    """The conditional graph bakes each group's rows: same group sizes in another row order must
    not reuse a compiled graph (the marginal forms' key, by patterns, is unaffected)."""
    from loyaltymodels.bayes.data import prepare

    rng = np.random.default_rng(0)
    model = "F =~ a + b + c"
    y = pd.DataFrame(rng.integers(1, 6, (40, 3)), columns=list("abc")).assign(g=["x"] * 20 + ["y"] * 20)
    flipped = y.assign(g=["x", "y"] * 20)  # the same sizes, the groups in other rows
    keys = [prepare(model, d, group="g", ordinal="auto")[1].structure_key(True) for d in (y, flipped)]
    assert keys[0] != keys[1]
    again = prepare(model, y.copy(), group="g", ordinal="auto")[1].structure_key(True)
    assert again == keys[0]


@pytest.mark.parametrize("case", ["one group", "groups", "rows dropped", "reordered"])
def test_the_item_block_is_validate_datas_own_or_a_copy_never_the_callers(case):
    """prepare reads the items off validate_data's block without a copy when the frame holds it
    whole (a million respondents' 72 MB of fresh memory cost up to a second); whatever the path,
    the block equals the data, is read-only, and the caller's frame is untouched."""
    from loyaltymodels.bayes.data import _item_block, prepare
    from loyaltymodels.data.validate import validate_data

    data, _ = lm.simulate(MODEL, n=60, seed=1)
    group = None
    if case == "groups":
        data["g"] = np.repeat(["a", "b"], 30)
        group = "g"
    if case == "rows dropped":
        data.iloc[3, 2] = np.nan
    before = data.copy()
    items = ["x1", "x2", "x3", "x4", "x5", "x6", "x7"]
    missing = "listwise" if case == "rows dropped" else "fiml"
    spec, summary = prepare(MODEL, data, group=group, missing=missing)
    y = summary.y
    assert not y.flags.writeable and y.flags.f_contiguous
    kept = data.dropna(subset=items)
    np.testing.assert_array_equal(y, kept[list(spec.observed)].to_numpy(float))
    pd.testing.assert_frame_equal(data, before)
    frame, _ = validate_data(MODEL, data, group=group, missing=missing)
    order = list(spec.observed)[::-1] if case == "reordered" else list(spec.observed)
    block = _item_block(frame, order)
    np.testing.assert_array_equal(block, frame[order].to_numpy(float))
    shared = np.shares_memory(block, frame[order[0]].to_numpy())
    assert shared == (case != "reordered")  # dropped rows: validate_data's frame.loc made the block
    assert not np.shares_memory(block, data[items].to_numpy())
