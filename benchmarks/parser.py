"""How the time of ``lm.parse_model`` grows with the size of the model (issue 21: 20,000 indicators
took 39 s and the time grew quadratically).

Three layouts of one-factor-per-block models: every indicator on one line (``F =~ x1 + x2 + ...``),
one term per line (``+ x2`` continued lines), and blocks of 50 indicators per factor (the factor
covariances grow with the square of the number of factors: that part of the table is lavaan's
output, not parser work, so the blocks stop at 40 factors). For each size the median of the repeats
is printed with the time per indicator and the growth exponent between successive sizes
(``log(t2/t1) / log(n2/n1)``: 1 for linear work, 2 for quadratic). The two quadratic steps that were
removed: a slice of the remaining tokens copied for every term (``_looks_like_modifier``) and
list membership tests in the variable roles (``_vnames``).

Run: ``.venv/bin/python benchmarks/parser.py [repeats]`` (output committed in
``benchmarks/results/parser.txt``).
"""

from __future__ import annotations

import datetime
import math
import os
import statistics
import sys
import time

import loyaltymodels as lm

SIZES = (250, 500, 1000, 2000, 5000, 10000, 20000)


def one_line(n: int) -> str:
    return "F =~ " + " + ".join(f"x{i}" for i in range(n))


def one_per_line(n: int) -> str:
    return "F =~ x0\n" + "\n".join(f"    + x{i}" for i in range(1, n))


def blocks(n: int) -> str:
    return "\n".join(f"F{k} =~ " + " + ".join(f"x{k}_{j}" for j in range(50)) for k in range(n // 50))


def timed(text: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lm.parse_model(text)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(repeats: int = 3) -> None:
    lm.parse_model("F =~ x1 + x2 + x3")  # imports and caches outside the timings
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# benchmarks/parser.py, {datetime.date.today()}, 2-core shared machine (load {load}), median of {repeats}")
    print(f"{'layout':<14}{'indicators':>11}{'seconds':>10}{'us/indicator':>14}{'growth exponent':>17}")
    for name, build, sizes in (
        ("one line", one_line, SIZES),
        ("one per line", one_per_line, SIZES),
        ("50 per factor", blocks, tuple(n for n in SIZES if n <= 2000)),
    ):
        previous = None
        for n in sizes:
            t = timed(build(n), repeats)
            growth = "" if previous is None else f"{math.log(t / previous[1]) / math.log(n / previous[0]):.2f}"
            print(f"{name:<14}{n:>11}{t:>10.3f}{1e6 * t / n:>14.1f}{growth:>17}")
            previous = (n, t)
    t300 = timed(one_line(300), max(repeats, 5))
    print(f"\n300 indicators on one line: {1000 * t300:.1f} ms (the issue's bound: 1 s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
