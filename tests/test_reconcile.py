"""Margin reconciliation (plimsoll.sdk.reconcile, `plimsoll reconcile`) on Anvil: everything holds on a live book
of vaults in both margin modes with interest accrued, and a real discrepancy (tokens sent to the engine without a
deposit) is reported by name with exit code 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import open_vault, set_price

from plimsoll.cli import main
from plimsoll.sdk.contracts import Protocol
from plimsoll.sdk.math import RAY, WAD
from plimsoll.sdk.reconcile import reconcile

DAY = 86_400


@pytest.fixture
def book(chain, funded, engine, weth, wbtc, alice, bob, admin, weth_feed, wbtc_feed):
    """alice: a WETH vault with 15,000 pUSD of debt and a WETH+WBTC portfolio vault with 20,000; bob: an empty
    vault. A month of stability fee accrues, and the feeds report again."""
    a = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(a, 15_000 * WAD, alice, sender=alice)
    b = open_vault(engine, alice, weth, 10 * WAD)
    engine.deposit(b, wbtc, 50_000_000, sender=alice)
    engine.setPortfolioMargin(b, True, sender=alice)
    engine.borrow(b, 20_000 * WAD, alice, sender=alice)
    open_vault(engine, bob, weth, 1)
    chain.pending_timestamp = chain.blocks.head.timestamp + 30 * DAY
    set_price(weth_feed, admin, 1_900)
    set_price(wbtc_feed, admin, 40_000)
    return a, b


def test_everything_reconciles_on_a_live_book(chain, deployment, book, engine, pusd):
    p = Protocol(chain.provider.web3, deployment)
    head = chain.blocks.head.number
    rec = reconcile(p, head)
    assert rec.ok and rec.mismatches == [] and rec.unpriced_vaults == 0
    assert rec.vaults == engine.vaultCount() == 3 and rec.figures["vaults_with_debt"] == 2
    f = rec.figures
    assert f["total_normalized_debt"] == f["sum_vault_normalized_debt"] == engine.totalNormalizedDebt()
    assert f["rate"] == engine.currentRate() > RAY  # a month of fee, accrued exactly as the engine does
    assert f["surplus_rad"] == engine.surplusRad() and f["pusd_supply"] == pusd.totalSupply()
    assert f["collateral"]["WETH"] == {"in_vaults": 20 * WAD + 1, "booked": 20 * WAD + 1, "held": 20 * WAD + 1}


def test_tokens_sent_to_the_engine_without_a_deposit_are_a_named_mismatch_and_exit_2(
        chain, deployment, book, engine, weth, alice, tmp_path):
    weth.transfer(engine, 5, sender=alice)  # held, but neither booked nor in any vault
    manifest = deployment.save(tmp_path / "manifest.json")
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(main, ["reconcile", "--rpc", chain.provider.uri, "--manifest", str(manifest),
                                       "--block", str(chain.blocks.head.number), "--json", str(out)])
    assert result.exit_code == 2, result.output
    rec = json.loads(out.read_text())
    weth_total = 20 * WAD + 1
    assert rec["mismatches"] == [f"collateral WETH: in vaults {weth_total}, booked {weth_total}, held {weth_total + 5}"]
    assert not rec["ok"]
