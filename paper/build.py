"""Build the paper: regenerate every table, figure and number from the package into
``paper/generated/``, then render ``paper/paper.md`` to HTML and PDF (WeasyPrint).

Run from the repository root: ``python -m paper.build [--fast] [--only model,studies] [--no-pdf]``.
``--fast`` (or ``LOYALTYMODELS_FAST=1``) uses smaller samples where anything is sampled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from loyaltymodels.defaults import show_progress
from loyaltymodels.studies import is_fast

from .render import render_html, write_pdf
from .sections import SECTIONS, common

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "generated"


def write_section(name: str, section, out: Path) -> dict:
    """Write a section's tables (Markdown + CSV), figures (PNG) and texts; return its numbers,
    keyed ``<name>.<key>``."""
    import matplotlib.pyplot as plt

    from .render import markdown_table

    for tname, frame in section.tables.items():
        frame.to_csv(out / f"{tname}.csv", index=False)
        (out / f"{tname}.md").write_text(markdown_table(frame))
    for fname, fig in section.figures.items():
        fig.savefig(out / f"{fname}.png", dpi=150)
        plt.close(fig)
    for xname, text in section.texts.items():
        (out / f"{xname}.txt").write_text(text)
    return {f"{name}.{k}": v for k, v in section.numbers.items()}


def generate(
    out: Path = GENERATED, *, fast: bool | None = None, only: list[str] | None = None, progress: bool | None = None
) -> dict:
    """Run the section generators and write their content to ``out`` with ``numbers.json``.

    Numbers already in ``out/numbers.json`` from sections not rerun are kept (``only``).
    ``progress`` (``None``: on in a terminal or notebook, as ``defaults.show_progress``) announces
    each section as it starts, ``[i/n] name ...`` on standard error, and turns on the samplers'
    own progress bars inside the sections; each section's time is printed when it ends.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    fast = is_fast(fast)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "numbers.json"
    numbers = json.loads(path.read_text()) if (only and path.exists()) else {}
    timings = {}
    names = only or list(SECTIONS)
    shown = show_progress(progress)
    common.PROGRESS = shown
    for i, name in enumerate(names, 1):
        if shown:  # before the work: a section can sample for many minutes
            print(f"[{i}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        numbers = {k: v for k, v in numbers.items() if not k.startswith(f"{name}.")}
        numbers |= write_section(name, SECTIONS[name](fast), out)
        timings[name] = time.perf_counter() - start
        print(f"  {name}: {timings[name]:.1f} s", flush=True)
    path.write_text(json.dumps(numbers, indent=1, ensure_ascii=False, sort_keys=True))
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", default=None, help="small samples")
    parser.add_argument("--only", help="comma-separated sections to regenerate")
    parser.add_argument("--no-pdf", action="store_true", help="stop after the HTML")
    parser.add_argument("--quiet", action="store_true", help="no progress (sections and samplers)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"Generating into {GENERATED} ({'fast' if is_fast(args.fast) else 'full'} mode)")
    only = args.only.split(",") if args.only else None
    generate(GENERATED, fast=args.fast, only=only, progress=False if args.quiet else None)
    html = render_html(HERE / "paper.md", GENERATED)
    (GENERATED / "paper.html").write_text(html)
    if not args.no_pdf:
        write_pdf(html, HERE / "paper.pdf", base_url=GENERATED)
        print(f"written: {HERE / 'paper.pdf'}")
    print(f"paper built in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
