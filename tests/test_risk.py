"""The risk engine's estimates and parameter rules (plimsoll.risk, docs/risk.md): exact values on small inputs worked
by hand, no look-ahead in the forecasts, the steward's bounds, and `plimsoll risk params` end to end on the real
history. No node: the on-chain application of a proposal is in tests/test_governance.py."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from plimsoll.cli import main
from plimsoll.demo.prices import market_dir
from plimsoll.risk.estimates import ewma_volatility, fit_garch, garch_volatility, tail_loss
from plimsoll.risk.history import daily_log_returns, horizon_returns
from plimsoll.risk.params import (
    WAD,
    Evidence,
    Horizons,
    RiskParameters,
    Target,
    check_sequence,
    recommend,
    shock_shift,
    steward_step,
)
from plimsoll.risk.predictive import crash_episodes, steward_path

ETH = market_dir() / "Binance_ETHUSDT_1h.csv"
BTC = market_dir() / "Binance_BTCUSDT_1h.csv"
needs_history = pytest.mark.skipif(
    not (ETH.exists() and BTC.exists()), reason=f"market data not found in {market_dir()} (set PLIMSOLL_MARKET_DATA)"
)


def _hours(prices: list[float], start: str = "2020-03-01") -> pd.Series:
    return pd.Series(prices, index=pd.date_range(start, periods=len(prices), freq="h", tz="UTC"))


def test_tail_loss_is_the_quantile_and_the_mean_beyond_it():
    returns = -np.arange(100) / 1000  # losses 0, 0.001, …, 0.099
    var, es = tail_loss(returns, 0.99)
    assert var == pytest.approx(0.09801, abs=1e-15)  # numpy's linear interpolation: 0.098 + 0.01 · 0.001
    assert es == pytest.approx(0.099, abs=1e-15)  # only 0.099 lies at or beyond it
    var, es = tail_loss(returns, 0.95)
    assert var == pytest.approx(0.09405, abs=1e-15)
    assert es == pytest.approx(np.mean([0.095, 0.096, 0.097, 0.098, 0.099]), abs=1e-15)
    with pytest.raises(ValueError, match="no returns"):
        tail_loss([np.nan], 0.99)


def test_horizon_returns_never_bridge_a_missing_hour():
    closes = _hours([100.0, 110.0, np.nan, 121.0, 133.1])
    two = horizon_returns(closes, 2)
    # 0 → 2 and 2 → 4 touch the missing hour 2: only 1 → 3 (110 → 121) is left.
    assert list(two.index.hour) == [1]
    assert two.iloc[0] == pytest.approx(0.1, abs=1e-15)
    assert list(horizon_returns(closes, 1).round(12)) == [0.1, 0.1]


def test_daily_returns_use_the_midnight_closes():
    closes = _hours([100.0] + [0.0] * 23 + [110.0] + [0.0] * 23 + [99.0], start="2020-03-01")
    daily = daily_log_returns(closes)
    assert list(daily.round(12)) == [round(np.log(1.1), 12), round(np.log(0.9), 12)]


def test_ewma_is_the_riskmetrics_recursion_on_past_returns_only():
    r = pd.Series([0.01, -0.02, 0.03, 0.0, -0.05], index=pd.date_range("2020-01-01", periods=5, freq="D"))
    sigma = ewma_volatility(r, lam=0.9, burn_in=1)
    var = 0.01**2  # the recursion starts at r_0²
    expected = [np.nan]
    for x in r.iloc[1:]:
        expected.append(np.sqrt(var))
        var = 0.9 * var + 0.1 * x**2
    assert np.isnan(sigma.iloc[0])
    assert sigma.iloc[1:].to_numpy() == pytest.approx(expected[1:], rel=1e-14)


def _garch_path(n: int, omega: float, alpha: float, beta: float, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    var, out = omega / (1 - alpha - beta), []
    for _ in range(n):
        x = np.sqrt(var) * rng.standard_normal()
        out.append(x)
        var = omega + alpha * x * x + beta * var
    return pd.Series(out, index=pd.date_range("2015-01-01", periods=n, freq="D"))


def test_garch_fit_recovers_a_simulated_process():
    fit = fit_garch(_garch_path(3_000, 2e-5, 0.10, 0.85, seed=7))
    assert fit.alpha == pytest.approx(0.10, abs=0.04)
    assert fit.beta == pytest.approx(0.85, abs=0.06)
    assert fit.long_run_volatility == pytest.approx(np.sqrt(2e-5 / 0.05), rel=0.25)


def test_forecasts_do_not_look_ahead():
    r = _garch_path(400, 2e-5, 0.10, 0.85, seed=3)
    changed = r.copy()
    changed.iloc[300:] *= 5  # a different future
    for forecast in (ewma_volatility, lambda x: garch_volatility(x, refit_every=50, min_history=150)):
        a, b = forecast(r), forecast(changed)
        assert a.iloc[:301].equals(b.iloc[:301])  # the forecast for day 300 uses days up to 299
        assert not np.isclose(a.iloc[301], b.iloc[301])


def test_recommendation_rules_by_hand():
    ev = Evidence(windows=1, sale_es=0.05, liquidation_es=0.07, borrow_var=0.08)
    t = recommend({"X": ev}, Horizons(sale_cost=0.005))["X"]
    assert t.bonus == Decimal("1.0550")  # 1 + 5 % + 0.5 %
    assert t.liquidation_threshold == Decimal("0.8815")  # (1 − 7 %) / 1.055 = 0.88151…, down
    assert t.ltv == Decimal("0.8109")  # 0.8815 · 0.92 = 0.81098, down
    assert t.bonus_max == Decimal("1.1343")  # 1 / 0.8815 = 1.13443…, less one basis point, down
    with pytest.raises(ValueError, match="no valid"):
        recommend({"X": Evidence(1, 0.05, 1.0, 0.08)})  # a total loss within the liquidation horizon


def test_the_steward_step_is_bounded_and_the_shift_makes_room_for_it():
    cur = RiskParameters(80 * WAD // 100, 85 * WAD // 100, 105 * WAD // 100)
    target = Target(Decimal("0.7491"), Decimal("0.8190"), Decimal("1.0572"), Decimal("1.1158"))
    p = steward_step(cur, target, WAD // 50)
    assert p == RiskParameters(78 * WAD // 100, 83 * WAD // 100, 10_572 * WAD // 10_000)
    # WETH's column in the deployed grids: worst −20 % initial, −15 % maintenance.
    initial = ((-20 * WAD // 100, -25 * WAD // 100), (-18 * WAD // 100, -24 * WAD // 100))
    maintenance = ((-15 * WAD // 100, -20 * WAD // 100), (-13 * WAD // 100, -19 * WAD // 100))
    assert shock_shift(cur, p, 0, initial, maintenance) == -2 * WAD // 100
    assert shock_shift(cur, p, 0, (), ()) == 0
    assert shock_shift(cur, cur, 0, initial, maintenance) == 0
    other = {"WBTC": RiskParameters(75 * WAD // 100, 80 * WAD // 100, 108 * WAD // 100)}
    current = {"WETH": cur, **other}
    order = ["WETH", "WBTC"]
    assert check_sequence(current, {"WETH": p}, order, initial, maintenance) == {
        "WETH": "ScenarioGridLooserThanHaircut"
    }
    assert check_sequence(current, {"WETH": p}, order, initial, maintenance, {"WETH": -2 * WAD // 100}) == {}
    assert check_sequence(current, {"WETH": RiskParameters(p.ltv, p.ltv, p.liquidation_bonus)}, order) == {
        "WETH": "InvalidRiskParameters"
    }
    # A WBTC bonus of 1.18 fits its own LT 0.80 (0.944) but not WETH's 0.85 (1.003): the engine refuses the pair.
    loud = RiskParameters(75 * WAD // 100, 80 * WAD // 100, 118 * WAD // 100)
    assert check_sequence(current, {"WBTC": loud}, order) == {"WBTC": "RiskParametersConflict"}


def test_the_steward_path_moves_a_step_a_day_in_whole_basis_points():
    targets = pd.Series([np.nan, 0.8, 0.85, 0.9, 0.87123])
    assert list(steward_path(targets, 0.88, 0.02)) == [0.88, 0.86, 0.85, 0.87, 0.8712]


def test_drawdown_episodes_group_hours_and_keep_the_worst_loss():
    prices = [100.0] * 30 + [70.0] * 30 + [100.0] * 200 + [75.0] * 30
    episodes = crash_episodes(_hours(prices), threshold=0.2, gap_days=7)
    # Hours 6..29 lose 30 % within 24 h (the first reaches the fall at hour 30); 236..259 lose 25 %.
    assert [(e.hour, round(loss, 12)) for e, loss in episodes] == [(6, 0.3), (20, 0.25)]
    assert episodes[0][0] == pd.Timestamp("2020-03-01 06:00", tz="UTC")
    assert len(crash_episodes(_hours(prices), threshold=0.2, gap_days=30)) == 1


@needs_history
def test_risk_params_cli_writes_its_report(tmp_path: Path):
    out = tmp_path / "risk"
    result = CliRunner().invoke(main, ["risk", "params", "--prices", f"WETH={ETH}", "--prices", f"WBTC={BTC}",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "params.json").read_text())
    rows = (out / "params.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("symbol,windows,sale_es")
    for sym in ("WETH", "WBTC"):
        c, bt = report["collaterals"][sym], report["backtest"][sym]
        t = {k: Decimal(v) for k, v in c["target"].items()}
        ev = c["evidence"]
        assert t["bonus"] >= Decimal(repr(1 + ev["sale_es"] + 0.005)) - Decimal("0.0001")
        assert t["liquidation_threshold"] * t["bonus"] <= 1 - Decimal(repr(ev["liquidation_es"]))
        assert t["ltv"] < t["liquidation_threshold"] < 1 and t["bonus_max"] * t["liquidation_threshold"] < 1
        assert Decimal(c["today"]["liquidation_threshold"]) <= t["liquidation_threshold"]
        for k in ("ltv", "liquidation_threshold", "liquidation_bonus"):
            assert abs(Decimal(c["proposal"][k]) - Decimal(c["current"][k])) <= Decimal("0.02")
        assert bt["breaches_dynamic"] <= bt["breaches_static"]
        days = pd.read_csv(out / f"backtest-{sym}.csv")
        assert (days["lt"] <= float(t["liquidation_threshold"]) + 1e-12).all()
        assert (days["lt"].diff().abs().dropna() <= 0.02 + 1e-12).all()
    grid = report["grids"]["maintenance"]
    for sym in ("WETH", "WBTC"):  # each column's worst shock is exactly LT − 1
        lt = Decimal(report["collaterals"][sym]["target"]["liquidation_threshold"])
        assert min(Decimal(row[sym]) for row in grid) == lt - 1


def test_risk_params_cli_refuses_an_unlisted_collateral(tmp_path: Path):
    result = CliRunner().invoke(main, ["risk", "params", "--prices", f"DOGE={ETH}", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "DOGE" in result.output


# ------------------------------------------------------------------------------------------- cascade simulation
def _plain_cfg():
    """The local configuration without margin calls or caps: liquidations happen at once."""
    from dataclasses import replace

    from plimsoll.sdk.config import load_config

    from conftest import ROOT

    c = load_config(ROOT / "scripts" / "config" / "local.yaml")
    return replace(c, collaterals=tuple(replace(col, grace_period=0, hard_floor=0, premium=0) for col in c.collaterals))


def test_one_cascade_step_is_the_exact_liquidation_plan():
    """Random vaults, both margin modes, pushed below HF 1 by one price step: what the float simulator repays and
    seizes per vault matches LiquidationEngine's plan in the exact-integer mirror to 1e-9."""
    from plimsoll.risk.cascade import Book, Rules, simulate
    from plimsoll.sdk.math import (
        RAY,
        CollateralParams,
        LiquidationParams,
        liquidation_plan,
        shocks_to_bps,
        valuation,
    )

    cfg = _plain_cfg()
    rules = Rules.from_config(cfg)
    rng = np.random.default_rng(11)
    n = 400
    amounts = rng.uniform(0, 10, (n, 2)) * (rng.random((n, 2)) < 0.7)
    amounts[amounts.sum(axis=1) == 0, 0] = 1.0
    amounts = np.round(amounts * 1e8) / 1e8  # whole units of both tokens (18 and 8 decimals)
    portfolio = (amounts > 0).all(axis=1) & (rng.random(n) < 0.5)
    start, crash = np.array([2_000.0, 40_000.0]), np.array([2_000.0 * 0.8, 40_000.0 * 0.85])
    value = amounts @ start
    debt = np.round(value * rng.uniform(0.55, 0.8, n), 6)
    book = Book(np.arange(n), amounts, debt, portfolio, np.zeros(n, dtype=bool))
    out = simulate(book, rules, np.array([0.0, 0.0]), np.array([start, crash]))

    initial_bps, maintenance_bps = shocks_to_bps(cfg.initial_grid), shocks_to_bps(cfg.maintenance_grid)
    params = [
        CollateralParams(c.decimals, c.ltv, c.liquidation_threshold, c.liquidation_bonus,
                         tuple(row[j] for row in initial_bps), tuple(row[j] for row in maintenance_bps))
        for j, c in enumerate(cfg.collaterals)
    ]
    lp = LiquidationParams(cfg.target_health, cfg.full_liquidation_health, cfg.protocol_share, cfg.dust,
                           cfg.bonus_floor, cfg.max_bonus_health)
    checked = 0
    for i in range(n):
        bal = [(int(round(amounts[i, j] * 10**p.decimals)), int(crash[j] * WAD), p) for j, p in enumerate(params)]
        v = valuation(int(round(debt[i] * 1e6)) * 10**12, RAY, bal, bool(portfolio[i]))
        liquidated = bool(out.liquidated[0, i])
        assert liquidated == v.liquidatable
        if not liquidated:
            assert out.debt[0, i] == debt[i]
            continue
        plan = liquidation_plan(v, lp)
        assert debt[i] - out.debt[0, i] == pytest.approx(plan.repay / WAD, rel=1e-9)
        seized = (amounts[i] - out.amounts[0, i]) @ crash
        assert seized == pytest.approx(plan.seized_value / WAD, rel=1e-9)
        checked += 1
    assert checked > 100
    assert out.liquidations[0] == checked and out.bad_debt[0] == 0


