"""VaultEngine unit tests on Anvil: exact accounting, the rate accumulator, and every named error with state
left unchanged."""

from __future__ import annotations

import ape
import pytest
from conftest import open_vault, rate_at, set_price, surplus_nonnegative

from plimsoll.sdk.math import RAY, WAD, accrue, debt_of, mul_div_up

YEAR = 365 * 24 * 3600




def snapshot(engine, pusd, weth, vault_id, who):
    """State a rejected call must leave untouched."""
    return (
        engine.normalizedDebt(vault_id),
        engine.collateralBalance(vault_id, weth),
        engine.totalNormalizedDebt(),
        (engine.rate(), engine.lastDrip(), engine.badDebtRad()),  # with the rest, what the surplus derives from
        pusd.totalSupply(),
        weth.balanceOf(engine),
        weth.balanceOf(who),
        pusd.balanceOf(who),
    )


@pytest.fixture
def vault(funded, engine, weth, alice):
    """alice's vault with 10 WETH ($2,000 each: borrow power $16,000, maintenance $17,000)."""
    return open_vault(engine, alice, weth, 10 * WAD)


def test_open_and_deposit_books_collateral(funded, engine, nft, weth, alice):
    tx = engine.open(weth, 10 * WAD, sender=alice)
    vault_id = tx.events.filter(engine.VaultOpened)[0].vaultId
    assert vault_id == 1 and engine.vaultCount() == 1
    assert nft.ownerOf(vault_id) == alice and nft.tokenOfOwnerByIndex(alice, 0) == vault_id
    assert engine.collateralBalance(vault_id, weth) == 10 * WAD
    assert engine.vaultCollateral(vault_id) == ([weth.address], [10 * WAD])
    assert weth.balanceOf(engine) == 10 * WAD
    assert engine.collateralType(weth).totalDeposited == 10 * WAD
    assert tx.events.filter(engine.Deposit)[0].amount == 10 * WAD


def test_open_empty_vault(funded, engine, alice, weth):
    tx = engine.open(ape.utils.ZERO_ADDRESS, 0, sender=alice)
    vault_id = tx.events.filter(engine.VaultOpened)[0].vaultId
    assert engine.vaultCollateral(vault_id) == ([], [])
    engine.deposit(vault_id, weth, 3 * WAD, sender=alice)
    assert engine.collateralBalance(vault_id, weth) == 3 * WAD


def test_borrow_mints_and_books_normalized_debt_exactly(vault, engine, pusd, alice, chain):
    tx = engine.borrow(vault, 12_000 * WAD, alice, sender=alice)
    rate = rate_at(engine, chain, tx)
    normalized = mul_div_up(12_000 * WAD, RAY, rate)
    assert engine.normalizedDebt(vault) == normalized
    assert pusd.balanceOf(alice) == 12_000 * WAD
    assert tx.events.filter(engine.Borrow)[0].normalizedDebt == normalized
    assert surplus_nonnegative(engine, pusd)
    # valuation: 10 WETH at $2,000 → value 20,000, LTV 0.80, LT 0.85, bonus 1.05
    v = engine.valuation(vault)
    assert (v.collateralValue, v.borrowPower, v.maintenance, v.bonusValue) == (
        20_000 * WAD, 16_000 * WAD, 17_000 * WAD, 21_000 * WAD,
    )
    assert v.debt == debt_of(normalized, engine.currentRate())
    assert engine.healthFactor(vault) == 17_000 * WAD * WAD // v.debt


