"""``plimsoll``: one command line for the demo, deployment, the keeper, the risk engine and the ABI export.

Exit codes: 0 success, 1 a run failed (demo step, keeper), 2 bad usage or input (click's convention).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, track
from rich.table import Table

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Plimsoll CDP protocol tooling: run the end-to-end demo, deploy, manage vaults, run the liquidation keeper,
    the risk engine and the margin reconciliation, export ABIs."""


# ---------------------------------------------------------------------------------------------- demo
def _parse_prices(values: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for v in values:
        sym, sep, path = v.partition("=")
        if not sep or not sym or not path:
            raise click.BadParameter(f"expected SYMBOL=PATH, got {v!r}", param_hint="--prices")
        out[sym] = Path(path)
    return out


def _parse_step(value: str) -> Decimal | None:
    if value.lower() in ("none", "0", "off"):
        return None
    try:
        pct = Decimal(value)
    except InvalidOperation as e:
        raise click.BadParameter(f"not a number: {value!r}", param_hint="--max-step") from e
    if pct <= 0 or pct >= 100:
        raise click.BadParameter("must lie between 0 and 100 (percent), or 'none'", param_hint="--max-step")
    return pct / 100


@main.command()
@click.option("--vaults", default=300, show_default=True, type=click.IntRange(1, 10_000), help="User vaults to open.")
@click.option("--prices", "prices", multiple=True, metavar="SYMBOL=PATH",
              help="Replay a CryptoDataDownload CSV for a collateral, e.g. WETH=../shared/data/market/"
                   "Binance_ETHUSDT_1h.csv (give one per collateral). Default: the generated crash path.")
@click.option("--from", "start", metavar="ISO_UTC", help="Replay window start (UTC), e.g. 2020-03-12T00:00.")
@click.option("--to", "end", metavar="ISO_UTC", help="Replay window end (UTC, exclusive).")
@click.option("--max-step", "max_step", default="2", show_default=True, metavar="PCT",
              help="Interpolate so no oracle round moves the price more than PCT percent "
                   "(0.5 mimics a live Chainlink feed; 'none' keeps only candle points).")
@click.option("--block-time", default=1.0, show_default=True, type=click.FloatRange(0.2, 30),
              help="Seconds between blocks (Anvil interval mining).")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(2, 24 * 30),
              help="Length of the generated path (ignored with --prices).")
@click.option("--seed", default=42, show_default=True, help="Seed for the vault spread (and the generated path).")
@click.option("--portfolio-share", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the two-collateral vaults opened in portfolio margin at their maximum borrow.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment configuration (default scripts/config/local.yaml).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the manifest, logs and report.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON report here (default WORKDIR/report.json).")
def demo(vaults, prices, start, end, max_step, block_time, hours, seed, portfolio_share, config_path, workdir,
         report_path):
    """Deploy to a fresh local Anvil, open vaults, replay a price path into the Chainlink mocks while the keeper
    (a separate process) liquidates, then print and save a report.

    The default path is generated: correlated geometric Brownian motion for WETH and WBTC with a 6-hour crash
    (-45 % / -35 %) and a partial rebound, walked through each hourly candle's open, extremes and close.
    """
    from .demo.prices import MarketDataError, generated_crash, load_candles, parse_utc
    from .demo.run import Demo, DemoError, DemoOptions

    try:
        if prices:
            t0 = parse_utc(start) if start else None
            t1 = parse_utc(end) if end else None
            candles = {sym: load_candles(path, t0, t1) for sym, path in _parse_prices(prices).items()}
        else:
            if start or end:
                raise click.BadParameter("--from/--to need --prices")
            candles = generated_crash(hours=hours, seed=seed)
    except (MarketDataError, ValueError) as e:
        raise click.UsageError(str(e)) from e

    opts = DemoOptions(vaults=vaults, candles=candles, max_step=_parse_step(max_step), block_time=block_time,
                       seed=seed, portfolio_share=portfolio_share, workdir=workdir, report_path=report_path)
    if config_path:
        opts.config_path = config_path
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        tasks: dict[str, int] = {}
        labels = {"deploy": "deploying", "vaults": "opening vaults", "replay": "replaying price rounds"}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            report = Demo(opts, progress).run()
        except DemoError as e:
            console.print(f"[red]demo failed:[/] {e}")
            sys.exit(1)
    print_report(report)
    console.print(f"report written to {opts.report_path or opts.workdir / 'report.json'}")


def print_report(report: dict) -> None:
    """Print the demo report as a table."""
    table = Table(title="Plimsoll demo report", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("vaults", "became_liquidatable", "liquidated", "missed", "liquidations", "full_liquidations",
                "liquidations_per_liquidated_vault", "repaid", "borrower_penalty", "penalty_per_repaid", "bad_debt", "surplus", "price_rounds", "blocks", "block_time_s", "max_step", "duration_s"):
        table.add_row(key, str(report.get(key)))
    b = report["blocks_to_liquidate"]
    table.add_row("blocks_to_liquidate p50/p95/max", f"{b['p50']} / {b['p95']} / {b['max']}")
    table.add_row("liquidated in block N+1 (share of episodes)", f"{b.get('share_next_block')} of {b['episodes']}")
    table.add_row("… within the block gas limit", f"{b.get('share_next_block_within_caps')} "
                  f"({b.get('vaults_per_block_cap')} vaults a block)")
    table.add_row("insolvent_vaults", str(len(report["insolvent_vaults"])))
    mc = report["margin_calls"]
    table.add_row("margin calls: calls / cures / liquidated after", f"{mc['calls']} / {mc['cures']} / "
                  f"{mc['liquidated_after_call']}")
    if mc["answers_failed"]:  # an owner's answer that reverted: which vault, and the decoded error, are in the JSON
        table.add_row("owner answers that reverted", f"{len(mc['answers_failed'])} (vaults "
                      f"{', '.join(str(a['vault']) for a in mc['answers_failed'])})")
    pm = report["portfolio"]
    table.add_row("portfolio vaults: liquidated / insolvent / bad debt",
                  f"{pm['vaults']}: {pm['liquidated']} / {len(pm['insolvent'])} / {pm['bad_debt']}")
    g = report["gas_per_liquidation"]
    table.add_row("gas_per_liquidation p50/max", f"{g['p50']} / {g['max']}")
    rec = report["reconciliation"]
    table.add_row("reconciliation (debt, surplus, collateral, every vault's health)",
                  "holds" if rec["ok"] else "BROKEN: " + "; ".join(rec["mismatches"]))
    Console().print(table)


def _min_profit(value: str) -> int | None:
    """--min-profit: pUSD as a decimal number → WAD, or None for 'none'.

    Raises:
        click.BadParameter: neither a non-negative number nor 'none'.
    """
    from .sdk.math import to_wad

    if value.strip().lower() == "none":
        return None
    try:
        wad = to_wad(value)
    except InvalidOperation:
        wad = -1
    if wad < 0:
        raise click.BadParameter(f"{value!r}: give pUSD as a number >= 0, or 'none'", param_hint="--min-profit")
    return wad


# ---------------------------------------------------------------------------------------------- keeper
@main.group()
def keeper() -> None:
    """The off-chain liquidation keeper."""


@keeper.command("run")
@click.option("--ws", "ws_url", required=True, help="WebSocket JSON-RPC URL, e.g. ws://127.0.0.1:8545.")
@click.option("--network", "network", metavar="NAME",
              help="Deployment to watch: reads deployments/NAME.json (written by `plimsoll deploy --name NAME`).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment manifest file, instead of --network.")
@click.option("--dry-run", is_flag=True, help="Decide and log, send no transaction.")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 500),
              help="Most vaults per liquidateBatch or marginCallBatch transaction (fewer when the block gas limit "
                   "requires).")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON log here.")