def test_a_margin_call_waits_its_grace_then_liquidates_and_an_answer_cures():
    from plimsoll.risk.cascade import Book, Rules, simulate
    from plimsoll.sdk.config import load_config

    from conftest import ROOT

    rules = Rules.from_config(load_config(ROOT / "scripts" / "config" / "local.yaml"))  # 1 h grace, floor 0.92
    # Two WETH vaults: 1 WETH, 1,650 pUSD. At $1,900 their HF is 1,900·0.85/1,650 = 0.979: called, not liquidated.
    book = Book(np.array([1, 2]), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1_650.0, 1_650.0]),
                np.array([False, False]), np.array([True, False]))
    times = np.array([0.0, 10.0, 1_800.0, 3_700.0])
    prices = np.array([[2_000.0, 40_000.0], [1_900.0, 40_000.0], [1_900.0, 40_000.0], [1_900.0, 40_000.0]])
    out = simulate(book, rules, times, prices)
    assert out.calls[0] == 2 and out.cures[0] == 1
    # The answering owner repaid to the initial margin (1,900·0.80 = 1,520) plus 1 % of the gap and 1 pUSD, at 10 s;
    # the 2 % stability fee runs all along.
    at_call = 1_650 * np.exp(rules.stability_rate * 10)
    after = at_call - ((at_call - 1_520) * 1.01 + 1)
    assert out.debt[0, 0] == pytest.approx(after * np.exp(rules.stability_rate * 3_690), rel=1e-12)
    assert not out.liquidated[0, 0]
    # The other waits: nothing at 1,800 s, liquidated at 3,700 s (its call at 10 s + 1 s, deadline 3,611 s).
    assert list(out.series["liquidations"][0]) == [0, 0, 0, 1]
    assert out.liquidated[0, 1]


