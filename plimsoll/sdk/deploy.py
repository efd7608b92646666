"""Deploy Plimsoll with ape: the one deployment that ``ape run deploy``, ``plimsoll demo``, the tests and the
benchmarks all call (``deploy``, or ``deploy_to`` for a node given by URL).

Collaterals marked ``mock: true`` get a MockERC20 and a MockAggregator (local networks only); others use the
``token`` and ``feed`` addresses given. The result is a ``Manifest``: an address book that follows
deployments/manifest.schema.json, with the parameters read back from the engines.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path
from typing import Any

from ape import accounts, chain
from ape import project as ape_project
from ape.utils import ZERO_ADDRESS

from .config import ConfigError, DeployConfig, GovernanceConfig, load_config
from .contracts import PROJECT_ROOT, AddressEntry, CollateralDeployment, Manifest

DEFAULT_CONFIG = PROJECT_ROOT / "scripts" / "config" / "local.yaml"
#: Chain ids of local development chains (Anvil, Hardhat, ganache), where ``governance.admin: deployer`` is allowed.
LOCAL_CHAIN_IDS = (31337, 1337)
#: Gas added to the estimate of a call that drips: a drip with a second elapsed (rate, last drip, Drip event).
DRIP_GAS_MARGIN = 50_000


def deploy(cfg: DeployConfig, deployer, name: str, project: Any = None) -> Manifest:
    """Deploy and configure every contract on ape's connected network; return the manifest (not yet saved).

    Args:
        cfg: checked configuration (contract units).
        deployer: ape account that pays; it holds the admin roles while configuring, then hands them over as
            ``cfg.governance`` says (hand_over).
        name: network name the manifest is filed under.
        project: the ape project whose compiled contracts are deployed (default: ape's current project).

    Raises:
        ConfigError: a governance account is neither ``deployer`` nor a 0x address, ``admin: deployer`` on a chain
            that is not local, or the roles after the hand-over are not what the configuration says.
        ape's ContractLogicError (with the contract's custom error) if a constructor or setter rejects a value.
    """
    project = project or ape_project
    gov = cfg.governance
    if gov.admin == "deployer" and chain.chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(f"governance.admin 'deployer' is for local chains only, not chain {chain.chain_id}")
    roles = governance_accounts(gov, deployer.address)  # checked before the first transaction
    start = chain.blocks.height + 1
    book = AddressBook()
    renderer = book.add(deployer.deploy(project.VaultRenderer), "VaultRenderer")
    engine = book.add(deployer.deploy(project.VaultEngine, deployer.address, renderer.address), "VaultEngine")
    liquidation = book.add(deployer.deploy(
        project.LiquidationEngine,
        engine.address,
        (cfg.target_health, cfg.full_liquidation_health, cfg.protocol_share, cfg.bonus_floor, cfg.max_bonus_health,
         cfg.cap_window),
    ), "LiquidationEngine")
    lens = book.add(deployer.deploy(project.VaultLens, engine.address), "VaultLens")
    position_lens = book.add(deployer.deploy(project.PositionLens, lens.address), "PositionLens")
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
            token = book.add(deployer.deploy(project.MockERC20, c.name, c.symbol, c.decimals),
                             f"{c.symbol} token").address
            feeds = [
                book.add(deployer.deploy(project.MockAggregator, c.feed_decimals, f"{c.symbol} / USD", c.initial_answer),
                         f"{c.symbol} feed {i + 1}").address
                for i in range(c.mock_feeds)
            ]
        else:
            token, feeds = c.token, list(c.feeds)
            book.external(token, "ERC20", f"{c.symbol} token", abi="MockERC20")
            for i, f in enumerate(feeds):
                book.external(f, "AggregatorV3Interface", f"{c.symbol} feed {i + 1}", abi="MockAggregator")
        oracle = book.add(deployer.deploy(
            project.OracleAdapter,
            [(f, c.max_age) for f in feeds],
            c.oracle_mode,
            c.min_price,
            c.max_price,
            c.max_deviation,
            c.max_spread,
            c.sequencer_feed or ZERO_ADDRESS,
            c.sequencer_grace,
        ), f"{c.symbol} oracle")
        engine.addCollateral(
            token, oracle.address, c.ltv, c.liquidation_threshold, c.liquidation_bonus, c.supply_cap, sender=deployer
        )
        if c.liquidation_cap:
            liquidation.setLiquidationCap(token, c.liquidation_cap, sender=deployer)
        if c.grace_period:
            liquidation.setMarginCallTerms(token, c.grace_period, c.hard_floor, c.premium, sender=deployer)
        collaterals[c.symbol] = CollateralDeployment(
            symbol=c.symbol,
            token=token,
            oracle=oracle.address,
            feed=feeds[0],
            feeds=feeds,
            decimals=c.decimals,
            feed_decimals=c.feed_decimals,
            mock=c.mock,
            params=collateral_params(engine, liquidation, token),
        )
    # the engine creates pUSD, PortfolioMargin and the VaultNFT in its constructor
    book.created_by(engine, engine.pusd(), "PUSD", "PUSD")
    book.created_by(engine, engine.vaultNFT(), "VaultNFT", "VaultNFT")
    portfolio = project.PortfolioMargin.at(engine.portfolio())
    book.created_by(engine, portfolio.address, "PortfolioMargin", "PortfolioMargin")
    if cfg.maintenance_grid:
        portfolio.setScenarioGrids(
            [list(row) for row in cfg.initial_grid], [list(row) for row in cfg.maintenance_grid], sender=deployer
        )
    timelock, steward = hand_over(gov, roles, deployer, engine, liquidation, project)
    book.add(timelock, "Timelock")
    book.add(steward, "RiskSteward")

    w3 = chain.provider.web3
    pkg, commit = source_version()
    return Manifest(
        network=name,
        chain_id=chain.chain_id,
        block=start,
        block_hash=w3.eth.get_block(start)["hash"].to_0x_hex(),
        deployer=deployer.address,
        contracts={
            "VaultEngine": engine.address,
            "PUSD": engine.pusd(),
            "VaultNFT": engine.vaultNFT(),
            "VaultRenderer": renderer.address,
            "LiquidationEngine": liquidation.address,
            "VaultLens": lens.address,
            "PositionLens": position_lens.address,
            "PortfolioMargin": portfolio.address,
            "Timelock": timelock.address,
            "RiskSteward": steward.address,
        },
        collaterals=collaterals,
        compiler="solc 0.8.28",
        version=pkg,
        commit=commit,
        addresses=book.entries,
        transactions=sent_transactions(w3, deployer.address, start, chain.blocks.height),
        parameters={"debt_ceiling": engine.debtCeiling(), "dust": engine.dust(),
                    "stability_fee": engine.stabilityFee()},
    )


class AddressBook:
    """The manifest's address book while a deployment runs: address → AddressEntry, each with the transaction that
    created it and its block."""

    def __init__(self):
        self.entries: dict[str, AddressEntry] = {}

    def add(self, instance: Any, label: str) -> Any:
        """Record a contract that ``deployer.deploy`` returned (ape ContractInstance); return it."""
        name = instance.contract_type.name
        receipt = chain.provider.web3.eth.get_transaction_receipt(instance.txn_hash)
        self.entries[instance.address] = AddressEntry(name, label, name, receipt["transactionHash"].to_0x_hex(),
                                                      receipt["blockNumber"])
        return instance

    def created_by(self, creator: Any, address: str, name: str, label: str) -> None:
        """Record a contract that ``creator`` (recorded already) created in its constructor."""
        made = self.entries[creator.address]
        self.entries[address] = AddressEntry(name, label, name, made.tx, made.block)

    def external(self, address: str, name: str, label: str, abi: str) -> None:
        """Record a contract the deployment uses but did not create (a real token or feed)."""
        self.entries[address] = AddressEntry(name, label, abi)


def collateral_params(engine: Any, liquidation: Any, token: str) -> dict[str, int]:
    """A collateral type's parameters as the engines hold them (units in CollateralDeployment.params)."""
    t, terms = engine.collateralType(token), liquidation.marginCallTerms(token)
    return {"ltv": t.ltv, "liquidation_threshold": t.liquidationThreshold, "liquidation_bonus": t.liquidationBonus,
            "supply_cap": t.supplyCap, "liquidation_cap": liquidation.liquidationCap(token),
            "grace_period": terms.gracePeriod, "hard_floor": terms.hardFloor, "premium": terms.premium}


