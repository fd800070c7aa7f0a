"""questionnaire(): what it asks, the model it writes, and that the model recovers the truth.

Every questionnaire the function can produce (every choice of constructs, with and without promise
pairs) is built and its syntax parsed; a representative set is fitted by ML on data simulated from it
and must recover the simulated standardized weights (the exhaustive fit is ``slow``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.errors import SpecError

BELIEFS = ["image", "reputation", "values", "promise"]
EXPERIENCE = ["quality", "satisfaction", "performance"]
LOYALTY = ["intention", "recommendation", "repurchase"]


def _subsets(items):
    return [list(c) for k in range(len(items) + 1) for c in itertools.combinations(items, k)]


def every_choice():
    for b, e, l in itertools.product(_subsets(BELIEFS), _subsets(EXPERIENCE), _subsets(LOYALTY)):
        for pairs in (True, False):
            yield b + e + l, pairs


def test_every_questionnaire_parses_or_says_why_not():
    syntaxes, refused = set(), 0
    for constructs, pairs in every_choice():
        try:
            q = lm.questionnaire(constructs, promise_pairs=pairs, indices=(), outcomes=())
        except SpecError as err:
            refused += 1
            drivers = any(c in constructs for c in BELIEFS + EXPERIENCE)
            assert not drivers or not any(c in constructs for c in LOYALTY), (constructs, err)
            continue
        syntaxes.add(q.to_syntax())
        if q.promise_pairs:
            syntaxes.add(q.to_syntax(commensurate=True))
    # refused: exactly the choices without a driver or without a loyalty construct (2 x 2^10 choices,
    # 2 x (2^7 - 1) x (2^3 - 1) with both)
    assert refused == 2 * 2**10 - 2 * (2**7 - 1) * (2**3 - 1)
    assert len(syntaxes) > 1000
    for syntax in sorted(syntaxes)[::10]:  # every one is parsed (and fitted) by the slow test below
        spec = lm.parse_model(syntax)
        assert spec.latents and (spec.table.op == "~").any()


def _recovers(q, n=2500, seed=0, sectors=None):
    drivers = list(q.drivers)
    rng = np.random.default_rng(seed)
    weights = dict(zip(drivers, np.round(rng.uniform(0.1, 0.45, len(drivers)) / max(1, len(drivers) - 1) ** 0.5, 2)))
    data, truth = q.simulate(n, weights=weights, rho=0.3, seed=seed)
    fit = lm.fit_sem(q.to_syntax(), data)
    assert fit.converged
    est = fit.parameters.query("op == '~'").set_index(["lhs", "rhs"])
    true = truth.query("op == '~'").set_index(["lhs", "rhs"]).std_all
    for key, value in true.items():
        # ratings cut from the latent answers attenuate a little: 4 SE plus 0.03
        assert abs(est.at[key, "std_all"] - value) < 4 * est.at[key, "std_all_se"] + 0.03, (q.to_syntax(), key)
    return fit


REPRESENTATIVE = [
    dict(constructs=("image", "quality", "intention"), promise_pairs=False),
    dict(constructs=("image", "promise", "quality", "satisfaction", "intention"), promise_pairs=True),
    dict(constructs=("promise", "intention", "recommendation"), promise_pairs=True),  # Experience made for the pairs
    dict(constructs=("reputation", "values", "promise", "repurchase"), promise_pairs=False),
    dict(constructs=("satisfaction", "recommendation", "repurchase"), promise_pairs=True),  # one driver
    dict(constructs=BELIEFS + EXPERIENCE + LOYALTY, promise_pairs=True),
    dict(constructs={"Image": ["image"], "Service": ["quality"], "Advocacy": ["recommendation"]}, promise_pairs=True),
    dict(
        constructs={
            "Beliefs": ["image"],
            "Experience": ["quality"],
            "Intention": ["intention"],
            "Word": ["recommendation"],
        },
        promise_pairs=False,
    ),
    dict(constructs=("image", "promise", "quality", "intention"), promise_pairs=True, items_per_construct=2),
]


@pytest.mark.parametrize("kwargs", REPRESENTATIVE, ids=lambda k: "-".join(map(str, k["constructs"]))[:40])
def test_ml_recovers_the_simulated_weights(kwargs):
    _recovers(lm.questionnaire(**kwargs, scale="1-7"))


@pytest.mark.slow
def test_ml_recovers_the_weights_of_every_questionnaire():
    fitted = 0
    for k, (constructs, pairs) in enumerate(every_choice()):
        try:
            q = lm.questionnaire(
                constructs, promise_pairs=pairs, indices=(), outcomes=(), scale=("1-5", "1-7", "0-10")[k % 3]
            )
        except SpecError:
            continue
        _recovers(q, n=2000, seed=k)
        fitted += 1
    assert fitted > 1700


def test_the_commensurate_model_measures_the_promise_gap():
    q = lm.questionnaire(items_per_construct=3, scale="1-7")
    for gap in (0.0, 0.4):
        data, _ = q.simulate(3000, gap=gap, seed=3)
        fit = lm.fit_sem(q.to_syntax(commensurate=True), data)
        p = fit.parameters
        mean = p.query("op == '~1' and lhs == 'Experience'").iloc[0]
        # in the first pair's rating units: gap SDs x loading 0.75 x 6 points x 0.2 of the range per SD
        assert abs(mean.est - gap * 0.75 * 6 * 0.2) < 4 * mean.se
        loads = p.query("op == '=~'").set_index("rhs").est
        assert np.isclose(loads["prm_rsp"], loads["prf_rsp"]) and loads["prm_rel"] == loads["prf_rel"] == 1


def test_default_questionnaire_content():
    q = lm.questionnaire()
    assert list(q.factors) == ["Beliefs", "Promise", "Experience", "Loyalty"]
    assert q.paths == {"Loyalty": ("Beliefs", "Promise", "Experience")}
    assert q.promise_pairs == {f"prm_{k}": f"prf_{k}" for k in ("rel", "rsp", "asr", "emp", "vfm")}
    assert (q.beliefs, q.experience, q.loyalty) == ("Beliefs", "Experience", "Loyalty")
    sections = list(dict.fromkeys(q.items.section))
    assert sections == ["beliefs", "experience", "loyalty", "index", "behaviour"]
    # pairs sit close: the promise block ends the beliefs, its experience side opens the experience
    names = q.questions
    assert names.index("prm_vfm") + 1 == names.index("prf_rel")
    assert q.index_columns["sci"] == {"satisfaction": "sci_sat", "repurchase": "sci_cont", "recommend": "sci_rec"}
    assert q.items.set_index("name").at["nps", "scale"] == "0-10" and q.scale == "1-7"


def test_a_question_asked_by_a_construct_is_not_asked_again_for_an_index():
    q = lm.questionnaire(scale="1-5", indices=["sci"])
    assert "sci_sat" not in q.questions and q.index_columns["sci"]["satisfaction"] == "sat1"
    q7 = lm.questionnaire(scale="1-7", indices=["sci"])
    assert "sci_sat" in q7.questions  # 1-7 is not the index's 1-5: asked on its own scale


def test_aliases_and_options():
    q = lm.questionnaire(
        ["image", "intention"], indices=["csi", "NPS"], outcomes=["wallet_share"], items_per_construct=2
    )
    assert list(q.index_columns) == ["nps", "sci"]
    assert q.questions[-1] == "wallet_share" and q.factors["Beliefs"] == ("img1", "img2")
    assert lm.questionnaire(language="fr").brand == "[marque]"
    assert "Acme" in lm.questionnaire(brand="Acme").text("img1")
    assert lm.questionnaire(sectors=["a", "b"], waves=2).columns[:3] == ["respondent_id", "sector", "wave"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(constructs=["image", "qualty", "intention"]), "did you mean 'quality'"),
        (dict(constructs=["image", "quality"]), "no loyalty construct"),
        (dict(constructs=["intention"]), "no beliefs or experience construct"),
        (dict(scale="1-10"), "scale='1-10'"),
        (dict(language="de"), "language='de'"),
        (dict(indices=["nps", "ces2"]), "'ces2' is not a index"),
        (dict(outcomes=["churn"]), "'churn' is not a behaviour question"),
        (dict(constructs={"B": ["image", "intention"], "L": ["recommendation"]}), "mixes forces"),
        (dict(constructs={"B": ["image", "promise"], "E": ["quality"], "L": ["intention"]}), "factor of their own"),
        (dict(constructs=["image", "quality", "intention"], items_per_construct=0), "items_per_construct=0"),
        (dict(constructs={"B": ["image"], "E": ["quality"], "L": ["intention"]}, items_per_construct=1), "at least 2"),
        (dict(waves=0), "waves=0"),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("[", r"\[")):
        lm.questionnaire(**kwargs)


def test_commensurate_needs_pairs():
    with pytest.raises(SpecError, match="promise_pairs=True"):
        lm.questionnaire(promise_pairs=False).to_syntax(commensurate=True)


def test_the_model_is_the_one_fit_bayes_takes():
    q = lm.questionnaire(["image", "quality", "intention"], items_per_construct=3, indices=(), outcomes=())
    data, _ = q.simulate(300, weights=(0.4, 0.3), seed=2)
    post = lm.fit_bayes(q.to_syntax(), data, draws=100, tune=100, chains=1, seed=1, progressbar=False, check=False)
    assert {"Loyalty~Beliefs", "Loyalty~Experience"} <= set(post["posterior"]["param"]["parameter"].values)


@pytest.mark.slow
def test_the_model_is_the_one_fit_loyalty_takes():
    q = lm.questionnaire(["image", "quality", "intention"], items_per_construct=3, sectors=["a", "b"])
    data, _ = q.simulate(150, weights={"a": (0.4, 0.2), "b": (0.2, 0.4)}, seed=2)
    post = lm.fit_loyalty(q.to_syntax(), data, sector="sector", outcomes=["bought_12m"], draws=200, tune=200, chains=2)
    assert post is not None