def test_volume_caps_hold_back_partial_liquidations_in_vault_order():
    from dataclasses import replace

    from plimsoll.risk.cascade import Book, Rules, simulate

    rules = replace(Rules.from_config(_plain_cfg()), liquidation_cap=np.array([5_000.0, 0.0]), cap_window=3_600.0)
    # Three identical WETH vaults just under HF 1 (10 WETH at $1,640, 14,000 pUSD: HF 0.9957). Each partial
    # liquidation to HF 1.5 would seize about $11,160; the $5,000 cap scales the first vault's to $5,000 and leaves
    # nothing for the others, which wait for the bucket to refill (one window per cap), in vault-id order.
    book = Book(np.array([3, 1, 2]), np.array([[10.0, 0.0]] * 3), np.array([14_000.0] * 3),
                np.array([False] * 3), np.array([False] * 3))
    times = np.array([0.0, 0.0, 3_600.0, 7_200.0])
    prices = np.array([[2_000.0, 1.0]] + [[1_640.0, 1.0]] * 3)
    steps = [simulate(book, rules, times[:m], prices[:m]) for m in (2, 3, 4)]
    for m, out in enumerate(steps, start=1):
        assert list(out.series["liquidations"][0]) == [0] + [1] * m
        assert out.seized[0] == pytest.approx(5_000 * m, rel=1e-12)
    touched = [tuple(book.amounts[:, 0] != out.amounts[0, :, 0]) for out in steps]
    assert touched == [(False, True, False), (False, True, True), (True, True, True)]


