"""The example sample plan of issue 25: three sectors, the client's two questions, at full size.

The client asks (1) whether experience weighs more than beliefs in loyalty, sector by sector, and
(2) whether experience weighs differently in retail and in telecom. The questionnaire is the default
one (image, promise paired with experience on three attributes, quality, satisfaction, intention;
27 construct questions on 1-7), the weights are what the client expects. Then the congruence of
promise and experience and an NPS change between two waves, whose analytic answers are checked the
same way. For every question: the analytic answer, the simulated power at sizes around it (200
surveys each, Wilson 95% intervals) and whether they agree.

Run when the machine is quiet: ``.venv/bin/python benchmarks/design.py``; writes
``benchmarks/results/design.txt`` and ``design_power_curves.png``.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

import matplotlib

import loyaltymodels as lm

matplotlib.use("Agg")
RESULTS = Path(__file__).parent / "results"
#: Standardized weights of (Beliefs, Promise, Experience) on loyalty the client expects per sector.
WEIGHTS = {"retail": (0.40, 0.10, 0.15), "banking": (0.20, 0.10, 0.40), "telecom": (0.10, 0.10, 0.50)}
QUESTIONS = ["within", {"kind": "between", "driver": "Experience", "sectors": ["telecom", "retail"]}]
COLUMNS = ["target", "effect", "sd1", "n_analytic", "power_simulated", "power_lower", "power_upper", "agree", "n"]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    out = (RESULTS / "design.txt").open("w")

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.write(line + "\n")
        out.flush()

    machine = f"{os.cpu_count()}-core shared machine"
    say(f"# benchmarks/design.py, {datetime.date.today()}, {machine} (load at start {_load()})")
    q = lm.questionnaire(items_per_construct=3, sectors=list(WEIGHTS))
    say(str(q))
    say(f"drivers {q.drivers}; weights per sector {WEIGHTS}; rho 0.4, loadings 0.75")
    say()
    started = time.perf_counter()
    plan = lm.sample_size(q, targets=QUESTIONS, sectors=WEIGHTS, reps=reps, seed=2026, progress=False)
    say(f"## The client's two questions ({time.perf_counter() - started:.0f} s; {reps} surveys per size)")
    say(plan.table[COLUMNS].round(3).to_string(index=False))
    say()
    say(plan.to_markdown())
    say("Simulated power against the analytic curve at every size simulated:")
    say(plan.curves.round(3).to_string(index=False))
    fig = plan.plot()
    fig.savefig(RESULTS / "design_power_curves.png", dpi=100, bbox_inches="tight")
    say()
    started = time.perf_counter()
    other = lm.sample_size(
        q,
        targets=["congruence", "nps"],
        sectors=WEIGHTS,
        nps=[(0.30, 0.35, 0.35), (0.25, 0.35, 0.40)],
        reps=reps,
        seed=2027,
        progress=False,
    )
    say(f"## Congruence (OLS surface on composites) and an NPS change ({time.perf_counter() - started:.0f} s)")
    say(other.table[COLUMNS].round(3).to_string(index=False))
    say(other.curves.round(3).to_string(index=False))
    say()
    say(f"load at end {_load()}")


if __name__ == "__main__":
    main()
