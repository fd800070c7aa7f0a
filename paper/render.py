"""Turn ``paper.md`` and the generated files into HTML and PDF.

Placeholders in ``paper.md``:

- ``{{section.key}}``: a number (or word) from ``generated/numbers.json``, as printed;
- a line ``{{table:NAME}} caption`` / ``{{figure:NAME}} caption``: the generated table
  (``NAME.md``) or figure (``NAME.png``), numbered in order of appearance, with its caption;
- ``{{ref:NAME}}``: "Table k" or "Figure k" of that table or figure;
- a line ``{{include:NAME}}``: the verbatim text ``NAME.txt`` as a code block.

An unknown name is an error: the paper never prints a placeholder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")
BLOCK = re.compile(r"^\{\{(table|figure|include):([\w-]+)\}\}[ \t]*(.*)$", re.M)
CSS = Path(__file__).resolve().parent / "style.css"


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` as printed (NaN as a dash, booleans as yes/no).

    >>> print(markdown_table(pd.DataFrame({"a": [1.5, float("nan")], "b": [True, False]})))
    | a | b |
    |---:|---:|
    | 1.5 | yes |
    | — | no |
    """

    def cell(v) -> str:
        if isinstance(v, (bool,)) or type(v).__name__ == "bool_":
            return "yes" if v else "no"
        if isinstance(v, float) and v != v:
            return "—"
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---:|" * frame.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def load_numbers(generated: Path) -> dict[str, dict]:
    """``numbers.json`` of a generated directory."""
    return json.loads((generated / "numbers.json").read_text())


def _blocks(text: str, generated: Path) -> tuple[str, dict[str, str]]:
    counters = {"table": 0, "figure": 0}
    refs: dict[str, str] = {}

    def block(m: re.Match) -> str:
        kind, name, caption = m.groups()
        if kind == "include":
            return "```\n" + (generated / f"{name}.txt").read_text().strip() + "\n```"
        counters[kind] += 1
        label = f"{kind.capitalize()} {counters[kind]}"
        refs[name] = label
        if kind == "table":
            body = (generated / f"{name}.md").read_text()
            return f'<p class="caption"><b>{label}.</b> {caption}</p>\n\n{body}\n'
        if not (generated / f"{name}.png").exists():
            raise FileNotFoundError(f"figure {name!r}: {generated / name}.png was not generated")
        return (
            f'<figure><img src="{name}.png" alt="{name}"/><figcaption><b>{label}.</b> {caption}</figcaption></figure>'
        )

    return BLOCK.sub(block, text), refs


def expand(text: str, generated: Path, numbers: dict[str, dict] | None = None) -> str:
    """``paper.md`` with every placeholder replaced (see the module docstring)."""
    numbers = load_numbers(generated) if numbers is None else numbers
    text, refs = _blocks(text, generated)

    def value(m: re.Match) -> str:
        key = m.group(1).strip()
        if key.startswith("ref:"):
            if key[4:] not in refs:
                raise KeyError(f"{{{{{key}}}}}: no table or figure named {key[4:]!r} in the text")
            return refs[key[4:]]
        if key not in numbers:
            raise KeyError(f"{{{{{key}}}}}: not in numbers.json (sections write <section>.<key>)")
        return numbers[key]["text"]

    return PLACEHOLDER.sub(value, text)


def render_html(source: Path, generated: Path) -> str:
    """The paper as one HTML document (images relative to ``generated``)."""
    import markdown

    body = markdown.markdown(
        expand(source.read_text(), generated), extensions=["tables", "fenced_code", "md_in_html"], output_format="html"
    )
    title = source.read_text().splitlines()[0].lstrip("# ").strip()
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS.read_text()}</style></head><body>{body}</body></html>"
    )


def write_pdf(html: str, path: Path, base_url: Path) -> None:
    """Render the HTML to PDF with WeasyPrint."""
    import weasyprint

    weasyprint.HTML(string=html, base_url=str(base_url)).write_pdf(str(path))
