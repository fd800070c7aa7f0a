"""The questionnaire as a respondent reads it: numbered questions by section, answers shown once per block.

Consecutive questions that share their answers (a grid of statements on one agreement scale, a run of
ratings) form one block: the instruction and the answer scale are shown once, then the questions. The
Markdown version is for reading and review; the HTML version is a standalone page whose answer grids
are radio buttons, close to what a respondent sees on screen.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .bank import phrase

if TYPE_CHECKING:
    from .instrument import Questionnaire

__all__ = ["to_markdown", "to_html", "blocks"]

_SECTION_KEYS = ("beliefs", "experience", "loyalty", "index", "behaviour")
_OPEN = ("count", "percent", "years")


def blocks(q: Questionnaire) -> Iterator[tuple[str, str | None, list[dict[str, Any]]]]:
    """``(section, note, questions)`` for each block in the order asked; ``note`` introduces the
    promise or the experience side of the pairs, else None. Each question carries its number."""
    number = 0
    current: list[dict[str, Any]] = []
    key: tuple | None = None
    section = note = None
    for r in q.items.to_dict("records"):
        number += 1
        r = dict(r, number=number)
        side = r["construct"] if r["pair"] else None
        this = (r["section"], side, r["anchors"], r["scale"], r["kind"])
        if key is not None and this != key:
            yield str(section), note, current
            current = []
        if key is None or this != key:
            section = r["section"]
            note = phrase(side, q.language, brand=q.brand) if side and (key is None or key[1] != side) else None
        current.append(r)
        key = this
    if current:
        yield str(section), note, current


def _answers(r: dict[str, Any], language: str) -> str:
    if r["kind"] in _OPEN:
        return phrase(f"answers.{r['kind']}", language)
    labels = r["labels"]
    lo, hi = int(r["lo"]), int(r["hi"])
    if len(labels) == hi - lo + 1:
        return " · ".join(f"{code} = {label}" for code, label in labels.items())
    return f"{lo} = {labels[lo]} · " + " · ".join(str(k) for k in range(lo + 1, hi)) + f" · {hi} = {labels[hi]}"


def to_markdown(q: Questionnaire) -> str:
    """The questionnaire in Markdown (see :meth:`Questionnaire.to_markdown`).

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> text = questionnaire(["image", "intention"], scale="1-5", indices=["nps"], outcomes=[],
    ...                      brand="Acme", items_per_construct=2).to_markdown()
    >>> print(text)  # doctest: +ELLIPSIS
    # Your opinion of Acme
    <BLANKLINE>
    Thank you for taking part. ...
    <BLANKLINE>
    ## 1. What you think of Acme
    <BLANKLINE>
    How much do you agree or disagree with each of the following statements?
    <BLANKLINE>
    *Answers:* 1 = Strongly disagree · 2 = Disagree · 3 = Neither agree nor disagree · 4 = Agree · 5 = Strongly agree
    <BLANKLINE>
    **Q1.** Acme can be trusted in what it says and does.
    <BLANKLINE>
    **Q2.** Acme is stable and firmly established.
    ...
    **Q5.** How likely is it that you would recommend Acme to a friend or colleague?
    <BLANKLINE>
    *Answers:* 0 = Not at all likely · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10 = Extremely likely
    """
    lang = q.language
    out = [f"# {phrase('title', lang, brand=q.brand)}", "", phrase("intro", lang), ""]
    seen: list[str] = []
    for section, note, rows in blocks(q):
        if section not in seen:
            seen.append(section)
            out += [f"## {len(seen)}. {phrase(f'sections.{section}', lang, brand=q.brand)}", ""]
        if note:
            out += [f"*{note}*", ""]
        statements = rows[0]["anchors"] == "agree"
        if statements:
            out += [phrase("statements", lang), ""]
        shared = statements or len(rows) > 1
        if shared:
            out += [f"*{_label('answers', lang)}* {_answers(rows[0], lang)}", ""]
        for r in rows:
            out += [f"**Q{r['number']}.** {r['text']}", ""]
            if not shared:
                out += [f"*{_label('answers', lang)}* {_answers(r, lang)}", ""]
    return "\n".join(out).rstrip() + "\n"


def _label(key: str, language: str) -> str:
    return {"answers": {"en": "Answers:", "fr": "Réponses\u00a0:"}}[key][language]


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35rem; text-align: center; font-size: 0.9rem; }
td.q { text-align: left; width: 45%; }
p.note { font-style: italic; }
"""


def to_html(q: Questionnaire) -> str:
    """The questionnaire as a standalone HTML page (see :meth:`Questionnaire.to_html`).

    Examples
    --------
    >>> from loyaltymodels.design import questionnaire
    >>> page = questionnaire(language="fr", brand="Acme", items_per_construct=2).to_html()
    >>> page.startswith("<!DOCTYPE html>"), '<html lang="fr">' in page, 'name="nps" value="10"' in page
    (True, True, True)
    """
    lang = q.language
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        '<head><meta charset="utf-8">',
        f"<title>{e(phrase('title', lang, brand=q.brand))}</title>",
        f"<style>{_CSS}</style></head>",
        "<body>",
        f"<h1>{e(phrase('title', lang, brand=q.brand))}</h1>",
        f"<p>{e(phrase('intro', lang))}</p>",
    ]
    seen: list[str] = []
    for section, note, rows in blocks(q):
        if section not in seen:
            seen.append(section)
            out.append(f"<h2>{len(seen)}. {e(phrase(f'sections.{section}', lang, brand=q.brand))}</h2>")
        if note:
            out.append(f'<p class="note">{e(note)}</p>')
        if rows[0]["anchors"] == "agree":
            out.append(f"<p>{e(phrase('statements', lang))}</p>")
        if rows[0]["kind"] in _OPEN:
            for r in rows:
                top = ' max="100"' if r["kind"] == "percent" else ""
                out.append(
                    f'<p><label>Q{r["number"]}. {e(r["text"])}<br><input type="number" name="{r["name"]}" '
                    f'min="0"{top}> {e(_answers(r, lang))}</label></p>'
                )
            continue
        lo, hi = int(rows[0]["lo"]), int(rows[0]["hi"])
        labels = rows[0]["labels"]
        head = "".join(f"<th>{k}<br>{e(labels.get(k, ''))}</th>" for k in range(lo, hi + 1))
        out.append(f"<table><thead><tr><th></th>{head}</tr></thead><tbody>")
        for r in rows:
            cells = "".join(
                f'<td><input type="radio" name="{r["name"]}" value="{k}" aria-label="{e(str(labels.get(k, k)))}"></td>'
                for k in range(lo, hi + 1)
            )
            out.append(f'<tr><td class="q">Q{r["number"]}. {e(r["text"])}</td>{cells}</tr>')
        out.append("</tbody></table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
