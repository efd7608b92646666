"""Black Thursday at scale: the demo's replay of 12-13 March 2020 with N vaults, the keeper measured from its log.

    .venv/bin/python benchmarks/black_thursday.py --vaults 10000   →  benchmarks/results/black_thursday.{json,md}

The demo (plimsoll.demo.run) on the hourly ETH and BTC candles of ../shared/data/market from 2020-03-12 00:00 to
2020-03-13 12:00 UTC (ETH fell 56 %), walked through each candle's open, extremes and close, one block a second.
The local configuration without margin calls, so that every vault below HF 1 is liquidatable at once and the
keeper's speed is what is measured. Reported:

* the share of liquidation episodes liquidated in block N+1, N being the first block the demo's independent
  monitor saw the vault below HF 1, and the blocks-to-liquidate distribution; and the same within the block gas
  limit (goal 100 %): over the blocks, the vaults each block liquidated out of those waiting, counting at most what
  it could hold (its gas limit over the median gas of a liquidated vault);
* head→broadcast latency of every liquidation the keeper sent (its ``sent`` log lines; goal p99 < 200 ms);
* the keeper's wall and CPU time per block (its ``worked`` lines), and its first block: index rebuild from the
  events and every vault read;
* missed vaults, bad debt, and the reconciliation.

Wall clock on this machine (2 cores; Anvil, the demo's monitor and the keeper share them): measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from plimsoll.demo.prices import load_candles, market_dir, parse_utc
from plimsoll.demo.run import DEFAULT_CONFIG, Demo, DemoOptions, percentile

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
START, END = "2020-03-12T00:00", "2020-03-13T12:00"


def commit() -> str:
    """The commit measured (short hash), marked when the working tree differs from it."""
    run = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return run("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if run("status", "--porcelain") else "")


def main() -> None:
    """Run the replay and write benchmarks/results/black_thursday.{json,md}."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vaults", type=int, default=10_000, help="user vaults (default 10,000)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plimsoll-black-thursday-"))
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for c in raw["collaterals"]:
        c.pop("margin_call", None)  # liquidated at once: the keeper's speed is what is measured
    config = work / "no-margin-calls.yaml"
    config.write_text(yaml.safe_dump(raw))
    t0, t1 = parse_utc(START), parse_utc(END)
    data = market_dir()
    candles = {"WETH": load_candles(data / "Binance_ETHUSDT_1h.csv", t0, t1),
               "WBTC": load_candles(data / "Binance_BTCUSDT_1h.csv", t0, t1)}
    opts = DemoOptions(vaults=args.vaults, candles=candles, max_step=None, workdir=work, config_path=config)
    last = {}

    def progress(stage: str, done: int, total: int) -> None:
        if last.get(stage) != done and (done == total or done % max(1, total // 10) == 0):
            print(f"  {stage}: {done}/{total}", flush=True)
        last[stage] = done

    report = Demo(opts, progress).run()
    log = [json.loads(line) for line in (work / "keeper.log").read_text().splitlines() if line.startswith("{")]
    latency = [e["latency_ms"] for e in log if e["event"] == "sent" and e.get("latency_ms") is not None]
    worked = [e for e in log if e["event"] == "worked"]
    blocks = report["blocks_to_liquidate"]
    result = {
        "vaults": report["vaults"],
        "window": f"{START} .. {END} UTC",
        "became_liquidatable": report["became_liquidatable"],
        "liquidated": report["liquidated"],
        "missed": report["missed"],
        "episodes": blocks["episodes"],
        "share_next_block": blocks["share_next_block"],
        "share_next_block_within_caps": blocks["share_next_block_within_caps"],
        "vaults_per_block_cap": blocks["vaults_per_block_cap"],
        "blocks_to_liquidate": {k: blocks[k] for k in ("p50", "p95", "max")},
        "transactions_sent": len(latency),
        "latency_ms": {"p50": percentile(latency, 0.5), "p99": percentile(latency, 0.99), "max": max(latency, default=None)},
        "first_block_ms": worked[0]["ms"],
        "block_ms": {"p50": percentile([e["ms"] for e in worked[1:]], 0.5),
                     "p99": percentile([e["ms"] for e in worked[1:]], 0.99)},
        "block_cpu_ms": {"p50": percentile([e["cpu_ms"] for e in worked[1:]], 0.5),
                         "p99": percentile([e["cpu_ms"] for e in worked[1:]], 0.99)},
        "blocks_worked": len(worked),
        "bad_debt": report["bad_debt"],
        "reconciliation_ok": report["reconciliation"]["ok"],
        "duration_s": report["duration_s"],
        "machine": f"{os.cpu_count()} cores",
        "commit": commit(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "black_thursday.json").write_text(json.dumps(result, indent=2) + "\n")
    b, lat = result["blocks_to_liquidate"], result["latency_ms"]
    rows = [
        ("user vaults", f"{result['vaults']:,}"),
        ("became liquidatable / liquidated / missed",
         f"{result['became_liquidatable']:,} / {result['liquidated']:,} / {result['missed']}"),
        ("liquidated in block N+1",
         f"{100 * (result['share_next_block'] or 0):.1f} % of {result['episodes']:,} episodes"),
        ("… within the block gas limit (goal 100 %): liquidated in the next block / what it could hold",
         f"{100 * (result['share_next_block_within_caps'] or 0):.1f} % "
         f"({result['vaults_per_block_cap']:,} vaults a block at the median gas per vault)"),
        ("blocks to liquidate p50 / p95 / max", f"{b['p50']} / {b['p95']} / {b['max']}"),
        ("head→broadcast latency p50 / p99 (goal < 200 ms) / max",
         f"{lat['p50']} / {lat['p99']} / {lat['max']} ms over {result['transactions_sent']:,} transactions"),
        ("keeper's first block: index rebuild from events + every vault read", f"{result['first_block_ms']:,} ms"),
        ("keeper wall time per block p50 / p99", f"{result['block_ms']['p50']} / {result['block_ms']['p99']} ms"),
        ("keeper CPU per block p50 / p99", f"{result['block_cpu_ms']['p50']} / {result['block_cpu_ms']['p99']} ms"),
        ("bad debt (pUSD)", result["bad_debt"]),
        ("reconciliation", "holds" if result["reconciliation_ok"] else "MISMATCH"),
        ("demo duration", f"{result['duration_s']} s"),
    ]
    (OUT / "black_thursday.md").write_text(
        "# Black Thursday at scale\n\n`.venv/bin/python benchmarks/black_thursday.py --vaults N` on this machine "
        f"({result['machine']}; Anvil, the demo's monitor and the keeper alongside), {result['window']}, "
        f"no margin calls, one block a second; commit {result['commit']}.\n\n| measure | value |\n| --- | ---: |\n"
        + "".join(f"| {a} | {v} |\n" for a, v in rows))
    print((OUT / "black_thursday.md").read_text())


if __name__ == "__main__":
    main()
