"""Deployment configuration: a YAML file of protocol and collateral parameters, checked and turned into the
integers the contracts take (WAD, RAY, token and feed decimals). See ``scripts/config/local.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .math import SHOCK_UNIT, WAD, apr_to_per_second, to_wad

MIN_LIQUIDATION_CAP = 100_000 * WAD  # LiquidationEngine.MIN_LIQUIDATION_CAP
MAX_SCENARIOS = 16  # PortfolioMargin.MAX_SCENARIOS
MAX_RISK_STEP = WAD // 10  # RiskSteward.MAX_RISK_STEP
MAX_RELATIVE_STEP = WAD // 2  # RiskSteward.MAX_RELATIVE_STEP
MAX_FEE_STEP = 3_022_265_981 * 10**9  # RiskSteward.MAX_FEE_STEP, RAY per second
MIN_COOLDOWN = 3600  # RiskSteward.MIN_COOLDOWN, seconds
MAX_DEBT_CEILING = 10**30  # VaultEngine.MAX_DEBT_CEILING, WAD


class ConfigError(ValueError):
    """The deployment configuration is missing a field or holds a bad value (the message names it)."""


def _dec(d: dict[str, Any], key: str, where: str) -> Decimal:
    if key not in d:
        raise ConfigError(f"{where}: missing '{key}'")
    try:
        return Decimal(str(d[key]))
    except InvalidOperation as e:
        raise ConfigError(f"{where}: '{key}' is not a number: {d[key]!r}") from e


@dataclass(frozen=True)
class CollateralConfig:
    """One collateral type, in contract units.

    Attributes:
        symbol, name: token symbol and name; decimals: token decimals.
        mock: deploy MockERC20 + ``mock_feeds`` MockAggregators; otherwise ``token`` and ``feeds`` are existing
            addresses.
        feeds: feed addresses (non-mock), in priority order (fallback mode) or as voters (median mode).
        mock_feeds: how many mock feeds to deploy (1 to 3).
        initial_answer: first mock feed answer (feed decimals); feed_decimals: answer decimals.
        max_age: seconds an answer stays usable (the same for every feed).
        min_price, max_price: the adapter's plausible price range, WAD USD per whole token.
        oracle_mode: 0 fallback, 1 median (``IOracleAdapter.Mode``).
        max_deviation: largest move from a feed's previous round, WAD fraction (0 = off).
        max_spread: median mode: largest disagreement, WAD fraction (0 in fallback mode).
        sequencer_feed: L2 sequencer-uptime feed address, or None; sequencer_grace: seconds.
        ltv, liquidation_threshold, liquidation_bonus: WAD; supply_cap: token decimals.
        liquidation_cap: WAD USD of seized value per cap window, 0 for none.
        grace_period, hard_floor, premium: margin-call terms (seconds, WAD health, per-second RAY); 0 = no calls.
    """

    symbol: str
    name: str
    decimals: int
    mock: bool
    token: str | None
    feeds: tuple[str, ...]
    mock_feeds: int
    initial_answer: int
    feed_decimals: int
    max_age: int
    min_price: int
    max_price: int
    oracle_mode: int
    max_deviation: int
    max_spread: int
    sequencer_feed: str | None
    sequencer_grace: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    supply_cap: int
    liquidation_cap: int = 0
    grace_period: int = 0
    hard_floor: int = 0
    premium: int = 0


@dataclass(frozen=True)
class GovernanceConfig:
    """Who governs the deployment (docs/governance.md). Accounts are ``deployer`` or 0x addresses.

    Attributes:
        admin: ``timelock`` (the default): the deployer hands DEFAULT_ADMIN_ROLE and RISK_ADMIN_ROLE to the
            Timelock and keeps no role in the engines; ``deployer``: it keeps both as well (local chains only, for
            tests; scripts/deploy.py refuses it elsewhere).
        timelock_delay: seconds between scheduling and executing a timelock operation.
        proposers: may schedule and cancel timelock operations.
        executors: may execute ready operations; empty: anyone.
        guardian: holds GUARDIAN_ROLE (pause borrowing and withdrawing against debt); empty: nobody.
        steward: holds STEWARD_ROLE on the RiskSteward; empty: nobody.
        risk_step, relative_step: WAD; fee_step: RAY per second; cooldown: seconds (the RiskSteward's bounds).
        surplus_buffer: WAD pUSD that surplus withdrawals must leave.
    """

    admin: str = "timelock"
    timelock_delay: int = 60
    proposers: tuple[str, ...] = ("deployer",)
    executors: tuple[str, ...] = ("deployer",)
    guardian: str = "deployer"
    steward: str = "deployer"
    risk_step: int = WAD // 50
    relative_step: int = WAD // 4
    fee_step: int = 0
    cooldown: int = 86400
    surplus_buffer: int = 0


def _governance(d: Any) -> GovernanceConfig:
    """``governance:`` (optional; see scripts/config/local.yaml) in contract units."""
    if not d:
        return GovernanceConfig()
    if not isinstance(d, dict):
        raise ConfigError("governance: must be a mapping")
    bounds = d.get("steward_bounds") or {}
    fee_apr = bounds.get("stability_fee_step_apr", "0")
    g = GovernanceConfig(
        admin=str(d.get("admin", "timelock")),
        timelock_delay=int(d.get("timelock_delay", 60)),
        proposers=tuple(str(a) for a in d.get("proposers", ["deployer"])),
        executors=tuple(str(a) for a in d.get("executors", ["deployer"])),
        guardian=str(d.get("guardian") or ""),
        steward=str(d.get("steward") or ""),
        risk_step=to_wad(bounds.get("risk_step", "0.02")),
        relative_step=to_wad(bounds.get("relative_step", "0.25")),
        fee_step=apr_to_per_second(fee_apr) - 10**27,
        cooldown=int(bounds.get("cooldown", 86400)),
        surplus_buffer=to_wad(d.get("surplus_buffer", "0")),
    )
    if g.admin not in ("timelock", "deployer"):
        raise ConfigError("governance: 'admin' must be 'timelock' or 'deployer'")
    if g.timelock_delay < 0 or not g.proposers:
        raise ConfigError("governance: need timelock_delay >= 0 seconds and at least one proposer")
    if not (g.risk_step <= MAX_RISK_STEP and g.relative_step <= MAX_RELATIVE_STEP and g.fee_step <= MAX_FEE_STEP
            and g.cooldown >= MIN_COOLDOWN):
        raise ConfigError("governance.steward_bounds: need risk_step <= 0.1, relative_step <= 0.5, "
                          "stability_fee_step_apr <= 0.1 and cooldown >= 3600 seconds")
    if not 0 <= g.surplus_buffer <= MAX_DEBT_CEILING:
        raise ConfigError("governance: 'surplus_buffer' must lie in [0, 1e12] pUSD")
    return g


@dataclass(frozen=True)
class DeployConfig:
    """The whole deployment, in contract units.

    Attributes:
        debt_ceiling, dust: WAD pUSD; stability_fee: per-second RAY factor.
        target_health, full_liquidation_health, protocol_share, bonus_floor, max_bonus_health: WAD.
        cap_window: seconds.
        collaterals: in listing order.
        initial_grid, maintenance_grid: portfolio-margin scenarios, WAD shocks per collateral in listing order
            (empty: portfolio margin off).
        governance: roles, timelock, risk steward bounds, surplus buffer.
    """

    debt_ceiling: int
    dust: int
    stability_fee: int
    target_health: int
    full_liquidation_health: int
    protocol_share: int
    collaterals: tuple[CollateralConfig, ...]
    bonus_floor: int = 2 * WAD
    max_bonus_health: int = 0
    cap_window: int = 3600
    initial_grid: tuple[tuple[int, ...], ...] = ()
    maintenance_grid: tuple[tuple[int, ...], ...] = ()
    governance: GovernanceConfig = GovernanceConfig()

    def collateral(self, symbol: str) -> CollateralConfig:
        """The collateral with this symbol. Raises KeyError."""
        for c in self.collaterals:
            if c.symbol == symbol:
                return c
        raise KeyError(symbol)


def _collateral(d: dict[str, Any], i: int) -> CollateralConfig:
    where = f"collaterals[{i}]"
    symbol = str(d.get("symbol") or "")
    if not symbol:
        raise ConfigError(f"{where}: missing 'symbol'")
    where = f"collateral {symbol}"
    mock = bool(d.get("mock", False))
    feeds = tuple(d.get("feeds") or ([d["feed"]] if d.get("feed") else []))
    if not mock and not (d.get("token") and feeds):
        raise ConfigError(f"{where}: give 'token' and 'feeds' addresses, or set 'mock: true'")
    mock_feeds = int(d.get("mock_feeds", 1))
    if not 1 <= (mock_feeds if mock else len(feeds)) <= 3:
        raise ConfigError(f"{where}: an oracle takes one to three feeds")
    mode = {"fallback": 0, "median": 1}.get(str(d.get("oracle_mode", "fallback")))
    if mode is None:
        raise ConfigError(f"{where}: 'oracle_mode' must be 'fallback' or 'median'")
    decimals = int(d.get("decimals", 18))
    feed_decimals = int(d.get("feed_decimals", 8))
    scale = Decimal(10) ** feed_decimals
    ltv = to_wad(_dec(d, "ltv", where))
    lt = to_wad(_dec(d, "liquidation_threshold", where))
    lb = to_wad(_dec(d, "liquidation_bonus", where))
    if not (0 < ltv < lt < WAD and to_wad("1.01") <= lb <= 2 * WAD and lb * lt < WAD * WAD):
        raise ConfigError(
            f"{where}: need 0 < ltv < liquidation_threshold < 1, 1.01 <= liquidation_bonus <= 2 and"
            " bonus x threshold < 1"
        )
    max_spread = to_wad(d.get("max_spread", "0"))
    if (mode == 1) != (max_spread > 0):
        raise ConfigError(f"{where}: 'max_spread' is required in median mode and only there")
    max_age = int(d.get("max_age", 0))
    if max_age <= 0:
        raise ConfigError(f"{where}: 'max_age' must be a positive number of seconds")
    return CollateralConfig(
        symbol=symbol,
        name=str(d.get("name", symbol)),
        decimals=decimals,
        mock=mock,
        token=d.get("token"),
        feeds=feeds,
        mock_feeds=mock_feeds,
        initial_answer=int(_dec(d, "initial_price", where) * scale) if mock else 0,
        feed_decimals=feed_decimals,
        max_age=max_age,
        min_price=to_wad(_dec(d, "min_price", where)),
        max_price=to_wad(_dec(d, "max_price", where)),
        oracle_mode=mode,
        max_deviation=to_wad(d.get("max_deviation", "0")),
        max_spread=max_spread,
        sequencer_feed=d.get("sequencer_feed"),
        sequencer_grace=int(d.get("sequencer_grace", 0)),
        ltv=ltv,
        liquidation_threshold=lt,
        liquidation_bonus=lb,
        supply_cap=int(_dec(d, "supply_cap", where) * (Decimal(10) ** decimals)),
        liquidation_cap=_liquidation_cap(d, where),
        **_margin_call(d.get("margin_call"), where),
    )


def _margin_call(d: Any, where: str) -> dict[str, int]:
    """``margin_call: {grace_period: seconds, hard_floor: "0.92", premium_apr: "0.10"}`` in contract units."""
    if not d:
        return {}
    grace = int(d.get("grace_period", 0))
    floor = to_wad(_dec(d, "hard_floor", f"{where} margin_call"))
    premium = apr_to_per_second(_dec(d, "premium_apr", f"{where} margin_call"))
    if not (0 < grace <= 3 * 86400 and to_wad("0.9") <= floor < WAD and premium <= apr_to_per_second("1")):
        raise ConfigError(f"{where}: margin_call needs 0 < grace_period <= 3 days, 0.9 <= hard_floor < 1 and "
                          "premium_apr <= 1")
    return {"grace_period": grace, "hard_floor": floor, "premium": premium}


def _liquidation_cap(d: dict[str, Any], where: str) -> int:
    cap = to_wad(d.get("liquidation_cap", "0"))
    if cap and not MIN_LIQUIDATION_CAP <= cap < 2**96:
        raise ConfigError(f"{where}: 'liquidation_cap' must be 0 (none) or at least 100000 USD per window")
    return cap


def _grid(raw: Any, name: str, symbols: list[str]) -> tuple[tuple[int, ...], ...]:
    """A list of scenarios, each a mapping symbol -> shock fraction (a missing symbol has shock 0), as WAD rows in
    listing order."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SCENARIOS:
        raise ConfigError(f"portfolio_margin.{name}: give 1 to {MAX_SCENARIOS} scenarios")
    rows = []
    for s, scenario in enumerate(raw):
        where = f"portfolio_margin.{name}[{s}]"
        if not isinstance(scenario, dict) or set(scenario) - set(symbols):
            raise ConfigError(f"{where}: a mapping of collateral symbol to shock, symbols among {symbols}")
        row = tuple(to_wad(_dec(scenario, sym, where)) if sym in scenario else 0 for sym in symbols)
        if any(not -WAD <= x <= WAD or x % SHOCK_UNIT for x in row):
            raise ConfigError(f"{where}: shocks are fractions in [-1, 1] with at most 4 decimals (whole basis points)")
        rows.append(row)
    return tuple(rows)


def parse_config(raw: dict[str, Any]) -> DeployConfig:
    """Check a loaded YAML document and convert it to contract units.

    Raises:
        ConfigError: a field is missing or out of range.
    """
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a mapping")
    pusd = raw.get("pusd") or {}
    liq = raw.get("liquidation") or {}
    cols = raw.get("collaterals") or []
    if not cols:
        raise ConfigError("no collaterals configured")
    cfg = DeployConfig(
        debt_ceiling=to_wad(_dec(pusd, "debt_ceiling", "pusd")),
        dust=to_wad(_dec(pusd, "dust", "pusd")),
        stability_fee=apr_to_per_second(_dec(pusd, "stability_fee_apr", "pusd")),
        target_health=to_wad(_dec(liq, "target_health", "liquidation")),
        full_liquidation_health=to_wad(_dec(liq, "full_liquidation_health", "liquidation")),
        protocol_share=to_wad(_dec(liq, "protocol_share", "liquidation")),
        collaterals=tuple(_collateral(c, i) for i, c in enumerate(cols)),
        bonus_floor=to_wad(liq.get("bonus_floor", "2")),
        max_bonus_health=to_wad(liq.get("max_bonus_health", "0")),
        cap_window=int(liq.get("cap_window", 3600)),
        governance=_governance(raw.get("governance")),
    )
    symbols = [str(c.get("symbol")) for c in cols]
    grids = raw.get("portfolio_margin") or {}
    cfg = replace(cfg, initial_grid=_grid(grids.get("initial"), "initial", symbols),
                  maintenance_grid=_grid(grids.get("maintenance"), "maintenance", symbols))
    if bool(cfg.initial_grid) != bool(cfg.maintenance_grid):
        raise ConfigError("portfolio_margin: give both 'initial' and 'maintenance' grids, or neither")
    for grid, margin in ((cfg.initial_grid, "ltv"), (cfg.maintenance_grid, "liquidation_threshold")):
        for j, c in enumerate(cfg.collaterals):  # VaultEngine: never looser than standard margin for one collateral
            if grid and WAD + min(row[j] for row in grid) > getattr(c, margin):
                raise ConfigError(f"portfolio_margin: the worst {c.symbol} shock must be at most its {margin} - 1")
    if not to_wad("1.01") <= cfg.bonus_floor <= 2 * WAD or not 0 <= cfg.max_bonus_health < WAD:
        raise ConfigError("liquidation: need 1.01 <= bonus_floor <= 2 and 0 <= max_bonus_health < 1")
    if not 600 <= cfg.cap_window <= 86400:
        raise ConfigError("liquidation: cap_window must lie in [600, 86400] seconds")
    if not cfg.target_health > WAD >= cfg.full_liquidation_health:
        raise ConfigError("liquidation: need target_health > 1 >= full_liquidation_health")
    if not 0 <= cfg.protocol_share <= WAD // 2:
        raise ConfigError("liquidation: protocol_share must lie in [0, 0.5]")
    symbols = [c.symbol for c in cfg.collaterals]
    if len(set(symbols)) != len(symbols):
        raise ConfigError(f"duplicate collateral symbols: {symbols}")
    for a in cfg.collaterals:  # VaultEngine's pairwise rule: bonus_i x threshold_j < 1 for every pair
        for b in cfg.collaterals:
            if a.liquidation_bonus * b.liquidation_threshold >= WAD * WAD:
                raise ConfigError(f"collateral {a.symbol}'s bonus x {b.symbol}'s threshold must be < 1")
    return cfg


def load_config(path: Path | str) -> DeployConfig:
    """Read and check a YAML deployment configuration.

    Raises:
        ConfigError: unreadable file or bad content.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read deployment configuration {path}: {e}") from e
    return parse_config(raw)
