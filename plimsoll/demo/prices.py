"""Price paths for replays: historical candles (CryptoDataDownload CSV), a generated crash path, intra-candle walks,
interpolation, and the Chainlink update rule that turns a path into oracle rounds.

Times are unix seconds (UTC); prices are Decimal USD.
"""

from __future__ import annotations

import csv
import math
import os
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from ..sdk.contracts import PROJECT_ROOT

#: Where ../shared/data/market lives unless PLIMSOLL_MARKET_DATA says otherwise.
DEFAULT_MARKET_DIR = PROJECT_ROOT.parent / "shared" / "data" / "market"


class MarketDataError(ValueError):
    """A price file is missing, unreadable, or has no candles in the requested window."""


@dataclass(frozen=True)
class Candle:
    """One OHLC candle. time: open time, unix seconds; prices: Decimal USD; seconds: candle length."""

    time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    seconds: int = 3600


@dataclass(frozen=True)
class Point:
    """A price at a time (unix seconds, Decimal USD)."""

    time: int
    price: Decimal


def market_dir() -> Path:
    """The market data folder: $PLIMSOLL_MARKET_DATA or ../shared/data/market."""
    return Path(os.environ.get("PLIMSOLL_MARKET_DATA", DEFAULT_MARKET_DIR))


def parse_utc(text: str) -> int:
    """ISO date/time (UTC unless it says otherwise) → unix seconds. Raises ValueError."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def load_candles(path: Path | str, start: int | None = None, end: int | None = None) -> list[Candle]:
    """Read a CryptoDataDownload OHLC CSV and return its candles in [start, end), oldest first.

    Handles the format's quirks (../shared/data/market/README.md): a URL banner before the header; ``unix`` in
    milliseconds or in seconds with ``.0``; two date formats (ignored: ``unix`` is authoritative); ``NULL``
    trade counts; newest-first rows; missing or duplicated hours (duplicates keep the first row read).
    The candle length is taken from the spacing of the rows (hourly or daily files).

    Raises:
        MarketDataError: the file is missing or unreadable, or holds no candle in the window.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise MarketDataError(
            f"cannot read price file {path}: {e} (market data lives in ../shared/data/market "
            "or the folder named by PLIMSOLL_MARKET_DATA)"
        ) from e
    header_at = next((i for i, line in enumerate(lines[:5]) if line.lower().startswith("unix,")), None)
    if header_at is None:
        raise MarketDataError(f"{path}: no 'unix,date,symbol,open,high,low,close,...' header")
    by_time: dict[int, Candle] = {}
    for row in csv.DictReader(lines[header_at:]):
        try:
            stamp = float(row["unix"])
            t = int(stamp / 1000) if stamp > 1e11 else int(stamp)
            candle = Candle(t, Decimal(row["open"]), Decimal(row["high"]), Decimal(row["low"]), Decimal(row["close"]))
        except (KeyError, ValueError, ArithmeticError) as e:
            raise MarketDataError(f"{path}: bad row {row}: {e}") from e
        by_time.setdefault(t, candle)
    times = sorted(by_time)
    spacing = min((b - a for a, b in zip(times, times[1:])), default=3600)
    candles = [
        Candle(c.time, c.open, c.high, c.low, c.close, spacing)
        for t in times
        if (start is None or t >= start) and (end is None or t < end)
        for c in [by_time[t]]
    ]
    if not candles:
        raise MarketDataError(f"{path}: no candles between {start} and {end}")
    return candles


def walk_candles(candles: list[Candle]) -> list[Point]:
    """The path through each candle's open, extremes and close: a falling candle (close < open) goes
    open → high → low → close, a rising one open → low → high → close, at 0, 1/3, 2/3 and the end of the candle
    (crashes live in the wicks, so both extremes are visited)."""
    points: list[Point] = []
    for c in candles:
        first, second = (c.high, c.low) if c.close < c.open else (c.low, c.high)
        third = c.seconds // 3
        for dt, p in ((0, c.open), (third, first), (2 * third, second), (c.seconds - 1, c.close)):
            if not points or c.time + dt > points[-1].time:
                points.append(Point(c.time + dt, p))
    return points


