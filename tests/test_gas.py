"""Gas is deterministic: the benchmark's figures, measured again here, must equal the committed
benchmarks/results/gas.json exactly (rerun `make bench` after a change that moves them)."""

import importlib.util
import json
from pathlib import Path

from conftest import isolated

ROOT = Path(__file__).resolve().parents[1]


def test_gas_matches_committed_benchmark(chain):
    spec = importlib.util.spec_from_file_location("gas_bench", ROOT / "benchmarks" / "gas.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with isolated(chain):
        measured = bench.measure()
    assert measured == json.loads((ROOT / "benchmarks" / "results" / "gas.json").read_text())
