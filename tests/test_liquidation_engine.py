"""LiquidationEngine on Anvil: partial liquidation to the target health, full liquidation (deep underwater, dust
remainder), bad-debt write-off, batch, and state left unchanged by every rejected call.

Amounts are checked against the mirror evaluated at the liquidation block's own timestamp (read from the receipt),
so no assertion depends on how many wall-clock seconds pass between two calls.

Scenario: alice's vault holds 10 WETH and owes 15,000 pUSD; WETH starts at $2,000 (LTV 0.80, LT 0.85, bonus 1.05),
target health 1.10, full liquidation below HF 0.95, protocol share 10 % of the bonus.
"""

from __future__ import annotations

from dataclasses import astuple

import ape
import pytest
from conftest import (chain_collateral_params, chain_liquidation_params, next_block_time, open_vault, plan_at,
                      rate_at, set_price, surplus_nonnegative, valuation_at)


from plimsoll.sdk.math import RAY, WAD, CollateralParams, Valuation, debt_of, liquidation_plan, valuation


def plan_from_chain(engine, liquidation, vault):
    """The mirror's plan from the chain's valuation at the head block."""
    v = Valuation(*engine.valuation(vault))
    return liquidation_plan(v, chain_liquidation_params(engine, liquidation))


def liquidate_pinned(engine, liquidation, vault, sender, chain):
    """Liquidate in a block whose timestamp is pinned in advance; return (tx, the mirror's plan for that block)."""
    when = next_block_time(chain)
    plan = plan_at(engine, liquidation, vault, when)
    tx = liquidation.liquidate(vault, sender=sender)
    assert chain.blocks[tx.block_number].timestamp == when
    return tx, plan


def test_partial_liquidation_restores_target_health(alice_vault, engine, liquidation, pusd, weth, weth_feed,
                                                    admin, liquidator, cfg, chain):
    vault = alice_vault
    set_price(weth_feed, admin, 1_700)  # HF = 14,450 / 15,000 ≈ 0.963: partial
    preview = plan_from_chain(engine, liquidation, vault)
    assert tuple(liquidation.previewLiquidation(vault)) == astuple(preview)
    normalized0, bal0 = engine.normalizedDebt(vault), engine.collateralBalance(vault, weth)
    pusd0, weth0 = pusd.balanceOf(liquidator), weth.balanceOf(liquidator)

    tx, plan = liquidate_pinned(engine, liquidation, vault, liquidator, chain)

    assert not plan.full and 0.96 * WAD < plan.health_factor < 0.97 * WAD
    # r* = (T·D − M)/(T − LB·LT) = (16,500 − 14,450)/(1.10 − 0.8925) ≈ 9,879.5
    assert 9_879 * WAD < plan.repay < 9_880 * WAD
    rate = rate_at(engine, chain, tx)
    seized = bal0 * plan.fraction // WAD
    assert pusd.balanceOf(liquidator) == pusd0 - plan.repay - plan.protocol_fee
    assert weth.balanceOf(liquidator) == weth0 + seized
    assert engine.collateralBalance(vault, weth) == bal0 - seized
    assert engine.normalizedDebt(vault) == normalized0 - plan.repay * RAY // rate
    ev = tx.events.filter(liquidation.Liquidate)[0]
    assert (ev.vaultId, ev.repaid, ev.protocolFee, ev.fraction, ev.full) == (
        vault, plan.repay, plan.protocol_fee, plan.fraction, False,
    )
    # Health after, recomputed with the mirror from the new raw state, equals the chain and reaches the target.
    params = CollateralParams(18, cfg.collateral("WETH").ltv, cfg.collateral("WETH").liquidation_threshold,
                              cfg.collateral("WETH").liquidation_bonus)
    after = valuation(engine.normalizedDebt(vault), engine.currentRate(),
                      [(engine.collateralBalance(vault, weth), 1_700 * WAD, params)])
    assert engine.healthFactor(vault) == after.health_factor
    assert after.health_factor >= liquidation.targetHealth() - 10**9  # rounding of r up and f down
    assert surplus_nonnegative(engine, pusd)


