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

from plimsoll.sdk.config import ConfigError, DeployConfig, load_config
from plimsoll.sdk.contracts import CollateralDeployment, Manifest

DEFAULT_CONFIG = Path(__file__).parent / "config" / "local.yaml"


def deploy(cfg: DeployConfig, deployer, name: str) -> Manifest:
    """Deploy and configure every contract; return the manifest (not yet saved).

    Args:
        cfg: checked configuration (contract units).
        deployer: ape account that pays and becomes the owner of the engines.
        name: network name the manifest is filed under.

    Raises:
        ape's ContractLogicError (with the contract's custom error) if a constructor or setter rejects a value.
    """
    start = chain.blocks.height + 1
    engine = deployer.deploy(project.VaultEngine, deployer.address)
    liquidation = deployer.deploy(
        project.LiquidationEngine,
        engine.address,
        deployer.address,
        (cfg.target_health, cfg.full_liquidation_health, cfg.protocol_share, cfg.bonus_floor, cfg.max_bonus_health,
         cfg.cap_window),
    )
    lens = deployer.deploy(project.VaultLens, engine.address)
    engine.setLiquidationEngine(liquidation.address, sender=deployer)
    engine.setDebtCeiling(cfg.debt_ceiling, sender=deployer)
    engine.setDust(cfg.dust, sender=deployer)
    engine.setStabilityFee(cfg.stability_fee, sender=deployer)

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
    if cfg.maintenance_grid:
        engine.setScenarioGrids(
            [list(row) for row in cfg.initial_grid], [list(row) for row in cfg.maintenance_grid], sender=deployer
        )

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
        },
        collaterals=collaterals,
        compiler="solc 0.8.28",
    )


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
    """Deploy VaultEngine, pUSD, LiquidationEngine, VaultLens and the configured collateral types."""
    try:
        cfg = load_config(config_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    manifest = deploy(cfg, resolve_account(account_spec), name)
    path = manifest.save(Path(out) if out else None)
    click.echo(f"deployed: VaultEngine {manifest.contracts['VaultEngine']} (block {manifest.block}); manifest {path}")