def interpolate(points: list[Point], max_step: Decimal | None) -> list[Point]:
    """Insert points so that no step moves the price by more than ``max_step`` (a fraction, e.g. 0.005):
    geometric in price, linear in time. ``None`` returns the points as they are."""
    if not max_step or len(points) < 2:
        return list(points)
    out = [points[0]]
    log_step = math.log1p(float(max_step))
    for a, b in zip(points, points[1:]):
        n = max(1, math.ceil(abs(math.log(float(b.price) / float(a.price))) / log_step - 1e-12))
        n = min(n, max(1, b.time - a.time))
        for k in range(1, n + 1):
            t = a.time + (b.time - a.time) * k // n
            p = b.price if k == n else a.price * Decimal(math.exp(math.log(float(b.price / a.price)) * k / n))
            out.append(Point(t, p))
    return out


def price_at(a: Point, b: Point, t: int) -> Decimal:
    """Price at time t on the straight line from a to b."""
    if b.time == a.time:
        return b.price
    return a.price + (b.price - a.price) * Decimal(t - a.time) / Decimal(b.time - a.time)


def chainlink_rounds(points: list[Point], deviation: Decimal = Decimal("0.005"), heartbeat: int = 3600) -> list[Point]:
    """The rounds a Chainlink feed would publish along a path: the first point, then a new round whenever the price
    moves at least ``deviation`` (fraction) from the last round, or ``heartbeat`` seconds pass without one (the
    heartbeat round is stamped exactly then, at the path's price at that moment)."""
    if not points:
        return []
    rounds = [points[0]]
    prev = points[0]
    for pt in points[1:]:
        while pt.time - rounds[-1].time >= heartbeat:
            t = rounds[-1].time + heartbeat
            rounds.append(Point(t, price_at(prev, pt, t)))
        last = rounds[-1]
        if pt.time > last.time and abs(pt.price / last.price - 1) >= deviation:
            rounds.append(pt)
        prev = pt
    return rounds


def generated_crash(
    hours: int = 24, seed: int = 7, start_prices: dict[str, Decimal] | None = None
) -> dict[str, list[Candle]]:
    """The demo's default market: hourly candles from correlated geometric Brownian motion (5-minute steps,
    80 % / 60 % annual volatility for WETH / WBTC, correlation 0.8) with a crash regime, a drift of −45 % (WETH)
    and −35 % (WBTC) spread over hours 6 to 12, then a partial rebound over hours 12 to 18.
    Deterministic for a given seed."""
    start_prices = start_prices or {"WETH": Decimal(2000), "WBTC": Decimal(40000)}
    vol = {"WETH": 0.80, "WBTC": 0.60}
    crash = {"WETH": math.log(0.55), "WBTC": math.log(0.65)}
    rebound = {"WETH": math.log(1.15), "WBTC": math.log(1.10)}
    rng = random.Random(seed)
    steps_per_hour, dt = 12, 5 / (365 * 24 * 60)
    log_price = {s: math.log(float(p)) for s, p in start_prices.items()}
    t0 = parse_utc("2024-01-01T00:00:00")
    candles: dict[str, list[Candle]] = {s: [] for s in start_prices}
    for h in range(hours):
        path = {s: [log_price[s]] for s in start_prices}
        for _ in range(steps_per_hour):
            z_common, z_own = rng.gauss(0, 1), {s: rng.gauss(0, 1) for s in start_prices}
            for s in start_prices:
                z = 0.8 * z_common + math.sqrt(1 - 0.8**2) * z_own[s]
                drift = crash[s] / (6 * steps_per_hour) if 6 <= h < 12 else 0.0
                drift += rebound[s] / (6 * steps_per_hour) if 12 <= h < 18 else 0.0
                log_price[s] += drift - 0.5 * vol[s] ** 2 * dt + vol[s] * math.sqrt(dt) * z
                path[s].append(log_price[s])
        for s in start_prices:
            prices = [Decimal(str(round(math.exp(x), 2))) for x in path[s]]
            candles[s].append(Candle(t0 + 3600 * h, prices[0], max(prices), min(prices), prices[-1]))
    return candles
