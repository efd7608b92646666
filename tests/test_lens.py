"""VaultLens on Anvil: the maximum borrow and withdrawal are exact (the engine accepts the amount in the block the
lens was asked about, and refuses one wei more), and the rate at a future timestamp is the engine's."""

from __future__ import annotations

import ape
import pytest
from conftest import isolated, open_vault, rate_at_time, set_price

from plimsoll.sdk.math import WAD

DAY = 86_400
GAS = 2_000_000  # sent without an estimate, so that the block at the pinned timestamp decides


def _month_later(chain, admin, weth_feed, wbtc_feed) -> None:
    """30 days pass (the rate moves well off RAY) and the feeds report again, at $2,000 and $40,000."""
    chain.pending_timestamp = chain.blocks.head.timestamp + 30 * DAY
    set_price(weth_feed, admin, 2_000)
    set_price(wbtc_feed, admin, 40_000)


def _pin(chain, seconds: int) -> int:
    """Pin the next block `seconds` after the head and return its timestamp."""
    ts = chain.blocks.head.timestamp + seconds
    chain.pending_timestamp = ts
    return ts


def _basket(engine, weth, wbtc, alice, portfolio: bool) -> int:
    """10 WETH ($20,000) and 0.5 WBTC ($20,000): standard borrow power 31,000."""
    vault = open_vault(engine, alice, weth, 10 * WAD)
    engine.deposit(vault, wbtc, 50_000_000, sender=alice)
    if portfolio:
        engine.setPortfolioMargin(vault, True, sender=alice)
    return vault


@pytest.mark.parametrize("debt", [0, 10_000 * WAD], ids=["fresh", "with_debt"])
@pytest.mark.parametrize("portfolio", [False, True], ids=["standard", "portfolio"])
def test_max_borrow_is_accepted_and_one_wei_more_refused(portfolio, debt, funded, engine, lens, weth, wbtc, alice,
                                                         admin, weth_feed, wbtc_feed, chain):
    vault = _basket(engine, weth, wbtc, alice, portfolio)
    if debt:
        engine.borrow(vault, debt, alice, sender=alice)
    _month_later(chain, admin, weth_feed, wbtc_feed)  # off RAY, where borrowPower itself fails by 1 wei
    ts = _pin(chain, 12)
    assert lens.rateAt(ts) == rate_at_time(engine, ts)
    amount = lens.maxBorrow(vault, ts)
    assert amount > 0

    with isolated(chain):
        chain.pending_timestamp = ts
        with ape.reverts(engine.InsufficientMargin, vaultId=vault):
            engine.borrow(vault, amount + 1, alice, sender=alice, gas_limit=GAS)
    chain.pending_timestamp = ts
    tx = engine.borrow(vault, amount, alice, sender=alice, gas_limit=GAS)
    assert tx.timestamp == ts
    v = engine.valuation(vault)
    assert v.debt <= v.borrowPower and v.borrowPower - v.debt <= 1  # nothing left but the rounding


@pytest.mark.parametrize("portfolio", [False, True], ids=["standard", "portfolio"])
def test_max_withdraw_is_accepted_and_one_wei_more_refused(portfolio, funded, engine, lens, weth, wbtc, alice, admin,
                                                           weth_feed, wbtc_feed, chain):
    vault = _basket(engine, weth, wbtc, alice, portfolio)
    engine.borrow(vault, 20_000 * WAD, alice, sender=alice)
    _month_later(chain, admin, weth_feed, wbtc_feed)
    ts = _pin(chain, 12)
    for token in (weth, wbtc):
        balance = engine.collateralBalance(vault, token)
        amount = lens.maxWithdraw(vault, token, ts)
        assert 0 < amount < balance
        with isolated(chain):
            chain.pending_timestamp = ts
            with ape.reverts(engine.InsufficientMargin, vaultId=vault):
                engine.withdraw(vault, token, amount + 1, alice, sender=alice, gas_limit=GAS)
            chain.pending_timestamp = ts
            engine.withdraw(vault, token, amount, alice, sender=alice, gas_limit=GAS)
            assert engine.collateralBalance(vault, token) == balance - amount


def test_max_amounts_without_debt_and_when_restricted(funded, engine, lens, weth, wbtc, alice, admin, chain):
    vault = _basket(engine, weth, wbtc, alice, False)
    ts = _pin(chain, 12)
    assert lens.maxWithdraw(vault, weth, ts) == 10 * WAD  # no debt: everything
    assert lens.maxWithdraw(vault, admin.address, ts) == 0  # not held
    assert lens.maxBorrow(999, ts) == 0  # no such vault
    engine.setPaused(wbtc, True, sender=admin)  # the deployment's admin is the guardian
    assert lens.maxBorrow(vault, ts) == 0
    with ape.reverts(lens.TimestampBeforeLastDrip):
        lens.rateAt(engine.lastDrip() - 1)
