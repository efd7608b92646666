"""Deploy Plimsoll from a YAML configuration and write ``deployments/<name>.json``.

    ape run deploy --network http://127.0.0.1:8545 --config scripts/config/local.yaml --name local

Collaterals marked ``mock: true`` get a MockERC20 and a MockAggregator (local networks only); others use the
``token`` and ``feed`` addresses given. ``--account TEST::0`` (the default) is the first test account of the
mnemonic in ape-config.yaml, Anvil's default; any other value is an ape account alias.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape import accounts, chain, project
from ape.utils import ZERO_ADDRESS
from ape.cli import ConnectedProviderCommand

from plimsoll.sdk.config import ConfigError, DeployConfig, GovernanceConfig, load_config
from plimsoll.sdk.contracts import CollateralDeployment, Manifest

DEFAULT_CONFIG = Path(__file__).parent / "config" / "local.yaml"
#: Chain ids of local development chains (Anvil, Hardhat, ganache), where ``governance.admin: deployer`` is allowed.
LOCAL_CHAIN_IDS = (31337, 1337)
#: Gas added to the estimate of a call that drips: a drip with a second elapsed (rate, last drip, Drip event).
DRIP_GAS_MARGIN = 50_000


def deploy(cfg: DeployConfig, deployer, name: str) -> Manifest:
    """Deploy and configure every contract; return the manifest (not yet saved).

    Args:
        cfg: checked configuration (contract units).
        deployer: ape account that pays; it holds the admin roles while configuring, then hands them over as
            ``cfg.governance`` says (hand_over).
        name: network name the manifest is filed under.

    Raises:
        ConfigError: a governance account is neither ``deployer`` nor a 0x address, ``admin: deployer`` on a chain
            that is not local, or the roles after the hand-over are not what the configuration says.
        ape's ContractLogicError (with the contract's custom error) if a constructor or setter rejects a value.
    """
    gov = cfg.governance
    if gov.admin == "deployer" and chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(f"governance.admin 'deployer' is for local chains only, not chain {chain.chain_id}")
    roles = governance_accounts(gov, deployer.address)  # checked before the first transaction
    start = chain.blocks.height + 1
    engine = deployer.deploy(project.VaultEngine, deployer.address)
    liquidation = deployer.deploy(
        project.LiquidationEngine,
        engine.address,
        (cfg.target_health, cfg.full_liquidation_health, cfg.protocol_share, cfg.bonus_floor, cfg.max_bonus_health,
         cfg.cap_window),
    )
    lens = deployer.deploy(project.VaultLens, engine.address)
    position_lens = deployer.deploy(project.PositionLens, lens.address)
    engine.setLiquidationEngine(liquidation.address, sender=deployer)
    engine.setDebtCeiling(cfg.debt_ceiling, sender=deployer)
    engine.setDust(cfg.dust, sender=deployer)
    # setStabilityFee drips first. Its estimate, simulated at the pending block's time, omits the drip when no second
    # has passed yet, and the transaction then runs out of gas if a second passes before it is mined (issue 8,
    # "Gas estimates run out"). The margin covers a drip's worst case; only the gas used is paid.
    fee_gas = engine.setStabilityFee.estimate_gas_cost(cfg.stability_fee, sender=deployer) + DRIP_GAS_MARGIN
    engine.setStabilityFee(cfg.stability_fee, sender=deployer, gas=fee_gas)

    collaterals = {}
    for c in cfg.collaterals:
        if c.mock:
            token = deployer.deploy(project.MockERC20, c.name, c.symbol, c.decimals).address
            feeds = [
                deployer.deploy(project.MockAggregator, c.feed_decimals, f"{c.symbol} / USD", c.initial_answer).address
                for _ in range(c.mock_feeds)
            ]
        else:
            token, feeds = c.token, list(c.feeds)
        oracle = deployer.deploy(
            project.OracleAdapter,
            [(f, c.max_age) for f in feeds],
            c.oracle_mode,
            c.min_price,
            c.max_price,
            c.max_deviation,
            c.max_spread,
            c.sequencer_feed or ZERO_ADDRESS,
            c.sequencer_grace,
        )
        engine.addCollateral(
            token, oracle.address, c.ltv, c.liquidation_threshold, c.liquidation_bonus, c.supply_cap, sender=deployer
        )
        collaterals[c.symbol] = CollateralDeployment(
            symbol=c.symbol,
            token=token,
            oracle=oracle.address,
            feed=feeds[0],
            feeds=feeds,
            decimals=c.decimals,
            feed_decimals=c.feed_decimals,
            mock=c.mock,
        )

        if c.liquidation_cap:
            liquidation.setLiquidationCap(token, c.liquidation_cap, sender=deployer)
        if c.grace_period:
            liquidation.setMarginCallTerms(token, c.grace_period, c.hard_floor, c.premium, sender=deployer)
    portfolio = project.PortfolioMargin.at(engine.portfolio())
    if cfg.maintenance_grid:
        portfolio.setScenarioGrids(
            [list(row) for row in cfg.initial_grid], [list(row) for row in cfg.maintenance_grid], sender=deployer
        )
    timelock, steward = hand_over(gov, roles, deployer, engine, liquidation)

    return Manifest(
        network=name,
        chain_id=chain.chain_id,
        block=start,
        deployer=deployer.address,
        contracts={
            "VaultEngine": engine.address,
            "PUSD": engine.pusd(),
            "LiquidationEngine": liquidation.address,
            "VaultLens": lens.address,
            "PositionLens": position_lens.address,
            "PortfolioMargin": portfolio.address,
            "Timelock": timelock.address,
            "RiskSteward": steward.address,
        },
        collaterals=collaterals,
        compiler="solc 0.8.28",
    )


def governance_accounts(gov: GovernanceConfig, deployer: str) -> dict[str, list[str]]:
    """The configuration's governance accounts as addresses: proposers, executors (the zero address: anyone),
    guardian and steward (empty: nobody).

    Raises:
        ConfigError: an account is neither ``deployer`` nor a 0x address.
    """
    def account(spec: str) -> str:
        if spec == "deployer":
            return deployer
        if not (spec.startswith("0x") and len(spec) == 42):
            raise ConfigError(f"governance: {spec!r} is neither 'deployer' nor a 0x address")
        return spec

    return {
        "proposers": [account(a) for a in gov.proposers],
        "executors": [account(a) for a in gov.executors] or [ZERO_ADDRESS],
        "guardian": [account(gov.guardian)] if gov.guardian else [],
        "steward": [account(gov.steward)] if gov.steward else [],
    }


def hand_over(gov: GovernanceConfig, roles: dict[str, list[str]], deployer, engine, liquidation):
    """Deploy the Timelock and the RiskSteward, grant every role as the configuration says and, with admin
    ``timelock``, make the deployer renounce its own, so that the Timelock is the only admin (docs/governance.md).
    Then read every role back.

    Args:
        gov: the governance section of the configuration.
        roles: its accounts, from governance_accounts.
        deployer: ape account holding DEFAULT_ADMIN_ROLE and RISK_ADMIN_ROLE since the engines were deployed.
        engine, liquidation: the deployed VaultEngine and LiquidationEngine.

    Returns:
        (timelock, steward) contract instances.
    Raises:
        ConfigError: a role read back differs from the configuration.
    """
    timelock = deployer.deploy(project.Timelock, gov.timelock_delay, roles["proposers"], roles["executors"],
                               ZERO_ADDRESS)
    steward = deployer.deploy(
        project.RiskSteward, engine.address, liquidation.address, timelock.address,
        (roles["steward"] or [ZERO_ADDRESS])[0], (gov.risk_step, gov.relative_step, gov.fee_step, gov.cooldown),
    )
    admin_role, risk_admin, guardian = engine.DEFAULT_ADMIN_ROLE(), engine.RISK_ADMIN_ROLE(), engine.GUARDIAN_ROLE()
    engine.setSurplusBuffer(gov.surplus_buffer, sender=deployer)
    engine.grantRole(admin_role, timelock.address, sender=deployer)
    engine.grantRole(risk_admin, timelock.address, sender=deployer)
    engine.grantRole(risk_admin, steward.address, sender=deployer)
    for account in roles["guardian"]:
        engine.grantRole(guardian, account, sender=deployer)
    keeps = gov.admin == "deployer"
    if not keeps:
        engine.renounceRole(risk_admin, deployer.address, sender=deployer)
        engine.renounceRole(admin_role, deployer.address, sender=deployer)

    expected = [
        (engine, admin_role, timelock.address, True), (engine, risk_admin, timelock.address, True),
        (engine, risk_admin, steward.address, True), (engine, admin_role, steward.address, False),
        (engine, admin_role, deployer.address, keeps), (engine, risk_admin, deployer.address, keeps),
        (steward, admin_role, timelock.address, True), (steward, admin_role, deployer.address, False),
        *((engine, guardian, a, True) for a in roles["guardian"]),
        *((steward, steward.STEWARD_ROLE(), a, True) for a in roles["steward"]),
        *((timelock, timelock.PROPOSER_ROLE(), a, True) for a in roles["proposers"]),
        *((timelock, timelock.EXECUTOR_ROLE(), a, True) for a in roles["executors"]),
        (timelock, admin_role, deployer.address, False),
    ]
    wrong = [f"{c.contract_type.name}: {a} {'lacks' if want else 'holds'} role {r.hex()}"
             for c, r, a, want in expected if c.hasRole(r, a) != want]
    if wrong:
        raise ConfigError("roles after the hand-over differ from the configuration: " + "; ".join(wrong))
    return timelock, steward


def resolve_account(spec: str):
    """``TEST::i`` → the i-th test account; anything else → the ape account with that alias."""
    if spec.startswith("TEST::"):
        return accounts.test_accounts[int(spec.split("::", 1)[1])]
    return accounts.load(spec)


@click.command(cls=ConnectedProviderCommand)
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_CONFIG),
              show_default=True, help="YAML deployment configuration.")
@click.option("--name", default="local", show_default=True, help="Manifest name: writes deployments/<name>.json.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the manifest here instead of deployments/<name>.json.")
@click.option("--account", "account_spec", default="TEST::0", show_default=True,
              help="Deployer: TEST::<i> (test mnemonic) or an ape account alias.")
def cli(config_path, name, out, account_spec):
    """Deploy VaultEngine, pUSD, PortfolioMargin, LiquidationEngine, VaultLens, the configured collateral types, the
    Timelock and the RiskSteward, and hand the admin roles over as the configuration's governance section says."""
    try:
        cfg = load_config(config_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    try:
        manifest = deploy(cfg, resolve_account(account_spec), name)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    path = manifest.save(Path(out) if out else None)
    click.echo(f"deployed: VaultEngine {manifest.contracts['VaultEngine']} (block {manifest.block}); manifest {path}")
