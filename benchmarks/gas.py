"""Gas benchmark: receipt gasUsed of each user-facing operation on Anvil (ape-foundry), deterministic.

    make bench   →  benchmarks/results/gas.json  ({operation: gasUsed}) and gas.md (table with references)

The `like_for_like/` rows repeat the core operations on a collateral priced by a one-slot oracle mock (as Morpho
Blue's own benchmark does) instead of the Chainlink adapter: the protocol's own cost, without the feed's.

Every transaction is stamped 12 s after the previous block (so each pays a real `drip`, as on mainnet, and the
figures do not depend on how long set-up took), and the
collateral's engine-wide totals are already non-zero (another user deposited first), as in a live market.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ape import chain, networks, project

from plimsoll.sdk import uniswap
from plimsoll.sdk.config import load_config
from plimsoll.sdk.deploy import deploy
from plimsoll.sdk.math import WAD

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"

#: Reference figures quoted in the issue: Morpho Blue measured on Anvil 1.7.1 (receipt gasUsed, mocks) and Aave v3.6.
REFERENCE = {
    "open_and_deposit_first": ("Morpho supplyCollateral (first)", 70_661, "Aave supply", 164_191),
    "deposit": ("Morpho supplyCollateral (again)", 53_561, None, None),
    "borrow_first": ("Morpho borrow (first)", 100_494, "Aave borrow", 245_394),
    "borrow": ("Morpho borrow (again)", 83_394, None, None),
    "repay_partial": ("Morpho repay", 77_406, None, None),
    "withdraw_with_debt": ("Morpho withdrawCollateral with debt", 80_762, None, None),
    "liquidate_partial": ("Morpho liquidate", 103_786, "Aave liquidation", 340_429),
    "liquidate_full": ("Morpho liquidate", 103_786, "Aave liquidation", 340_429),
    "liquidate_batch20_per_vault": ("Morpho liquidate", 103_786, "Aave liquidation", 340_429),
    "flash_liquidate_callback": (None, None, None, None),
    "flash_liquidate_flash_mint": (None, None, None, None),
    "set_portfolio_margin": (None, None, None, None),
    "borrow_portfolio": ("Morpho borrow (again)", 83_394, None, None),
    "margin_call": (None, None, None, None),
    "margin_call_batch20_per_vault": (None, None, None, None),
    "cure": (None, None, None, None),
    "liquidate_after_margin_call": ("Morpho liquidate", 103_786, "Aave liquidation", 340_429),
}


def measure() -> dict[str, int]:
    """Deploy, run each operation once, return {operation: gasUsed}."""
    from ape import accounts

    admin, alice, bob, liq = (accounts.test_accounts[i] for i in range(4))
    cfg = load_config(ROOT / "scripts" / "config" / "local.yaml")
    # The deployer keeps its admin roles beside the Timelock, to switch margin-call terms without the delay.
    cfg = replace(cfg, governance=replace(cfg.governance, admin="deployer"))
    m = deploy(cfg, admin, "bench")
    engine = project.VaultEngine.at(m.contracts["VaultEngine"])
    liquidation = project.LiquidationEngine.at(m.contracts["LiquidationEngine"])
    weth = project.MockERC20.at(m.collaterals["WETH"].token)
    feed = project.MockAggregator.at(m.collaterals["WETH"].feed)
    terms = liquidation.marginCallTerms(weth)
    liquidation.setMarginCallTerms(weth, 0, 0, 0, sender=admin)  # the plain rows: liquidation without a call first
    for a in (alice, bob, liq):
        weth.mint(a, 10_000 * WAD, sender=a)
        weth.approve(engine, 2**256 - 1, sender=a)

    gas: dict[str, int] = {}

    def tx(name, call):
        # 12 s after the previous block, always (every transaction after the first drip goes through here): the time
        # since the last drip, and so the gas of the rate's power, is deterministic.
        chain.pending_timestamp = chain.blocks.head.timestamp + 12
        receipt = call()
        if name:
            gas[name] = receipt.gas_used
        return receipt

    def vault_of(receipt):
        return receipt.events.filter(engine.VaultOpened)[0].vaultId

    tx(None, lambda: engine.drip(sender=admin))  # from here on every elapsed time is fixed
    # warm market: someone else already deposited and borrowed
    warm = vault_of(tx(None, lambda: engine.open(weth, 10 * WAD, sender=bob)))
    tx(None, lambda: engine.borrow(warm, 1_000 * WAD, bob, sender=bob))

    v = vault_of(tx("open_and_deposit_first", lambda: engine.open(weth, 10 * WAD, sender=alice)))
    tx("deposit", lambda: engine.deposit(v, weth, 1 * WAD, sender=alice))
    tx("borrow_first", lambda: engine.borrow(v, 5_000 * WAD, alice, sender=alice))
    tx("borrow", lambda: engine.borrow(v, 1_000 * WAD, alice, sender=alice))
    tx("repay_partial", lambda: engine.repay(v, 500 * WAD, sender=alice))
    tx("withdraw_with_debt", lambda: engine.withdraw(v, weth, 1 * WAD, alice, sender=alice))
    tx("set_portfolio_margin", lambda: engine.setPortfolioMargin(v, True, sender=alice))
    tx("borrow_portfolio", lambda: engine.borrow(v, 1_000 * WAD, alice, sender=alice))

    inventory = vault_of(tx(None, lambda: engine.open(weth, 5_000 * WAD, sender=liq)))
    tx(None, lambda: engine.borrow(inventory, 2_000_000 * WAD, liq, sender=liq))

    def vault_with_debt(token, owner, amount, debt):
        vid = vault_of(tx(None, lambda: engine.open(token, amount, sender=owner)))
        tx(None, lambda: engine.borrow(vid, debt, owner, sender=owner))
        return vid

    def unsafe_vault(debt):
        return vault_with_debt(weth, alice, 10 * WAD, debt)

    partial, full = unsafe_vault(15_000 * WAD), unsafe_vault(15_900 * WAD)
    batch = [unsafe_vault(15_000 * WAD) for _ in range(20)]
    called, cured = unsafe_vault(15_000 * WAD), unsafe_vault(15_000 * WAD)
    call_batch = [unsafe_vault(15_000 * WAD) for _ in range(20)]
    tx(None, lambda: feed.updateAnswer(1_700 * 10**8, sender=admin))  # partial: HF ≈ 0.963; full: ≈ 0.909
    tx("liquidate_partial", lambda: liquidation.liquidate(partial, sender=liq))
    tx("liquidate_full", lambda: liquidation.liquidate(full, sender=liq))
    r = tx(None, lambda: liquidation.liquidateBatch(batch, sender=liq))
    assert len(r.events.filter(liquidation.Liquidate)) == 20
    gas["liquidate_batch20_per_vault"] = r.gas_used // 20

    tx(None, lambda: liquidation.setMarginCallTerms(weth, *terms, sender=admin))
    tx("margin_call", lambda: liquidation.marginCall(called, sender=liq))
    r = tx(None, lambda: liquidation.marginCallBatch(call_batch, sender=liq))
    assert len(r.events.filter(liquidation.MarginCall)) == 20
    gas["margin_call_batch20_per_vault"] = r.gas_used // 20
    tx(None, lambda: liquidation.marginCall(cured, sender=liq))
    tx(None, lambda: engine.repay(cured, 4_000 * WAD, sender=alice))
    tx("cure", lambda: liquidation.cure(cured, sender=alice))
    chain.pending_timestamp = chain.blocks.head.timestamp + terms.gracePeriod
    feed.updateAnswer(1_700 * 10**8, sender=admin)  # the grace window has run out; a fresh round
    tx("liquidate_after_margin_call", lambda: liquidation.liquidate(called, sender=liq))

    # Like for like: the same operations on a collateral with WETH's parameters, priced by a one-slot oracle mock
    # as in Morpho Blue's benchmark, so the two protocols are compared without the cost of Chainlink feeds.
    fix = tx(None, lambda: admin.deploy(project.MockERC20, "Fixed-price token", "FIX", 18))
    oracle = tx(None, lambda: admin.deploy(project.MockPriceOracle, 2_000 * WAD))
    w = engine.collateralType(weth)
    tx(None, lambda: engine.addCollateral(fix, oracle, w.ltv, w.liquidationThreshold, w.liquidationBonus,
                                          w.supplyCap, sender=admin))
    for a in (alice, bob, liq):
        tx(None, lambda: fix.mint(a, 10_000 * WAD, sender=a))
        tx(None, lambda: fix.approve(engine, 2**256 - 1, sender=a))

    def lfl(name, call):
        return tx(f"like_for_like/{name}", call)

    vault_with_debt(fix, bob, 10 * WAD, 1_000 * WAD)  # warm market
    v = vault_of(tx(None, lambda: engine.open(fix, 10 * WAD, sender=alice)))
    lfl("deposit", lambda: engine.deposit(v, fix, 1 * WAD, sender=alice))
    tx(None, lambda: engine.borrow(v, 5_000 * WAD, alice, sender=alice))
    lfl("borrow", lambda: engine.borrow(v, 1_000 * WAD, alice, sender=alice))
    lfl("repay_partial", lambda: engine.repay(v, 500 * WAD, sender=alice))
    lfl("withdraw_with_debt", lambda: engine.withdraw(v, fix, 1 * WAD, alice, sender=alice))
    partial = vault_with_debt(fix, alice, 10 * WAD, 15_000 * WAD)
    batch = [vault_with_debt(fix, alice, 10 * WAD, 15_000 * WAD) for _ in range(20)]
    tx(None, lambda: oracle.setPrice(1_700 * WAD, sender=admin))
    lfl("liquidate_partial", lambda: liquidation.liquidate(partial, sender=liq))
    r = tx(None, lambda: liquidation.liquidateBatch(batch, sender=liq))
    assert len(r.events.filter(liquidation.Liquidate)) == 20
    gas["like_for_like/liquidate_batch20_per_vault"] = r.gas_used // 20

    # Flash mode: seize, sell the WETH on a Uniswap v2 pair (from the npm artifacts, $1,800, deep enough for the
    # sale), pay; through the LiquidationEngine's callback or pUSD's flash mint. Uniswap's set-up transactions are
    # sent by its own helpers, so the node stamps every block 12 s after the last from here on (the test suite's
    # block clock, tests/conftest.py, is the same).
    chain.provider.make_request("anvil_setBlockTimestampInterval", [12])
    pusd = project.PUSD.at(m.contracts["PUSD"])
    vault_with_debt(weth, bob, 5_000 * WAD, 1_800_000 * WAD)  # the pUSD bob seeds the pair with
    w3 = chain.provider.web3
    uni = uniswap.deploy(w3, bob.address)
    erc20 = [w3.eth.contract(address=t.address, abi=uniswap.artifact("v2-core", "ERC20")[0]) for t in (weth, pusd)]
    uniswap.add_liquidity(uni, bob.address, erc20[0], erc20[1], 1_000 * WAD, 1_800_000 * WAD)
    flash = tx(None, lambda: liq.deploy(project.FlashLiquidator, liquidation, uni.router.address, liq))
    tx(None, lambda: feed.updateAnswer(2_000 * 10**8, sender=admin))
    by_callback, by_flash_mint = unsafe_vault(15_000 * WAD), unsafe_vault(15_000 * WAD)
    tx(None, lambda: feed.updateAnswer(1_700 * 10**8, sender=admin))  # HF ≈ 0.963, as liquidate_partial
    tx(None, lambda: liquidation.setMarginCallTerms(weth, 0, 0, 0, sender=admin))  # liquidated without a call
    for name, call in (
        ("flash_liquidate_callback", lambda: flash.liquidate([by_callback], 0, sender=liq)),
        ("flash_liquidate_flash_mint", lambda: flash.liquidateWithFlashMint([by_flash_mint], 20_000 * WAD, 0,
                                                                           sender=liq)),
    ):
        if name.endswith("flash_mint"):
            tx(None, lambda: pusd.setFlashTerms(WAD * 9 // 10_000, 10**24, sender=admin))
        r = tx(name, call)
        assert len(r.events.filter(liquidation.Liquidate)) == 1  # a real liquidation, not an empty batch
    return gas


def write(gas: dict[str, int]) -> None:
    """Write gas.json ({operation: gasUsed}) and gas.md (the table with the reference figures) to OUT."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gas.json").write_text(json.dumps(gas, indent=2) + "\n")
    rows = ["| operation | Plimsoll gasUsed | reference | reference gasUsed | reference 2 | gasUsed |",
            "| --- | ---: | --- | ---: | --- | ---: |"]
    for op, used in gas.items():
        ref, ref_gas, ref2, ref2_gas = REFERENCE[op.removeprefix("like_for_like/")]
        rows.append(f"| {op} | {used:,} | {ref or ''} | {f'{ref_gas:,}' if ref_gas else ''} | {ref2 or ''} | "
                    f"{f'{ref2_gas:,}' if ref2_gas else ''} |")
    note = ("Receipt gasUsed on Anvil 1.7.1, solc 0.8.28 (via IR, optimizer 1,000 runs). References as quoted in issue 2 "
            "(Morpho Blue measured on Anvil 1.7.1 with mocks; Aave v3.6).\n")
    (OUT / "gas.md").write_text("# Gas per operation\n\n" + note + "\n" + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    with networks.parse_network_choice("ethereum:local:foundry"):
        write(measure())
