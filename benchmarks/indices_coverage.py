"""Coverage of the loyalty-index intervals over simulated samples (seeded).

For each sample size and true value, REPS samples are drawn from a known distribution of answers,
every sample's interval is computed by the package (all samples in one call, one group per
sample), and the share of intervals containing the true value is reported. With REPS = 2000 a
coverage estimate has a Monte Carlo standard error of about 0.5 points at 95%. For the intervals
that depend on the data only through counts (adjusted Wald, Wald, Wilson) the exact coverage is
given too, in brackets: the probability, summed over every possible sample (all trinomial or
binomial outcomes), that the interval contains the truth. n = 10 and NPS 80 go beyond the brief.

NPS answers on 0-10: each segment's probability is spread evenly over its answers (detractors
0-6, passives 7-8, promoters 9-10). True shares (detractors, passives, promoters):
NPS 0 = (0.30, 0.40, 0.30), NPS 50 = (0.10, 0.30, 0.60), and, beyond the brief, NPS 80 =
(0.05, 0.10, 0.85) where the plain Wald interval fails most.

Run: ``.venv/bin/python benchmarks/indices_coverage.py`` (output committed in
``benchmarks/results/indices_coverage.txt``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import loyaltymodels as lm
from loyaltymodels.indices.coverage import nps_exact_coverage, wilson_exact_coverage

REPS = 2000
SIZES = (30, 100, 1000)
NPS_SIZES = (10, *SIZES)
SEED = 20261110
NPS_TRUTH = {0: (0.30, 0.40, 0.30), 50: (0.10, 0.30, 0.60), 80: (0.05, 0.10, 0.85)}


def answer_probs(shares: tuple[float, float, float]) -> np.ndarray:
    """Probabilities of the answers 0..10 giving the segment shares (det, pas, pro)."""
    det, pas, pro = shares
    return np.array([det / 7] * 7 + [pas / 2] * 2 + [pro / 2] * 2)


def simulate(probs: np.ndarray, values: np.ndarray, n: int, rng: np.random.Generator):
    """REPS samples of n answers, flattened, with the sample number as group."""
    answers = rng.choice(values, p=probs, size=REPS * n)
    return answers, np.repeat(np.arange(REPS), n)


def coverage(table, truth: float) -> tuple[float, float]:
    hit = (table.ci_lower <= truth) & (truth <= table.ci_upper)
    return float(hit.mean()), float((table.ci_upper - table.ci_lower).mean())


def nps_rows(rng: np.random.Generator) -> list[str]:
    out = [
        f"NPS, 95% intervals, {REPS} samples per row: simulated coverage % [exact] (mean width)",
        f"{'n':>5} {'NPS':>4}  {'adjusted Wald':>21}  {'Wald':>21}  {'bayes Dir(1,1,1)':>16}",
    ]
    for truth, shares in NPS_TRUTH.items():
        for n in NPS_SIZES:
            x, g = simulate(answer_probs(shares), np.arange(11), n, rng)
            cells = []
            for method in ("adjusted_wald", "wald", "bayes"):
                cov, width = coverage(lm.nps(x, by=g, method=method, seed=rng), truth)
                exact = "" if method == "bayes" else f" [{100 * nps_exact_coverage(n, shares, method):4.1f}]"
                cells.append(f"{100 * cov:5.1f}{exact} ({width:5.1f})")
            out.append(f"{n:>5} {truth:>4}  {cells[0]:>21}  {cells[1]:>21}  {cells[2]:>16}")
    return out


def share_rows(rng: np.random.Generator) -> list[str]:
    out = [
        "",
        "CSAT (top-2 box on 1-5) and Secure Customer Index, Wilson 95% intervals",
        f"{'index':>6} {'n':>5} {'true %':>7}  {'coverage % [exact]':>18}  {'mean width':>10}",
    ]
    for p_top2 in (0.50, 0.90):  # CSAT: P(4 or 5) spread evenly over 4, 5; the rest over 1-3
        probs = np.array([(1 - p_top2) / 3] * 3 + [p_top2 / 2] * 2)
        for n in SIZES:
            x, g = simulate(probs, np.arange(1, 6), n, rng)
            cov, width = coverage(lm.csat(x, by=g), 100 * p_top2)
            exact = 100 * wilson_exact_coverage(n, p_top2)
            out.append(f"{'CSAT':>6} {n:>5} {100 * p_top2:7.1f}  {100 * cov:11.1f} [{exact:4.1f}]  {width:10.1f}")
    # SCI: three independent answers on 1-5 with P(5) = 0.5 each -> P(secure) = 0.125
    probs = np.array([0.05, 0.10, 0.15, 0.20, 0.50])
    for n in SIZES:
        (s, g), (r, _), (c, _) = (simulate(probs, np.arange(1, 6), n, rng) for _ in range(3))
        cov, width = coverage(lm.secure_customer_index(s, r, c, by=g), 12.5)
        exact = 100 * wilson_exact_coverage(n, 0.125)
        out.append(f"{'SCI':>6} {n:>5} {12.5:7.1f}  {100 * cov:11.1f} [{exact:4.1f}]  {width:10.1f}")
    return out


def mean_rows(rng: np.random.Generator) -> list[str]:
    out = [
        "",
        "CES (1-7) and Customer Loyalty Index, t 95% intervals",
        f"{'index':>6} {'n':>5} {'true':>7}  {'coverage %':>10}  {'mean width':>10}",
    ]
    ces_probs = np.array([0.02, 0.03, 0.05, 0.10, 0.20, 0.35, 0.25])  # skewed towards easy
    ces_truth = float(ces_probs @ np.arange(1, 8))
    for n in SIZES:
        x, g = simulate(ces_probs, np.arange(1, 8), n, rng)
        cov, width = coverage(lm.ces(x, by=g), ces_truth)
        out.append(f"{'CES':>6} {n:>5} {ces_truth:7.2f}  {100 * cov:10.1f}  {width:10.2f}")
    # CLI: three independent answers on 1-6; the true index is the mean of the expected scores
    probs = np.array([0.30, 0.30, 0.15, 0.10, 0.10, 0.05])
    answers = np.arange(1, 7)
    cli_truth = float((2 * probs @ ((6 - answers) * 20) + probs @ ((answers - 1) * 20)) / 3)
    for n in SIZES:
        (rec, g), (rep, _), (oth, _) = (simulate(probs, answers, n, rng) for _ in range(3))
        cov, width = coverage(lm.customer_loyalty_index(rec, rep, oth, by=g), cli_truth)
        out.append(f"{'CLI':>6} {n:>5} {cli_truth:7.2f}  {100 * cov:10.1f}  {width:10.2f}")
    return out


def main() -> int:
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    lines = nps_rows(rng) + share_rows(rng) + mean_rows(rng)
    lines += [
        "",
        f"seed {SEED}; Monte Carlo standard error of a 95% coverage: "
        f"{100 * np.sqrt(0.95 * 0.05 / REPS):.2f} points; "
        f"run time {time.perf_counter() - start:.0f} s",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