@click.option("--read-chunk", default=400, show_default=True, type=click.IntRange(1, 5_000),
              help="Most vaults per VaultLens call (bounds each call's gas and response size).")
@click.option("--connect-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds to reach the node at start (retrying); then exit 1 with the reason.")
@click.option("--state", "state_url", metavar="URL",
              help="SQLAlchemy URL of the keeper's state (vault index, scan cursor, pending transactions), kept "
                   "across restarts. Default: sqlite:///MANIFEST.keeper.sqlite, beside the manifest.")
@click.option("--watchdog", default=300.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds without a new head after which the keeper logs a watchdog alarm and exits 1 "
                   "(/health answers 503 once no head was heard for this long).")
@click.option("--metrics-port", type=click.IntRange(1, 65_535),
              help="Serve Prometheus /metrics and a JSON /health on this port (default: not served).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@click.option("--reconcile-every", default=0, show_default=True, type=click.IntRange(min=0), metavar="BLOCKS",
              help="Run the margin reconciliation (see `plimsoll reconcile`) every BLOCKS blocks on the block before "
                   "the head, in the background; logged as `reconcile` events and exported as metrics (0: never).")
@click.option("--stuck-blocks", default=2, show_default=True, type=click.IntRange(min=1),
              help="Replace a transaction still pending this many blocks after it was sent: same nonce, fees bumped "
                   "12.5 % or more, never beyond --max-fee-gwei nor beyond what the liquidation earns.")
@click.option("--max-fee-gwei", default=500.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="The highest maxFeePerGas the keeper ever pays, gwei.")
@click.option("--min-profit", default="0", show_default=True, metavar="PUSD",
              help="Least profit, in pUSD after its gas (priced at the base fee + tip and the WETH oracle's price), "
                   "that a vault must bring to be liquidated; 'none' liquidates regardless of profit.")
@click.option("--quiet", is_flag=True, help="Do not log the per-block `read` events (decisions are still logged).")
@click.option("--flash-liquidator", metavar="ADDRESS",
              help="Flash mode: liquidate through this FlashLiquidator (owned by the keeper's account) with no pUSD "
                   "inventory, selling the seized collateral on its Uniswap v2 pairs. A vault whose collateral has no "
                   "pair, or whose sale would not pay for it, is skipped.")
@click.option("--flash-mint", is_flag=True,
              help="In flash mode, borrow the pUSD with pUSD's ERC-3156 flash mint (and pay its fee) instead of the "
                   "LiquidationEngine's flash-liquidation callback.")
@click.option("--notify-url", metavar="URL",
              help="POST a JSON notice here for every margin call (vault, owner, deadline, hard floor, premium, health "
                   "factor, block, tx), whoever made it; each is logged as `margin_call_notice` either way.")
