"""Regression tests for the ways an unsafe vault escaped liquidation or booked bad debt (issue 5, section 1).

Each test reproduces one finding on real contracts on Anvil and failed on the code before the fix:
  1. the owner blocked liquidation by approving the liquidator (or handing it the vault);
  2. one failing collateral (stale or out-of-bounds feed, broken feed, paused or blocking token) froze liquidation
     of every vault holding it, and reverted whole batches;
  3. mixed collaterals pushed the vault-level bonus × threshold past 1 and booked bad debt on a solvent vault;
  4. a vault below LB·LT was emptied and still booked bad debt while its collateral covered the debt;
  5. fee-on-transfer deposits were over-credited;
  6. the rate accumulator overflowed after decades and bricked drip; huge setter values overflowed.

Scenario as in test_liquidation_engine: alice's vault holds 10 WETH and owes 15,000 pUSD; WETH at $2,000 (LTV 0.80,
LT 0.85, bonus 1.05), WBTC at $40,000 (0.75 / 0.80 / 1.08); target health 1.10, full below 0.95, protocol share 10 %.
"""

from __future__ import annotations

import ape
import pytest
from ape.utils import ZERO_ADDRESS
from conftest import open_vault, rate_at, set_price, surplus_nonnegative

from plimsoll.sdk.math import MAX_RATE, WAD, accrue, debt_of, mul_div_up

YEAR = 365 * 24 * 3600


def list_token(project, admin, engine, token, usd, ltv="0.75", lt="0.80", lb="1.05"):
    """List `token` with its own mock feed ($`usd`, 8 decimals) and adapter; return the feed."""
    from decimal import Decimal

    feed = admin.deploy(project.MockAggregator, 8, "ADV / USD", int(Decimal(str(usd)) * 10**8))
    oracle = admin.deploy(project.OracleAdapter, [(feed, 4_500)], 0, 10**10, 10**30, 0, 0, ZERO_ADDRESS, 0)
    w = lambda x: int(Decimal(x) * WAD)
    engine.addCollateral(token, oracle, w(ltv), w(lt), w(lb), 10**30, sender=admin)
    return feed


@pytest.fixture
def adversarial(project, admin, engine, alice, liquidator, funded):
    """A listed collateral token that can charge a fee, pause, or block addresses; $1, 18 decimals."""
    token = admin.deploy(project.MockAdversarialERC20, "Adversarial", "ADV", 18)
    feed = list_token(project, admin, engine, token, 1)
    for who in (alice, liquidator):
        token.mint(who, 1_000_000 * WAD, sender=who)
        token.approve(engine, 2**256 - 1, sender=who)
    return token, feed


# ---------------------------------------------------------------- finding 1: the owner cannot choose who liquidates


def test_owner_cannot_block_liquidation_by_approving_or_handing_the_vault_to_the_liquidator(
        alice_vault, funded, engine, nft, liquidation, weth, weth_feed, admin, alice, liquidator):
    approved = alice_vault
    nft.approve(liquidator, approved, sender=alice)
    for_all = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(for_all, 15_000 * WAD, alice, sender=alice)
    nft.setApprovalForAll(liquidator, True, sender=alice)
    handed = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(handed, 15_000 * WAD, alice, sender=alice)
    nft.transferFrom(alice, liquidator, handed, sender=alice)
    set_price(weth_feed, admin, 1_700)  # all three at HF ≈ 0.963

    liquidation.liquidate(approved, sender=liquidator)
    tx = liquidation.liquidateBatch([for_all, handed], sender=liquidator)

    assert [e.vaultId for e in tx.events.filter(liquidation.Liquidate)] == [for_all, handed]
    assert min(engine.healthFactor(v) for v in (approved, for_all, handed)) >= WAD


def test_owner_may_liquidate_their_own_vault(alice_vault, engine, liquidation, pusd, weth_feed, admin, alice):
    set_price(weth_feed, admin, 1_700)
    # alice holds the 15,000 pUSD she borrowed: enough for the ≈ 9,880 + fee a partial liquidation costs.
    tx = liquidation.liquidate(alice_vault, sender=alice)
    assert tx.events.filter(liquidation.Liquidate)[0].liquidator == alice.address
    assert engine.healthFactor(alice_vault) >= WAD


# ---------------------------------------------------------------- finding 2: one failing collateral


def _stale(feed, admin, chain):
    feed.setRoundData(feed.latestRoundData()[1], chain.pending_timestamp - 10_000, sender=admin)


