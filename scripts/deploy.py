"""Deploy Plimsoll from a YAML configuration and write ``deployments/<name>.json`` (plimsoll.sdk.deploy does the work).

    ape run deploy --network http://127.0.0.1:8545 --config scripts/config/local.yaml --name local

``--account TEST::0`` (the default) is the first test account of the mnemonic in ape-config.yaml, Anvil's default;
any other value is an ape account alias.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand

from plimsoll.sdk.config import ConfigError, load_config
from plimsoll.sdk.contracts import ManifestError
from plimsoll.sdk.deploy import DEFAULT_CONFIG, deploy, resolve_account


@click.command(cls=ConnectedProviderCommand)
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_CONFIG),
              show_default=True, help="YAML deployment configuration.")
@click.option("--name", default="local", show_default=True, help="Manifest name: writes deployments/<name>.json.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the manifest here instead of deployments/<name>.json.")
@click.option("--account", "account_spec", default="TEST::0", show_default=True,
              help="Deployer: TEST::<i> (test mnemonic) or an ape account alias.")
def cli(config_path, name, out, account_spec):
    """Deploy VaultEngine, pUSD, PortfolioMargin, LiquidationEngine, VaultLens, PositionLens, the configured
    collateral types, the Timelock and the RiskSteward, and hand the admin roles over as the configuration's
    governance section says."""
    try:
        manifest = deploy(load_config(config_path), resolve_account(account_spec), name)
        path = manifest.save(Path(out) if out else None)
    except (ConfigError, ManifestError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"deployed: VaultEngine {manifest.contracts['VaultEngine']} (block {manifest.block}); manifest {path}")
