"""A study's design on disk: the questionnaire for review and fieldwork, its model, and the sample plan.

:func:`write_design` writes, in one directory, what a researcher sends the client and the fieldwork
agency: the questionnaire as respondents read it (Markdown, HTML), the data templates (SPSS, Excel,
CSV and its codebook), the lavaan model that will analyse the answers, and -- given a
:class:`~loyaltymodels.design.SamplePlan` -- the plan's tables, text and power curves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .instrument import Questionnaire
    from .planning import SamplePlan

__all__ = ["write_design"]


def write_design(q: Questionnaire, out: str | os.PathLike[str], plan: SamplePlan | None = None) -> list[Path]:
    """Write the questionnaire's files (and the plan's) into the directory ``out``; return the paths.

    Examples
    --------
    >>> import tempfile
    >>> from loyaltymodels.design import questionnaire
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     names = [p.name for p in write_design(questionnaire(items_per_construct=2), tmp)]
    >>> names  # doctest: +NORMALIZE_WHITESPACE
    ['questionnaire.md', 'questionnaire.html', 'model.lav', 'model_commensurate.lav', 'template.sav',
     'template.xlsx', 'template.csv', 'template_codebook.csv']
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def text(name: str, content: str) -> None:
        path = out / name
        path.write_text(content, encoding="utf-8")
        written.append(path)

    text("questionnaire.md", q.to_markdown())
    text("questionnaire.html", q.to_html())
    text("model.lav", q.to_syntax() + "\n")
    if q.promise_pairs:
        text("model_commensurate.lav", q.to_syntax(commensurate=True) + "\n")
    written.append(q.to_sav(out / "template.sav"))
    written.append(q.to_xlsx(out / "template.xlsx"))
    written.append(q.to_csv(out / "template.csv"))
    written.append(out / "template_codebook.csv")
    if plan is not None:
        text("plan.md", plan.to_markdown())
        plan.table.to_csv(out / "plan.csv", index=False)
        plan.curves.to_csv(out / "power_curves.csv", index=False)
        written += [out / "plan.csv", out / "power_curves.csv"]
        if len(plan.curves) or len(plan.table):
            import matplotlib.pyplot as plt

            fig = plan.plot()
            fig.savefig(out / "power_curves.png", dpi=110, bbox_inches="tight")
            plt.close(fig)
            written.append(out / "power_curves.png")
    return written
