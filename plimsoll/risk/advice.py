"""``plimsoll risk params``: from price files and a deployment configuration to recommended parameters, today's
steward proposal, the portfolio-margin grids that fit them, and the predictive-margin backtest, as one JSON-able
report (docs/risk.md)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from ..sdk.config import DeployConfig
from .estimates import ewma_volatility, fit_garch, rolling_correlation
from .history import daily_log_returns, horizon_returns, hourly_closes
from .params import (
    WAD,
    Horizons,
    RiskParameters,
    Target,
    bps_down,
    check_sequence,
    shock_shift,
    evidence,
    ltv_for,
    recommend,
    steward_step,
)
from .predictive import backtest
from .scenarios import calibrated_grids

#: Columns of the CSV, one row per collateral.
CSV_COLUMNS = (
    "symbol", "windows", "sale_es", "liquidation_es", "borrow_var", "ltv", "liquidation_threshold", "bonus",
    "bonus_max", "today_liquidation_threshold", "today_ltv", "current_ltv", "current_liquidation_threshold",
    "current_bonus", "shock_shift", "proposal_ltv", "proposal_liquidation_threshold", "proposal_bonus", "reverts",
    "episodes", "tightened_before", "breaches_static", "breaches_dynamic", "calm_cost",
)


def _fraction(wad: int) -> str:
    return str(Decimal(wad) / WAD)


def _today(target: Target, ev, lt_today: float) -> Target:
    """The static target with today's predictive LT (never above the static one), LTV following it."""
    lt = min(target.liquidation_threshold, bps_down(lt_today))
    return Target(ltv_for(lt, ev.borrow_var), lt, target.bonus, target.bonus_max)