@click.option("--verbose", is_flag=True, help="Log block timings too.")
def keeper_run(ws_url, network, manifest, dry_run, batch_size, log_file, read_chunk, connect_timeout, state_url,
               watchdog, metrics_port, metrics_host, reconcile_every, stuck_blocks, max_fee_gwei, min_profit, quiet,
               flash_liquidator, flash_mint, notify_url, verbose):
    """Watch every new block and liquidate vaults with health factor < 1.

    The liquidator key is read from the environment variable PLIMSOLL_KEEPER_KEY (hex), never from the command
    line; that account must hold the pUSD used to repay debt, unless --flash-liquidator is given.

    Its state survives restarts: a restarted keeper scans on from the last block it scanned (no gap), keeps the
    vaults of its unmined transactions busy, and detects reorgs by block hash.

    SIGINT / SIGTERM stop it in every state: while connecting or setting up at once (exit 0), while working after
    the current block (exit 0). Exit 1 when the node cannot be reached within --connect-timeout, is on another
    chain, is lost while running, or sends no new head for --watchdog seconds, or when the state belongs to another
    deployment.
    """
    from .keeper.bot import Keeper, KeeperConfig, KeeperError
    from .sdk.contracts import DEPLOYMENTS_DIR, Manifest, ManifestError

    if bool(network) == bool(manifest):
        raise click.UsageError("give exactly one of --network NAME or --manifest PATH")
    manifest = manifest or DEPLOYMENTS_DIR / f"{network}.json"
    key = os.environ.get("PLIMSOLL_KEEPER_KEY")
    if not key:
        raise click.UsageError("set PLIMSOLL_KEEPER_KEY to the liquidator's private key (hex)")
    if flash_mint and not flash_liquidator:
        raise click.UsageError("--flash-mint needs --flash-liquidator")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    for h in handlers:
        h.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers, force=True)
    for noisy in ("web3", "websockets", "asyncio", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        state_url = state_url or f"sqlite:///{manifest.with_suffix('.keeper.sqlite').resolve()}"
        cfg = KeeperConfig(ws_url=ws_url, manifest=Manifest.load(manifest), private_key=key, dry_run=dry_run,
                           batch_size=batch_size, connect_timeout=connect_timeout, read_chunk=read_chunk,
                           state_url=state_url, watchdog=watchdog, metrics_port=metrics_port,
                           metrics_host=metrics_host, reconcile_every=reconcile_every, stuck_blocks=stuck_blocks,
                           fee_cap_wei=int(Decimal(str(max_fee_gwei)) * 10**9), quiet=quiet,
                           min_profit=_min_profit(min_profit), flash_liquidator=flash_liquidator,
                           flash_mint=flash_mint, notify_url=notify_url)
        bot = Keeper(cfg)
    except (ManifestError, ValueError) as e:
        raise click.UsageError(str(e)) from e

    async def _main() -> None:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()

        def on_signal() -> None:
            bot.stop()  # working: finish the current block, then stop
            if not bot.started:
                task.cancel()  # connecting or setting up: nothing to finish

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await bot.run()

    try:
        asyncio.run(_main())
    except asyncio.CancelledError:
        console.print("keeper stopped before it was ready")
    except KeeperError as e:
        console.print(f"[red]keeper failed:[/] {e}")
        sys.exit(1)


# ---------------------------------------------------------------------------------------------- risk
@main.group()
def risk() -> None:
    """Risk tooling over price history."""


@risk.command("grid")
@click.option("--prices", "prices", multiple=True, metavar="SYMBOL=PATH", required=True,
              help="Hourly CryptoDataDownload CSV per collateral (exactly two), e.g. "
                   "WETH=../shared/data/market/Binance_ETHUSDT_1h.csv.")
@click.option("--confidence", default=0.995, show_default=True, type=click.FloatRange(0.9, 0.9999),
              help="Tail confidence of the 24-hour joint moves.")
@click.option("--mixes", default=7, show_default=True, type=click.IntRange(2, 16), help="Scenarios per grid.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment configuration whose LTV and LT size the grid (default scripts/config/local.yaml).")
def risk_grid(prices, confidence, mixes, config_path):
    """Derive portfolio-margin scenario grids from two collaterals' history (docs/portfolio-margin.md): print the
    grids as the deployment YAML's `portfolio_margin` section, and the borrowing power of mixed baskets under
    standard and portfolio margin."""
    import yaml

    from .demo.prices import MarketDataError
    from .risk.scenarios import borrowing_power, calibrated_grids, load_returns
    from .sdk.config import ConfigError, load_config

    paths = _parse_prices(prices)
    if len(paths) != 2:
        raise click.BadParameter("give exactly two collaterals", param_hint="--prices")
    try:
        cfg = load_config(config_path or Path(__file__).resolve().parents[1] / "scripts" / "config" / "local.yaml")
        symbols, returns = load_returns(paths)
        ltv = {s: Decimal(cfg.collateral(s).ltv) / 10**18 for s in symbols}
        lt = {s: Decimal(cfg.collateral(s).liquidation_threshold) / 10**18 for s in symbols}
        grids = calibrated_grids(symbols, returns, ltv, lt, confidence, mixes)
    except (MarketDataError, ConfigError, ValueError, KeyError) as e:
        raise click.UsageError(str(e)) from e
    click.echo(yaml.safe_dump({"portfolio_margin": grids.as_config()}, sort_keys=False))
    table = Table(title=f"Borrowing power of a $40,000 basket ({len(returns)} 24 h windows, {confidence:.3%} tail)")
    for col in (f"{symbols[0]} share", "standard", "portfolio", "gain"):
        table.add_column(col, justify="right")
    for w in (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0):
        std, pm = borrowing_power({symbols[0]: 40_000 * w, symbols[1]: 40_000 * (1 - w)}, grids, ltv)
        table.add_row(f"{w:.0%}", f"{std:,.0f}", f"{pm:,.0f}", f"{pm / std - 1:+.2%}")
    Console().print(table)


def _default_prices() -> tuple[str, ...]:
    from .demo.prices import market_dir

    return (f"WETH={market_dir() / 'Binance_ETHUSDT_1h.csv'}", f"WBTC={market_dir() / 'Binance_BTCUSDT_1h.csv'}")


@risk.command("params")
@click.option("--prices", "prices", multiple=True, metavar="SYMBOL=PATH",
              help="Hourly CryptoDataDownload CSV per collateral. Default: WETH and WBTC from the market data folder "
                   "($PLIMSOLL_MARKET_DATA or ../shared/data/market).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment configuration: current parameters, steward bounds, grids (default "
                   "scripts/config/local.yaml).")
@click.option("--confidence", default=0.99, show_default=True, type=click.FloatRange(0.9, 0.9999),
              help="Tail confidence of the bonus and LT rules.")
@click.option("--liquidation-hours", default=2, show_default=True, type=click.IntRange(1, 168),
              help="Hours from HF 1 to the liquidation (grace period + keeper): the LT rule's horizon.")
@click.option("--sale-hours", default=1, show_default=True, type=click.IntRange(1, 168),
              help="Hours a liquidator holds seized collateral: the bonus rule's horizon.")
@click.option("--sale-cost", default=0.005, show_default=True, type=click.FloatRange(0, 0.5),
              help="Gas and slippage of a liquidation, fraction of the value seized (added to the bonus).")
@click.option("--borrow-confidence", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.9999),
              help="Confidence that a fresh maximum loan survives --borrow-hours without a margin call (LTV rule).")
@click.option("--borrow-hours", default=24, show_default=True, type=click.IntRange(1, 720), help="See --borrow-confidence.")
@click.option("--model", type=click.Choice(["ewma", "garch"]), default="ewma", show_default=True,
              help="Volatility forecast of the predictive margin: RiskMetrics EWMA (λ 0.94) or GARCH(1,1)-t refitted "
                   "monthly on the past only.")
@click.option("--drawdown", default=0.2, show_default=True, type=click.FloatRange(0.01, 0.99),
              help="A 24-hour loss at least this large is a drawdown episode in the backtest.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("risk-output"),
              show_default=True, help="Folder for params.json, params.csv and backtest-SYMBOL.csv.")
def risk_params(prices, config_path, confidence, liquidation_hours, sale_hours, sale_cost, borrow_confidence,
                borrow_hours, model, drawdown, out_dir):
    """Recommend LTV, liquidation threshold and liquidation bonus per collateral from the tails of its price history
    (docs/risk.md), tighten LT ahead of storms from a volatility forecast (predictive margin, backtested on the same
    history), and give the step the risk steward may send today, checked against the engine's rules.

    Writes OUT/params.json (everything), OUT/params.csv (one row per collateral) and OUT/backtest-SYMBOL.csv (the
    daily forecast and LT path)."""
    import csv
    import json

    from .demo.prices import MarketDataError
    from .risk.advice import CSV_COLUMNS, advise, csv_rows
    from .risk.params import Horizons
    from .sdk.config import ConfigError, load_config

    paths = _parse_prices(prices or _default_prices())
    horizons = Horizons(confidence, sale_hours, sale_cost, liquidation_hours, borrow_confidence, borrow_hours)
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        try:
            cfg = load_config(config_path or Path(__file__).resolve().parents[1] / "scripts" / "config" / "local.yaml")
            report, days = advise(paths, cfg, horizons, model, drawdown, lambda step: bar.update(task, description=step))
        except (MarketDataError, ConfigError, ValueError) as e:
            raise click.UsageError(str(e)) from e
        except KeyError as e:
            raise click.UsageError(f"--prices names a collateral the configuration does not list: {e}") from e
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "params.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    with open(out_dir / "params.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(report))
    for s, frame in days.items():
        frame.to_csv(out_dir / f"backtest-{s}.csv", index_label="day", float_format="%.6g")

    table = Table(title=f"Recommended parameters ({confidence:.2%} ES; LT over {liquidation_hours} h, bonus over "
                        f"{sale_hours} h + {sale_cost:.2%}, LTV {borrow_confidence:.0%} VaR over {borrow_hours} h)")
    for col in ("collateral", "ES sale", "ES liq.", "VaR borrow", "LTV", "LT", "bonus (range)", "LT today",
                "current LTV/LT/LB", "steward today", "reverts"):
        table.add_column(col, justify="right")
    for s, c in report["collaterals"].items():
        ev, t, cur, p = c["evidence"], c["target"], c["current"], c["proposal"]
        table.add_row(
            s, f"{ev['sale_es']:.2%}", f"{ev['liquidation_es']:.2%}", f"{ev['borrow_var']:.2%}", t["ltv"],
            t["liquidation_threshold"], f"{t['bonus']} – {t['bonus_max']}", c["today"]["liquidation_threshold"],
            f"{cur['ltv']}/{cur['liquidation_threshold']}/{cur['liquidation_bonus']}",
            f"{p['ltv']}/{p['liquidation_threshold']}/{p['liquidation_bonus']}", c["reverts"] or "no",
        )
    Console().print(table)
    bt_table = Table(title=f"Predictive margin backtest ({model}; drawdown = 24 h loss ≥ {drawdown:.0%})")
    for col in ("collateral", "drawdowns", "tightened before", "lead days", "breaches static → steward",
                "calm-day cost"):
        bt_table.add_column(col, justify="right")
    for s, bt in report["backtest"].items():
        leads = [e["lead_days"] for e in bt["episodes"] if e["tightened"]]
        bt_table.add_row(
            s, str(len(bt["episodes"])), str(bt["tightened_before"]), ", ".join(map(str, leads)) or "–",
            f"{bt['breaches_static']} → {bt['breaches_dynamic']} of {bt['hours']:,} h", f"{bt['calm_cost']:.2%}",
        )
    Console().print(bt_table)
    console.print(f"wrote {out_dir / 'params.json'}, {out_dir / 'params.csv'} and the daily paths in "
                  f"{out_dir}/backtest-*.csv")


