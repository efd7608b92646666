"""The margin engine on Anvil and in the mirror: portfolio margin from the deployed grids, margin calls with their
premium, and the keeper's pure margin-call decision (no node)."""

from __future__ import annotations

import ape
import pytest
from conftest import chain_collateral_params, open_vault, set_price

from plimsoll.sdk.math import (
    RAY,
    WAD,
    MarginCallTerms,
    margin_call_action,
    pending_premium,
    valuation,
    vault_terms,
)

PREMIUM = 1_000_000_003_022_265_980_097_387_650  # 10 % a year, per second (local.yaml)


def test_portfolio_vault_borrows_what_the_mirror_says(funded, engine, weth, wbtc, alice, chain):
    """A 50/50 WETH/WBTC basket: the deployed grids (plimsoll risk grid, 99.5 %) lend 0.55 % more than standard."""
    vault = open_vault(engine, alice, weth, 10 * WAD)  # $20,000
    engine.deposit(vault, wbtc, 50_000_000, sender=alice)  # 0.5 WBTC = $20,000
    standard = engine.valuation(vault).borrowPower
    assert standard == 31_000 * WAD
    engine.setPortfolioMargin(vault, True, sender=alice)
    on_chain = engine.valuation(vault)
    mirror = valuation(0, RAY, [(10 * WAD, 2_000 * WAD, chain_collateral_params(engine, weth)),
                                (50_000_000, 40_000 * WAD, chain_collateral_params(engine, wbtc))], portfolio=True)
    assert (on_chain.borrowPower, on_chain.maintenance) == (mirror.borrow_power, mirror.maintenance)
    assert on_chain.borrowPower == 31_170 * WAD  # min over the initial grid: 20,000·(1 − 0.1979) + 20,000·(1 − 0.2433)
    engine.borrow(vault, 31_100 * WAD, alice, sender=alice)
    with ape.reverts(engine.InsufficientMargin):
        engine.setPortfolioMargin(vault, False, sender=alice)


def test_margin_call_premium_cure_and_liquidation(alice_vault, engine, liquidation, pusd, weth, weth_feed, admin,
                                                  alice, liquidator, chain):
    liquidation.setMarginCallTerms(weth, 3600, int(0.92 * WAD), PREMIUM, sender=admin)
    set_price(weth_feed, admin, 1_700)  # HF 0.963
    with ape.reverts(liquidation.MarginCallRequired, vaultId=alice_vault):
        liquidation.liquidate(alice_vault, sender=liquidator)
    tx = liquidation.marginCall(alice_vault, sender=liquidator)
    called_at = chain.blocks.head.timestamp
    assert tx.events.filter(liquidation.MarginCall)[0].deadline == called_at + 3600
    with ape.reverts(engine.VaultInMarginCall, vaultId=alice_vault):
        engine.borrow(alice_vault, WAD, alice, sender=alice)

    # The premium, to the wei, at a pinned time.
    chain.mine(timestamp=called_at + 1_800)
    debt = engine.debt(alice_vault)
    assert liquidation.pendingPremium(alice_vault) == pending_premium(debt, PREMIUM, called_at, called_at + 3_600,
                                                                      called_at + 1_800)
    # It stops at the deadline: a call left alone for a year costs one grace window of premium, no more.
    chain.mine(timestamp=called_at + 365 * 86_400)
    debt = engine.debt(alice_vault)
    assert liquidation.pendingPremium(alice_vault) == pending_premium(debt, PREMIUM, called_at, called_at + 3_600,
                                                                      called_at + 365 * 86_400)
    assert liquidation.pendingPremium(alice_vault) < debt * 12 // 1_000_000  # 10 %/yr for 1 h ≈ 0.0011 %

    # After the deadline: liquidated as usual, the premium booked first (to the surplus) and the call ended.
    set_price(weth_feed, admin, 1_700)  # a fresh round after the year
    surplus = engine.surplusRad()
    tx = liquidation.liquidate(alice_vault, sender=liquidator)
    charged = tx.events.filter(engine.PremiumCharged)[0]
    assert charged.amount > 0
    assert engine.surplusRad() > surplus
    assert len(tx.events.filter(liquidation.MarginCallEnded)) == 1
    assert not engine.inMarginCall(alice_vault)
    assert liquidation.marginCallOf(alice_vault).deadline == 0


def test_margin_call_cure(alice_vault, engine, liquidation, weth, weth_feed, admin, alice, liquidator):
    liquidation.setMarginCallTerms(weth, 3600, int(0.92 * WAD), PREMIUM, sender=admin)
    set_price(weth_feed, admin, 1_700)
    liquidation.marginCall(alice_vault, sender=liquidator)
    with ape.reverts(liquidation.MarginCallNotCured):
        liquidation.cure(alice_vault, sender=alice)
    engine.repay(alice_vault, 2_000 * WAD, sender=alice)  # 13,000 against borrow power 13,600
    tx = liquidation.cure(alice_vault, sender=alice)
    assert len(tx.events.filter(liquidation.MarginCallCured)) == 1
    assert not engine.inMarginCall(alice_vault)
    engine.borrow(alice_vault, 100 * WAD, alice, sender=alice)


@pytest.mark.parametrize(
    "hf, terms, deadline, floor, now, expected",
    [
        (int(0.97 * WAD), MarginCallTerms(3600, int(0.92 * WAD), PREMIUM), 0, 0, 100, "call"),
        (int(0.91 * WAD), MarginCallTerms(3600, int(0.92 * WAD), PREMIUM), 0, 0, 100, "liquidate"),  # below floor
        (int(0.97 * WAD), MarginCallTerms(), 0, 0, 100, "liquidate"),  # not offered
        (int(0.97 * WAD), MarginCallTerms(), 200, int(0.92 * WAD), 100, "wait"),  # in the window
        (int(0.97 * WAD), MarginCallTerms(), 200, int(0.92 * WAD), 200, "liquidate"),  # deadline reached
        (int(0.90 * WAD), MarginCallTerms(), 200, int(0.92 * WAD), 100, "liquidate"),  # under the floor
    ],
)
def test_margin_call_action(hf, terms, deadline, floor, now, expected):
    assert margin_call_action(hf, terms, deadline, floor, now) == expected


def test_vault_terms_take_the_strictest_and_need_every_collateral():
    a = MarginCallTerms(3600, int(0.92 * WAD), PREMIUM)
    b = MarginCallTerms(1800, int(0.95 * WAD), RAY)
    assert vault_terms([a, b]) == MarginCallTerms(1800, int(0.95 * WAD), PREMIUM)
    assert vault_terms([a, MarginCallTerms()]) == MarginCallTerms()
    assert vault_terms([]) == MarginCallTerms()
