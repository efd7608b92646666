"""Flash mode: liquidating with no pUSD inventory.

The contracts are the real ones on Anvil: the VaultEngine's flash-liquidation callback (collateral sent, callback,
then pUSD burned), pUSD's ERC-3156 flash mint, the keeper's FlashLiquidator, and Uniswap v2's own factory, pair and
router from the npm artifacts (plimsoll.sdk.uniswap), seeded with WETH/pUSD liquidity.
"""

from __future__ import annotations

import ape
import pytest
from conftest import next_block_time, open_vault, plan_at, set_price, surplus_rad, valuation_at

from plimsoll.sdk import uniswap
from plimsoll.sdk.math import RAY, WAD

#: Pair seeded at $1,800 per WETH (100 WETH and 180,000 pUSD), above the oracle's $1,600 in the tests: a sale pays.
POOL_WETH = 100 * WAD
POOL_PUSD = 180_000 * WAD


@pytest.fixture(scope="module")
def keeper(accounts):
    """The keeper's account: it holds no pUSD at all."""
    return accounts[5]


@pytest.fixture(scope="module")
def uni(chain, funded, engine, pusd, weth, bob):
    """Uniswap v2 with a WETH/pUSD pair at $1,800, seeded by bob from a vault of his own."""
    w3 = chain.provider.web3
    deployed = uniswap.deploy(w3, bob.address)
    vault = open_vault(engine, bob, weth, 500 * WAD)
    engine.borrow(vault, 400_000 * WAD, bob, sender=bob)
    erc20 = [w3.eth.contract(address=t.address, abi=uniswap.artifact("v2-core", "ERC20")[0]) for t in (weth, pusd)]
    uniswap.add_liquidity(deployed, bob.address, erc20[0], erc20[1], POOL_WETH, POOL_PUSD)
    return deployed


@pytest.fixture(scope="module")
def flash(project, uni, liquidation, keeper):
    return keeper.deploy(project.FlashLiquidator, liquidation, uni.router.address, keeper)


def _seized(tx, engine):
    return sum(e.amount for e in tx.events.filter(engine.CollateralSeized))


def test_pair_is_the_real_uniswap_v2(uni, weth, pusd):
    assert uni.reserves(weth.address, pusd.address) == (POOL_WETH, POOL_PUSD)
    # the router finds the pair through the init-code hash it was built with
    out = uni.router.functions.getAmountsOut(WAD, [weth.address, pusd.address]).call()[1]
    assert out == uniswap.amount_out(WAD, POOL_WETH, POOL_PUSD)


def test_flash_liquidation_pays_from_the_sale(alice_vault, engine, liquidation, pusd, weth, weth_feed, admin, flash,
                                              uni, keeper, chain):
    set_price(weth_feed, admin, 1_600)  # HF 0.91
    assert pusd.balanceOf(keeper) == 0
    when = next_block_time(chain)
    debt, plan = valuation_at(engine, alice_vault, when).debt, plan_at(engine, liquidation, alice_vault, when)
    tx = flash.liquidate([alice_vault], 0, sender=keeper)
    seized = _seized(tx, engine)
    assert seized == 10 * WAD * plan.fraction // WAD
    event = tx.events.filter(flash.FlashLiquidation)[0]
    expected = uniswap.amount_out(seized, POOL_WETH, POOL_PUSD) - plan.repay - plan.protocol_fee
    assert event.profit == expected > 0
    assert (event.liquidated, event.repaid, event.flashMint) == (1, plan.repay, False)
    assert pusd.balanceOf(keeper) == expected
    assert engine.debt(alice_vault) == debt - plan.repay
    # the executor keeps nothing
    assert pusd.balanceOf(flash) == 0 and weth.balanceOf(flash) == 0


