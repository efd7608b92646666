"""Price paths as simulator steps: the demo's own pipeline from candles to Chainlink rounds (plimsoll.demo.prices),
then one step per distinct round time with every collateral's last round carried forward."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np

from ..demo.prices import chainlink_rounds, generated_crash, interpolate, load_candles, parse_utc, walk_candles

#: Named windows of the shared history (UTC, end exclusive), from ../shared/data/market/README.md.
EPISODES = {
    "black_thursday": ("2020-03-12T00:00", "2020-03-13T12:00"),
    "may_2021": ("2021-05-19T00:00", "2021-05-20T00:00"),
}


def rounds_to_steps(rounds: dict[str, list[tuple[int, float]]], symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(times (m,) seconds, prices (m, k) USD): one step per distinct round time, in ``symbols`` column order, each
    collateral's last round carried forward (its first round fills any earlier step)."""
    times = sorted({int(t) for sym in symbols for t, _ in rounds[sym]})
    prices = np.empty((len(times), len(symbols)))
    for c, sym in enumerate(symbols):
        points = {int(t): float(p) for t, p in rounds[sym]}
        last = points[min(points)]
        for j, t in enumerate(times):
            last = points.get(t, last)
            prices[j, c] = last
    return np.array(times, dtype=float), prices


def replay_steps(candles: dict, symbols: list[str], max_step: Decimal | None = Decimal("0.02"),
                 deviation: Decimal = Decimal("0.005"), heartbeat: int = 3600) -> tuple[np.ndarray, np.ndarray]:
    """The demo's replay of ``candles`` (symbol → candles) as steps: each candle walked through its extremes, steps
    of at most ``max_step``, then the rounds a Chainlink feed with that deviation and heartbeat would publish."""
    rounds = {
        s: [(p.time, float(p.price)) for p in chainlink_rounds(interpolate(walk_candles(c), max_step), deviation,
                                                                 heartbeat)]
        for s, c in candles.items()
    }
    return rounds_to_steps(rounds, symbols)


#: The seed of the demo's generated crash (plimsoll.demo.prices.generated_crash's default).
CRASH_SEED = 7


def crash_names(n: int) -> list[str]:
    """Names of ``n`` generated crashes: "generated" (the demo's, seed CRASH_SEED), then "generated-SEED" for the
    next seeds."""
    return ["generated"] + [f"generated-{CRASH_SEED + i}" for i in range(1, n)]


def episode_steps(name: str, files: dict[str, Path], symbols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Steps of a named episode (``EPISODES``) from the hourly files, or of a generated crash: "generated" is the
    demo's, "generated-SEED" the same model from another seed (``crash_names``).

    Raises:
        KeyError: an unknown name. MarketDataError: a file is missing.
    """
    if name == "generated":
        return replay_steps(generated_crash(seed=CRASH_SEED), symbols)
    if name.startswith("generated-") and name[len("generated-"):].isdigit():
        return replay_steps(generated_crash(seed=int(name[len("generated-"):])), symbols)
    start, end = EPISODES[name]
    candles = {s: load_candles(files[s], parse_utc(start), parse_utc(end)) for s in symbols}
    return replay_steps(candles, symbols)