def _out_of_bounds(feed, admin, chain):
    feed.updateAnswer(10**8 * 10**8, sender=admin)  # $100,000,000: above the WBTC adapter's max price


def _broken(feed, admin, chain):
    feed.setBroken(True, sender=admin)


@pytest.mark.parametrize("failure", [_stale, _out_of_bounds, _broken], ids=["stale", "out_of_bounds", "broken"])
def test_failing_feed_on_a_side_collateral_does_not_freeze_liquidation(
        failure, alice_vault, engine, liquidation, pusd, weth, wbtc, weth_feed, wbtc_feed, admin, alice, liquidator,
        chain):
    engine.deposit(alice_vault, wbtc, 1, sender=alice)  # 1 satoshi of WBTC beside 10 WETH
    set_price(weth_feed, admin, 1_700)
    failure(wbtc_feed, admin, chain)
    v = engine.valuation(alice_vault)
    assert v.unpricedMask == 0b10 and v.maintenance == 14_450 * WAD  # WBTC counts zero

    tx = liquidation.liquidate(alice_vault, sender=liquidator)

    assert engine.collateralBalance(alice_vault, wbtc) == 1  # the unpriced collateral is never seized
    assert [e.token for e in tx.events.filter(engine.CollateralSeized)] == [weth.address]
    assert engine.healthFactor(alice_vault) >= WAD
    assert surplus_nonnegative(engine, pusd)


def test_batch_skips_a_vault_with_no_priced_collateral_and_liquidates_the_rest(
        alice_vault, engine, liquidation, wbtc, weth_feed, wbtc_feed, admin, bob, liquidator, chain):
    btc_only = open_vault(engine, bob, wbtc, 10**8)  # 1 WBTC, $40,000
    engine.borrow(btc_only, 29_000 * WAD, bob, sender=bob)
    set_price(weth_feed, admin, 1_700)
    set_price(wbtc_feed, admin, 34_000)  # HF 0.938
    _stale(wbtc_feed, admin, chain)
    with ape.reverts(liquidation.NoPricedCollateral, vaultId=btc_only):
        liquidation.liquidate(btc_only, sender=liquidator)

    tx = liquidation.liquidateBatch([alice_vault, btc_only], sender=liquidator)

    assert [e.vaultId for e in tx.events.filter(liquidation.Liquidate)] == [alice_vault]
    assert engine.collateralBalance(btc_only, wbtc) == 10**8


def test_batch_skips_what_the_callers_pusd_cannot_pay(alice_vault, funded, engine, liquidation, pusd, weth, weth_feed,
                                                      admin, alice, bob):
    other = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(other, 15_000 * WAD, alice, sender=alice)
    set_price(weth_feed, admin, 1_700)
    pusd.transfer(bob, 12_000 * WAD, sender=alice)  # bob can pay for one ≈ 9,900 liquidation, not two
    tx = liquidation.liquidateBatch([alice_vault, other], sender=bob)
    assert [e.vaultId for e in tx.events.filter(liquidation.Liquidate)] == [alice_vault]


@pytest.mark.parametrize("how", ["paused", "blocked"])
def test_paused_or_blocking_collateral_token_does_not_block_liquidation(
        how, alice_vault, adversarial, engine, liquidation, pusd, weth, weth_feed, admin, alice, bob, liquidator):
    token, _ = adversarial
    engine.deposit(alice_vault, token, 1_000 * WAD, sender=alice)  # $1,000 beside 10 WETH
    set_price(weth_feed, admin, 1_600)  # maintenance 13,600 + 800 = 14,400 < 15,000
    if how == "paused":
        token.setPaused(True, sender=admin)
    else:
        token.setBlocked(liquidator, True, sender=admin)

    tx = liquidation.liquidate(alice_vault, sender=liquidator)

    fraction = tx.events.filter(liquidation.Liquidate)[0].fraction
    kept = 1_000 * WAD * fraction // WAD
    assert kept > 0
    assert engine.claimable(token, liquidator) == engine.totalClaimable(token) == kept
    claimable = tx.events.filter(engine.CollateralClaimable)[0]
    assert (claimable.token, claimable.to, claimable.amount) == (token.address, liquidator.address, kept)
    assert weth.balanceOf(liquidator) > 0  # the other collateral was paid out
    assert token.balanceOf(engine) == engine.collateralType(token).totalDeposited + kept

    # The claim waits until the token lets it through; a failing claim keeps it.
    if how == "paused":
        with ape.reverts(token.TokenPaused):
            engine.claim(token, liquidator, sender=liquidator)
        token.setPaused(False, sender=admin)
    to = liquidator if how == "paused" else bob  # a blocked liquidator claims to another address
    tx = engine.claim(token, to, sender=liquidator)
    assert token.balanceOf(to) == (1_000_000 * WAD if to == liquidator else 0) + kept
    assert engine.claimable(token, liquidator) == engine.totalClaimable(token) == 0
    assert tx.events.filter(engine.Claim)[0].amount == kept
    with ape.reverts(engine.NothingToClaim, token=token.address, account=liquidator.address):
        engine.claim(token, liquidator, sender=liquidator)


