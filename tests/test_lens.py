"""VaultLens and PositionLens on Anvil: the maximum borrow and withdrawal are exact (the engine accepts the amount in
the block the lens was asked about, and refuses one wei more), the rate at a future timestamp is the engine's, and a
wallet's position survives a stale feed and names the price that liquidates the vault."""

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


# ----------------------------------------------------------------------------------------------- PositionLens


@pytest.mark.parametrize("portfolio", [False, True], ids=["standard", "portfolio"])
def test_a_position_is_what_the_engine_then_accepts(portfolio, funded, engine, position_lens, weth, wbtc, alice,
                                                    admin, weth_feed, wbtc_feed, chain):
    """A wallet reads one position for the next block: its maxBorrow is accepted there and one wei more refused;
    the WETH feed at the liquidation price (rounded up to its 8 decimals) leaves the vault safe, one feed unit
    lower makes it liquidatable."""
    vault = _basket(engine, weth, wbtc, alice, portfolio)
    engine.borrow(vault, 20_000 * WAD, alice, sender=alice)
    _month_later(chain, admin, weth_feed, wbtc_feed)
    ts = _pin(chain, 12)
    p = position_lens.positionAt(vault, ts)
    assert (p.vaultId, p.owner, p.status, p.timestamp, p.portfolioMargin) == (vault, alice.address, 0, ts, portfolio)
    assert [c.token for c in p.collateral] == [weth.address, wbtc.address]
    assert [c.amount for c in p.collateral] == [10 * WAD, 50_000_000]
    assert [c.value for c in p.collateral] == [20_000 * WAD, 20_000 * WAD]
    with isolated(chain):
        chain.pending_timestamp = ts
        with ape.reverts(engine.InsufficientMargin, vaultId=vault):
            engine.borrow(vault, p.maxBorrow + 1, alice, sender=alice, gas_limit=GAS)
    chain.pending_timestamp = ts
    engine.borrow(vault, p.maxBorrow, alice, sender=alice, gas_limit=GAS)
    assert engine.debt(vault) == position_lens.position(vault).debt

    ts = _pin(chain, 12)  # the liquidation price for the block that moves the feed (the debt grows each second)
    price = position_lens.positionAt(vault, ts).collateral[0].liquidationPrice  # WAD USD per WETH
    assert 0 < price < 2_000 * WAD
    feed_units = -(-price // 10**10)  # the feed has 8 decimals: the first answer at or above the price
    assert weth_feed.updateAnswer(feed_units, sender=admin).timestamp == ts
    assert engine.healthFactor(vault) >= WAD
    weth_feed.updateAnswer(feed_units - 1, sender=admin)  # later still: the debt only grew
    assert engine.healthFactor(vault) < WAD


def test_a_stale_feed_degrades_a_position_instead_of_reverting(funded, engine, position_lens, weth, wbtc, alice,
                                                                admin, weth_feed, chain):
    vault = _basket(engine, weth, wbtc, alice, False)
    engine.borrow(vault, 10_000 * WAD, alice, sender=alice)
    chain.pending_timestamp = chain.blocks.head.timestamp + 2 * 3600  # past WBTC's 4,500 s max age
    set_price(weth_feed, admin, 2_000)  # WETH reports, WBTC does not
    (p,) = position_lens.positions([vault])
    assert p.status == 1  # Unpriced
    assert [c.priced for c in p.collateral] == [True, False]
    assert p.collateral[1].value == 0 and p.collateral[1].liquidationPrice == 0
    assert p.maintenance == 17_000 * WAD  # WETH alone: 20,000 x 0.85
    assert p.healthFactor == engine.healthFactor(vault)
    assert position_lens.position(999).status == 2  # NoSuchVault
    preview = position_lens.previewRepay(vault, 5_000 * WAD)
    assert preview.healthFactor == preview.maintenance * WAD // preview.debt
