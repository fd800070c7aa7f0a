"""The questionnaire as a respondent reads it: every question once, in order, with its answers."""

from __future__ import annotations

from html.parser import HTMLParser

import loyaltymodels as lm


def test_markdown_numbers_every_question_in_order():
    q = lm.questionnaire(brand="Acme", outcomes=("bought_12m", "purchases_12m", "wallet_share"))
    text = q.to_markdown()
    positions = [text.index(f"**Q{k}.** {q.text(name)}") for k, name in enumerate(q.questions, start=1)]
    assert positions == sorted(positions)
    assert text.count("## ") == 5 and "*First, what Acme promises its customers.*" in text
    assert "Percentage (0 to 100)" in text and "0 = Not at all likely · 1 · 2" in text
    assert "1 = Very likely · 2 = Likely" in text  # the CLI's scale, as its source prints it


def test_french_markdown():
    text = lm.questionnaire(language="fr", brand="Orange", scale="1-5").to_markdown()
    assert text.startswith("# Votre avis sur Orange") and "## 1. Ce que vous pensez d'Orange" in text
    assert "*Réponses\u00a0:* 1 = Pas du tout d'accord" in text


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.radios, self.numbers = [], {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "radio":
            self.radios.setdefault(a["name"], []).append(int(a["value"]))
        elif tag == "input":
            self.numbers.append(a["name"])
        elif tag not in ("meta", "br", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack.pop() == tag


def test_html_is_a_well_formed_form_with_every_answer():
    q = lm.questionnaire(outcomes=("purchases_12m", "wallet_share"))
    form = _Form()
    form.feed(q.to_html())
    assert form.stack == []
    for r in q.items.itertuples():
        if r.kind in ("rating", "yes_no"):
            assert form.radios[r.name] == list(range(int(r.lo), int(r.hi) + 1)), r.name
        else:
            assert r.name in form.numbers