def test_repay_and_deposit_never_need_a_price(alice_vault, engine, pusd, weth, weth_feed, admin, alice, chain):
    _broken(weth_feed, admin, chain)
    engine.deposit(alice_vault, weth, WAD, sender=alice)
    engine.repay(alice_vault, 1_000 * WAD, sender=alice)
    assert engine.collateralBalance(alice_vault, weth) == 11 * WAD
    # Borrowing against the unpriced collateral surfaces the feed's own error.
    with ape.reverts(weth_feed.FeedBroken):
        engine.borrow(alice_vault, WAD, alice, sender=alice)


def test_starving_an_oracle_of_gas_reverts_instead_of_unpricing_the_collateral(
        alice_vault, engine, liquidation, weth_feed, admin, liquidator):
    set_price(weth_feed, admin, 1_700)
    with ape.reverts(engine.InsufficientGasForOracle):
        liquidation.liquidate(alice_vault, sender=liquidator, gas=180_000)
    assert engine.healthFactor(alice_vault) < WAD  # nothing happened


def test_setting_an_oracle_that_cannot_price_is_refused(engine, weth, weth_feed, project, admin):
    broken = admin.deploy(project.MockAggregator, 8, "broken", 0)
    oracle = admin.deploy(project.OracleAdapter, [(broken, 4_500)], 0, 10**10, 10**30, 0, 0, ZERO_ADDRESS, 0)
    before = engine.collateralType(weth).oracle
    with ape.reverts(engine.OracleNotPricing, oracle=oracle.address):
        engine.setOracle(weth, oracle, sender=admin)
    assert engine.collateralType(weth).oracle == before


def test_liquidation_engine_is_wired_once(engine, liquidation, admin, bob):
    with ape.reverts(engine.LiquidationEngineAlreadySet, liquidationEngine=liquidation.address):
        engine.setLiquidationEngine(bob, sender=admin)
    assert engine.liquidationEngine() == liquidation.address


# ---------------------------------------------------------------- finding 3: cross-margin bonus × threshold