# ------------------------------------------------------------------------------------------- policy comparison
@pytest.mark.parametrize(
    ("policy", "price", "expected"),
    [
        # HF 0.9633 ≥ 0.95: Aave's close factor, half the debt, once (HF after: 7,756.25 / 7,500 ≥ 1).
        ("aave", 1_700, (1, 1, 7_500, 7_875, 0, 0)),
        # HF 0.9067 < 0.95: all of it, collateral worth 1.05 times.
        ("aave", 1_600, (1, 1, 15_000, 15_750, 0, 0)),
        # Tab 16,950; the auction clears at 1,520 a WETH: 15,200 for all 10 WETH; 15,000 of it repays the debt.
        ("maker", 1_600, (1, 1, 15_000, 16_000, 0, 1)),
        # Collateral ratio 1.067 < 1.10: all the collateral to the Stability Pool, the debt cancelled.
        ("liquity", 1_600, (1, 1, 15_000, 16_000, 0, 1)),
        # Discount 1 − 0.9067 = 9.33 %: 16,000 of collateral pays 14,506.67 of debt; 493.33 is left without any.
        ("euler", 1_600, (1, 1, 16_000 * (1 - (1 - 13_600 / 15_000)), 16_000, 15_000 - 16_000 * 13_600 / 15_000, 1)),
    ],
)
def test_each_reference_rule_on_one_vault_by_hand(policy, price, expected):
    from dataclasses import replace

    from plimsoll.risk.cascade import Book, Rules
    from plimsoll.risk.policies import run_reference

    rules = replace(Rules.from_config(_plain_cfg()), stability_rate=0.0)
    book = Book(np.array([1]), np.array([[10.0, 0.0]]), np.array([15_000.0]), np.array([False]), np.array([False]))
    times = np.array([0.0, 60.0, 1_000.0])  # the Maker auction clears 600 s after the bark at 60 s
    prices = np.array([[2_000.0, 40_000.0], [price, 40_000.0], [price, 40_000.0]])
    t = run_reference(policy, book, rules, times, prices)
    got = (t.vaults_liquidated, t.liquidations, t.repaid, t.seized, t.bad_debt, t.wiped_out)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_plimsoll_row_is_the_cascade_simulator_and_owners_do_not_answer():
    from plimsoll.risk.cascade import Book, Rules, simulate
    from plimsoll.risk.policies import ROWS, run_all
    from plimsoll.sdk.config import load_config

    from conftest import ROOT

    rules = Rules.from_config(load_config(ROOT / "scripts" / "config" / "local.yaml"))
    book = Book(np.array([1, 2]), np.array([[10.0, 0.0], [10.0, 0.0]]), np.array([15_000.0, 16_500.0]),
                np.array([False, False]), np.array([True, True]))
    times = np.array([0.0, 60.0, 4_000.0])
    prices = np.array([[2_000.0, 40_000.0], [1_700.0, 40_000.0], [1_700.0, 40_000.0]])
    tallies = run_all(book, rules, times, prices)
    assert tuple(tallies) == ROWS
    quiet = simulate(Book(book.ids, book.amounts, book.debt, book.portfolio, np.array([False, False])), rules, times,
                     prices)
    assert tallies["plimsoll"].repaid == quiet.repaid[0] and tallies["plimsoll"].vaults_liquidated == 2
    # HF 0.963: called (above the 0.92 floor) and liquidated after the grace, its debt grown by the call's premium;
    # HF 0.876: at once. Without calls: both at once.
    assert tallies["plimsoll"].liquidations == tallies["plimsoll_no_calls"].liquidations == 2
    assert tallies["plimsoll"].repaid > tallies["plimsoll_no_calls"].repaid


