"""The stress test on a live deployment (plimsoll.risk.chain, `plimsoll risk stress`): today's vaults and rules read
at one block, and a simulated crash that liquidates a vault exactly as the LiquidationEngine then does on-chain."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import isolated, open_vault, set_price

from plimsoll.cli import main
from plimsoll.risk.chain import read_state
from plimsoll.sdk.contracts import Protocol
from plimsoll.sdk.math import WAD

DAY = 86_400


@pytest.fixture
def book(chain, funded, engine, weth, wbtc, alice, bob, admin, weth_feed, wbtc_feed):
    """alice: a WETH vault owing 14,000 pUSD and a WETH+WBTC portfolio vault owing 20,000; bob: an empty vault. A
    week of stability fee accrues, and the feeds report $2,000 and $40,000."""
    a = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(a, 14_000 * WAD, alice, sender=alice)
    b = open_vault(engine, alice, weth, 10 * WAD)
    engine.deposit(b, wbtc, 50_000_000, sender=alice)
    engine.setPortfolioMargin(b, True, sender=alice)
    engine.borrow(b, 20_000 * WAD, alice, sender=alice)
    open_vault(engine, bob, weth, 1)
    chain.pending_timestamp = chain.blocks.head.timestamp + 7 * DAY
    set_price(weth_feed, admin, 2_000)
    set_price(wbtc_feed, admin, 40_000)
    return a, b


def test_the_state_read_is_the_chains(chain, deployment, book, engine, cfg):
    a, b = book
    head = chain.blocks.head.number
    state = read_state(Protocol(chain.provider.web3, deployment), head)
    assert state.symbols == ["WETH", "WBTC"] and list(state.prices) == [2_000.0, 40_000.0]
    assert list(state.book.ids) == [a, b]  # bob's vault has no debt
    assert state.book.amounts.tolist() == [[10.0, 0.0], [10.0, 0.5]]
    assert state.book.portfolio.tolist() == [False, True]
    for i, vid in enumerate((a, b)):
        assert state.book.debt[i] == pytest.approx(engine.valuation(vid).debt / WAD, rel=1e-15)
    r = state.rules
    assert r.liquidation_threshold.tolist() == [0.85, 0.80] and r.target_health == 1.1
    assert r.maintenance_grid.shape == (len(cfg.maintenance_grid), 2)


def test_a_simulated_crash_liquidates_as_the_chain_then_does(chain, deployment, book, engine, liquidation, weth,
                                                               weth_feed, admin, liquidator, tmp_path):
    """WETH −25 %: alice's WETH vault (HF 0.85·15,000/14,000+ = 0.91) is liquidated; the repay the simulator predicts
    is what LiquidationEngine.liquidate repays one block later, to a millionth."""
    a, _ = book
    manifest = deployment.save(tmp_path / "manifest.json")
    head = chain.blocks.head.number
    result = CliRunner().invoke(main, ["risk", "stress", "--rpc", chain.provider.uri, "--manifest", str(manifest),
                                       "--block", str(head), "--scenario", "WETH=-0.25", "--step-seconds", "12",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    stress = json.loads((tmp_path / "stress.json").read_text())
    row = stress["scenarios"][0]
    assert row["vaults_liquidated"] == 1 and row["liquidations"] == 1 and row["bad_debt"] == 0
    hf = engine.healthFactor(a) / WAD
    assert stress["health_factors"][0] == pytest.approx(hf, abs=1e-6)  # written to 6 decimals
    # The HTML report draws today's health and the cascade from it, and names what is missing.
    result = CliRunner().invoke(main, ["risk", "report", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert 'alt="health distribution"' in page and 'alt="cascade over time"' in page
    assert "run <code>plimsoll risk compare</code>" in page and "run <code>plimsoll risk montecarlo</code>" in page
    from browser import view  # and in a real browser: both plots decoded and drawn, the scenario table filled

    seen = view(tmp_path / "report.html", tmp_path / "report.png")
    assert seen.headings == ["Plimsoll risk report", "Volatility and correlation, 2017–2021",
                             "Health of today's vaults", "Cascade under the worst scenario"]
    assert set(seen.images) == {"volatility and correlation", "health distribution", "cascade over time"}
    assert all(width > 600 for width in seen.images.values()), seen.images
    assert len(seen.tables) == 1 and len(seen.tables[0]) == 2  # header and the one scenario
    assert not seen.console_errors and not seen.overflows
    with isolated(chain):
        inventory = open_vault(engine, liquidator, weth, 1_000 * WAD)
        engine.borrow(inventory, 100_000 * WAD, liquidator, sender=liquidator)
        set_price(weth_feed, admin, 1_500)
        tx = liquidation.liquidate(a, sender=liquidator)
        repaid = tx.events.filter(liquidation.Liquidate)[0].repaid / WAD
    assert row["repaid"] == pytest.approx(repaid, rel=1e-6)


def test_stress_refuses_an_unknown_collateral_and_a_block_without_prices(chain, deployment, book, tmp_path):
    manifest = deployment.save(tmp_path / "manifest.json")
    result = CliRunner().invoke(main, ["risk", "stress", "--rpc", chain.provider.uri, "--manifest", str(manifest),
                                       "--block", str(chain.blocks.head.number), "--scenario", "DOGE=-0.5",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 2 and "DOGE" in result.output, result.output
    # One block earlier the WBTC feed had not reported for a week: stale, so no stress from there.
    result = CliRunner().invoke(main, ["risk", "stress", "--rpc", chain.provider.uri, "--manifest", str(manifest),
                                       "--block", str(chain.blocks.head.number - 1), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "no price for ['WBTC']" in result.output, result.output
