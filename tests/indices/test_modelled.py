"""The modelled (latent) index, ``lm.latent_index``, from hand-built posteriors: exact values,
random draws checked against the parameters looked up by their lavaan names, scale sources and
errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import loyaltymodels as lm
from loyaltymodels.errors import DataError


def _posterior(rows, draws, attrs=None):
    """A DataTree laid out as loyaltymodels.spec.layout says, from (lhs, op, rhs, group) rows."""
    from loyaltymodels.spec.layout import param_name

    names = [param_name(lhs, op, rhs, g) for lhs, op, rhs, g in rows]
    param = xr.DataArray(
        draws,
        dims=("chain", "draw", "parameter"),
        coords={
            "parameter": names,
            "lhs": ("parameter", [r[0] for r in rows]),
            "op": ("parameter", [r[1] for r in rows]),
            "rhs": ("parameter", [r[2] for r in rows]),
            "group": ("parameter", [r[3] for r in rows]),
        },
    )
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"param": param})})
    tree.attrs.update(attrs or {})
    return tree


ROWS = [
    ("Loyalty", "=~", "loy1", 1),
    ("Loyalty", "=~", "loy2", 1),
    ("Loyalty", "=~", "loy3", 1),
    ("loy1", "~1", "", 1),
    ("loy2", "~1", "", 1),
    ("loy3", "~1", "", 1),
    ("Loyalty", "~1", "", 1),
    ("Loyalty", "=~", "loy1", 2),
    ("Loyalty", "=~", "loy2", 2),
    ("Loyalty", "=~", "loy3", 2),
    ("loy1", "~1", "", 2),
    ("loy2", "~1", "", 2),
    ("loy3", "~1", "", 2),
    ("Loyalty", "~1", "", 2),
    ("Image", "=~", "img1", 1),
    ("img1", "~1", "", 1),
]


def test_latent_index_exact_values():
    # group 1: loadings 1, .8, 1.2, intercepts 5, 6, 4, latent mean 0 -> implied means 5, 6, 4
    # group 2: the same with latent mean 0.5 -> 5.5, 6.4, 4.6; mean 5.5 on 1-7 -> (5.5 - 1) / 6 * 100
    const = [1, 0.8, 1.2, 5, 6, 4, 0, 1, 0.8, 1.2, 5, 6, 4, 0.5, 1, 3]
    post = _posterior(ROWS, np.tile(const, (2, 3, 1)))
    t = lm.latent_index(post, "Loyalty", items_scale=(1, 7))
    assert t.group.tolist() == [1, 2]
    assert t.estimate.tolist() == pytest.approx([(5 - 1) / 6 * 100, 75.0])
    assert t.ci_lower.tolist() == pytest.approx(t.estimate.tolist())
    assert t.sd.tolist() == pytest.approx([0, 0], abs=1e-12)
    assert (t.method == "posterior").all() and (t.n_draws == 6).all()
    ten = lm.latent_index(post, "Loyalty", scale=(0, 10), items_scale="1-7")
    assert ten.estimate.iloc[1] == pytest.approx(7.5)


def test_latent_index_random_draws_against_names():
    rng = np.random.default_rng(7)
    draws = rng.normal(size=(4, 250, len(ROWS))) * 0.3 + np.array(
        [1, 0.8, 1.2, 5, 6, 4, 0, 1, 0.8, 1.2, 5, 6, 4, 0.5, 1, 3]
    )
    post = _posterior(ROWS, draws, attrs={"items_scale": (0, 10)})
    t = lm.latent_index(post, "Loyalty", ci=0.9)
    # reference: look the parameters up by their lavaan names instead of lhs/op/rhs
    p = post["posterior"]["param"]
    for g, suffix in ((1, ""), (2, ".g2")):
        alpha = p.sel(parameter=f"Loyalty~1{suffix}").values
        implied = [
            p.sel(parameter=f"loy{j}~1{suffix}").values + p.sel(parameter=f"Loyalty=~loy{j}{suffix}").values * alpha
            for j in (1, 2, 3)
        ]
        index = (implied[0] + implied[1] + implied[2]) / 3 * 10  # 0-10 -> 0-100
        row = t[t.group == g].iloc[0]
        assert row.estimate == pytest.approx(index.mean())
        assert row.sd == pytest.approx(index.std(ddof=1))
        assert (row.ci_lower, row.ci_upper) == pytest.approx(tuple(np.quantile(index, [0.05, 0.95])))


def test_latent_index_scale_sources_and_errors():
    const = np.tile([1, 0.8, 1.2, 5, 6, 4, 0, 1, 0.8, 1.2, 5, 6, 4, 0.5, 1, 3], (1, 2, 1))
    post = _posterior(ROWS, const)
    with pytest.raises(ValueError, match="items_scale=\\(lowest, highest answer\\)"):
        lm.latent_index(post, "Loyalty")
    post["observed_data"] = xr.DataTree(xr.Dataset(attrs={"items_scale": (1, 7)}))
    assert lm.latent_index(post, "Loyalty").estimate.iloc[0] == pytest.approx(400 / 6)
    # a latent without a mean row is at 0; the Dataset of the posterior group works too
    image = lm.latent_index(post["posterior"].to_dataset(), "Image", items_scale=(1, 5))
    assert image.estimate.iloc[0] == pytest.approx(50.0)
    with pytest.raises(DataError, match=r"no indicators of 'Brand'.*\['Image', 'Loyalty'\]"):
        lm.latent_index(post, "Brand", items_scale=(1, 7))
    no_means = _posterior(ROWS[:3] + ROWS[4:6], np.ones((1, 2, 5)))
    with pytest.raises(DataError, match="no intercept of indicator 'loy1' in group 1"):
        lm.latent_index(no_means, "Loyalty", items_scale=(1, 7))