def advise(
    paths: dict[str, Path],
    cfg: DeployConfig,
    horizons: Horizons = Horizons(),
    model: str = "ewma",
    drawdown: float = 0.2,
    progress: Callable[[str], None] = lambda step: None,
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Everything ``plimsoll risk params`` reports.

    Args:
        paths: symbol → hourly CSV; every symbol must be a collateral of ``cfg``.
        cfg: the deployment whose current parameters, steward bounds and grids the proposal starts from.
        horizons: confidence and horizons of the rules (params.py).
        model: volatility model of the predictive backtest, "ewma" or "garch".
        drawdown: a 24-hour loss at least this large is a drawdown episode in the backtest (fraction).
        progress: called with the name of each step as it starts.

    Returns:
        (report, days): the report a JSON-able dict: ``inputs``, ``collaterals`` (per symbol: evidence, volatility,
        target, today's target, current, proposal, reverts), ``backtest``, and for two collaterals ``correlation``
        and ``grids``; days, per symbol, the backtest's daily forecast and LT path (predictive.Backtest.days).

    Raises:
        MarketDataError: a price file is missing or malformed.
        KeyError: a symbol that ``cfg`` does not list.
        ValueError: too little history, or a tail that leaves no valid parameters.
    """
    symbols = list(paths)
    listed = [c.symbol for c in cfg.collaterals]
    for s in symbols:
        cfg.collateral(s)
    progress("reading price history")
    closes = hourly_closes(paths)
    progress("tail losses")
    evs = {s: evidence(lambda h, s=s: horizon_returns(closes[s], h), horizons) for s in symbols}
    targets = recommend(evs, horizons)

    current = {
        c.symbol: RiskParameters(c.ltv, c.liquidation_threshold, c.liquidation_bonus) for c in cfg.collaterals
    }
    out_coll, out_bt, today, days = {}, {}, {}, {}
    for s in symbols:
        progress(f"{s}: volatility and the predictive backtest ({model})")
        daily = daily_log_returns(closes[s])
        garch = fit_garch(daily)
        bt = backtest(closes[s], targets[s], horizons, model=model, threshold=drawdown, step=cfg.governance.risk_step / WAD)
        days[s] = bt.days
        last = bt.days.dropna().iloc[-1]
        today[s] = _today(targets[s], evs[s], float(last["target"]))
        out_bt[s] = {
            "model": model,
            "drawdown": drawdown,
            "episodes": [
                {
                    "start": e.start.isoformat(),
                    "loss": round(e.loss, 4),
                    "liquidation_threshold": e.liquidation_threshold,
                    "tightened": e.tightened,
                    "lead_days": e.lead_days,
                }
                for e in bt.episodes
            ],
            "tightened_before": sum(e.tightened for e in bt.episodes),
            "hours": bt.hours,
            "breaches_static": bt.breaches_static,
            "breaches_dynamic": bt.breaches_dynamic,
            "calm_days": bt.calm_days,
            "calm_cost": round(bt.calm_cost, 6),
        }
        out_coll[s] = {
            "evidence": {k: round(v, 6) if isinstance(v, float) else v for k, v in vars(evs[s]).items()},
            "volatility": {
                "ewma_daily_today": round(float(ewma_volatility(daily).iloc[-1]), 6),
                "model_daily_today": round(float(last["sigma"]), 6),
                "garch": {k: float(f"{v:.6g}") for k, v in vars(garch).items()}
                # None: α + β ≥ 1, no finite long-run variance.
                | {"long_run_daily": round(garch.long_run_volatility, 6) if garch.alpha + garch.beta < 1 else None},
            },
            "target": {k: str(v) for k, v in vars(targets[s]).items()},
            "today": {k: str(v) for k, v in vars(today[s]).items()},
        }

    progress("steward proposal")
    proposals = {s: steward_step(current[s], today[s], cfg.governance.risk_step) for s in symbols}
    shifts = {
        s: shock_shift(current[s], proposals[s], listed.index(s), cfg.initial_grid, cfg.maintenance_grid)
        for s in symbols
    }
    reverts = check_sequence(current, proposals, listed, cfg.initial_grid, cfg.maintenance_grid, shifts)
    for s in symbols:
        out_coll[s]["current"] = {k: _fraction(v) for k, v in vars(current[s]).items()}
        out_coll[s]["proposal"] = {k: _fraction(v) for k, v in vars(proposals[s]).items()}
        out_coll[s]["proposal_wad"] = {k: str(v) for k, v in vars(proposals[s]).items()}
        out_coll[s]["shock_shift"] = _fraction(shifts[s])
        out_coll[s]["reverts"] = reverts.get(s)

    report = {
        "inputs": {
            "files": {s: str(p) for s, p in paths.items()},
            "first_hour": closes.index[0].isoformat(),
            "last_hour": closes.index[-1].isoformat(),
            "horizons": vars(horizons),
            "risk_step": _fraction(cfg.governance.risk_step),
        },
        "collaterals": out_coll,
        "backtest": out_bt,
    }
    if len(symbols) == 2:
        progress("correlation and portfolio-margin grids")
        r24 = horizon_returns(closes[symbols], 24)
        daily = pd.DataFrame({s: daily_log_returns(closes[s]) for s in symbols}).dropna()
        report["correlation"] = {
            "returns_24h": round(float(np.corrcoef(r24.to_numpy().T)[0, 1]), 4),
            "daily_30d_today": round(float(rolling_correlation(daily, 30).iloc[-1]), 4),
        }
        grids = calibrated_grids(
            tuple(symbols),
            r24.to_numpy(),
            {s: targets[s].ltv for s in symbols},
            {s: targets[s].liquidation_threshold for s in symbols},
            horizons.confidence,
        )
        report["grids"] = grids.as_config()
    return report, days


def csv_rows(report: dict) -> list[dict]:
    """One row per collateral with ``CSV_COLUMNS``, from an ``advise`` report."""
    rows = []
    for s, c in report["collaterals"].items():
        bt = report["backtest"][s]
        rows.append(
            {
                "symbol": s,
                **c["evidence"],
                **c["target"],
                "today_liquidation_threshold": c["today"]["liquidation_threshold"],
                "today_ltv": c["today"]["ltv"],
                "current_ltv": c["current"]["ltv"],
                "current_liquidation_threshold": c["current"]["liquidation_threshold"],
                "current_bonus": c["current"]["liquidation_bonus"],
                "shock_shift": c["shock_shift"],
                "proposal_ltv": c["proposal"]["ltv"],
                "proposal_liquidation_threshold": c["proposal"]["liquidation_threshold"],
                "proposal_bonus": c["proposal"]["liquidation_bonus"],
                "reverts": c["reverts"] or "",
                "episodes": len(bt["episodes"]),
                "tightened_before": bt["tightened_before"],
                "breaches_static": bt["breaches_static"],
                "breaches_dynamic": bt["breaches_dynamic"],
                "calm_cost": bt["calm_cost"],
            }
        )
    return rows
