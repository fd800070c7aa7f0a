"""Returned data held against the questionnaire: each kind of bad return is a DataError naming the
column (and the row and value where it has one), clean returns pass, and the indices are computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import loyaltymodels as lm
from loyaltymodels.errors import DataError


@pytest.fixture(scope="module")
def q():
    return lm.questionnaire(scale="1-5", sectors=["retail", "banking"], items_per_construct=3)


@pytest.fixture(scope="module")
def returned(q):
    data, _ = q.simulate(150, weights={"retail": (0.3, 0.2, 0.3), "banking": (0.1, 0.1, 0.5)}, seed=11)
    return data


def _error(q, data) -> DataError:
    with pytest.raises(DataError) as info:
        q.validate_data(data)
    return info.value


def test_clean_returns_validate(q, returned):
    frame, report = q.validate_data(returned)
    assert report.group == "sector" and report.group_sizes == {"retail": 150, "banking": 150}
    assert list(frame.columns) == [*lm.parse_model(q.to_syntax()).observed, "sector"]


def test_no_false_alarm_on_small_clean_samples(q):
    for seed in range(25):
        data, _ = q.simulate(30, seed=seed)
        q.validate_data(data)


def test_missing_question(q, returned):
    err = _error(q, returned.drop(columns=["sat2"]).rename(columns={"qual1": "Qual1"}))
    assert err.column == "qual1"
    assert "column 'qual1' is missing" in str(err) and "did you mean 'Qual1'?" in str(err)
    assert "1 more problem(s), in sat2" in str(err)


def test_answer_outside_the_scale(q, returned):
    bad = returned.copy()
    bad.loc[17, "sat2"] = 6
    err = _error(q, bad)
    assert (err.column, err.row, err.value) == ("sat2", 17, 6.0)
    assert "6 is outside the 1-5 scale" in str(err) and "'don't know'" in str(err)
    err = _error(q, returned.assign(nps=returned.nps.replace(10, 11)))
    assert err.column == "nps" and "0-10 scale" in str(err)
    err = _error(q, returned.assign(itn2=returned.itn2.where(returned.itn2 != 2, 2.5)))
    assert err.column == "itn2" and "2.5 is not a whole code of the 1-5 scale" in str(err)


def test_labels_exported_instead_of_codes(q, returned):
    bad = returned.assign(img1=returned.img1.map({1.0: "Strongly disagree", 5.0: "Strongly agree"}).fillna("Agree"))
    err = _error(q, bad)
    assert err.column == "img1" and "answer labels, not codes" in str(err)


def test_reversed_scale_found_in_the_answers(q, returned):
    err = _error(q, returned.assign(sat2=6 - returned.sat2))
    assert err.column == "sat2" and "runs against the other questions of Experience" in str(err)
    assert "recode it as 6 - sat2" in str(err)
    err = _error(q, returned.assign(cli_try=7 - returned.cli_try))  # the CLI runs 1 = very likely
    assert err.column == "cli_try" and "1 should be 'Very likely'" in str(err)


def test_reversed_scale_found_in_the_value_labels(q, returned, tmp_path):
    # the agency recoded qual2 as 1 = excellent ... 5 = very poor and said so in its labels
    path = q.to_sav(tmp_path / "back.sav", returned)
    df, meta = pyreadstat.read_sav(str(path))
    df["qual2"] = 6 - df["qual2"]
    labels = dict(meta.variable_value_labels)
    labels["qual2"] = {6 - k: v for k, v in labels["qual2"].items()}
    pyreadstat.write_sav(df, str(path), column_labels=meta.column_names_to_labels, variable_value_labels=labels)
    err = _error(q, lm.read_survey(path))
    assert err.column == "qual2"
    assert "coded in reverse: the file's value labels put 'Excellent' at 1" in str(err)


def test_a_whole_block_reversed(q, returned):
    names = list(q.factors["Experience"])
    err = _error(q, returned.assign(**{n: 6 - returned[n] for n in names}))
    assert "the whole block looks coded in reverse" in str(err)


def test_design_columns(q, returned):
    err = _error(q, returned.assign(sector=returned.sector.replace("retail", "retial")))
    assert (err.column, err.value) == ("sector", "retial")
    yes_no = returned.assign(bought_12m=returned.bought_12m.replace({0.0: 2.0}))
    err = _error(q, yes_no)
    assert err.column == "bought_12m" and "recode 2 (no) as 0" in str(err)
    coded = returned.assign(sector=returned.sector.map({"retail": 1, "banking": 2}))
    q.validate_data(coded)  # SPSS codes of the sectors are accepted


def test_direction_check_can_be_switched_off(q, returned):
    q.validate_data(returned.assign(sat2=6 - returned.sat2), check_direction=False)


def test_indices_from_returned_data(q, returned):
    table = q.score_indices(returned, by="sector")
    assert list(dict.fromkeys(table["index"])) == ["nps", "sci", "cli", "csat", "ces"]
    nps = table[table["index"] == "nps"].set_index("sector").estimate
    # an independent count: promoters minus detractors, in percent
    for sector, g in returned.groupby("sector"):
        expected = 100 * ((g.nps >= 9).mean() - (g.nps <= 6).mean())
        assert nps[sector] == pytest.approx(expected)
    ces = table[table["index"] == "ces"].set_index("sector").estimate
    assert ces["retail"] == pytest.approx(returned.query("sector == 'retail'").ces.mean())
    assert table.attrs["ci"] == 0.95


def test_data_must_be_a_frame(q):
    with pytest.raises(DataError, match="pandas DataFrame"):
        q.validate_data(np.zeros((3, 3)))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="asks no loyalty index"):
        lm.questionnaire(indices=()).score_indices(pd.DataFrame())


def test_cli_scores_every_question_as_the_questionnaire_asks_it(q, returned):
    # QuestionPro's three questions, all asked so that 1 = very likely is the loyal answer, each
    # scored 1 -> 100, ..., 6 -> 0 (the third asks about the brand's *other products*: not reversed)
    table = q.score_indices(returned, by="sector")
    cli = table[table["index"] == "cli"].set_index("sector")
    for sector, g in returned.groupby("sector"):
        scores = (6 - g[["cli_rec", "cli_rpu", "cli_try"]]) * 20
        assert cli.at[sector, "estimate"] == pytest.approx(scores.mean(axis=1).mean())
        assert cli.at[sector, "try_others_score"] == pytest.approx(scores.cli_try.mean())
    # and the index rises with the loyalty the questions measure
    loyal = returned[["itn1", "itn2", "itn3"]].mean(axis=1) > returned[["itn1", "itn2", "itn3"]].mean(axis=1).median()
    by_loyalty = q.score_indices(returned.assign(loyal=loyal.map({True: "yes", False: "no"})), by="loyal")
    cli = by_loyalty[by_loyalty["index"] == "cli"].set_index("loyal")
    assert cli.at["yes", "try_others_score"] > cli.at["no", "try_others_score"]


def test_rows_are_named_as_the_data_name_them(q, returned):
    # a subset keeps its row labels (an int64 index, not a RangeIndex): the message shows 'row 18'
    bad = returned[returned.index % 2 == 0].copy()
    bad.loc[18, "sat2"] = 6
    err = _error(q, bad)
    assert "column 'sat2', row 18: 6 is outside" in str(err) and err.row == 18