def test_collateral_pairs_whose_bonus_times_threshold_reach_one_are_refused(project, admin, engine, weth, wbtc):
    # The finding's pair: (LT 0.95, bonus 1.04) and (LT 0.49, bonus 2.00). Each passes LB·LT < 1 alone, but a mixed
    # vault's value-weighted LB·LT exceeds 1 and a liquidation at HF 0.99 booked bad debt.
    high_lt = admin.deploy(project.MockERC20, "A", "A", 18)
    junk = admin.deploy(project.MockERC20, "B", "B", 18)
    with ape.reverts(engine.RiskParametersConflict, token=high_lt.address, other=wbtc.address):
        list_token(project, admin, engine, high_lt, 1, ltv="0.90", lt="0.95", lb="1.04")  # 1.08 × 0.95 >= 1
    with ape.reverts(engine.RiskParametersConflict, token=junk.address, other=weth.address):
        list_token(project, admin, engine, junk, 1, ltv="0.40", lt="0.49", lb="2.00")  # 2.00 × 0.85 >= 1
    with ape.reverts(engine.RiskParametersConflict, token=weth.address, other=wbtc.address):
        engine.setRiskParameters(weth, WAD * 90 // 100, WAD * 93 // 100, WAD * 105 // 100, sender=admin)
    assert engine.collateralTokens() == [weth.address, wbtc.address]


# ---------------------------------------------------------------- finding 4: solvent vaults book no bad debt


def test_solvent_vault_below_the_bonus_line_is_closed_without_bad_debt(
        alice_vault, engine, liquidation, pusd, weth, weth_feed, admin, liquidator, chain):
    set_price(weth_feed, admin, 1_560)  # $15,600 of collateral against ≈ $15,000 of debt: HF 0.884 < LB·LT 0.8925
    normalized0 = engine.normalizedDebt(alice_vault)
    pusd0, weth0 = pusd.balanceOf(liquidator), weth.balanceOf(liquidator)

    tx = liquidation.liquidate(alice_vault, sender=liquidator)

    debt = debt_of(normalized0, rate_at(engine, chain, tx))  # at the liquidation block's rate
    ev = tx.events.filter(liquidation.Liquidate)[0]
    assert (ev.repaid, ev.fraction, ev.full) == (debt, WAD, True)
    assert ev.protocolFee == mul_div_up(15_600 * WAD - debt, WAD // 10, WAD)  # 10 % of the shrunken bonus
    assert not tx.events.filter(engine.BadDebtWrittenOff)
    assert engine.badDebtRad() == 0 and engine.normalizedDebt(alice_vault) == 0
    assert weth.balanceOf(liquidator) - weth0 == 10 * WAD
    assert pusd0 - pusd.balanceOf(liquidator) == debt + ev.protocolFee
    assert surplus_nonnegative(engine, pusd)


# ---------------------------------------------------------------- finding 5: fee-on-transfer tokens


def test_fee_on_transfer_deposits_are_credited_what_arrives(adversarial, engine, alice, liquidator):
    token, _ = adversarial
    token.setFeeBps(100, sender=alice)  # 1 %
    a = open_vault(engine, alice, token, 100 * WAD)
    tx = engine.open(token, 100 * WAD, sender=liquidator)
    b = tx.events.filter(engine.VaultOpened)[0].vaultId
    assert tx.events.filter(engine.Deposit)[0].amount == 99 * WAD
    assert engine.collateralBalance(a, token) == engine.collateralBalance(b, token) == 99 * WAD
    assert token.balanceOf(engine) == engine.collateralType(token).totalDeposited == 198 * WAD
    engine.withdraw(a, token, 99 * WAD, alice, sender=alice)
    engine.withdraw(b, token, 99 * WAD, liquidator, sender=liquidator)  # the last depositor gets out too
    assert token.balanceOf(engine) == engine.collateralType(token).totalDeposited == 0


# ---------------------------------------------------------------- finding 6: limits


def test_rate_accumulator_saturates_instead_of_bricking_drip_repay_and_liquidation(
        alice_vault, engine, liquidation, pusd, weth_feed, wbtc_feed, admin, alice, liquidator, chain):
    engine.setStabilityFee(engine.MAX_STABILITY_FEE(), sender=admin)  # 100 % a year
    rate0, last0 = engine.rate(), engine.lastDrip()
    chain.pending_timestamp = last0 + 100 * YEAR  # dss-style rpow overflowed after ≈ 77 years of growth
    engine.drip(sender=alice)
    assert engine.rate() == accrue(rate0, engine.MAX_STABILITY_FEE(), 100 * YEAR) == MAX_RATE
    chain.pending_timestamp += 50 * YEAR
    tx = engine.drip(sender=alice)
    assert engine.rate() == MAX_RATE and tx.events.filter(engine.Drip)[0].accruedRad == 0
    engine.repay(alice_vault, 1_000 * WAD, sender=alice)
    set_price(weth_feed, admin, 2_000)  # a fresh round after 150 years
    set_price(wbtc_feed, admin, 40_000)
    liquidation.liquidate(alice_vault, sender=liquidator)  # debt grew a billion-fold: underwater, closed
    assert engine.normalizedDebt(alice_vault) == 0
    assert surplus_nonnegative(engine, pusd)


def test_every_setter_is_bounded(engine, liquidation, weth, admin, alice, funded):
    cap = engine.MAX_DEBT_CEILING()
    with ape.reverts(engine.InvalidDebtCeiling, debtCeiling=cap + 1, max=cap):
        engine.setDebtCeiling(cap + 1, sender=admin)
    with ape.reverts(engine.InvalidDust, dust=2**255, max=cap):
        engine.setDust(2**255, sender=admin)
    with ape.reverts(engine.InvalidSupplyCap, supplyCap=2**128, max=2**128 - 1):
        engine.setSupplyCap(weth, 2**128, sender=admin)
    # At the largest ceiling, an absurd borrow is refused by name, not by an arithmetic panic.
    engine.setDebtCeiling(cap, sender=admin)
    vault = open_vault(engine, alice, weth, WAD)
    with ape.reverts(engine.DebtCeilingExceeded):
        engine.borrow(vault, 2**200, alice, sender=alice)
    with ape.reverts(engine.InvalidStabilityFee):
        engine.setStabilityFee(engine.MAX_STABILITY_FEE() + 1, sender=admin)
    with ape.reverts(liquidation.InvalidLiquidationParameters):
        liquidation.setLiquidationParameters(2 * WAD + 1, WAD, 0, sender=admin)