def sent_transactions(w3: Any, sender: str, first: int, last: int) -> list[str]:
    """Hashes of the transactions ``sender`` sent in blocks ``first``..``last`` (inclusive), in order."""
    return [tx["hash"].to_0x_hex() for n in range(first, last + 1)
            for tx in w3.eth.get_block(n, full_transactions=True)["transactions"] if tx["from"] == sender]


def source_version() -> tuple[str, str]:
    """(the plimsoll package version, its git commit with ``+dirty`` if the tree has uncommitted changes; empty
    outside a git checkout)."""
    try:
        pkg = package_version("plimsoll")
    except PackageNotFoundError:
        pkg = "0.0.0"
    try:
        git = lambda *a: subprocess.run(["git", *a], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
                                        timeout=10).stdout.strip()
        commit = git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return pkg, commit


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


def hand_over(gov: GovernanceConfig, roles: dict[str, list[str]], deployer, engine, liquidation, project: Any = None):
    """Deploy the Timelock and the RiskSteward, grant every role as the configuration says and, with admin
    ``timelock``, make the deployer renounce its own, so that the Timelock is the only admin (docs/governance.md).
    Then read every role back.

    Args:
        gov: the governance section of the configuration.
        roles: its accounts, from governance_accounts.
        deployer: ape account holding DEFAULT_ADMIN_ROLE and RISK_ADMIN_ROLE since the engines were deployed.
        engine, liquidation: the deployed VaultEngine and LiquidationEngine.
        project: the ape project (default: ape's current project).

    Returns:
        (timelock, steward) contract instances.
    Raises:
        ConfigError: a role read back differs from the configuration.
    """
    project = project or ape_project
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