def test_flash_mint_liquidation_repays_loan_and_fee(alice_vault, engine, liquidation, pusd, weth, weth_feed, admin,
                                                    flash, keeper, chain):
    assert pusd.maxFlashLoan(pusd) == 0  # off until the risk admin sets terms
    pusd.setFlashTerms(WAD * 9 // 10_000, 10**24, sender=admin)  # 0.09 %, at most 1,000,000 pUSD
    set_price(weth_feed, admin, 1_600)
    loan = 20_000 * WAD
    fee = pusd.flashFee(pusd, loan)
    assert fee == loan * 9 // 10_000
    supply, surplus = pusd.totalSupply(), surplus_rad(engine, pusd)
    plan = plan_at(engine, liquidation, alice_vault, next_block_time(chain))
    tx = flash.liquidateWithFlashMint([alice_vault], loan, 0, sender=keeper)
    seized = _seized(tx, engine)
    expected = uniswap.amount_out(seized, POOL_WETH, POOL_PUSD) - plan.repay - plan.protocol_fee - fee
    event = tx.events.filter(flash.FlashLiquidation)[0]
    assert (event.liquidated, event.repaid, event.profit, event.flashMint) == (1, plan.repay, expected, True)
    assert pusd.balanceOf(keeper) == expected
    # the loan is burned back; the repay, the protocol fee and the flash fee leave the supply
    assert pusd.totalSupply() == supply - plan.repay - plan.protocol_fee - fee
    assert pusd.backedSupply() == pusd.totalSupply()
    # the protocol fee and the flash fee are surplus (the repay cancels its debt one for one)
    assert surplus_rad(engine, pusd) - surplus >= (plan.protocol_fee + fee) * RAY


def test_write_off_inside_a_flash_mint_far_above_the_surplus(alice_vault, engine, liquidation, pusd, weth_feed,
                                                             admin, flash, keeper, chain):
    """A million flash-minted pUSD do not count against the surplus a write-off draws on (backedSupply)."""
    pusd.setFlashTerms(0, 10**24, sender=admin)
    set_price(weth_feed, admin, 1_400)  # 10 WETH = $14,000 < 15,000 debt: underwater
    plan = plan_at(engine, liquidation, alice_vault, next_block_time(chain))
    assert plan.full and plan.fraction == WAD
    assert surplus_rad(engine, pusd) < 10**24 * RAY
    tx = flash.liquidateWithFlashMint([alice_vault], 10**24, 0, sender=keeper)
    assert engine.debt(alice_vault) == 0
    assert len(tx.events.filter(engine.BadDebtWrittenOff)) == 1
    assert surplus_rad(engine, pusd) >= 0


def test_flash_terms_are_bounded_and_for_risk_admins(pusd, admin, alice):
    with ape.reverts(pusd.AccessControlUnauthorizedAccount, account=alice.address):
        pusd.setFlashTerms(0, WAD, sender=alice)
    with ape.reverts(pusd.InvalidFlashTerms, feeRate=WAD // 100 + 1, maxMint=WAD):
        pusd.setFlashTerms(WAD // 100 + 1, WAD, sender=admin)
    tx = pusd.setFlashTerms(WAD // 100, WAD, sender=admin)
    assert tx.events.filter(pusd.FlashTermsSet)[0].feeRate == WAD // 100
    assert pusd.maxFlashLoan(pusd) == WAD
    with ape.reverts(pusd.ERC3156ExceededMaxLoan, maxLoan=WAD):
        pusd.flashLoan(alice, pusd, WAD + 1, b"", sender=alice)


def test_a_failed_flash_liquidation_changes_nothing(alice_vault, engine, liquidation, pusd, weth, weth_feed, admin,
                                                    flash, keeper, alice):
    set_price(weth_feed, admin, 1_600)
    debt = engine.normalizedDebt(alice_vault)  # the debt itself grows with the stability fee
    with ape.reverts(flash.ProfitBelowMinimum):
        flash.liquidate([alice_vault], 10**30, sender=keeper)
    with ape.reverts(flash.OwnableUnauthorizedAccount, account=alice.address):
        flash.liquidate([alice_vault], 0, sender=alice)
    with ape.reverts(flash.UnexpectedCallback, caller=alice.address):
        flash.onLiquidation(0, b"", sender=alice)
    with ape.reverts(liquidation.EmptyCallbackData):
        liquidation.flashLiquidate([alice_vault], b"", sender=alice)
    # alice is no flash liquidator: the engine's callback to her reverts, and so does the whole liquidation
    with ape.reverts():
        liquidation.flashLiquidate([alice_vault], b"\x01", sender=alice)
    assert engine.normalizedDebt(alice_vault) == debt
    assert pusd.balanceOf(keeper) == 0


def test_sale_that_does_not_cover_the_debt_reverts_the_liquidation(alice_vault, engine, pusd, weth_feed, admin, flash,
                                                                   uni, weth, bob, keeper):
    # bob dumps WETH into the pair until it pays $300 per WETH or less: the sale cannot pay the repay
    w3 = uni.w3
    path = [weth.address, pusd.address]
    weth.approve(uni.router.address, 2**256 - 1, sender=bob)
    uni.router.functions.swapExactTokensForTokens(400 * WAD, 0, path, bob.address, 2**40).transact(
        {"from": bob.address})
    assert uniswap.amount_out(WAD, *uni.reserves(weth.address, pusd.address)) < 300 * WAD
    set_price(weth_feed, admin, 1_600)
    debt = engine.normalizedDebt(alice_vault)
    with ape.reverts(pusd.ERC20InsufficientBalance):
        flash.liquidate([alice_vault], 0, sender=keeper)
    assert engine.normalizedDebt(alice_vault) == debt
    assert pusd.balanceOf(keeper) == 0
