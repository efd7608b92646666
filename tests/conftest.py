"""Shared fixtures: the protocol deployed by the package's own deployment (plimsoll.sdk.deploy) on ape-foundry's Anvil.

Each test runs in a chain snapshot (ape isolation), so the module-scoped deployment is fresh for every test.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from pathlib import Path

import pytest

from plimsoll.sdk import deploy as deployment_lib
from plimsoll.sdk.config import load_config
from plimsoll.sdk.math import RAY, WAD, liquidation_plan, valuation

ROOT = Path(__file__).resolve().parents[1]
#: Seconds between two mined blocks on the test chain (block_clock).
BLOCK_SECONDS = 12


@pytest.fixture(autouse=True, scope="session")
def quiet_traces():
    """ape-foundry prints a full call trace for every reverted transaction (~170 ms each, TOOLCHAIN.md);
    the tests assert on the custom errors instead."""
    from ape_ethereum.trace import Trace

    original = Trace.show
    Trace.show = lambda self, *a, **k: None
    yield
    Trace.show = original


@pytest.fixture(scope="session")
def block_clock(chain):
    """Every mined block is stamped exactly BLOCK_SECONDS after the one before, whatever the wall clock says: an
    amount that accrues with time (debt, premium, feed age) never depends on how fast the machine runs the test.
    Tests that need another time pin it (`chain.pending_timestamp`, `next_block_time`)."""
    chain.provider.make_request("anvil_setBlockTimestampInterval", [BLOCK_SECONDS])
    yield
    chain.provider.make_request("anvil_removeBlockTimestampInterval", [])


@pytest.fixture(scope="session")
def cfg():
    """The local deployment configuration (scripts/config/local.yaml), in contract units, with the plain liquidation
    policy the unit and regression scenarios are written for: no margin calls (a liquidation happens at once),
    target health 1.10 and the full bonus at every depth. The margin-call and bonus-curve tests set theirs on-chain,
    and the demo tests run the configuration as it is. The deployer keeps its admin roles (governance.admin
    "deployer")."""
    c = load_config(ROOT / "scripts" / "config" / "local.yaml")
    plain = tuple(replace(col, grace_period=0, hard_floor=0, premium=0) for col in c.collaterals)
    # The deployer (admin) keeps its roles beside the Timelock, so that tests change parameters without waiting
    # out the delay; tests/test_governance.py deploys the configuration's own hand-over.
    return replace(c, collaterals=plain, target_health=11 * WAD // 10, bonus_floor=2 * WAD, max_bonus_health=0,
                   governance=replace(c.governance, admin="deployer"))


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def liquidator(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def deployment(cfg, admin, block_clock):
    """Everything deployed and configured by the package's deployment, on the block clock; returns the Manifest."""
    return deployment_lib.deploy(cfg, admin, "test")


@pytest.fixture(scope="module")
def engine(project, deployment):
    return project.VaultEngine.at(deployment.contracts["VaultEngine"])


@pytest.fixture(scope="module")
def nft(project, deployment):
    """The vaults' ERC-721 (VaultNFT), created by the engine."""
    return project.VaultNFT.at(deployment.contracts["VaultNFT"])


@pytest.fixture(scope="module")
def pusd(project, deployment):
    return project.PUSD.at(deployment.contracts["PUSD"])


@pytest.fixture(scope="module")
def liquidation(project, deployment):
    return project.LiquidationEngine.at(deployment.contracts["LiquidationEngine"])


@pytest.fixture(scope="module")
def lens(project, deployment):
    return project.VaultLens.at(deployment.contracts["VaultLens"])


@pytest.fixture(scope="module")
def position_lens(project, deployment):
    return project.PositionLens.at(deployment.contracts["PositionLens"])


@pytest.fixture(scope="module")
def weth(project, deployment):
    return project.MockERC20.at(deployment.collaterals["WETH"].token)


@pytest.fixture(scope="module")
def wbtc(project, deployment):
    return project.MockERC20.at(deployment.collaterals["WBTC"].token)


@pytest.fixture(scope="module")
def weth_feed(project, deployment):
    return project.MockAggregator.at(deployment.collaterals["WETH"].feed)


@pytest.fixture(scope="module")
def wbtc_feed(project, deployment):
    return project.MockAggregator.at(deployment.collaterals["WBTC"].feed)


@pytest.fixture(scope="module")
def weth_oracle(project, deployment):
    return project.OracleAdapter.at(deployment.collaterals["WETH"].oracle)


@pytest.fixture(scope="module")
def funded(deployment, engine, weth, wbtc, alice, bob, liquidator):
    """alice, bob and the liquidator hold 1,000 WETH and 100 WBTC each and have approved the engine."""
    for acct in (alice, bob, liquidator):
        weth.mint(acct, 1000 * WAD, sender=acct)
        wbtc.mint(acct, 100 * 10**8, sender=acct)
        weth.approve(engine, 2**256 - 1, sender=acct)
        wbtc.approve(engine, 2**256 - 1, sender=acct)
    return True