def resolve_account(spec: str, autosign: bool = False):
    """``TEST::i`` → the i-th test account; anything else → the ape account (keystore) with that alias.
    ``autosign``: a keystore account signs every transaction without asking; it is unlocked once, with the
    passphrase from ``APE_ACCOUNTS_<alias>_PASSPHRASE`` or else a prompt.

    Raises:
        ape's AccountsError: no account with that alias, or a wrong passphrase.
    """
    if spec.startswith("TEST::"):
        return accounts.test_accounts[int(spec.split("::", 1)[1])]
    account = accounts.load(spec)
    if autosign:
        account.set_autosign(True)
    return account




def deploy_to(url: str, config_path: Path | str = DEFAULT_CONFIG, name: str = "local", account: str = "TEST::0",
              out: Path | None = None, verbose: bool = True, autosign: bool = False) -> tuple[Manifest, Path]:
    """Connect ape to the node at ``url`` (or an ape network choice such as ``ethereum:sepolia:node``), deploy the
    configuration at ``config_path`` from ``account`` (``resolve_account``), save the manifest to ``out`` (default
    ``deployments/<name>.json``) and disconnect. ``verbose=False`` keeps ape's per-transaction lines quiet
    (warnings and errors still show); ``autosign`` signs every transaction of a keystore account without asking
    (``resolve_account``).

    Returns:
        (the manifest, the file it was saved to).
    Raises:
        ConfigError: the configuration is invalid (before any transaction), or see ``deploy``.
        ManifestError: the manifest breaks its schema (nothing is saved).
        ape's ContractLogicError (with the contract's custom error) if a constructor or setter rejects a value.
    """
    from ape import Project, networks
    from ape.logging import LogLevel, logger

    cfg = load_config(config_path)
    project = Project(PROJECT_ROOT)  # the repository's contracts, whatever the working directory
    with logger.at_level(LogLevel.INFO if verbose else LogLevel.WARNING), networks.parse_network_choice(url):
        manifest = deploy(cfg, resolve_account(account, autosign), name, project)
    return manifest, manifest.save(out)
