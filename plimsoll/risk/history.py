"""Price history as pandas series: hourly closes on a complete hourly clock, horizon returns, daily returns.

The CSVs are read by ``plimsoll.demo.prices.load_candles``, which handles their quirks. Missing hours stay missing
(NaN) on the clock, so a return over h hours exists only where both of its ends were traded: gaps are skipped,
never bridged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..demo.prices import load_candles


def hourly_closes(paths: dict[str, Path]) -> pd.DataFrame:
    """Hourly closes of each asset on one hourly UTC clock spanning all of them.

    Args:
        paths: symbol → CryptoDataDownload hourly CSV.

    Returns:
        DataFrame indexed by the candles' open hours (UTC, tz-aware), one float column (USD) per symbol in
        ``paths`` order; NaN where a file has no candle.

    Raises:
        MarketDataError: a file is missing or malformed.
    """
    columns = {}
    for sym, path in paths.items():
        candles = load_candles(path)
        columns[sym] = pd.Series(
            [float(c.close) for c in candles], index=pd.to_datetime([c.time for c in candles], unit="s", utc=True)
        )
    frame = pd.DataFrame(columns)
    return frame.reindex(pd.date_range(frame.index[0], frame.index[-1], freq="h"))


def horizon_returns(closes: pd.DataFrame | pd.Series, hours: int) -> pd.DataFrame | pd.Series:
    """Overlapping simple returns over exactly ``hours`` hours, indexed by their start hour.

    Args:
        closes: from ``hourly_closes`` (or one of its columns).
        hours: horizon, hours (≥ 1).

    Returns:
        Fractions (−0.1 = a 10 % fall); rows where any asset lacks either end are dropped.
    """
    if hours < 1:
        raise ValueError("the horizon is at least one hour")
    return (closes.shift(-hours) / closes - 1).dropna()


def daily_log_returns(closes: pd.Series) -> pd.Series:
    """Log returns between the closes of the hourly candles that open at 00:00 UTC, indexed by the later day.

    A day whose close (or the previous day's) is missing has no return. Used for the daily volatility models
    (RiskMetrics and GARCH are defined on daily returns).
    """
    daily = closes[closes.index.hour == 0]
    daily = daily.reindex(pd.date_range(daily.index[0], daily.index[-1], freq="D"))
    return np.log(daily / daily.shift(1)).dropna()