def _protocol(rpc_url: str, network: str | None, manifest: Path | None):
    """The deployment named by exactly one of --network / --manifest, on the node at ``rpc_url`` (http or ws).

    Raises:
        click.UsageError: both or neither given (exit 2). click.ClickException: the manifest cannot be read (exit 1).
    """
    from web3 import HTTPProvider, LegacyWebSocketProvider, Web3

    from .sdk.contracts import DEPLOYMENTS_DIR, Manifest, ManifestError, Protocol

    if bool(network) == bool(manifest):
        raise click.UsageError("give exactly one of --network NAME or --manifest PATH")
    try:
        m = Manifest.load(manifest or DEPLOYMENTS_DIR / f"{network}.json")
    except (ManifestError, OSError) as e:
        raise click.ClickException(str(e)) from e
    return Protocol(Web3(LegacyWebSocketProvider(rpc_url) if rpc_url.startswith("ws") else HTTPProvider(rpc_url)), m)


def _parse_scenario(value: str, symbols: list[str]) -> list[float]:
    """'WETH=-0.3,WBTC=-0.2' → shocks in ``symbols`` order (a collateral not named: 0)."""
    shocks = dict.fromkeys(symbols, 0.0)
    for part in value.split(","):
        sym, sep, x = part.partition("=")
        if not sep or sym.strip() not in shocks:
            raise click.BadParameter(f"expected SYMBOL=FRACTION with SYMBOL among {symbols}, got {part!r}",
                                     param_hint="--scenario")
        try:
            shocks[sym.strip()] = float(x)
        except ValueError as e:
            raise click.BadParameter(f"not a number: {x!r}", param_hint="--scenario") from e
        if not -1 <= shocks[sym.strip()] <= 10:
            raise click.BadParameter(f"a shock is a fraction in [-1, 10], got {x}", param_hint="--scenario")
    return [shocks[s] for s in symbols]


@risk.command("stress")
@click.option("--rpc", "rpc_url", required=True, help="JSON-RPC URL, http(s):// or ws(s)://.")
@click.option("--network", "network", metavar="NAME", help="Deployment: reads deployments/NAME.json.")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment manifest JSON (instead of --network).")
@click.option("--block", "block", type=click.IntRange(min=0), help="Block to read (default: the one before the head).")
@click.option("--scenario", "scenarios", multiple=True, metavar="SYM=FRACTION,...",
              help="A joint shock, e.g. 'WETH=-0.3,WBTC=-0.2'; repeat for more. Default: 24 scenarios, every "
                   "collateral falling by the same 2.5 % to 60 %.")
@click.option("--steps", default=1, show_default=True, type=click.IntRange(1, 10_000),
              help="Steps to reach each shock (1 = at once); each step is a keeper round at those prices.")
@click.option("--step-seconds", default=3600.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds between steps.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("risk-output"),
              show_default=True, help="Folder for stress.json and stress.csv.")