@pytest.fixture
def alice_vault(funded, engine, weth, alice, liquidator):
    """alice's vault: 10 WETH / 15,000 pUSD (HF 1.13 at $2,000); the liquidator: 1,000 WETH / 200,000 pUSD of
    inventory. Returns alice's vault id."""
    vault = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(vault, 15_000 * WAD, alice, sender=alice)
    inventory = open_vault(engine, liquidator, weth, 1_000 * WAD)
    engine.borrow(inventory, 200_000 * WAD, liquidator, sender=liquidator)
    return vault


def open_vault(engine, owner, token, amount) -> int:
    """Open a vault with one deposit; return its id (from the VaultOpened event)."""
    tx = engine.open(token, amount, sender=owner)
    return tx.events.filter(engine.VaultOpened)[0].vaultId


def set_price(feed, admin, usd) -> None:
    """Push a new round to a mock feed (8 decimals) priced at `usd` dollars (int or Decimal string)."""
    from decimal import Decimal

    feed.updateAnswer(int(Decimal(str(usd)) * 10**8), sender=admin)


def surplus_rad(engine, pusd) -> int:
    """The surplus from its definition, RAD, signed: totalNormalizedDebt·currentRate + badDebt − pUSD supply·RAY. The engine
    derives its `surplusRad()` the same way; computed here without it, so that a negative value shows (the engine's
    view would revert)."""
    return engine.totalNormalizedDebt() * engine.currentRate() + engine.badDebtRad() - pusd.totalSupply() * RAY


def rate_at_time(engine, timestamp) -> int:
    """currentRate (RAY) at `timestamp` (seconds), from the stored rate and the time since the last drip (valid while
    no drip runs before then)."""
    from plimsoll.sdk.math import accrue

    return accrue(engine.rate(), engine.stabilityFee(), timestamp - engine.lastDrip())


def rate_at(engine, chain, tx) -> int:
    """The rate (RAY) that transaction `tx` used: currentRate at its block (valid while no drip has run since)."""
    return rate_at_time(engine, chain.blocks[tx.block_number].timestamp)


def surplus_nonnegative(engine, pusd) -> bool:
    """The debt owed to the protocol plus its recorded bad debt covers every pUSD in circulation (invariant 2)."""
    return surplus_rad(engine, pusd) >= 0


def chain_liquidation_params(engine, liquidation):
    """The mirror's LiquidationParams, read from the deployed contracts."""
    from plimsoll.sdk.math import LiquidationParams

    return LiquidationParams(liquidation.targetHealth(), liquidation.fullLiquidationHealth(),
                             liquidation.protocolShare(), engine.dust(), liquidation.bonusFloor(),
                             liquidation.maxBonusHealth())


def chain_collateral_params(engine, token):
    """The mirror's CollateralParams of a listed token, with its scenario-grid shocks (basis points)."""
    import ape

    from plimsoll.sdk.math import SHOCK_UNIT, CollateralParams

    c = engine.collateralType(token)
    listed = [t.lower() for t in engine.collateralTokens()]
    j = listed.index(str(token).lower())
    initial, maintenance = ape.project.PortfolioMargin.at(engine.portfolio()).scenarioGrids()
    return CollateralParams(c.decimals, c.ltv, c.liquidationThreshold, c.liquidationBonus,
                            tuple(row[j] // SHOCK_UNIT for row in initial),
                            tuple(row[j] // SHOCK_UNIT for row in maintenance))


def valuation_at(engine, vault, timestamp):
    """The mirror's valuation of the vault's current raw state with the rate accrued to `timestamp` (seconds)."""
    import ape

    tokens, amounts = engine.vaultCollateral(vault)
    balances = []
    for t, a in zip(tokens, amounts):
        price = ape.project.OracleAdapter.at(engine.collateralType(t).oracle).price()
        balances.append((a, price, chain_collateral_params(engine, t)))
    return valuation(engine.normalizedDebt(vault), rate_at_time(engine, timestamp), balances, engine.portfolioMargin(vault))


def next_block_time(chain, seconds: int = 7) -> int:
    """Pin the next block's timestamp `seconds` after the head's and return it, so that amounts which accrue with time
    (debt, premium) are the same however long the machine takes between two calls."""
    when = chain.blocks.head.timestamp + seconds
    chain.pending_timestamp = when
    return when


def plan_at(engine, liquidation, vault, timestamp):
    """The mirror's plan for a liquidation mined in a block stamped `timestamp`. Call before the liquidation."""
    v = valuation_at(engine, vault, timestamp)
    return liquidation_plan(v, chain_liquidation_params(engine, liquidation))


@contextmanager
def isolated(chain):
    """Run the body in a chain snapshot and restore it afterwards, letting every exception through.

    Not ape's ``chain.isolate()``: that one swallows every exception raised in its body (ape 0.8), assertions
    included, so a test written inside it could never fail.
    """
    snapshot = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snapshot)