def test_borrow_above_ltv_reverts_and_changes_nothing(vault, engine, pusd, weth, alice):
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.InsufficientMargin, vaultId=vault, borrowPower=16_000 * WAD):
        engine.borrow(vault, 16_001 * WAD, alice, sender=alice)
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_withdraw_with_debt_keeps_initial_margin(vault, engine, pusd, weth, alice):
    engine.borrow(vault, 8_000 * WAD, alice, sender=alice)
    engine.withdraw(vault, weth, 4 * WAD, alice, sender=alice)  # 6 WETH: borrow power 9,600 >= 8,000
    assert engine.collateralBalance(vault, weth) == 6 * WAD
    assert weth.balanceOf(engine) == 6 * WAD
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.InsufficientMargin):
        engine.withdraw(vault, weth, 3 * WAD // 2, alice, sender=alice)  # 4.5 WETH: 7,200 borrow power < debt
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_withdraw_all_without_debt_drops_the_collateral(vault, engine, weth, alice):
    engine.withdraw(vault, weth, 10 * WAD, alice, sender=alice)
    assert engine.vaultCollateral(vault) == ([], [])
    assert engine.collateralType(weth).totalDeposited == 0


def test_repay_partial_and_full(vault, engine, pusd, weth, alice, chain):
    engine.borrow(vault, 5_000 * WAD, alice, sender=alice)
    normalized0 = engine.normalizedDebt(vault)
    tx = engine.repay(vault, 1_000 * WAD, sender=alice)
    assert engine.normalizedDebt(vault) == normalized0 - 1_000 * WAD * RAY // rate_at(engine, chain, tx)
    assert pusd.balanceOf(alice) == 4_000 * WAD
    # Full repay burns exactly the debt rounded up, a little more than was borrowed (fees): alice takes
    # the difference from a second vault.
    engine.borrow(vault, 200 * WAD, alice, sender=alice)
    engine.borrow(open_vault(engine, alice, weth, WAD), 150 * WAD, alice, sender=alice)
    normalized = engine.normalizedDebt(vault)
    tx = engine.repay(vault, 10**30, sender=alice)
    paid = tx.events.filter(engine.Repay)[0].amount
    assert engine.normalizedDebt(vault) == 0
    assert paid == debt_of(normalized, rate_at(engine, chain, tx))  # at the repay block's rate, rounded up
    assert pusd.balanceOf(alice) == 4_350 * WAD - paid
    assert 4_200 * WAD <= paid < 4_201 * WAD  # equal when no second passed since the borrows
    assert surplus_nonnegative(engine, pusd)
    with ape.reverts(engine.NoDebt, vaultId=vault):
        engine.repay(vault, 1, sender=alice)


def test_anyone_may_repay(vault, engine, pusd, alice, bob):
    engine.borrow(vault, 5_000 * WAD, bob, sender=alice)  # minted to bob
    engine.repay(vault, 1_000 * WAD, sender=bob)
    assert pusd.balanceOf(bob) == 4_000 * WAD


def test_drip_writes_the_rate_that_every_operation_already_used(vault, engine, pusd, alice, chain, cfg):
    engine.borrow(vault, 10_000 * WAD, alice, sender=alice)
    rate0, last0 = engine.rate(), engine.lastDrip()
    chain.pending_timestamp = last0 + YEAR
    repay = engine.repay(vault, WAD, sender=alice)  # a year on: uses the accrued rate, writes nothing
    assert (engine.rate(), engine.lastDrip()) == (rate0, last0)
    used = rate_at(engine, chain, repay)
    assert used == accrue(rate0, cfg.stability_fee, chain.blocks[repay.block_number].timestamp - last0) > rate0
    tx = engine.drip(sender=alice)
    expected = accrue(rate0, cfg.stability_fee, chain.blocks.head.timestamp - last0)
    assert engine.rate() == expected and engine.lastDrip() == chain.blocks.head.timestamp
    ev = tx.events.filter(engine.Drip)[0]
    assert (ev.rate, ev.accruedRad) == (expected, engine.totalNormalizedDebt() * (expected - rate0))
    # ~2 % a year on 10,000 pUSD, less the 1 pUSD repaid
    assert 10_198 * WAD < engine.debt(vault) < 10_200 * WAD
    assert surplus_nonnegative(engine, pusd)


def test_operators_may_manage_and_owner_rights_follow_the_token(vault, engine, nft, pusd, weth, alice, bob):
    with ape.reverts(engine.NotAuthorized, vaultId=vault, caller=bob.address):
        engine.borrow(vault, 100 * WAD, bob, sender=bob)
    nft.setApprovalForAll(bob, True, sender=alice)
    engine.borrow(vault, 1_000 * WAD, bob, sender=bob)
    assert pusd.balanceOf(bob) == 1_000 * WAD
    nft.setApprovalForAll(bob, False, sender=alice)
    nft.transferFrom(alice, bob, vault, sender=alice)
    with ape.reverts(engine.NotAuthorized, vaultId=vault, caller=alice.address):
        engine.withdraw(vault, weth, 1, alice, sender=alice)
    engine.withdraw(vault, weth, WAD, bob, sender=bob)
    assert weth.balanceOf(bob) == 1000 * WAD + WAD


# ---------------------------------------------------------------- named errors, state unchanged

def test_zero_amounts_rejected(vault, engine, pusd, weth, alice):
    before = snapshot(engine, pusd, weth, vault, alice)
    for call in (
        lambda: engine.deposit(vault, weth, 0, sender=alice),
        lambda: engine.withdraw(vault, weth, 0, alice, sender=alice),
        lambda: engine.borrow(vault, 0, alice, sender=alice),
        lambda: engine.repay(vault, 0, sender=alice),
    ):
        with ape.reverts(engine.ZeroAmount):
            call()
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_unknown_collateral_rejected(vault, engine, pusd, weth, alice, project, admin):
    other = admin.deploy(project.MockERC20, "Other", "OTH", 18)
    other.mint(alice, WAD, sender=alice)
    other.approve(engine, WAD, sender=alice)
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.UnknownCollateral, token=other.address):
        engine.deposit(vault, other, WAD, sender=alice)
    with ape.reverts(engine.UnknownCollateral, token=other.address):
        engine.setSupplyCap(other, 1, sender=admin)
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_missing_vault_and_strangers_rejected(vault, engine, pusd, weth, alice, bob):
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.VaultNotFound, vaultId=999):
        engine.deposit(999, weth, WAD, sender=alice)
    with ape.reverts(engine.VaultNotFound, vaultId=999):
        engine.repay(999, WAD, sender=alice)
    with ape.reverts(engine.NotAuthorized, vaultId=vault, caller=bob.address):
        engine.deposit(vault, weth, WAD, sender=bob)
    with ape.reverts(engine.NotAuthorized, vaultId=vault, caller=bob.address):
        engine.withdraw(vault, weth, WAD, bob, sender=bob)
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_insufficient_collateral_rejected(vault, engine, pusd, weth, alice):
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.InsufficientCollateral, vaultId=vault, balance=10 * WAD, requested=11 * WAD):
        engine.withdraw(vault, weth, 11 * WAD, alice, sender=alice)
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_dust_floor_on_borrow_and_repay(vault, engine, pusd, weth, alice):
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.DebtBelowDust):
        engine.borrow(vault, 99 * WAD, alice, sender=alice)
    assert snapshot(engine, pusd, weth, vault, alice) == before
    engine.borrow(vault, 150 * WAD, alice, sender=alice)
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.DebtBelowDust):
        engine.repay(vault, 100 * WAD, sender=alice)  # would leave ~50 < 100 dust
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_debt_ceiling(vault, engine, pusd, weth, alice, admin):
    engine.setDebtCeiling(1_000 * WAD, sender=admin)
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.DebtCeilingExceeded, debtCeiling=1_000 * WAD):
        engine.borrow(vault, 1_001 * WAD, alice, sender=alice)
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_supply_cap(vault, engine, pusd, weth, alice, admin):
    engine.setSupplyCap(weth, 15 * WAD, sender=admin)
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(engine.SupplyCapExceeded, token=weth.address, cap=15 * WAD, wouldHold=16 * WAD):
        engine.deposit(vault, weth, 6 * WAD, sender=alice)
    assert snapshot(engine, pusd, weth, vault, alice) == before


