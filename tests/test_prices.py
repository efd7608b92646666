"""Price paths: the CSV loader's handling of the real files' quirks, candle walks, interpolation and the
Chainlink update rule. Pure Python."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plimsoll.demo.prices import (
    Candle,
    MarketDataError,
    Point,
    chainlink_rounds,
    generated_crash,
    interpolate,
    load_candles,
    market_dir,
    parse_utc,
    walk_candles,
)

QUIRKY = """https://www.CryptoDataDownload.com
unix,date,symbol,open,high,low,close,Volume ETH,Volume USDT,tradecount
1584064800000,2020-03-13 02:00:00,ETH/USDT,110,120,100,115,1,1,10
1584061200000,2020-03-13 01:00:00,ETH/USDT,100,112,95,110,1,1,10
1584061200000,2020-03-13 01:00:00,ETH/USDT,999,999,999,999,1,1,10
1584054000.0,2020-03-12 11-PM,ETH/USDT,90,101,89,100,1,1,NULL
"""


def test_loader_handles_banner_units_duplicates_gaps_and_order(tmp_path):
    f = tmp_path / "eth.csv"
    f.write_text(QUIRKY)
    candles = load_candles(f)
    assert [c.time for c in candles] == [1584054000, 1584061200, 1584064800]  # oldest first, gap at 00:00 kept
    assert candles[1].open == Decimal(100)  # first of the duplicated hour wins
    assert candles[0].close == Decimal(100) and candles[0].seconds == 3600
    assert load_candles(f, start=1584061200, end=1584064800) == [candles[1]]


def test_loader_errors_are_named(tmp_path):
    with pytest.raises(MarketDataError, match="cannot read"):
        load_candles(tmp_path / "missing.csv")
    f = tmp_path / "eth.csv"
    f.write_text(QUIRKY)
    with pytest.raises(MarketDataError, match="no candles"):
        load_candles(f, start=0, end=1)


def test_walk_visits_both_wicks():
    down = Candle(0, Decimal(100), Decimal(105), Decimal(80), Decimal(90))
    up = Candle(3600, Decimal(90), Decimal(120), Decimal(85), Decimal(110))
    assert [p.price for p in walk_candles([down, up])] == [100, 105, 80, 90, 90, 85, 120, 110]
    assert [p.time for p in walk_candles([down])] == [0, 1200, 2400, 3599]


def test_interpolation_bounds_each_step():
    path = interpolate([Point(0, Decimal(100)), Point(600, Decimal(50))], Decimal("0.02"))
    steps = [abs(b.price / a.price - 1) for a, b in zip(path, path[1:])]
    assert max(steps) <= Decimal("0.0201") and path[-1].price == 50
    assert len(path) == 1 + 36  # ceil(ln 2 / ln 1.02) = ceil(35.003) steps


def test_chainlink_rule_deviation_and_heartbeat():
    path = [Point(0, Decimal(100)), Point(600, Decimal("100.4")), Point(1200, Decimal("100.6")),
            Point(9000, Decimal("100.6"))]
    rounds = chainlink_rounds(path, Decimal("0.005"), 3600)
    assert [(r.time, r.price) for r in rounds[:2]] == [(0, 100), (1200, Decimal("100.6"))]
    # flat after 1200: heartbeats at 4800 and 8400, stamped exactly then
    assert [r.time for r in rounds[2:]] == [4800, 8400]


def test_generated_crash_is_deterministic_and_crashes():
    a, b = generated_crash(seed=3), generated_crash(seed=3)
    assert a == b and len(a["WETH"]) == 24
    assert min(c.low for c in a["WETH"]) < a["WETH"][0].open * Decimal("0.7")


def test_black_thursday_file_is_there_and_parses():
    path = market_dir() / "Binance_ETHUSDT_1h.csv"
    if not path.exists():
        pytest.skip(f"market data not found at {path} (set PLIMSOLL_MARKET_DATA)")
    candles = load_candles(path, parse_utc("2020-03-12T00:00"), parse_utc("2020-03-13T12:00"))
    assert len(candles) == 36 and min(c.low for c in candles) == Decimal("86")