def test_full_liquidation_below_full_health_leaves_the_rest_to_the_owner(alice_vault, engine, liquidation, pusd,
                                                                        weth, weth_feed, admin, liquidator, chain):
    vault = alice_vault
    set_price(weth_feed, admin, 1_650)  # HF ≈ 0.935 < 0.95: full; 15,000 × 1.05 < 16,500 of collateral
    normalized0 = engine.normalizedDebt(vault)
    tx, plan = liquidate_pinned(engine, liquidation, vault, liquidator, chain)
    assert plan.full and plan.fraction < WAD
    ev = tx.events.filter(liquidation.Liquidate)[0]
    assert (ev.repaid, ev.protocolFee, ev.fraction) == (plan.repay, plan.protocol_fee, plan.fraction)
    assert plan.repay == debt_of(normalized0, rate_at(engine, chain, tx))  # the whole debt at the block's rate
    assert engine.normalizedDebt(vault) == 0
    assert engine.collateralBalance(vault, weth) == 10 * WAD - 10 * WAD * plan.fraction // WAD > 0
    assert engine.badDebtRad() == 0
    assert surplus_nonnegative(engine, pusd)


def test_dust_remainder_means_full_liquidation(alice_vault, engine, liquidation, weth_feed, admin, liquidator):
    vault = alice_vault
    set_price(weth_feed, admin, 1_700)
    engine.setDust(6_000 * WAD, sender=admin)  # a partial would leave ≈ 5,120 < 6,000
    plan = plan_from_chain(engine, liquidation, vault)
    assert plan.full and plan.repay == engine.debt(vault)
    liquidation.liquidate(vault, sender=liquidator)
    assert engine.normalizedDebt(vault) == 0


def test_underwater_vault_is_closed_and_bad_debt_written_off(alice_vault, engine, liquidation, pusd, weth,
                                                              weth_feed, admin, liquidator, chain):
    vault = alice_vault
    set_price(weth_feed, admin, 1_450)  # collateral 14,500 < debt 15,000: underwater, all of it goes
    surplus_before = engine.surplusRad()
    tx, plan = liquidate_pinned(engine, liquidation, vault, liquidator, chain)
    assert plan.full and plan.fraction == WAD
    assert engine.vaultCollateral(vault) == ([], [])
    assert engine.normalizedDebt(vault) == 0
    # 14,500 / 1.05 ≈ 13,809.5 repaid; the rest written off: the surplus covers what it can, the rest is bad debt.
    assert 13_809 * WAD < plan.repay < 13_810 * WAD
    w = tx.events.filter(engine.BadDebtWrittenOff)[0]
    assert 1_190 * RAY * WAD < w.debtRad < 1_191 * RAY * WAD
    assert w.coveredRad < w.debtRad and engine.surplusRad() == 0
    assert engine.badDebtRad() == w.debtRad - w.coveredRad
    assert w.coveredRad >= surplus_before + plan.protocol_fee * RAY  # the fee of this very liquidation helped
    assert surplus_nonnegative(engine, pusd)


def test_healthy_vault_is_not_liquidatable(alice_vault, engine, liquidation, liquidator, chain):
    when = next_block_time(chain)  # the revert reports health at its own block: pin that block's time
    hf = valuation_at(engine, alice_vault, when).health_factor
    assert WAD < hf < 2 * WAD
    with ape.reverts(liquidation.NotLiquidatable, vaultId=alice_vault, healthFactor=hf):
        liquidation.liquidate(alice_vault, sender=liquidator)


def test_liquidator_without_enough_pusd_changes_nothing(alice_vault, engine, liquidation, pusd, weth, weth_feed,
                                                        admin, bob):
    vault = alice_vault
    set_price(weth_feed, admin, 1_700)
    normalized, bal = engine.normalizedDebt(vault), engine.collateralBalance(vault, weth)
    with ape.reverts(pusd.ERC20InsufficientBalance):
        liquidation.liquidate(vault, sender=bob)
    assert (engine.normalizedDebt(vault), engine.collateralBalance(vault, weth)) == (normalized, bal)


def test_batch_liquidates_unsafe_vaults_and_skips_the_rest(funded, engine, liquidation, weth, weth_feed, admin,
                                                            alice, bob, liquidator):
    a = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(a, 15_000 * WAD, alice, sender=alice)
    b = open_vault(engine, bob, weth, 10 * WAD)
    engine.borrow(b, 14_800 * WAD, bob, sender=bob)
    safe = open_vault(engine, bob, weth, 10 * WAD)
    engine.borrow(safe, 5_000 * WAD, bob, sender=bob)
    own = open_vault(engine, liquidator, weth, 10 * WAD)
    engine.borrow(own, 15_000 * WAD, liquidator, sender=liquidator)
    inventory = open_vault(engine, liquidator, weth, 900 * WAD)
    engine.borrow(inventory, 100_000 * WAD, liquidator, sender=liquidator)
    set_price(weth_feed, admin, 1_700)
    assert engine.healthFactor(own) < WAD  # unsafe, and the liquidator's own: liquidated like any other
    tx = liquidation.liquidateBatch([a, b, safe, own, 999], sender=liquidator)
    assert [e.vaultId for e in tx.events.filter(liquidation.Liquidate)] == [a, b, own]
    assert min(engine.healthFactor(a), engine.healthFactor(b), engine.healthFactor(own)) >= WAD
    assert engine.healthFactor(safe) > WAD


