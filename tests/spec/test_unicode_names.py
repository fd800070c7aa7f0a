"""Names of any script in the model syntax, as lavaan reads them in a UTF-8 locale; the
operators are unchanged."""

from __future__ import annotations

import unicodedata

import pytest

import loyaltymodels as lm
from loyaltymodels.errors import SpecError


def test_accented_names_parse():
    spec = lm.parse_model("réputation =~ qualité_service + fidélité.1 + x3\nFidélité ~ réputation\nFidélité =~ a+b+c")
    t = spec.partable
    assert set(t[t.op == "=~"].rhs) == {"qualité_service", "fidélité.1", "x3", "a", "b", "c"}
    assert set(spec.latents) == {"réputation", "Fidélité"}
    assert lm.parse_model(spec.to_syntax()).partable.equals(t)


@pytest.mark.parametrize("name", ["Ωμέγα", "ロイヤルティ", "лояльность", "_privé", ".caché"])
def test_letters_of_any_script(name):
    t = lm.parse_model(f"{name} =~ x1 + x2 + x3").partable
    assert t.lhs.iloc[0] == name


def test_combining_accents_are_the_precomposed_name():
    decomposed = unicodedata.normalize("NFD", "qualité =~ é1 + é2 + é3")
    assert decomposed != "qualité =~ é1 + é2 + é3"
    spec = lm.parse_model(decomposed)
    assert list(spec.latents) == ["qualité"] and list(spec.observed) == ["é1", "é2", "é3"]


@pytest.mark.parametrize("text", ["F =~ x1 + 2x", "F =~ x1 + x€", "F =~ x1 + «x2»", "F ≈ x1 + x2"])
def test_what_is_not_a_name_is_still_refused(text):
    with pytest.raises(SpecError):
        lm.parse_model(text)
