"""The item bank as data: every question complete in both languages, sourced, on a scale that has its
answer labels, usable as a variable name by SPSS, Stata and lavaan; the pairs pair."""

from __future__ import annotations

import re

import pytest

from loyaltymodels.design.bank import CONSTRUCTS, SURVEY_SCALES, fill, item_bank, parse_range, value_labels
from loyaltymodels.errors import SpecError

BANK = item_bank()
#: SPSS: a letter, then letters, digits or _ (64 bytes at most); Stata reserves a few bare words.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
STATA_RESERVED = {"byte", "double", "float", "if", "in", "int", "long", "using", "with"}


def test_every_question_has_a_name_both_wordings_and_a_source():
    assert BANK.name.is_unique
    assert all(NAME.match(n) and n not in STATA_RESERVED for n in BANK.name)
    for col in ("text_en", "text_fr", "source", "source_fr"):
        assert (BANK[col].str.strip() != "").all(), col
    assert BANK.text_en.str.contains("{brand}", regex=False).all()
    assert BANK.text_fr.str.contains("{brand}", regex=False).all()
    assert set(BANK.source_fr) <= {"translated for loyaltymodels", "written for loyaltymodels"}


def test_french_typography():
    # a narrow no-break space before ? (French usage), never a plain space or none
    questions = BANK.text_fr[BANK.text_fr.str.endswith("?")]
    assert len(questions) > 20
    assert questions.str.endswith("\u202f?").all()
    assert not BANK.text_en.str.contains("\u202f").any()


def test_every_scale_has_its_answer_labels():
    for r in BANK.itertuples():
        scales = SURVEY_SCALES if r.scale == "survey" else [r.scale]
        for scale in scales:
            if scale in ("count", "percent", "years"):
                assert r.anchors == ""
                continue
            lo, hi = (0, 1) if scale == "yes_no" else parse_range(scale)
            for language in ("en", "fr"):
                labels = value_labels(r.anchors, language, lo, hi)
                assert min(labels) == lo and max(labels) == hi, (r.name, scale)
                assert len(labels) in (2, hi - lo + 1)


def test_the_indices_keep_their_published_scales():
    idx = BANK[BANK.section == "index"].set_index("name")
    assert idx.at["nps", "scale"] == "0-10"
    assert (idx.loc[["cli_rec", "cli_rpu", "cli_try"], "scale"] == "1-6").all()
    assert (idx.loc[["cli_rec", "cli_rpu", "cli_try"], "direction"] == -1).all()  # 1 = very likely
    assert value_labels("cli", "en", 1, 6)[1] == "Very likely"
    assert (idx.loc[["sci_sat", "sci_cont", "sci_rec", "csat"], "scale"] == "1-5").all()
    assert idx.at["ces", "scale"] == "1-7"
    assert idx.at["nps", "text_en"] == "How likely is it that you would recommend {brand} to a friend or colleague?"


def test_construct_questions_are_keyed_positively_and_pairs_pair():
    core = BANK[BANK.section.isin(["beliefs", "experience", "loyalty"])]
    assert (core.direction == 1).all()  # the checks of returned data rely on it
    assert set(CONSTRUCTS) == set(core.construct)
    assert {c: CONSTRUCTS[c] for c in ("image", "promise", "quality", "intention")} == {
        "image": "Beliefs",
        "promise": "Beliefs",
        "quality": "Experience",
        "intention": "Loyalty",
    }
    paired = core[core.attribute != ""]
    for attribute, g in paired.groupby("attribute"):
        assert sorted(g.construct) == ["performance", "promise"], attribute
        assert g.anchors.nunique() == 1 and g.scale.nunique() == 1  # the same scale: the gap is measurable


def test_fill_elides_in_french_only():
    assert fill("les clients de {brand}", "Orange", "fr") == "les clients d'Orange"
    assert fill("les clients de {brand}", "Orange", "en") == "les clients de Orange"
    assert fill("ce que {brand} promet", "Hermès", "fr") == "ce que Hermès promet"


def test_unknown_labels_and_languages_are_spec_errors():
    with pytest.raises(SpecError, match="'de'"):
        item_bank("de")
    with pytest.raises(SpecError, match="no answer labels 'stars'"):
        value_labels("stars", "en", 1, 5)
    with pytest.raises(SpecError, match="1-4 scale"):
        value_labels("cli", "en", 1, 4)
