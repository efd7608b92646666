"""Deployment configuration: a YAML file of protocol and collateral parameters, checked and turned into the
integers the contracts take (WAD, RAY, token and feed decimals). See ``scripts/config/local.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .math import WAD, apr_to_per_second, to_wad


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


@dataclass(frozen=True)
class DeployConfig:
    """The whole deployment, in contract units.

    Attributes:
        debt_ceiling, dust: WAD pUSD; stability_fee: per-second RAY factor.
        target_health, full_liquidation_health, protocol_share: WAD.
        collaterals: in listing order.
    """

    debt_ceiling: int
    dust: int
    stability_fee: int
    target_health: int
    full_liquidation_health: int
    protocol_share: int
    collaterals: tuple[CollateralConfig, ...]

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
    )


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
    )
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
