"""Cascade-simulator benchmark: 100,000 vaults × 24 price scenarios through Plimsoll's liquidation rules
(plimsoll.risk.cascade), wall time on this machine.

    .venv/bin/python benchmarks/cascade.py   →  benchmarks/results/cascade.{json,md}

The vaults are the demo's population (plimsoll.demo.run.plan_vaults, seed 42: 55 % WETH, 30 % WBTC, 15 % both,
half of those in portfolio margin, half of the owners answering margin calls) at $2,000 ETH and $40,000 BTC, under
scripts/config/local.yaml (margin calls with a one-hour grace, the growing bonus, partial liquidation to HF 1.5).

Two workloads, each over 24 scenarios (joint ETH/BTC falls from 2.5 % to 60 %, BTC falling 0.8 times as far):

- shock: the prices jump to the scenario, the keeper calls or liquidates, and one more step after every grace
  window has run out (3 steps);
- day: the prices fall to the scenario linearly over 24 hourly steps, then the same closing step (26 steps).

Each is timed 5 times; the table gives the median and the fastest (the machine's other work shows in the spread).
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from plimsoll.risk.cascade import Rules, simulate
from plimsoll.risk.chain import shock_paths
from plimsoll.risk.policies import population
from plimsoll.sdk.config import load_config

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
VAULTS, SCENARIOS, RUNS = 100_000, 24, 5
START = np.array([2_000.0, 40_000.0])


def paths(steps: int, grace: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, prices (S, m, 2)): ``steps`` hourly steps down to each scenario's shock (ETH by the fall, BTC by 0.8
    of it), then a step after the grace."""
    falls = np.linspace(0.025, 0.60, SCENARIOS)
    shocks = -np.stack([falls, 0.8 * falls], axis=1)
    return shock_paths(START, shocks, steps, 3_600.0, grace + 2)


def timed(book, rules, times, prices) -> tuple[list[float], object]:
    runs, out = [], None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        out = simulate(book, rules, times, prices)
        runs.append(time.perf_counter() - t0)
    return runs, out


def main() -> None:
    cfg = load_config(ROOT / "scripts" / "config" / "local.yaml")
    rules = Rules.from_config(cfg)
    book = population(cfg, VAULTS, START)
    grace = float(rules.grace_period.max())
    result = {
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip(),
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "vaults": VAULTS,
        "scenarios": SCENARIOS,
        "debt": round(float(book.debt.sum()), 2),
    }
    for name, steps in (("shock", 1), ("day", 24)):
        times, prices = paths(steps, grace)
        runs, out = timed(book, rules, times, prices)
        result[name] = {
            "steps": len(times),
            "seconds_median": round(statistics.median(runs), 4),
            "seconds_min": round(min(runs), 4),
            "per_scenario": [
                {"eth_fall": round(1 - prices[s, -1, 0] / START[0], 4), "liquidated": int(out.liquidated[s].sum()),
                 "liquidations": int(out.liquidations[s]), "repaid": round(float(out.repaid[s]), 2),
                 "borrower_penalty": round(float(out.borrower_penalty[s]), 2),
                 "bad_debt": round(float(out.bad_debt[s]), 2), "calls": int(out.calls[s]),
                 "cures": int(out.cures[s])}
                for s in range(SCENARIOS)
            ],
        }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cascade.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Cascade simulator: {VAULTS:,} vaults × {SCENARIOS} scenarios",
        "",
        f"Commit {result['commit']}, {result['machine']}; `.venv/bin/python benchmarks/cascade.py`. Goal: under 1 s.",
        "",
        "| workload | steps | median s | fastest s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in ("shock", "day"):
        r = result[name]
        lines.append(f"| {name} | {r['steps']} | {r['seconds_median']} | {r['seconds_min']} |")
    lines += ["", "Outcome of the shock workload (total debt "
              f"{result['debt']:,.0f} pUSD):", "",
              "| ETH fall | vaults liquidated | liquidations | repaid | borrower penalty | bad debt | calls | cures |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["shock"]["per_scenario"][::3]:
        lines.append(f"| {r['eth_fall']:.1%} | {r['liquidated']:,} | {r['liquidations']:,} | {r['repaid']:,.0f} | "
                     f"{r['borrower_penalty']:,.0f} | {r['bad_debt']:,.0f} | {r['calls']:,} | {r['cures']:,} |")
    (OUT / "cascade.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