def risk_stress(rpc_url, network, manifest, block, scenarios, steps, step_seconds, out_dir):
    """Stress today's vaults: read every vault and parameter at one block, move the prices along each scenario, and
    run Plimsoll's own liquidation rules step by step (margin calls and their grace, the growing bonus, partial
    liquidation to the target health, volume caps, bad-debt write-off) with the cascade simulator (docs/risk.md).
    No owner is assumed to answer a margin call. Writes OUT/stress.json and OUT/stress.csv."""
    import csv
    import json

    import numpy as np

    from .risk.cascade import health_factors, simulate
    from .risk.chain import read_state, shock_paths

    p = _protocol(rpc_url, network, manifest)
    try:
        state = read_state(p, block if block is not None else p.w3.eth.block_number - 1)
    except Exception as e:  # any failure to read the chain: one clear line, exit 1
        raise click.ClickException(f"cannot read the deployment at {rpc_url}: {e!r}") from e
    if state.unpriced:
        raise click.ClickException(f"no price for {state.unpriced} at block {state.block}: cannot stress from it")
    if scenarios:
        shocks = np.array([_parse_scenario(s, state.symbols) for s in scenarios])
    else:
        shocks = -np.repeat(np.linspace(0.025, 0.60, 24)[:, None], len(state.symbols), axis=1)
    closing = float(state.rules.grace_period.max()) + 2
    times, prices = shock_paths(state.prices, shocks, steps, step_seconds, closing)
    out = simulate(state.book, state.rules, times, prices)
    rows = [
        {**{f"shock_{sym}": round(float(shocks[s, c]), 4) for c, sym in enumerate(state.symbols)},
         "vaults_liquidated": int(out.liquidated[s].sum()), "liquidations": int(out.liquidations[s]),
         "repaid": round(float(out.repaid[s]), 2), "borrower_penalty": round(float(out.borrower_penalty[s]), 2),
         "penalty_per_repaid": round(float(out.borrower_penalty[s] / out.repaid[s]), 6) if out.repaid[s] else None,
         "bad_debt": round(float(out.bad_debt[s]), 2), "wiped_out": int(out.wiped_out[s].sum()),
         "margin_calls": int(out.calls[s])}
        for s in range(len(shocks))
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "stress.json").write_text(json.dumps({
        "block": state.block, "timestamp": state.timestamp, "vaults_with_debt": int(state.book.debt.size),
        "debt": round(float(state.book.debt.sum()), 2),
        "prices": dict(zip(state.symbols, map(float, state.prices))), "steps": steps, "step_seconds": step_seconds,
        "scenarios": rows,
        "series": {k: v.tolist() for k, v in out.series.items()}, "times": times.tolist(),
        "health_factors": [round(float(h), 6) for h in health_factors(state.book, state.rules, state.prices)],
    }, indent=2) + "\n")
    with open(out_dir / "stress.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = Table(title=f"Stress at block {state.block}: {state.book.debt.size:,} vaults with debt, "
                        f"{state.book.debt.sum():,.0f} pUSD")
    for col in (*[f"{s} shock" for s in state.symbols], "liquidated", "liquidations", "repaid", "penalty",
                "bad debt", "wiped out"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(*[f"{r[f'shock_{s}']:+.1%}" for s in state.symbols], f"{r['vaults_liquidated']:,}",
                      f"{r['liquidations']:,}", f"{r['repaid']:,.0f}", f"{r['borrower_penalty']:,.0f}",
                      f"{r['bad_debt']:,.0f}", f"{r['wiped_out']:,}")
    Console().print(table)
    console.print(f"wrote {out_dir / 'stress.json'} and {out_dir / 'stress.csv'}")


@risk.command("compare")
@click.option("--prices", "prices", multiple=True, metavar="SYMBOL=PATH",
              help="Hourly CSV per collateral (default: WETH and WBTC from the market data folder).")
@click.option("--path", "path_names", multiple=True, type=click.Choice(["black_thursday", "may_2021", "generated"]),
              help="Price paths to compare on (default: all three).")
@click.option("--crashes", default=1, show_default=True, type=click.IntRange(1, 1_000),
              help="Generated crashes: the demo's (seed 7), then the same model from seeds 8, 9, ...; with more than "
                   "one, a summary says how often each policy cost borrowers least.")
@click.option("--vaults", default=10_000, show_default=True, type=click.IntRange(10, 1_000_000),
              help="Vaults in the population (the demo's spread, seeded).")
@click.option("--seed", default=42, show_default=True, help="Seed of the vault population.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Plimsoll's configuration (default scripts/config/local.yaml); its LT and bonus serve all policies.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("risk-output"),
              show_default=True, help="Folder for compare.json and compare.csv.")
def risk_compare(prices, path_names, crashes, vaults, seed, config_path, out_dir):
    """Compare Plimsoll's liquidation rules with Aave v3's, MakerDAO's, Liquity v1's and Euler v2's on the same vaults
    and price paths (docs/risk.md): per path and policy the vaults liquidated, liquidations, debt repaid, borrower
    penalty (value seized above debt repaid), penalty per $ repaid, bad debt and vaults wiped out. Writes
    OUT/compare.json and OUT/compare.csv; with --crashes N > 1, also the summary over the N crashes."""
    import csv
    import json

    from .demo.prices import MarketDataError
    from .risk.policies import ROWS, population, run_all
    from .risk.cascade import Rules
    from .risk.paths import crash_names, episode_steps
    from .risk.policies import family_summary
    from .sdk.config import ConfigError, load_config

    files = _parse_prices(prices or _default_prices())
    try:
        cfg = load_config(config_path or Path(__file__).resolve().parents[1] / "scripts" / "config" / "local.yaml")
        symbols = [c.symbol for c in cfg.collaterals]
        rules = Rules.from_config(cfg)
        rows, report = [], {}
        names = [n for name in path_names or ("black_thursday", "may_2021", "generated")
                 for n in (crash_names(crashes) if name == "generated" else [name])]
        for name in track(names, description="paths", console=console, transient=True, disable=len(names) < 4):
            times, steps = episode_steps(name, files, symbols)
            book = population(cfg, vaults, steps[0], seed)
            tallies = run_all(book, rules, times, steps)
            report[name] = {"steps": len(times), "vaults": vaults, "debt": round(float(book.debt.sum()), 2),
                            "policies": {}}
            for policy in ROWS:
                t = tallies[policy]
                row = {"path": name, "policy": policy, "vaults_liquidated": t.vaults_liquidated,
                       "liquidations": t.liquidations, "repaid": round(t.repaid, 2),
                       "borrower_penalty": round(t.borrower_penalty, 2),
                       "penalty_per_repaid": round(t.penalty_per_repaid, 6), "bad_debt": round(t.bad_debt, 2),
                       "wiped_out": t.wiped_out}
                rows.append(row)
                report[name]["policies"][policy] = row
    except (MarketDataError, ConfigError, KeyError, ValueError) as e:
        raise click.UsageError(str(e)) from e
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    with open(out_dir / "compare.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name, r in report.items():
        if name.startswith("generated-"):
            continue  # the family's summary below
        table = Table(title=f"{name}: {vaults:,} vaults, {r['debt']:,.0f} pUSD, {r['steps']} price steps")
        for col in ("policy", "vaults liquidated", "liquidations", "repaid", "borrower penalty", "per $ repaid",
                    "bad debt", "wiped out"):
            table.add_column(col, justify="right")
        for policy, row in r["policies"].items():
            table.add_row(policy, f"{row['vaults_liquidated']:,}", f"{row['liquidations']:,}", f"{row['repaid']:,.0f}",
                          f"{row['borrower_penalty']:,.0f}", f"{row['penalty_per_repaid']:.2%}",
                          f"{row['bad_debt']:,.0f}", f"{row['wiped_out']:,}")
        Console().print(table)
    if crashes > 1:
        family = family_summary(report)
        table = Table(title=f"{family['paths']} generated crashes: the policy with the lowest borrower penalty at "
                            "zero bad debt")
        for col in ("policy", "lowest on", "bad debt on", "mean per $ repaid"):
            table.add_column(col, justify="right")
        for policy, f in family["policies"].items():
            table.add_row(policy, f"{f['lowest']}", f"{f['bad_debt_paths']}", f"{f['mean_penalty_per_repaid']:.2%}")
        Console().print(table)
    console.print(f"wrote {out_dir / 'compare.json'} and {out_dir / 'compare.csv'}")


@risk.command("montecarlo")
@click.option("--prices", "prices", multiple=True, metavar="SYMBOL=PATH",
              help="Hourly CSV per collateral, the history to bootstrap (default: WETH and WBTC from the market data "
                   "folder).")
@click.option("--paths", "n_paths", default=1_000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Generated price paths.")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 30), help="Hours per path.")
@click.option("--block", default=24, show_default=True, type=click.IntRange(1, 24 * 30),
              help="Hours per bootstrap block.")
@click.option("--vaults", default=10_000, show_default=True, type=click.IntRange(10, 1_000_000),
              help="Vaults in the population (the demo's spread at the history's last prices).")
@click.option("--seed", default=7, show_default=True, help="Seed of the paths (the population uses seed 42).")
@click.option("--chunk", default=16, show_default=True, type=click.IntRange(1, 10_000), help="Paths per Dask task.")
@click.option("--scheduler", metavar="ADDRESS", help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786. Default: a "
                                                     "local cluster of --workers processes.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256), help="Local cluster workers.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Plimsoll's configuration (default scripts/config/local.yaml).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("risk-output"),
              show_default=True, help="Folder for montecarlo.json and montecarlo.csv.")
def risk_montecarlo(prices, n_paths, hours, block, vaults, seed, chunk, scheduler, workers, config_path, out_dir):
    """Bad debt and borrower losses over many generated price paths (docs/risk.md): block-bootstrapped from the joint
    hourly history, each run through Plimsoll's liquidation rules by the cascade simulator, on Dask. Writes
    OUT/montecarlo.json (the distribution and the timing) and OUT/montecarlo.csv (one row per path)."""
    import csv
    import json
    import time

    from .demo.prices import MarketDataError
    from .risk import montecarlo as mc
    from .risk.cascade import Rules
    from .risk.history import hourly_closes
    from .risk.policies import population
    from .sdk.config import ConfigError, load_config

    files = _parse_prices(prices or _default_prices())
    try:
        cfg = load_config(config_path or Path(__file__).resolve().parents[1] / "scripts" / "config" / "local.yaml")
        symbols = [c.symbol for c in cfg.collaterals]
        closes = hourly_closes({s: files[s] for s in symbols})
        start = closes.dropna().iloc[-1].to_numpy()
        multipliers = mc.bootstrap_paths(mc.hourly_log_returns(closes), n_paths, hours, block, seed)
        book = population(cfg, vaults, start)
    except (MarketDataError, ConfigError, KeyError, ValueError) as e:
        raise click.UsageError(str(e)) from e
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("simulating paths (chunks)", total=-(-n_paths // chunk))
        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        try:
            with Client(scheduler or cluster) as client:
                result = mc.run(book, Rules.from_config(cfg), start, multipliers, chunk=chunk, client=client,
                                progress=lambda done, total: bar.update(task, completed=done))
        except OSError as e:
            raise click.ClickException(f"cannot reach the Dask scheduler {scheduler}: {e}") from e
        finally:
            if cluster is not None:
                cluster.close()
    seconds = time.perf_counter() - started
    summary = result.summary() | {
        "vaults": vaults, "debt": round(float(book.debt.sum()), 2), "hours": hours, "block": block, "seed": seed,
        "start_prices": dict(zip(symbols, map(float, start))), "seconds": round(seconds, 2),
        "scheduler": scheduler or f"local cluster, {workers} workers",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "montecarlo.json").write_text(json.dumps(summary, indent=2) + "\n")
    with open(out_dir / "montecarlo.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *[f"worst_{s}" for s in symbols], "bad_debt", "borrower_penalty", "repaid",
                         "vaults_liquidated", "vaults_insolvent"])
        for i in range(n_paths):
            writer.writerow([i, *[round(float(x), 6) for x in result.worst_fall[i] - 1], round(float(result.bad_debt[i]), 2),
                             round(float(result.penalty[i]), 2), round(float(result.repaid[i]), 2),
                             int(result.liquidated[i]), int(result.insolvent[i])])
    table = Table(title=f"{n_paths:,} paths of {hours} h, {vaults:,} vaults ({summary['debt']:,.0f} pUSD), "
                        f"{seconds:.1f} s on {summary['scheduler']}")
    for col in ("", "mean", "p50", "p95", "p99", "max"):
        table.add_column(col, justify="right")
    for key in ("bad_debt", "borrower_penalty"):
        table.add_row(key.replace("_", " "), *[f"{summary[key][q]:,.0f}" for q in ("mean", "p50", "p95", "p99", "max")])
    Console().print(table)
    console.print(f"paths with bad debt: {summary['paths_with_bad_debt']:.2%}; wrote {out_dir / 'montecarlo.json'}")


@risk.command("report")
@click.option("--out", "out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=Path("risk-output"), show_default=True,
              help="The folder the other risk commands wrote to; report.html goes there too.")
@click.option("--prices", "prices", multiple=True, metavar="SYMBOL=PATH",
              help="Hourly CSV per collateral for the volatility and correlation plots (default: WETH and WBTC from "
                   "the market data folder).")
def risk_report(out_dir, prices):
    """One HTML page with plots from what `risk params`, `stress`, `montecarlo` and `compare` wrote to OUT (docs/risk.md):
    the recommended parameters, volatility and correlation over history, the health distribution of today's vaults,
    the cascade over time under the worst scenario, the Monte Carlo distribution and the comparison table and chart."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from .demo.prices import MarketDataError
    from .risk.report import write_report

    files = _parse_prices(prices or _default_prices())
    try:
        path = write_report(out_dir, files if all(p.exists() for p in files.values()) else None)
    except MarketDataError as e:
        raise click.UsageError(str(e)) from e
    console.print(f"wrote {path}")


@risk.command("calibrate")
@click.option("--workdir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="A finished `plimsoll demo` run: its vaults.json, rounds.json, config.yaml and "
                                      "report.json.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison here.")
def risk_calibrate(workdir, json_path):
    """Simulate a demo run off-chain with the cascade simulator (same vaults, same price rounds, same configuration)
    and compare with what the contracts did: the same liquidated and insolvent vaults, total repaid within 1 %, the
    liquidation count within 5 %, debt written off within 1 % (docs/risk.md). Exit code 1 when they disagree."""
    import json

    from .risk.calibrate import CalibrationInputError, calibrate

    try:
        result = calibrate(workdir)
    except CalibrationInputError as e:
        raise click.UsageError(str(e)) from e
    if json_path:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"Calibration on {workdir}: {'agrees' if result['ok'] else 'DISAGREES'}")
    for col in ("", "chain", "simulated"):
        table.add_column(col, justify="right")
    for key in result["chain"]:
        table.add_row(key, str(result["chain"][key]), str(result["simulated"][key]))
    Console().print(table)
    for name, passed in result["checks"].items():
        console.print(f"{'ok  ' if passed else 'FAIL'} {name.replace('_', ' ')}")
    if result["only_on_chain"] or result["only_simulated"]:
        console.print(f"liquidated only on-chain: {result['only_on_chain']}; only simulated: {result['only_simulated']}")
    if not result["ok"]:
        sys.exit(1)


# ---------------------------------------------------------------------------------------------- abi
@main.command()
def abi() -> None:
    """Export the compiled ABIs (ape's .build) to interfaces/abi/*.json, with every output named and the errors that
    surface from called contracts, and as TypeScript modules (`as const`) to interfaces/ts/ (run `ape compile`
    first)."""
    from .sdk.contracts import export_abis

    try:
        for path in export_abis():
            click.echo(path)
    except FileNotFoundError as e:
        raise click.ClickException(f"nothing compiled yet ({e}): run `ape compile`") from e
    except ValueError as e:
        raise click.ClickException(str(e)) from e


# ---------------------------------------------------------------------------------------------- deploy
@main.command()
@click.option("--network", "network", required=True, metavar="URL|CHOICE",
              help="Where to deploy: a node URL (http://127.0.0.1:8545) or an ape network choice "
                   "(ethereum:sepolia:node, with the node's URL in ape-config.yaml).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="YAML deployment configuration. Default: scripts/config/local.yaml.")
@click.option("--name", default="local", show_default=True,
              help="Manifest name: writes deployments/NAME.json (the name other commands' --network reads).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the manifest here instead of deployments/NAME.json.")
@click.option("--account", "account", default="TEST::0", show_default=True, metavar="ALIAS|TEST::I",
              help="Deployer: an ape account alias (a keystore made by `ape accounts import` or `generate`; ape "
                   "asks for its passphrase) or TEST::I, the I-th account of the test mnemonic (local nodes). "
                   "Never a private key on the command line.")
@click.option("--yes", "autosign", is_flag=True,
              help="Sign every transaction of the deployment without asking (a keystore account is unlocked once: "
                   "APE_ACCOUNTS_<alias>_PASSPHRASE or a prompt). Without it, ape asks before each one.")
def deploy(network, config_path, name, out, account, autosign) -> None:
    """Deploy Plimsoll (engines, pUSD, lenses, collateral types, Timelock, RiskSteward), hand the admin roles over
    as the configuration's governance section says, and write the deployment manifest (an address book that
    follows deployments/manifest.schema.json).

    Exit codes: 0 deployed, 1 a transaction failed (its decoded error is printed), 2 the configuration is invalid."""
    from ape.exceptions import ApeException

    from .sdk.config import ConfigError
    from .sdk.contracts import ManifestError
    from .sdk.deploy import DEFAULT_CONFIG, deploy_to

    try:
        manifest, path = deploy_to(network, config_path or DEFAULT_CONFIG, name, account, out, autosign=autosign)
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--config") from e
    except (ApeException, ManifestError) as e:
        raise click.ClickException(f"deploy failed: {type(e).__name__}: {e}") from e
    click.echo(f"deployed on chain {manifest.chain_id} at block {manifest.block}: VaultEngine "
               f"{manifest.contracts['VaultEngine']}; manifest {path}")


# ---------------------------------------------------------------------------------------------- vault
@main.group()
@click.option("--network", "network", required=True, metavar="URL|CHOICE",
              help="The node: a URL (http://127.0.0.1:8545) or an ape network choice (ethereum:sepolia:node).")
@click.option("--deployment", "deployment", default="local", show_default=True, metavar="NAME",
              help="Reads deployments/NAME.json.")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment manifest file, instead of --deployment.")
@click.option("--account", "account", default="TEST::0", show_default=True, metavar="ALIAS|TEST::I",
              help="Who signs: an ape account alias (a keystore; ape asks for its passphrase, or reads "
                   "APE_ACCOUNTS_<alias>_PASSPHRASE) or TEST::I, the I-th test account (local nodes). Never a key.")
@click.pass_context
def vault(ctx, network, deployment, manifest, account) -> None:
    """Your vaults: open, deposit, withdraw, borrow, repay, status, list (and a faucet for local mock tokens).
    Amounts are in whole tokens (1.5 WETH, 2500 pUSD); `max` withdraws or borrows the exact maximum for the next
    block, `all` repays the whole debt. Each transaction is simulated first and not sent if it would revert.

    Exit codes: 0 done, 1 a transaction would revert (its decoded custom error is printed) or failed, 2 bad input."""
    from .sdk.contracts import DEPLOYMENTS_DIR

    ctx.obj = {"network": network, "manifest": manifest or DEPLOYMENTS_DIR / f"{deployment}.json",
               "account": account}


def _vaults(ctx: click.Context, work) -> None:
    """Connect to the node, load the manifest and the account, and run ``work(vaults)``; then print every
    transaction sent. A transaction that would revert exits 1 with its decoded error; bad input exits 2."""
    from ape import Project, networks
    from ape.exceptions import ApeException
    from ape.logging import LogLevel, logger

    from .sdk.contracts import PROJECT_ROOT, Manifest, ManifestError
    from .sdk.deploy import resolve_account
    from .sdk.vaults import AmountError, Reverted, Vaults

    try:
        manifest = Manifest.load(ctx.obj["manifest"])
    except ManifestError as e:
        raise click.BadParameter(str(e), param_hint="--deployment/--manifest") from e
    v = None
    try:
        with logger.at_level(LogLevel.WARNING), networks.parse_network_choice(ctx.obj["network"]):
            v = Vaults(manifest, resolve_account(ctx.obj["account"]), Project(PROJECT_ROOT))
            work(v)
    except (AmountError, KeyError) as e:
        raise click.UsageError(str(e.args[0] if isinstance(e, KeyError) else e)) from e
    except Reverted as e:
        raise click.ClickException(f"not sent, it would revert: {e}") from e
    except ApeException as e:
        raise click.ClickException(str(e)) from e
    finally:
        for sent in v.sent if v else []:
            click.echo(f"{sent.action}: {sent.tx} (gas {sent.gas_used:,})")


def _units(value: int, decimals: int) -> str:
    """Token units as whole tokens, every significant digit kept: 15,999.999999999999999999."""
    return f"{Decimal(value).scaleb(-decimals).normalize():,f}"


@vault.command("faucet")
@click.argument("symbol")
@click.argument("amount")
@click.pass_context
def vault_faucet(ctx, symbol, amount) -> None:
    """Mint AMOUNT of the mock collateral SYMBOL to the account (local deployments only)."""
    from .sdk.vaults import parse_amount

    _vaults(ctx, lambda v: v.faucet(symbol, parse_amount(amount, v.decimals(symbol))))


@vault.command("open")
@click.argument("symbol")
@click.argument("amount")
@click.pass_context
def vault_open(ctx, symbol, amount) -> None:
    """Open a vault with AMOUNT of collateral SYMBOL (approving the engine first if needed)."""
    from .sdk.vaults import parse_amount

    _vaults(ctx, lambda v: click.echo(f"vault {v.open(symbol, parse_amount(amount, v.decimals(symbol)))}"))


@vault.command("deposit")
@click.argument("vault_id", type=click.IntRange(min=1))
@click.argument("symbol")
@click.argument("amount")
@click.pass_context
def vault_deposit(ctx, vault_id, symbol, amount) -> None:
    """Deposit AMOUNT of SYMBOL into VAULT_ID (approving the engine first if needed)."""
    from .sdk.vaults import parse_amount

    _vaults(ctx, lambda v: v.deposit(vault_id, symbol, parse_amount(amount, v.decimals(symbol))))


@vault.command("withdraw")
@click.argument("vault_id", type=click.IntRange(min=1))
@click.argument("symbol")
@click.argument("amount")
@click.option("--to", "to", metavar="ADDRESS", help="Recipient (default: the account).")
@click.pass_context
def vault_withdraw(ctx, vault_id, symbol, amount, to) -> None:
    """Withdraw AMOUNT of SYMBOL from VAULT_ID, or `max`: all that the margin allows in the next block."""
    from .sdk.vaults import parse_amount

    def work(v):
        done = v.withdraw(vault_id, symbol, parse_amount(amount, v.decimals(symbol), ("max",)), to)
        click.echo(f"withdrew {_units(done, v.decimals(symbol))} {symbol}")

    _vaults(ctx, work)


@vault.command("borrow")
@click.argument("vault_id", type=click.IntRange(min=1))
@click.argument("amount")
@click.option("--to", "to", metavar="ADDRESS", help="Recipient of the pUSD (default: the account).")
@click.pass_context
def vault_borrow(ctx, vault_id, amount, to) -> None:
    """Borrow AMOUNT pUSD against VAULT_ID, or `max`: the exact maximum for the next block."""
    from .sdk.vaults import parse_amount

    _vaults(ctx, lambda v: click.echo(
        f"borrowed {_units(v.borrow(vault_id, parse_amount(amount, 18, ('max',)), to), 18)} pUSD"))


@vault.command("repay")
@click.argument("vault_id", type=click.IntRange(min=1))
@click.argument("amount")
@click.pass_context
def vault_repay(ctx, vault_id, amount) -> None:
    """Repay AMOUNT pUSD of VAULT_ID's debt, or `all` (the debt grows every second: `all` repays it exactly)."""
    from .sdk.vaults import parse_amount

    _vaults(ctx, lambda v: v.repay(vault_id, parse_amount(amount, 18, ("all",))))


@vault.command("status")
@click.argument("vault_id", type=click.IntRange(min=1))
@click.pass_context
def vault_status(ctx, vault_id) -> None:
    """VAULT_ID as the PositionLens sees it now: debt, margins, health, maxima, and each collateral."""
    def work(v):
        card = v.lens.position(vault_id)
        if card.status == 2:  # NoSuchVault
            raise KeyError(f"no vault {vault_id}")
        _print_position(v, card)

    _vaults(ctx, work)


@vault.command("list")
@click.argument("owner", required=False, metavar="[OWNER]")
@click.pass_context
def vault_list(ctx, owner) -> None:
    """The vaults OWNER holds (default: the account), with debt and health."""
    def work(v):
        table = Table("vault", "debt (pUSD)", "collateral (USD)", "health", "max borrow (pUSD)")
        for card in v.owned(owner or v.account.address):
            table.add_row(str(card.vaultId), _units(card.debt, 18), _units(card.collateralValue, 18),
                          _health(card.healthFactor), _units(card.maxBorrow, 18))
        Console().print(table)

    _vaults(ctx, work)


def _health(hf: int) -> str:
    return "no debt" if hf == 2**256 - 1 else f"{Decimal(hf).scaleb(-18):.4f}"


def _print_position(v, card) -> None:
    symbols = {t.address: s for s, t in v.tokens.items()}
    status = ("ok", "unpriced collateral (health is a floor)")[card.status]
    table = Table("vault " + str(card.vaultId), status)
    for label, value in (("owner", card.owner), ("debt (pUSD)", _units(card.debt, 18)), ("collateral (USD)", _units(card.collateralValue, 18)),
                         ("borrowing power (USD)", _units(card.borrowPower, 18)),
                         ("maintenance (USD)", _units(card.maintenance, 18)), ("health", _health(card.healthFactor)),
                         ("max borrow (pUSD)", _units(card.maxBorrow, 18)),
                         ("margin mode", "portfolio" if card.portfolioMargin else "standard"),
                         ("margin call", f"until {card.marginCallDeadline}" if card.inMarginCall else "none")):
        table.add_row(label, value)
    Console().print(table)
    rows = Table("collateral", "amount", "price (USD)", "value (USD)", "max withdraw", "liquidation price (USD)")
    for c in card.collateral:
        rows.add_row(symbols.get(c.token, c.token), _units(c.amount, c.decimals),
                     _units(c.price, 18) if c.priced else "unpriced", _units(c.value, 18),
                     _units(c.maxWithdraw, c.decimals), _units(c.liquidationPrice, 18) if c.liquidationPrice else "-")
    Console().print(rows)


@main.command("reconcile")
@click.option("--rpc", "rpc_url", required=True, help="JSON-RPC URL, http(s):// or ws(s)://.")
@click.option("--network", "network", metavar="NAME", help="Deployment: reads deployments/NAME.json.")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Deployment manifest file, instead of --network.")
@click.option("--block", "block", type=click.IntRange(min=0),
              help="Block to reconcile at (default: the block before the head, whose state every node serves "
                   "consistently).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the result here as JSON.")
def reconcile_cmd(rpc_url, network, manifest, block, json_path):
    """Margin reconciliation at one block, from raw chain state: every vault's health recomputed with the exact
    mirror against the engine's, Σ vault debt = total debt, the surplus identity (not negative, equal to
    surplusRad), and per collateral the balances in vaults = booked = held.

    Exit 0 when everything holds, 2 when anything does not (each mismatch printed), 1 when the node or the
    manifest cannot be read.
    """
    import json

    from .sdk.reconcile import reconcile

    p = _protocol(rpc_url, network, manifest)
    try:
        at = block if block is not None else p.w3.eth.block_number - 1
        rec = reconcile(p, at)
    except Exception as e:  # any failure to read the chain: one clear line, exit 1
        raise click.ClickException(f"cannot read the deployment at {rpc_url}: {e!r}") from e
    table = Table(title=f"Plimsoll reconciliation at block {rec.block}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("vaults read / with debt", f"{rec.vaults} / {rec.figures['vaults_with_debt']}")
    for key in ("total_normalized_debt", "sum_vault_normalized_debt", "rate", "pusd_supply", "bad_debt_rad",
                "surplus_rad"):
        table.add_row(key, str(rec.figures[key]))
    for sym, c in rec.figures["collateral"].items():
        table.add_row(f"{sym}: in vaults / booked / held", f"{c['in_vaults']} / {c['booked']} / {c['held']}")
    table.add_row("vaults not recomputed (unpriced)", str(rec.unpriced_vaults))
    console.print(table)
    if json_path:
        json_path.write_text(json.dumps(rec.to_json(), indent=2) + "\n")
    if not rec.ok:
        for line in rec.mismatches:
            console.print(f"[red]mismatch:[/] {line}")
        sys.exit(2)
    console.print("[green]everything reconciles[/]")


if __name__ == "__main__":
    main()
