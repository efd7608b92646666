"""Predictive margin: tighten a collateral's liquidation threshold ahead of a storm from a volatility forecast, within
the risk steward's bounds, and backtest how early it would have done so and what it costs on calm days
(docs/risk.md).

Each day d, before any of its prices:

- σ_d, the daily volatility forecast from the returns before d (EWMA or GARCH, ``estimates.py``);
- k_d, the expected shortfall of the standardized residuals r/σ seen before d (filtered historical simulation);
- the forecast tail loss over the liquidation horizon h: ES_d = k_d · σ_d · √(h / 24) (square-root-of-time);
- the target LT_d = min(static LT, (1 − ES_d) / bonus), the static rule with today's tail instead of history's;
- the steward's LT moves toward the target by at most one risk step a day (its cooldown), in whole basis points.

LTV moves with LT (LTV = LT · (1 − VaR(borrow))), so a day's borrowing-power cost is 1 − LT_d / static LT.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from .estimates import ewma_volatility, garch_volatility
from .history import daily_log_returns, horizon_returns
from .params import Horizons, Target, bps_down

#: Days of standardized residuals before the ES multiplier (and so a forecast) is trusted.
MIN_RESIDUALS = 90


@dataclass(frozen=True)
class Episode:
    """A large drawdown: the first hour whose next 24 hours lost at least the threshold, and the steward's LT then.

    Attributes:
        start: the hour (UTC).
        loss: the worst 24-hour loss in the episode, fraction.
        liquidation_threshold: the steward's LT that day, fraction.
        tightened: LT was below the static LT when the drawdown began.
        lead_days: days it had been below the static LT by then (0 if not tightened).
    """

    start: pd.Timestamp
    loss: float
    liquidation_threshold: float
    tightened: bool
    lead_days: int


@dataclass(frozen=True)
class Backtest:
    """The outcome of ``backtest`` for one collateral.

    Attributes:
        days: one row per day: sigma (forecast, per day), multiplier, target and lt (fractions).
        episodes: the large drawdowns, oldest first.
        hours, breaches_static, breaches_dynamic: hours tested, and the hours whose loss over the liquidation
            horizon exceeded 1 − LT·bonus (a vault at HF 1 would not cover its debt and bonus when liquidated)
            under the static LT and under the steward's LT.
        calm_days, calm_cost: days with no drawdown within the next week or the last three days, and the mean
            borrowing power given up on them (fraction).
    """

    days: pd.DataFrame
    episodes: list[Episode]
    hours: int
    breaches_static: int
    breaches_dynamic: int
    calm_days: int
    calm_cost: float


def expanding_es_multiplier(returns: pd.Series, sigma: pd.Series, confidence: float) -> pd.Series:
    """k_d: the ES of the standardized residuals r/σ of the days before d (NaN until ``MIN_RESIDUALS`` exist)."""
    z = (returns / sigma).to_numpy()
    out = np.full(len(z), np.nan)
    seen: list[float] = []
    for i, x in enumerate(z):
        if len(seen) >= MIN_RESIDUALS:
            losses = -np.asarray(seen)
            var = np.quantile(losses, confidence)
            out[i] = losses[losses >= var].mean()
        if not np.isnan(x):
            seen.append(x)
    return pd.Series(out, index=returns.index)


def steward_path(targets: pd.Series, start: float, step: float) -> pd.Series:
    """The LT the steward sets each day: toward the day's target by at most ``step``, floored to basis points;
    a day without a target (NaN) holds the level."""
    level = Decimal(repr(start))
    step_d = Decimal(repr(step))
    out = []
    for t in targets.to_numpy():
        if not np.isnan(t):
            goal = bps_down(float(t))
            level += max(-step_d, min(step_d, goal - level))
        out.append(float(level))
    return pd.Series(out, index=targets.index)


def crash_episodes(closes: pd.Series, threshold: float, gap_days: int = 7) -> list[tuple[pd.Timestamp, float]]:
    """Large drawdowns: hours whose next 24 hours lost at least ``threshold``, grouped while less than
    ``gap_days`` apart; each as (its first hour, its worst 24-hour loss)."""
    losses = -horizon_returns(closes, 24)
    hits = losses[losses >= threshold]
    episodes: list[list] = []
    for t, loss in hits.items():
        if episodes and t - episodes[-1][2] < pd.Timedelta(days=gap_days):
            episodes[-1][1] = max(episodes[-1][1], loss)
            episodes[-1][2] = t
        else:
            episodes.append([t, loss, t])
    return [(start, float(worst)) for start, worst, _ in episodes]


def backtest(
    closes: pd.Series,
    target: Target,
    horizons: Horizons = Horizons(),
    model: str = "ewma",
    threshold: float = 0.2,
    step: float = 0.02,
) -> Backtest:
    """Run the module's rule over one asset's hourly history.

    Args:
        closes: hourly closes (``history.hourly_closes`` column), USD.
        target: the static recommendation (its LT is the ceiling, its bonus the one in the rule).
        horizons: confidence and liquidation horizon of the rule.
        model: "ewma" (RiskMetrics λ 0.94) or "garch" (GARCH(1,1)-t refitted monthly on the past only).
        threshold: a drawdown is large when 24 hours lose at least this fraction.
        step: the steward's risk step per day (cooldown one day).
    """
    returns = daily_log_returns(closes)
    if model == "ewma":
        sigma = ewma_volatility(returns)
    elif model == "garch":
        sigma = garch_volatility(returns)
    else:
        raise ValueError(f"unknown volatility model {model!r}: ewma or garch")
    static = float(target.liquidation_threshold)
    bonus = float(target.bonus)
    k = expanding_es_multiplier(returns, sigma, horizons.confidence)
    es = k * sigma * np.sqrt(horizons.liquidation_hours / 24)
    targets = np.minimum(static, (1 - es) / bonus)
    lt = steward_path(targets, static, step)
    days = pd.DataFrame({"sigma": sigma, "multiplier": k, "target": targets, "lt": lt})

    # Each hour is governed by the LT set at the start of its day.
    hourly_lt = lt.reindex(closes.index.floor("D")).to_numpy()
    loss = -horizon_returns(closes, horizons.liquidation_hours)
    at = closes.index.get_indexer(loss.index)
    known = ~np.isnan(hourly_lt[at])
    loss_v, lt_v = loss.to_numpy()[known], hourly_lt[at][known]
    breaches_static = int((loss_v > 1 - static * bonus).sum())
    breaches_dynamic = int((loss_v > 1 - lt_v * bonus).sum())

    below = (lt < static).to_numpy()
    run = np.zeros(len(below), dtype=int)  # consecutive tightened days up to each day
    for i, b in enumerate(below):
        run[i] = run[i - 1] + 1 if b and i else int(b)
    episodes = []
    calm = np.ones(len(lt), dtype=bool)
    for start, worst in crash_episodes(closes, threshold):
        i = lt.index.get_indexer([start.floor("D")])[0]
        if i < 0 or np.isnan(days["multiplier"].iloc[i]):
            continue
        calm[max(0, i - 7) : i + 4] = False
        episodes.append(Episode(start, worst, float(lt.iloc[i]), bool(below[i]), int(run[i])))
    trusted = ~np.isnan(days["multiplier"].to_numpy())
    calm &= trusted
    cost = 1 - lt.to_numpy()[calm] / static
    return Backtest(
        days=days,
        episodes=episodes,
        hours=int(known.sum()),
        breaches_static=breaches_static,
        breaches_dynamic=breaches_dynamic,
        calm_days=int(calm.sum()),
        calm_cost=float(cost.mean()) if cost.size else 0.0,
    )