def test_risk_compare_cli_writes_one_row_per_policy_and_crash(tmp_path: Path):
    result = CliRunner().invoke(main, ["risk", "compare", "--path", "generated", "--crashes", "3", "--vaults", "200",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    from plimsoll.risk.policies import ROWS

    report = json.loads((tmp_path / "compare.json").read_text())
    assert list(report) == ["generated", "generated-8", "generated-9"]
    assert report["generated-8"]["steps"] != report["generated"]["steps"]  # another seed, another path
    for name in report:
        rows = report[name]["policies"]
        assert tuple(rows) == ROWS and report[name]["vaults"] == 200
        for row in rows.values():
            assert row["borrower_penalty"] == pytest.approx(row["penalty_per_repaid"] * row["repaid"], rel=1e-4,
                                                            abs=0.01)
    assert len((tmp_path / "compare.csv").read_text().splitlines()) == 1 + 3 * len(ROWS)
    assert "3 generated crashes" in result.output


def test_family_summary_counts_the_cheapest_solvent_policy_per_crash():
    from plimsoll.risk.policies import family_summary

    def path(**rows):
        return {"policies": {p: {"borrower_penalty": pen, "bad_debt": bad, "penalty_per_repaid": pen / 100}
                             for p, (pen, bad) in rows.items()}}

    report = {"black_thursday": path(a=(1.0, 0.0), b=(9.0, 0.0)),  # not a generated crash: not counted
              "generated": path(a=(5.0, 0.0), b=(3.0, 0.0)),
              "generated-8": path(a=(5.0, 0.0), b=(1.0, 2.0)),  # b is cheaper but leaves bad debt
              "generated-9": path(a=(4.0, 1.0), b=(6.0, 1.0))}  # nobody solvent: no winner
    assert family_summary(report) == {"paths": 3, "policies": {
        "a": {"lowest": 1, "bad_debt_paths": 1, "mean_penalty_per_repaid": 0.046667},
        "b": {"lowest": 1, "bad_debt_paths": 2, "mean_penalty_per_repaid": 0.033333}}}


def test_calibration_treats_an_owner_whose_answer_reverted_as_not_answering(tmp_path: Path):
    """The demo lists an answer that reverted on-chain (report.json margin_calls.answers_failed); the simulator must
    then let that vault's call run out, as the chain did, instead of curing it."""
    import shutil

    from plimsoll.risk.calibrate import calibrate

    shutil.copy(Path(__file__).resolve().parents[1] / "scripts" / "config" / "local.yaml", tmp_path / "config.yaml")
    # 10 WETH against 16,000 pUSD: HF 1.0625 at $2,000, 0.983 at $1,850 (called, above the 0.92 hard floor).
    (tmp_path / "vaults.json").write_text(json.dumps([{"id": 7, "collateral": {"WETH": str(10 * 10**18)},
                                                       "debt": str(16_000 * 10**18), "portfolio": False,
                                                       "responsive": True}]))
    t0 = 1_704_067_200
    (tmp_path / "rounds.json").write_text(json.dumps({"WETH": [[t0, "2000"], [t0 + 600, "1850"], [t0 + 1200, "1850"]],
                                                      "WBTC": [[t0, "40000"]]}))
    chain = {"liquidated_vaults": [7], "insolvent_vaults": [], "repaid": "16000", "liquidations": 1,
             "written_off": "0"}

    def simulated(failed: list) -> dict:
        report = {**chain, "margin_calls": {"calls": 1, "cures": 0, "answers_failed": failed}}
        (tmp_path / "report.json").write_text(json.dumps(report))
        return calibrate(tmp_path)

    answered = simulated([])
    assert answered["simulated"]["liquidated"] == 0 and answered["simulated"]["cures"] == 1
    assert answered["only_on_chain"] == [7] and not answered["ok"]
    reverted = simulated([{"vault": 7, "block": 12, "error": "answer to the margin call on vault 7: ..."}])
    assert reverted["simulated"]["liquidated"] == 1 and reverted["simulated"]["cures"] == 0
    assert reverted["only_on_chain"] == [] and reverted["checks"]["same_liquidated_vaults"]
    (tmp_path / "report.json").write_text(json.dumps({**chain, "margin_calls": {"answers_failed": 1}}))
    with pytest.raises(ValueError, match="run the demo again"):
        calibrate(tmp_path)  # a report from before the failed answers were named


# ------------------------------------------------------------------------------------------- Monte Carlo
def test_bootstrap_paths_are_blocks_of_the_history_from_a_seed():
    from plimsoll.risk.montecarlo import bootstrap_paths

    returns = np.log1p(np.arange(1, 201, dtype=float).reshape(100, 2) / 10_000)  # each hour different
    paths = bootstrap_paths(returns, n_paths=5, hours=10, block=4, seed=3)
    assert paths.shape == (5, 11, 2) and (paths[:, 0] == 1).all()
    assert np.array_equal(paths, bootstrap_paths(returns, n_paths=5, hours=10, block=4, seed=3))
    steps = np.diff(np.log(paths), axis=1)
    for path in steps:
        for a in range(0, 10, 4):  # each block is 4 consecutive hours of the history (the last one cut to 2)
            block = path[a : a + 4]
            start = int(np.flatnonzero(np.isclose(returns[:, 0], block[0, 0], rtol=0, atol=1e-15))[0])
            assert np.allclose(block, returns[start : start + len(block)], rtol=0, atol=1e-12)


def test_monte_carlo_on_a_local_dask_cluster_of_two_workers_equals_the_run_here():
    from distributed import Client, LocalCluster

    from plimsoll.risk.cascade import Book, Rules
    from plimsoll.risk.montecarlo import bootstrap_paths, run
    from plimsoll.sdk.config import load_config

    from conftest import ROOT

    rules = Rules.from_config(load_config(ROOT / "scripts" / "config" / "local.yaml"))
    rng = np.random.default_rng(5)
    n = 300
    amounts = rng.uniform(0, 10, (n, 2)) * (rng.random((n, 2)) < 0.7)
    amounts[amounts.sum(axis=1) == 0, 0] = 1.0
    start = np.array([2_000.0, 40_000.0])
    book = Book(np.arange(n), amounts, amounts @ start * rng.uniform(0.5, 0.8, n), np.zeros(n, dtype=bool),
                rng.random(n) < 0.5)
    crashes = np.log(np.array([[0.98, 0.99], [0.90, 0.95], [1.01, 1.0], [0.85, 0.9]]))  # a history with crashes
    multipliers = bootstrap_paths(np.repeat(crashes, 10, axis=0), n_paths=12, hours=6, block=3, seed=11)
    here = run(book, rules, start, multipliers, chunk=5)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        there = run(book, rules, start, multipliers, chunk=5, client=client)
    for name in ("bad_debt", "penalty", "repaid", "liquidated", "insolvent"):
        assert np.array_equal(getattr(here, name), getattr(there, name)), name
    assert here.liquidated.sum() > 0 and here.summary()["paths"] == 12


@needs_history
def test_risk_montecarlo_cli_writes_the_distribution(tmp_path: Path):
    result = CliRunner().invoke(main, ["risk", "montecarlo", "--paths", "8", "--hours", "6", "--vaults", "50",
                                       "--chunk", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "montecarlo.json").read_text())
    assert summary["paths"] == 8 and summary["scheduler"] == "local cluster, 2 workers"
    assert summary["bad_debt"]["p50"] <= summary["bad_debt"]["p99"] <= summary["bad_debt"]["max"]
    assert len((tmp_path / "montecarlo.csv").read_text().splitlines()) == 9


# ------------------------------------------------------------------------------------------- the HTML report


@needs_history
def test_the_risk_report_reads_as_a_page_in_a_real_browser(tmp_path: Path):
    """Every section the commands feed, opened in Chromium: each plot decoded and drawn, each table filled, no
    script error, nothing wider than the window; the screenshot stays in tmp_path for a person to look at."""
    from browser import view
    from plimsoll.risk.policies import ROWS

    prices = ["--prices", f"WETH={ETH}", "--prices", f"WBTC={BTC}"]
    for args in (["params", *prices], ["montecarlo", "--paths", "8", "--hours", "6", "--vaults", "50", "--chunk", "4"],
                 ["compare", "--path", "generated", "--crashes", "2", "--vaults", "200"], ["report", *prices]):
        result = CliRunner().invoke(main, ["risk", *args, "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
    seen = view(tmp_path / "report.html", tmp_path / "report.png")
    assert seen.headings == ["Plimsoll risk report", "Recommended parameters", "Volatility and correlation, 2017–2021",
                             "Monte Carlo", "Plimsoll against the reference protocols"]
    assert set(seen.images) == {"volatility and correlation", "Monte Carlo distribution", "borrower penalty by policy"}
    assert all(width > 600 for width in seen.images.values()), seen.images  # decoded, and drawn near full width
    params, montecarlo, compare, family = seen.tables
    assert [row[0] for row in params[1:]] == ["WETH", "WBTC"]
    assert [row[0] for row in montecarlo[1:]] == ["bad debt", "borrower penalty"]
    assert [row[1] for row in compare[1:]] == list(ROWS)  # the demo's crash only; the second seed is in the summary
    assert [row[0] for row in family[1:]] == list(ROWS) and sum(int(row[1]) for row in family[1:]) <= 2
    assert not seen.console_errors and not seen.overflows
