"""The Python math mirror (plimsoll.sdk.math) equals the contracts on random states, to the wei.

Each hypothesis example builds a vault on Anvil (WETH, optionally WBTC), borrows a random share of its borrow
power, lets a random time pass (stability fee), moves both prices, and then compares the mirror's valuation,
health factor and liquidation plan, computed from raw state, with VaultEngine.valuation / healthFactor and
LiquidationEngine.previewLiquidation.
"""

from __future__ import annotations

from decimal import Decimal

import ape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import open_vault, set_price
from plimsoll.sdk.math import (
    RAY,
    WAD,
    CollateralParams,
    accrue,
    liquidation_plan,
    rpow_saturating,
    valuation,
)

prices = st.decimals(min_value=Decimal("50"), max_value=Decimal("100000"), places=2)


def params_of(engine, token) -> CollateralParams:
    c = engine.collateralType(token)
    return CollateralParams(c.decimals, c.ltv, c.liquidationThreshold, c.liquidationBonus)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    weth_amount=st.integers(min_value=10**15, max_value=500 * WAD),
    wbtc_amount=st.integers(min_value=0, max_value=20 * 10**8),
    p0=st.tuples(prices, prices),
    p1=st.tuples(prices, prices),
    share=st.integers(min_value=1, max_value=1000),
    elapsed=st.integers(min_value=0, max_value=3 * 365 * 24 * 3600),
)
def test_mirror_equals_chain(funded, chain, engine, liquidation, weth, wbtc, weth_feed, wbtc_feed, admin, alice,
                             weth_amount, wbtc_amount, p0, p1, share, elapsed):
    with chain.isolate():
        set_price(weth_feed, admin, p0[0])
        set_price(wbtc_feed, admin, p0[1])
        vault = open_vault(engine, alice, weth, weth_amount)
        if wbtc_amount:
            engine.deposit(vault, wbtc, wbtc_amount, sender=alice)
        power = engine.valuation(vault).borrowPower
        amount = power * share // 1000
        if amount >= engine.dust():
            engine.borrow(vault, amount, alice, sender=alice)
        chain.pending_timestamp += elapsed
        set_price(weth_feed, admin, p1[0])
        set_price(wbtc_feed, admin, p1[1])

        rate = accrue(engine.rate(), engine.stabilityFee(), chain.blocks.head.timestamp - engine.lastDrip())
        assert rate == engine.currentRate()
        tokens, amounts = engine.vaultCollateral(vault)
        oracle_price = {weth.address: int(p1[0] * WAD), wbtc.address: int(p1[1] * WAD)}
        mirror = valuation(
            engine.normalizedDebt(vault), rate,
            [(a, oracle_price[t], params_of(engine, t)) for t, a in zip(tokens, amounts)],
        )
        assert tuple(engine.valuation(vault)) == (
            mirror.debt, mirror.collateral_value, mirror.borrow_power, mirror.maintenance, mirror.bonus_value, 0,
        )
        assert engine.healthFactor(vault) == mirror.health_factor
        if mirror.liquidatable:
            plan = liquidation_plan(mirror, liquidation.targetHealth(), liquidation.fullLiquidationHealth(),
                                    liquidation.protocolShare(), engine.dust())
            assert tuple(liquidation.previewLiquidation(vault)) == (
                plan.health_factor, plan.repay, plan.protocol_fee, plan.fraction, plan.full,
            )
        else:
            # The contract must agree that there is nothing to liquidate, with the same health factor.
            with ape.reverts(liquidation.NotLiquidatable, vaultId=vault, healthFactor=mirror.health_factor):
                liquidation.previewLiquidation(vault)


@given(x=st.integers(min_value=RAY, max_value=1_000_000_021_979_553_151_239_153_027),
       n=st.integers(min_value=0, max_value=10 * 365 * 24 * 3600))
@settings(max_examples=200, deadline=None)
def test_rpow_matches_real_power(x, n):
    """Below its cap, the integer rpow stays within 1e-15 (relative) of the real power: a check on the mirror."""
    exact = Decimal(x) / RAY
    got = Decimal(rpow_saturating(x, n)) / RAY
    assert got <= Decimal(10) ** 9  # the cap, MAX_RATE / RAY
    if exact**n >= Decimal(10) ** 9:
        return
    assert abs(got - exact**n) <= exact**n * Decimal("1e-15") + Decimal("1e-27") * n