def _unsafe_batch(n, engine, weth, weth_feed, admin, alice, liquidator) -> list[int]:
    """n vaults of alice (10 WETH, 15,000 pUSD each) made unsafe by WETH at $1,700, and the liquidator's inventory
    of 100,000 pUSD. Returns the vault ids, ascending."""
    vaults = []
    for _ in range(n):
        vaults.append(open_vault(engine, alice, weth, 10 * WAD))
        engine.borrow(vaults[-1], 15_000 * WAD, alice, sender=alice)
    inventory = open_vault(engine, liquidator, weth, 900 * WAD)
    engine.borrow(inventory, 100_000 * WAD, liquidator, sender=liquidator)
    set_price(weth_feed, admin, 1_700)
    return vaults


def test_batch_settles_once_one_burn_and_one_transfer_per_collateral(funded, engine, liquidation, pusd, weth,
                                                                     weth_feed, admin, alice, liquidator):
    vaults = _unsafe_batch(3, engine, weth, weth_feed, admin, alice, liquidator)
    pusd_before, weth_before = pusd.balanceOf(liquidator), weth.balanceOf(liquidator)

    tx = liquidation.liquidateBatch(vaults, sender=liquidator)

    liquidations = tx.events.filter(liquidation.Liquidate)
    seized = tx.events.filter(engine.CollateralSeized)
    assert [e.vaultId for e in liquidations] == [e.vaultId for e in seized] == vaults
    burns = [e for e in tx.events.filter(pusd.Transfer) if int(e.event_arguments["to"], 16) == 0]
    paid = [e for e in tx.events.filter(weth.Transfer) if e.event_arguments["from"] == engine.address]
    assert len(burns) == 1 and burns[0].value == sum(e.repaid + e.protocolFee for e in liquidations)
    assert len(paid) == 1 and paid[0].value == sum(e.amount for e in seized)
    assert pusd_before - pusd.balanceOf(liquidator) == burns[0].value
    assert weth.balanceOf(liquidator) - weth_before == paid[0].value


def test_batch_vault_ids_must_be_strictly_ascending(funded, engine, liquidation, weth, weth_feed, admin, alice,
                                                    liquidator):
    a, b = _unsafe_batch(2, engine, weth, weth_feed, admin, alice, liquidator)
    # Settled at the end, a vault listed twice would be valued twice as if untouched: refused, with nothing done.
    for ids, index in (([a, a], 1), ([b, a], 1), ([a, b, b], 2)):
        with ape.reverts(liquidation.BatchNotAscending, index=index):
            liquidation.liquidateBatch(ids, sender=liquidator)
    assert engine.healthFactor(a) < WAD and engine.healthFactor(b) < WAD


def test_liquidation_parameters_validated(liquidation, admin, alice):
    with ape.reverts(liquidation.InvalidLiquidationParameters):
        liquidation.setLiquidationParameters(WAD, WAD * 95 // 100, WAD // 10, sender=admin)  # target not > 1
    with ape.reverts(liquidation.InvalidLiquidationParameters):
        liquidation.setLiquidationParameters(WAD * 11 // 10, WAD + 1, WAD // 10, sender=admin)
    with ape.reverts(liquidation.InvalidLiquidationParameters):
        liquidation.setLiquidationParameters(WAD * 11 // 10, WAD * 95 // 100, WAD // 2 + 1, sender=admin)
    with ape.reverts(liquidation.AccessControlUnauthorizedAccount, account=alice.address):
        liquidation.setLiquidationParameters(WAD * 12 // 10, WAD * 95 // 100, 0, sender=alice)
    tx = liquidation.setLiquidationParameters(WAD * 12 // 10, WAD * 9 // 10, 0, sender=admin)
    assert tx.events.filter(liquidation.LiquidationParametersSet)[0].targetHealth == WAD * 12 // 10
    assert (liquidation.targetHealth(), liquidation.fullLiquidationHealth(), liquidation.protocolShare()) == (
        WAD * 12 // 10, WAD * 9 // 10, 0,
    )