def test_at_most_five_collateral_types_per_vault(vault, engine, weth, alice, admin, project, deployment):
    oracle = deployment.collaterals["WETH"].oracle
    extra = []
    for i in range(5):
        tok = admin.deploy(project.MockERC20, f"T{i}", f"T{i}", 18)
        engine.addCollateral(tok, oracle, WAD // 2, WAD * 6 // 10, WAD * 105 // 100, 10**30, sender=admin)
        tok.mint(alice, WAD, sender=alice)
        tok.approve(engine, WAD, sender=alice)
        extra.append(tok)
    for tok in extra[:4]:
        engine.deposit(vault, tok, WAD, sender=alice)
    assert len(engine.vaultCollateral(vault)[0]) == 5
    with ape.reverts(engine.TooManyCollaterals, vaultId=vault, max=5):
        engine.deposit(vault, extra[4], WAD, sender=alice)
    assert extra[4].balanceOf(engine) == 0


def test_stale_price_blocks_borrow_and_withdraw_but_not_repay(vault, engine, pusd, weth, alice, weth_feed,
                                                              weth_oracle, admin, chain):
    engine.borrow(vault, 1_000 * WAD, alice, sender=alice)
    updated = weth_feed.latestRoundData()[3]
    chain.pending_timestamp = updated + 4_501
    chain.mine()
    before = snapshot(engine, pusd, weth, vault, alice)
    with ape.reverts(weth_oracle.StalePrice, feed=weth_feed.address, updatedAt=updated, maxAge=4_500):
        engine.borrow(vault, 100 * WAD, alice, sender=alice)
    with ape.reverts(weth_oracle.StalePrice):
        engine.withdraw(vault, weth, WAD, alice, sender=alice)
    assert snapshot(engine, pusd, weth, vault, alice) == before
    engine.repay(vault, 500 * WAD, sender=alice)  # repaying never needs a price
    assert pusd.balanceOf(alice) == 500 * WAD


def test_admin_setters_validate_and_are_role_gated(engine, weth, admin, alice):
    with ape.reverts(engine.InvalidRiskParameters):
        engine.setRiskParameters(weth, WAD * 85 // 100, WAD * 85 // 100, WAD * 105 // 100, sender=admin)  # LT = LTV
    with ape.reverts(engine.InvalidRiskParameters):
        engine.setRiskParameters(weth, WAD * 80 // 100, WAD, WAD * 105 // 100, sender=admin)  # LT = 1
    with ape.reverts(engine.InvalidRiskParameters):
        engine.setRiskParameters(weth, WAD * 80 // 100, WAD * 96 // 100, WAD * 105 // 100, sender=admin)  # LB·LT >= 1
    with ape.reverts(engine.InvalidStabilityFee, fee=RAY - 1):
        engine.setStabilityFee(RAY - 1, sender=admin)
    with ape.reverts(engine.CollateralAlreadyListed, token=weth.address):
        engine.addCollateral(weth, engine.collateralType(weth).oracle, 1, 2, WAD, 1, sender=admin)
    with ape.reverts(engine.AccessControlUnauthorizedAccount, account=alice.address):
        engine.setDust(0, sender=alice)
    with ape.reverts(engine.OnlyLiquidationEngine, caller=alice.address):
        engine.seizeBatch([(1, 1, 0, WAD, 0)], alice, b"", sender=alice)
    # The deployed portfolio grid's worst WETH shock is −20 % (initial): an LTV of 0.70 would make it looser.
    portfolio = ape.project.PortfolioMargin.at(engine.portfolio())
    with ape.reverts(portfolio.ScenarioGridLooserThanHaircut, token=weth.address):
        engine.setRiskParameters(weth, WAD * 70 // 100, WAD * 80 // 100, WAD * 110 // 100, sender=admin)
    tx = engine.setRiskParameters(weth, WAD * 80 // 100, WAD * 86 // 100, WAD * 110 // 100, sender=admin)
    assert tx.events.filter(engine.RiskParametersSet)[0].liquidationBonus == WAD * 110 // 100
    c = engine.collateralType(weth)
    assert (c.ltv, c.liquidationThreshold, c.liquidationBonus) == (WAD * 80 // 100, WAD * 86 // 100, WAD * 110 // 100)


def test_price_move_changes_health(vault, engine, alice, weth_feed, admin):
    engine.borrow(vault, 15_000 * WAD, alice, sender=alice)
    set_price(weth_feed, admin, 1_700)  # maintenance 10 × 1,700 × 0.85 = 14,450 < debt
    v = engine.valuation(vault)
    assert v.maintenance == 14_450 * WAD
    assert engine.healthFactor(vault) == 14_450 * WAD * WAD // v.debt < WAD
