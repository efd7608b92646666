"""Portfolio-margin scenario grids from price history (docs/portfolio-margin.md).

The grid's *shape* comes from the joint history of the collaterals: for each long-only mix w of the assets, the
scenario is the mean joint move over the worst (1 − confidence) tail of that mix's 24-hour return (the expected-
shortfall scenario of the mix, as in SPAN-style and filtered-historical-simulation margining). Its *size* comes
from the standard haircuts: each asset's column is scaled so that its worst shock equals LT − 1 on the maintenance
grid, so a one-collateral vault gets exactly standard margin (PortfolioMargin.setScenarioGrids requires at least
that), and a mixed vault gets the diversification the history shows. The initial grid is the maintenance grid
shifted by each asset's LT − LTV.

Pure functions over numbers: no chain, no files except ``load_returns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from .history import horizon_returns, hourly_closes

HOURS = 24


@dataclass(frozen=True)
class Grids:
    """Scenario grids as fractions (rows = scenarios, columns = assets in ``symbols`` order).

    Attributes:
        symbols: asset symbols, column order.
        initial, maintenance: shocks, fractions in [-1, 1], rounded to whole basis points (down: more severe).
        raw: the unscaled expected-shortfall scenarios from history (fractions).
        mixes: the mix weight of the first asset behind each scenario.
        confidence: the tail's confidence level.
    """

    symbols: tuple[str, ...]
    initial: np.ndarray
    maintenance: np.ndarray
    raw: np.ndarray
    mixes: tuple[float, ...]
    confidence: float

    def as_config(self) -> dict:
        """The ``portfolio_margin`` section of a deployment YAML (shocks as decimal strings)."""

        def rows(grid: np.ndarray) -> list[dict[str, str]]:
            return [{s: f"{x:.4f}" for s, x in zip(self.symbols, row)} for row in grid]

        return {"initial": rows(self.initial), "maintenance": rows(self.maintenance)}


def load_returns(paths: dict[str, Path], horizon_hours: int = HOURS) -> tuple[tuple[str, ...], np.ndarray]:
    """Overlapping ``horizon_hours`` simple returns of hourly closes, on the hours every asset has.

    Args:
        paths: symbol → CryptoDataDownload hourly CSV (see plimsoll.demo.prices.load_candles).
        horizon_hours: return horizon, hours.

    Returns:
        (symbols, returns) with returns of shape (n, len(symbols)), fractions.

    Raises:
        MarketDataError: a file is missing or malformed.
        ValueError: the assets share fewer than two windows of `horizon_hours`.
    """
    returns = horizon_returns(hourly_closes(paths), horizon_hours)
    if len(returns) < 2:
        raise ValueError("the price histories share too few hours")
    return tuple(paths), returns.to_numpy()


def expected_shortfall_scenarios(returns: np.ndarray, confidence: float, mixes: int = 7) -> tuple[np.ndarray, tuple]:
    """For each long-only mix of two assets, the mean joint return over the mix's worst (1 − confidence) tail.

    Args:
        returns: shape (n, 2), fractions.
        confidence: e.g. 0.995.
        mixes: number of mixes, weights of the first asset evenly spaced in [0, 1].

    Returns:
        (scenarios of shape (mixes, 2), the weights).
    """
    if returns.shape[1] != 2:
        raise ValueError("expected_shortfall_scenarios takes exactly two assets")
    weights = tuple(float(w) for w in np.linspace(0, 1, mixes))
    rows = []
    for w in weights:
        mix = returns @ np.array([w, 1 - w])
        cut = np.quantile(mix, 1 - confidence)
        rows.append(returns[mix <= cut].mean(axis=0))
    return np.array(rows), weights


def calibrated_grids(
    symbols: tuple[str, ...],
    returns: np.ndarray,
    ltv: dict[str, Decimal],
    liquidation_threshold: dict[str, Decimal],
    confidence: float = 0.995,
    mixes: int = 7,
) -> Grids:
    """The grids of the module docstring: history's shape, the haircuts' size.

    Args:
        symbols, returns: from load_returns (two assets).
        ltv, liquidation_threshold: per symbol, fractions.
        confidence: tail confidence.
        mixes: scenarios per grid (at most 16).

    Returns:
        The Grids, shocks rounded down to whole basis points.
    """
    raw, weights = expected_shortfall_scenarios(returns, confidence, mixes)
    maintenance = raw.copy()
    for j, s in enumerate(symbols):
        worst = raw[:, j].min()
        if worst >= 0:
            raise ValueError(f"{s}: no scenario moves it down; cannot scale to its haircut")
        maintenance[:, j] = raw[:, j] * (float(liquidation_threshold[s]) - 1) / worst
    shift = np.array([float(liquidation_threshold[s] - ltv[s]) for s in symbols])
    initial = maintenance - shift
    return Grids(symbols, _bps_down(initial), _bps_down(maintenance), raw, weights, confidence)


def _bps_down(grid: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(grid * 10_000 + 1e-9) / 10_000, -1, 1)


def borrowing_power(values: dict[str, float], grids: Grids, ltv: dict[str, Decimal]) -> tuple[float, float]:
    """(standard, portfolio) borrowing power of a basket worth ``values`` (USD per symbol): Σ value·LTV against
    min over the initial grid of Σ value·(1 + shock)."""
    standard = sum(v * float(ltv[s]) for s, v in values.items())
    vec = np.array([values.get(s, 0.0) for s in grids.symbols])
    portfolio = float(min(vec @ (1 + row) for row in grids.initial))
    return standard, portfolio
