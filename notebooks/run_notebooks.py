"""Execute the notebooks top to bottom, as ``make notebooks`` (full size) and the tests (fast) do.

    python notebooks/run_notebooks.py                       # all, full size, executed copies in notebooks/executed/
    python notebooks/run_notebooks.py --fast 01_quickstart  # one, fast mode (LOYALTYMODELS_FAST=1)

The notebooks in git carry no outputs (``tests/test_notebooks.py`` checks it); executed copies go to
``notebooks/executed/`` (ignored by git). A notebook lists the package functions it needs in its
metadata (``"loyaltymodels": {"requires": [...]}``); when one is missing from this installation the
notebook is skipped, with the reason, instead of failing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
FAST_ENV = "LOYALTYMODELS_FAST"


def notebooks() -> list[Path]:
    """The numbered notebooks, in order."""
    return sorted(HERE.glob("[0-9][0-9]_*.ipynb"))


def missing_requirements(path: Path) -> list[str]:
    """Functions the notebook needs that ``loyaltymodels`` does not provide (yet)."""
    import loyaltymodels as lm

    nb = nbformat.read(path, as_version=4)
    needs = nb.metadata.get("loyaltymodels", {}).get("requires", [])
    return [name for name in needs if not hasattr(lm, name)]


def execute(path: Path, *, fast: bool, timeout: int = 3600, out_dir: Path | None = None):
    """Run every cell in a fresh kernel (working directory: the notebook's); raise on the first
    error. Returns the executed notebook and the wall time in seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = "1" if fast else "0"  # the kernel inherits this process's environment
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop(FAST_ENV, None)
        else:
            os.environ[FAST_ENV] = previous
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / path.name)
    return nb, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names or prefixes (default: all)")
    parser.add_argument("--fast", action="store_true", help="fast mode (LOYALTYMODELS_FAST=1)")
    parser.add_argument("--out", type=Path, default=HERE / "executed", help="where executed copies go")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    chosen = [p for p in notebooks() if not args.names or any(p.name.startswith(n) for n in args.names)]
    failed = 0
    for path in chosen:
        missing = missing_requirements(path)
        if missing:
            print(f"SKIP {path.name}: needs lm.{', lm.'.join(missing)}, not in this installation yet")
            continue
        try:
            _, seconds = execute(path, fast=args.fast, timeout=args.timeout, out_dir=args.out)
        except Exception as exc:  # report every notebook, then fail
            failed += 1
            print(f"FAIL {path.name}: {type(exc).__name__}: {str(exc)[-2000:]}")
            continue
        print(f"ok   {path.name}: {seconds:.0f} s ({'fast' if args.fast else 'full'} mode)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
