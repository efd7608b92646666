"""The main job: deploy to a local Anvil, open vaults, replay a market into the Chainlink mocks, let the keeper
(a separate process) liquidate, and report.

Fairness of the replay: Anvil mines on a fixed interval from its start (``--block-time``); each price round is an
``updateAnswer`` transaction from the oracle operator, one block per round time, stamped with the round's time
(shifted so the replay starts at the chain's present); the keeper hears of rounds only through the node.
An independent monitor reads every block's on-chain health factors (VaultLens → VaultEngine.healthFactor), so the
report does not trust the keeper's own mirror.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, TypeVar

import requests
import yaml
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.logs import DISCARD

from ..sdk.anvil import BULK_BLOCK_GAS, Anvil, dev_private_key, set_next_block_timestamp
from ..sdk.config import ConfigError, DeployConfig, load_config
from ..sdk.contracts import PROJECT_ROOT, Manifest, ManifestError, Protocol, read_at
from ..sdk.errors import revert_reason
from ..sdk.math import WAD, rad_to_wad_str
from ..sdk.reconcile import in_chunks, reconcile
from .prices import Candle, Point, chainlink_rounds, generated_crash, interpolate, walk_candles

DEFAULT_CONFIG = PROJECT_ROOT / "scripts" / "config" / "local.yaml"
#: The demo's supply caps and debt ceiling hold this many times what its vaults deposit and borrow.
HEADROOM = 2
#: The oracle adapters' plausible price range covers the replay's extremes this many times over.
PRICE_RANGE = 100
DEPLOYER, KEEPER, FIRST_OWNER, ACCOUNTS = 0, 1, 2, 30
GAS = 800_000
#: Transactions sent before waiting for their receipts (the set-up's blocks hold them all: BULK_BLOCK_GAS).
WAVE = 500


class DemoError(RuntimeError):
    """A demo step failed (deploy, set-up transaction, keeper start); the message says which."""


@dataclass
class DemoOptions:
    """What to run.

    Attributes:
        vaults: number of user vaults.
        candles: symbol → candles to replay (default: the generated crash, see prices.generated_crash).
        max_step: largest price move per point of the path, fraction (None: candle points only).
        block_time: seconds between blocks (Anvil interval mining).
        deviation, heartbeat: Chainlink update rule (fraction, seconds).
        settle_blocks: blocks mined after the last round before the report, at least; then the demo keeps
            waiting, up to max_settle_blocks, until the monitor sees no vault below HF 1 (a keeper slowed down by a
            busy machine gets to finish, so that `missed` counts only vaults it could not liquidate).
        max_settle_blocks: the most blocks to wait after the last round.
        seed: vault generator seed.
        portfolio_share: share of the two-collateral vaults that switch to portfolio margin and borrow 99.5 % of
            their (portfolio) maximum; needs scenario grids in the configuration.
        workdir: where the manifest, logs and report go.
        report_path: JSON report (default workdir/report.json).
        config_path: deployment configuration.
    """

    vaults: int = 300
    candles: dict[str, list[Candle]] | None = None
    max_step: Decimal | None = Decimal("0.02")
    block_time: float = 1.0
    deviation: Decimal = Decimal("0.005")
    heartbeat: int = 3600
    settle_blocks: int = 5
    max_settle_blocks: int = 60
    seed: int = 42
    portfolio_share: float = 0.5
    workdir: Path = PROJECT_ROOT / "demo-output"
    report_path: Path | None = None
    config_path: Path = DEFAULT_CONFIG


@dataclass
class VaultSpec:
    """A user vault to open: owner account index, symbol → token amount (token decimals), debt (WAD), margin mode."""

    owner: int
    collateral: dict[str, int]
    debt: int
    vault_id: int = 0
    portfolio: bool = False
    responsive: bool = False  # answers a margin call: repays to its initial margin and cures


@dataclass
class Monitor:
    """Reads every block's on-chain health factors in a thread; ``unsafe[b]`` = vault ids with HF < 1 at b.

    Block b is read once the node is past it (head > b): Anvil answers a call at its head from live state, which
    while it mines the next block can already hold that block's state under the head's timestamp; an older block
    is served from its own snapshot, consistently.
    """

    w3: Web3
    lens: Any
    ids: list[int]
    start_block: int
    unsafe: dict[int, set[int] | None] = field(default_factory=dict)
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Monitor":
        """Start reading from ``start_block`` on, in a daemon thread; returns self."""
        self._next = self.start_block
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                head = _retrying(lambda: self.w3.eth.block_number)
                while self._next < head:
                    self._read(self._next)
                    self._next += 1
                time.sleep(0.05)
        except BaseException as e:  # reported by stop_at: a monitor that died silently would blind the report
            self.error = e

    def _read(self, b: int) -> None:
        try:
            # Encoded with eth_abi directly (read_at): web3's encoder, at every block for 10,000 ids, took a core
            # from the keeper and the node it measures.
            hfs = in_chunks(lambda chunk: _retrying(lambda: read_at(self.lens.functions.healthFactors(chunk), b)),
                            self.ids)
            self.unsafe[b] = {i for i, hf in zip(self.ids, hfs) if hf < WAD}
        except ContractLogicError:  # an oracle refused to price at b: no verdict for that block
            self.unsafe[b] = None

    def stop_at(self, last_block: int) -> None:
        """Read up to ``last_block`` inclusive, then stop.

        Raises:
            DemoError: the monitor failed (the node stopped answering).
        """
        while self._next <= last_block and self.error is None:
            time.sleep(0.05)
        self._stop.set()
        self.thread.join()
        if self.error is not None:
            raise DemoError(f"the health monitor failed: {self.error!r}") from self.error


def _retrying(read: Callable[[], Any], attempts: int = 5) -> Any:
    """``read()``, retried with backoff (0.1 s, doubling) when the connection to the node fails (a busy Anvil may
    reset one); the last failure is raised."""
    for attempt in range(attempts):
        try:
            return read()
        except (requests.ConnectionError, requests.Timeout):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * 2**attempt)


def deploy_quietly(url: str, config_path: Path, manifest_path: Path, name: str = "demo") -> None:
    """Deploy the configuration at ``config_path`` to the node at ``url`` in this process
    (plimsoll.sdk.deploy.deploy_to, ape's per-transaction lines silenced), writing the manifest to
    ``manifest_path``.

    Raises:
        DemoError: the deployment failed; the message carries the decoded custom error.
    """
    from ape.exceptions import ApeException  # ape loads only when a deployment runs

    from ..sdk.deploy import deploy_to

    try:
        deploy_to(url, config_path, name, out=manifest_path, verbose=False)
    except (ApeException, ConfigError, ManifestError, OSError) as e:
        raise DemoError(f"deploy failed: {type(e).__name__}: {e}") from e


def plan_vaults(n: int, prices: dict[str, Decimal], cfg: DeployConfig, seed: int,
                portfolio_share: float = 0.0) -> list[VaultSpec]:
    """``n`` vaults with a realistic spread: 55 % WETH only, 30 % WBTC only, 15 % both; collateral worth a
    log-normal amount around $20k (at least $1.5k); opening loan-to-value drawn from three groups, conservative
    (15-45 % of value), moderate (45-65 %) and aggressive (65 % up to 99 % of the basket's max LTV).
    ``portfolio_share`` of the two-collateral vaults use portfolio margin instead, opened at 99.5 % of their
    portfolio borrowing power (the worst initial-grid scenario) — the riskiest use of it."""
    rng = random.Random(seed)
    mode_rng = random.Random(seed + 1)  # its own stream: the spread above is the same whatever the share
    answer_rng = random.Random(seed + 2)
    symbols = list(prices)
    specs = []
    for i in range(n):
        r = rng.random()
        chosen = [symbols[0]] if r < 0.55 or len(symbols) == 1 else [symbols[1]] if r < 0.85 else symbols[:2]
        usd = max(Decimal(1500), Decimal(str(round(rng.lognormvariate(9.9, 0.9), 2))))
        weights = [Decimal(1)] if len(chosen) == 1 else [Decimal(str(round(rng.uniform(0.3, 0.7), 3)))]
        if len(chosen) == 2:
            weights.append(1 - weights[0])
        collateral, max_borrow = {}, Decimal(0)
        for sym, w in zip(chosen, weights):
            c = cfg.collateral(sym)
            amount = int(usd * w / prices[sym] * (Decimal(10) ** c.decimals))
            collateral[sym] = amount
            max_borrow += usd * w * Decimal(c.ltv) / WAD
        g = rng.random()
        ltv = (
            Decimal(str(rng.uniform(0.15, 0.45)))
            if g < 0.3
            else Decimal(str(rng.uniform(0.45, 0.65)))
            if g < 0.7
            else Decimal(str(rng.uniform(0.65, float(max_borrow / usd) * 0.99)))
        )
        debt = max(cfg.dust // WAD + 1, int(min(usd * ltv, max_borrow * Decimal("0.995"))))
        portfolio = len(chosen) == 2 and bool(cfg.initial_grid) and mode_rng.random() < portfolio_share
        if portfolio:
            cols = [symbols.index(sym) for sym in chosen]
            power = min(sum(usd * w * (1 + Decimal(row[j]) / WAD) for w, j in zip(weights, cols))
                        for row in cfg.initial_grid)
            debt = int(power * Decimal("0.995"))
        specs.append(VaultSpec(FIRST_OWNER + i % (ACCOUNTS - FIRST_OWNER), collateral, debt * WAD, 0, portfolio,
                               answer_rng.random() < 0.5))
    return specs


def write_replay_inputs(workdir: Path, specs: list[VaultSpec], rounds: dict[str, list[Point]]) -> None:
    """Write what the replay starts from, for ``plimsoll risk calibrate`` to simulate the same run off-chain:
    ``vaults.json`` (per user vault: id, collateral in token units, debt WAD at its borrow, margin mode, whether its
    owner answers a margin call) and ``rounds.json`` (per collateral: [unix seconds, USD price] of every round, the
    first being the start price)."""
    vaults = [
        {"id": s.vault_id, "collateral": {sym: str(a) for sym, a in s.collateral.items()}, "debt": str(s.debt),
         "portfolio": s.portfolio, "responsive": s.responsive}
        for s in specs
    ]
    (workdir / "vaults.json").write_text(json.dumps(vaults) + "\n")
    (workdir / "rounds.json").write_text(
        json.dumps({sym: [[r.time, str(r.price)] for r in rs] for sym, rs in rounds.items()}) + "\n"
    )


def keeper_collateral(specs: list[VaultSpec], price: Decimal, decimals: int) -> int:
    """The keeper's own vault (token units of the first collateral at ``price``): worth 5 times the users' total
    debt, so that borrowing that debt as its pUSD inventory leaves it at LTV 20 %."""
    return int(5 * Decimal(sum(s.debt for s in specs)) / WAD / price * 10**decimals)


def size_for_market(raw: dict[str, Any], rounds: dict[str, list[Point]], held: dict[str, int],
                    debt: int) -> dict[str, Any]:
    """A deployment configuration (parsed YAML, as in scripts/config) sized for the market it replays, whatever the
    assets' prices: a $2 token and a $50,000 one alike.

    Args:
        raw: the configuration; not modified.
        rounds: symbol → the replay's price points (USD).
        held: symbol → what the demo's vaults will deposit, token units.
        debt: what they will borrow, pUSD WAD.
    Returns:
        a copy in which each collateral's initial price is the replay's first, its plausible price range covers the
        replay's lowest and highest price PRICE_RANGE times over, its supply cap holds HEADROOM times ``held``, and
        the debt ceiling HEADROOM times ``debt``. A bound that is already wider is kept.
    """
    out = copy.deepcopy(raw)
    for c in out["collaterals"]:
        sym, decimals = c["symbol"], int(c["decimals"])
        prices = [p.price for p in rounds[sym]]
        c["initial_price"] = str(prices[0])
        c["min_price"] = str(min(Decimal(str(c["min_price"])), min(prices) / PRICE_RANGE))
        c["max_price"] = str(max(Decimal(str(c["max_price"])), max(prices) * PRICE_RANGE))
        cap = -(-HEADROOM * held.get(sym, 0) // 10**decimals)  # whole tokens, rounded up
        c["supply_cap"] = str(max(Decimal(str(c["supply_cap"])), Decimal(cap)))
    ceiling = -(-HEADROOM * debt // WAD)
    out["pusd"]["debt_ceiling"] = str(max(Decimal(str(out["pusd"]["debt_ceiling"])), Decimal(ceiling)))
    return out


T = TypeVar("T", int, float)


def percentile(xs: list[T], q: float) -> T | None:
    """The nearest-rank ``q``-quantile (0..1) of ``xs``: the smallest value with at least q·n values at or below it
    (None for an empty list)."""
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s), max(1, math.ceil(q * len(s)))) - 1]


class Demo:
    """One demo run (see module docstring). ``run()`` returns the report dict and writes it as JSON."""

    def __init__(self, opts: DemoOptions, progress: Callable[[str, int, int], None] | None = None):
        self.opts = opts
        self.progress = progress or (lambda stage, done, total: None)
        self.cfg = load_config(opts.config_path)
        opts.workdir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = opts.workdir / "manifest.json"
        self.report_path = opts.report_path or opts.workdir / "report.json"
        self._nonces: dict[str, int] = {}

    # ------------------------------------------------------------------ steps
    def run(self) -> dict[str, Any]:
        """Run everything and return the report.

        Raises:
            DemoError: a step failed (message names it). Anvil and the keeper are stopped in any case.
        """
        started = time.monotonic()
        candles = self.opts.candles or generated_crash()
        rounds = {
            s: chainlink_rounds(interpolate(walk_candles(c), self.opts.max_step), self.opts.deviation, self.opts.heartbeat)
            for s, c in candles.items()
        }
        missing = [c.symbol for c in self.cfg.collaterals if c.symbol not in rounds]
        if missing:
            raise DemoError(f"no price path for collateral(s) {missing}")
        anvil = Anvil(accounts=ACCOUNTS, block_time=self.opts.block_time, log_path=self.opts.workdir / "anvil.log")
        keeper = None
        with anvil:
            try:
                self.w3 = Web3(Web3.HTTPProvider(anvil.http_url, request_kwargs={"timeout": 60}))
                start_prices = {s: r[0].price for s, r in rounds.items()}
                specs = plan_vaults(self.opts.vaults, start_prices, self.cfg, self.opts.seed,
                                    self.opts.portfolio_share)
                first = self.cfg.collaterals[0]
                own = keeper_collateral(specs, start_prices[first.symbol], first.decimals)
                held: dict[str, int] = defaultdict(int, {first.symbol: own})
                for spec in specs:
                    for sym, amount in spec.collateral.items():
                        held[sym] += amount
                config_path = self.opts.workdir / "config.yaml"  # sized for this market
                raw = yaml.safe_load(self.opts.config_path.read_text())
                config_path.write_text(yaml.safe_dump(size_for_market(raw, rounds, held,
                                                                      2 * sum(s.debt for s in specs))))
                self.cfg = load_config(config_path)
                self.progress("deploy", 0, 1)
                deploy_quietly(anvil.http_url, config_path, self.manifest_path)
                self.progress("deploy", 1, 1)
                self.p = Protocol(self.w3, Manifest.load(self.manifest_path))
                self._setup(specs, own)
                write_replay_inputs(self.opts.workdir, specs, rounds)
                keeper = self._start_keeper(anvil.ws_url)
                ids = [s.vault_id for s in specs]
                monitor = Monitor(self.w3, self.p.lens, ids + [self.keeper_vault], self.w3.eth.block_number).start()
                replay_start = self.w3.eth.block_number
                n_rounds = self._replay(rounds)
                self._end_grace_windows(ids, {s: r[-1].price for s, r in rounds.items()})
                last = self._settle(monitor)
                monitor.stop_at(last)
                if keeper.poll() is not None:
                    raise DemoError(f"the keeper exited early (code {keeper.returncode}): "
                                    f"{keeper.stderr.read().decode()[-2000:]}")
            finally:
                if keeper is not None:
                    keeper.send_signal(signal.SIGINT)
                    try:
                        keeper.wait(15)
                    except subprocess.TimeoutExpired:
                        keeper.kill()
            report = self._report(specs, monitor, replay_start, last, n_rounds, rounds)
        report["duration_s"] = round(time.monotonic() - started, 1)
        self.report_path.write_text(json.dumps(report, indent=2) + "\n")
        return report

    def _transact(self, calls: list[tuple[int, Any]], what: str) -> list[dict]:
        """Send contract calls from unlocked dev accounts and return their receipts, in order.

        Nonces are tracked here, calls go out in waves of WAVE, and a transaction the node no longer knows
        (neither pending nor mined: Anvil's interval miner can lose one sent while it builds a block) is sent
        again with the same nonce.

        Raises:
            DemoError: a transaction reverted, or was still not mined after 3 resends.
        """
        receipts: list[dict] = []
        for i in range(0, len(calls), WAVE):
            receipts += [self._receipt(fn, params, h, what) for fn, params, h in self._send(calls[i : i + WAVE])]
            if len(calls) > WAVE:  # a long set-up step: show its progress
                self.progress(what, len(receipts), len(calls))
        return receipts

    def _send(self, calls: list[tuple[int, Any]]) -> list[tuple[Any, dict, Any]]:
        """Broadcast ``calls`` (sender account index, contract call) with locally tracked nonces, without waiting:
        [(call, tx params, tx hash)] in order, for ``_receipt``."""
        sent = []
        for sender, fn in calls:
            acct = self.w3.eth.accounts[sender]
            if acct not in self._nonces:
                self._nonces[acct] = self.w3.eth.get_transaction_count(acct, "pending")
            params = {"from": acct, "gas": GAS, "nonce": self._nonces[acct]}
            self._nonces[acct] += 1
            sent.append((fn, params, fn.transact(params)))
        return sent

    def _receipt(self, fn, params: dict, tx_hash, what: str) -> dict:
        for _ in range(4):
            deadline = time.monotonic() + max(15.0, 10 * self.opts.block_time)
            while time.monotonic() < deadline:
                try:
                    r = self.w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    time.sleep(0.05)
                    continue
                if r["status"] != 1:
                    raise DemoError(f"{what}: transaction {tx_hash.hex()} reverted: "
                                    f"{revert_reason(fn, params, r['blockNumber'])}")
                return r
            try:
                self.w3.eth.get_transaction(tx_hash)
                continue  # still pending: keep waiting
            except TransactionNotFound:
                tx_hash = fn.transact(params)  # lost by the node: send it again, same nonce
        raise DemoError(f"{what}: transaction {tx_hash.hex()} not mined after 3 resends")

    def _answer(self, sym: str, price: Decimal) -> int:
        return int(price * (Decimal(10) ** self.cfg.collateral(sym).feed_decimals))

    def _setup(self, specs: list[VaultSpec], keeper_collateral: int) -> None:
        """Token faucet and approvals, the user vaults (``specs``; their ids are filled in), and the keeper's own
        vault (``keeper_collateral`` of the first collateral, borrowing the users' total debt as its inventory).
        The feeds start at the replay's first prices (the configuration is sized for the market). The set-up's
        blocks may hold BULK_BLOCK_GAS gas, so that 10,000 vaults open in minutes; the replay's blocks have the
        node's usual limit."""
        limit = self.w3.eth.get_block("latest")["gasLimit"]
        self.w3.provider.make_request("evm_setBlockGasLimit", [hex(BULK_BLOCK_GAS)])
        try:
            self._open_vaults(specs, keeper_collateral)
        finally:
            self.w3.provider.make_request("evm_setBlockGasLimit", [hex(limit)])
        self._spec_of = {s.vault_id: s for s in specs}
        self.answers_failed: list[dict] = []

    def _open_vaults(self, specs: list[VaultSpec], keeper_collateral: int) -> None:
        p, w3 = self.p, self.w3
        engine = p.engine.address
        calls = []
        need: dict[tuple[int, str], int] = defaultdict(int)
        for s in specs:
            for sym, amt in s.collateral.items():
                need[(s.owner, sym)] += amt
        total_debt = sum(s.debt for s in specs)
        weth = self.cfg.collaterals[0]
        need[(KEEPER, weth.symbol)] += keeper_collateral
        for (owner, sym), amt in need.items():
            calls.append((owner, p.tokens[sym].functions.mint(w3.eth.accounts[owner], amt)))
            calls.append((owner, p.tokens[sym].functions.approve(engine, 2**256 - 1)))
        self._transact(calls, "faucet and approvals")
        self.progress("vaults", 0, len(specs))

        first = [(s, next(iter(s.collateral.items()))) for s in specs]
        opens = [(s.owner, p.engine.functions.open(p.tokens[sym].address, amt)) for s, (sym, amt) in first]
        opens.append((KEEPER, p.engine.functions.open(p.tokens[weth.symbol].address, keeper_collateral)))
        receipts = self._transact(opens, "open vaults")
        ids = [p.engine.events.VaultOpened().process_receipt(r, errors=DISCARD)[0]["args"]["vaultId"] for r in receipts]
        for s, vid in zip(specs, ids):
            s.vault_id = vid
        self.keeper_vault = ids[-1]
        calls = [(s.owner, p.engine.functions.deposit(s.vault_id, p.tokens[sym].address, amt))
                 for s in specs for sym, amt in list(s.collateral.items())[1:]]
        self._transact(calls, "second collateral deposits")
        calls = [(s.owner, p.engine.functions.setPortfolioMargin(s.vault_id, True)) for s in specs if s.portfolio]
        self._transact(calls, "switch to portfolio margin")
        calls = [(s.owner, p.engine.functions.borrow(s.vault_id, s.debt, w3.eth.accounts[s.owner])) for s in specs]
        calls.append((KEEPER, p.engine.functions.borrow(self.keeper_vault, total_debt, w3.eth.accounts[KEEPER])))
        self._transact(calls, "borrow")
        self.progress("vaults", len(specs), len(specs))

    def _start_keeper(self, ws_url: str) -> subprocess.Popen:
        log_path = self.opts.workdir / "keeper.log"
        state = self.opts.workdir / "keeper.sqlite"
        for old in (state, state.with_suffix(".sqlite-wal"), state.with_suffix(".sqlite-shm")):
            old.unlink(missing_ok=True)  # a fresh chain: an earlier run's state belongs to another deployment
        env = dict(os.environ, PLIMSOLL_KEEPER_KEY=dev_private_key(KEEPER))
        cmd = [sys.executable, "-m", "plimsoll.cli", "keeper", "run", "--ws", ws_url,
               "--manifest", str(self.manifest_path), "--log-file", str(log_path), "--state", f"sqlite:///{state}"]
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DemoError(f"keeper exited with code {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            if log_path.exists() and '"event": "ready"' in log_path.read_text():
                return proc
            time.sleep(0.1)
        proc.kill()
        raise DemoError("keeper did not report ready within 60 s")

    def _replay(self, rounds: dict[str, list[Point]]) -> int:
        """Send every round after the first (already the start price): one block per distinct round time."""
        by_time: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
        for sym, rs in rounds.items():
            for r in rs[1:]:
                by_time[r.time].append((sym, r.price))
        t0 = min(r[0].time for r in rounds.values())
        offset = self.w3.eth.get_block("latest")["timestamp"] + 1 - t0
        times = sorted(by_time)
        sent = 0
        last_ts = 0
        for k, t in enumerate(times):
            head = self.w3.eth.get_block("latest")
            stamp = max(t + offset, head["timestamp"] + 1, last_ts + 1)
            set_next_block_timestamp(self.w3, stamp)
            calls = [(DEPLOYER, self.p.feeds[s].functions.updateAnswer(self._answer(s, px))) for s, px in by_time[t]]
            receipts = self._transact(calls, "price round")
            self._answer_margin_calls()
            last_ts = self.w3.eth.get_block(receipts[-1]["blockNumber"])["timestamp"]
            sent += len(calls)
            self.progress("replay", k + 1, len(times))
        return sent

    def _answer_margin_calls(self) -> None:
        """Owners who answer (half of them, seeded) repay what brings a newly called vault back to its initial
        margin, plus 1 %, and cure it. The others leave it to be liquidated after the deadline.

        Each vault's answer stands alone: one that reverts (its decoded error is kept in ``answers_failed`` for
        the report, and the calibration treats that vault as not answering) leaves the other vaults' answers be.
        """
        p, head = self.p, self.w3.eth.block_number
        start = getattr(self, "_calls_scanned", head - 1) + 1
        self._calls_scanned = head
        events = p.liquidation.events.MarginCall().get_logs(from_block=start, to_block=head)
        answers: list[tuple[int, list]] = []
        for ev in events:
            spec = self._spec_of.get(ev["args"]["vaultId"])
            if spec is None or not spec.responsive:
                continue
            vid = spec.vault_id
            v, premium = self._newest(lambda at: (p.engine.functions.valuation(vid).call(block_identifier=at),
                                                  p.liquidation.functions.pendingPremium(vid).call(block_identifier=at)))
            need = v[0] + premium - v[2]  # debt + premium - borrow power
            calls = []
            if need > 0:  # else the price already brought it back: curing is enough
                # Same sender, consecutive nonces: the repay is mined before the cure.
                calls.append((spec.owner, p.engine.functions.repay(vid, need + need // 100 + WAD)))
            calls.append((spec.owner, p.liquidation.functions.cure(vid)))
            answers.append((vid, calls))
        sent = [(vid, self._send(calls)) for vid, calls in answers]
        for vid, txs in sent:
            for fn, params, tx_hash in txs:
                try:
                    self._receipt(fn, params, tx_hash, f"answer to the margin call on vault {vid}")
                except DemoError as e:
                    self.answers_failed.append({"vault": vid, "block": head, "error": str(e)})
                    break  # the cure after a failed repay fails too: one entry per vault

    def _newest(self, read: Callable[[int | str], Any]) -> Any:
        """``read(block)`` on the newest state, as an owner would: at "latest", or, when that call fails because
        it landed while Anvil mines the next block (see Monitor: the state and the timestamp of two blocks; the
        engine's rate then underflows), at that block once the node is past it, where it is consistent."""
        head = self.w3.eth.block_number
        try:
            return read("latest")
        except ContractLogicError:
            while self.w3.eth.block_number <= head + 1:
                time.sleep(0.05)
            return read(head + 1)

    def _end_grace_windows(self, ids: list[int], last_prices: dict[str, Decimal]) -> None:
        """After the last round, let the clock run past every open margin call's deadline (repeating the last
        prices, as a feed's heartbeat would), so that unanswered calls end in liquidation before the report."""
        p = self.p
        called = [v[0] for v in in_chunks(lambda chunk: p.lens.functions.vaults(chunk).call(), ids) if v[6]]
        if not called:
            return
        deadline = max(p.liquidation.functions.marginCallOf(i).call()[0] for i in called)
        head = self.w3.eth.get_block("latest")["timestamp"]
        set_next_block_timestamp(self.w3, max(deadline + 1, head + 1))
        self._transact([(DEPLOYER, p.feeds[s].functions.updateAnswer(self._answer(s, px)))
                        for s, px in last_prices.items()], "heartbeat round after the grace windows")

    def _settle(self, monitor: Monitor) -> int:
        """Wait ``settle_blocks`` blocks, then until the monitor's newest verdict shows no unsafe vault, for at most
        ``max_settle_blocks``; return the last block to report on (one the monitor has read)."""
        first = self.w3.eth.block_number
        while True:
            last = self.w3.eth.block_number - 1  # the monitor reads a block once the node is past it
            done = last - first >= self.opts.settle_blocks and monitor.unsafe.get(last) == set()
            if done or last - first >= self.opts.max_settle_blocks:
                return last
            time.sleep(0.05)

    # ------------------------------------------------------------------ report
    def _report(self, specs, monitor: Monitor, first: int, last: int, n_rounds: int, rounds) -> dict[str, Any]:
        p = self.p
        user_ids = {s.vault_id for s in specs}
        events = p.liquidation.events.Liquidate().get_logs(from_block=first, to_block=last)
        liq_by_block: dict[int, list[int]] = defaultdict(list)
        gas_by_tx: dict[str, list] = defaultdict(list)
        for ev in events:
            liq_by_block[ev["blockNumber"]].append(ev["args"]["vaultId"])
            gas_by_tx[ev["transactionHash"].hex()].append(ev)
        # Latency is the keeper's: vaults that were margin-called wait out their grace window by design.
        called_ids = {ev["args"]["vaultId"]
                      for ev in p.liquidation.events.MarginCall().get_logs(from_block=first, to_block=last)}
        gas = []
        for tx, evs in gas_by_tx.items():
            used = self.w3.eth.get_transaction_receipt(tx)["gasUsed"]
            gas += [used // len(evs)] * len(evs)
        # What one block can hold: its gas limit over the median gas of a liquidated vault.
        capacity = self.w3.eth.get_block(last)["gasLimit"] // percentile(gas, 0.5) if gas else 0
        open_since: dict[int, int] = {}
        delays: list[int] = []
        due = done = 0  # within caps: vaults waiting that block b could hold, and those it liquidated
        ever_unsafe: set[int] = set()
        for b in range(first, last + 1):
            waiting = {vid for vid in open_since if vid not in called_ids}
            taken = sum(1 for vid in liq_by_block.get(b, []) if vid in waiting)
            due += min(len(waiting), capacity)
            done += min(taken, len(waiting), capacity)
            for vid in liq_by_block.get(b, []):
                if vid in open_since:
                    since = open_since.pop(vid)
                    if vid not in called_ids:
                        delays.append(b - since)
            unsafe = monitor.unsafe.get(b)
            if unsafe is None:
                continue
            for vid in unsafe & user_ids:
                ever_unsafe.add(vid)
                open_since.setdefault(vid, b)
            for vid in list(open_since):
                if vid not in unsafe:
                    open_since.pop(vid)  # recovered without a liquidation
        liquidated = {ev["args"]["vaultId"] for ev in events} & user_ids
        final_unsafe = (monitor.unsafe.get(last) or set()) & user_ids
        rec = reconcile(self.p, last)
        portfolio_ids = {s.vault_id for s in specs if s.portfolio}
        written_off = p.engine.events.BadDebtWrittenOff().get_logs(from_block=first, to_block=last)
        insolvent = sorted({ev["args"]["vaultId"] for ev in written_off} & user_ids)
        uncovered = defaultdict(int)
        for ev in written_off:
            uncovered[ev["args"]["vaultId"]] += ev["args"]["debtRad"] - ev["args"]["coveredRad"]
        penalty = self._borrower_penalty(events)
        repaid = sum(ev["args"]["repaid"] for ev in events)
        return {
            "vaults": len(specs),
            "became_liquidatable": len(ever_unsafe),
            "liquidated": len(liquidated),
            "liquidated_vaults": sorted(liquidated),
            "missed": len(final_unsafe - liquidated),
            # A vault that was margin-called may end without a liquidation (cured, or the price came back): only the
            # others count here.
            "unsafe_never_liquidated": sorted(ever_unsafe - liquidated - called_ids),
            "still_unsafe_at_end": len(final_unsafe),
            "blocks_to_liquidate": {
                "p50": percentile(delays, 0.50), "p95": percentile(delays, 0.95), "max": max(delays, default=None),
                "episodes": len(delays),
                # liquidated in block N+1, N being the first block the monitor saw the vault unsafe
                "share_next_block": round(delays.count(1) / len(delays), 4) if delays else None,
                # The same within the block gas limit: over the blocks, the vaults liquidated out of those waiting
                # (unsafe at the block before, not margin-called), counting at most what the block could hold.
                "share_next_block_within_caps": round(done / due, 4) if due else None,
                "vaults_per_block_cap": capacity,
            },
            "liquidations": len(events),
            "full_liquidations": sum(1 for ev in events if ev["args"]["full"]),
            "liquidations_per_liquidated_vault": round(len(events) / len(liquidated), 3) if liquidated else None,
            "repaid": str(Decimal(repaid) / WAD),
            "borrower_penalty": str(Decimal(penalty) / WAD),
            "penalty_per_repaid": str(round(Decimal(penalty) / repaid, 6)) if repaid else None,
            "bad_debt": rad_to_wad_str(p.engine.functions.badDebtRad().call(block_identifier=last)),
            # debt of insolvent vaults written off, before the surplus covered any of it
            "written_off": rad_to_wad_str(sum(ev["args"]["debtRad"] for ev in written_off)),
            "insolvent_vaults": insolvent,
            "margin_calls": {
                "calls": len(p.liquidation.events.MarginCall().get_logs(from_block=first, to_block=last)),
                "cures": len(p.liquidation.events.MarginCallCured().get_logs(from_block=first, to_block=last)),
                "liquidated_after_call": len(p.liquidation.events.MarginCallEnded().get_logs(from_block=first,
                                                                                              to_block=last)),
                "answers_failed": self.answers_failed,
            },
            "portfolio": {
                "vaults": len(portfolio_ids),
                "became_liquidatable": len(ever_unsafe & portfolio_ids),
                "liquidated": len(liquidated & portfolio_ids),
                "liquidations": sum(1 for ev in events if ev["args"]["vaultId"] in portfolio_ids),
                "insolvent": sorted(set(insolvent) & portfolio_ids),
                "bad_debt": rad_to_wad_str(sum(uncovered[v] for v in portfolio_ids)),
            },
            "surplus": rad_to_wad_str(p.engine.functions.surplusRad().call(block_identifier=last)),
            "gas_per_liquidation": {"p50": percentile(gas, 0.5), "max": max(gas, default=None)},
            "block_time_s": self.opts.block_time,
            "price_rounds": n_rounds,
            "blocks": last - first + 1,
            "blocks_without_verdict": sum(1 for b in range(first, last + 1) if monitor.unsafe.get(b) is None),
            "max_step": str(self.opts.max_step) if self.opts.max_step else None,
            "prices": {
                s: {"start": str(r[0].price), "min": str(min(x.price for x in r)), "end": str(r[-1].price)}
                for s, r in rounds.items()
            },
            "keeper_vault": self.keeper_vault,
            "reconciliation": rec.to_json(),
        }

    def _borrower_penalty(self, events) -> int:
        """Σ over liquidations of (value of the collateral seized − debt repaid), WAD pUSD: what liquidations cost
        borrowers beyond their debt. Each seized amount is valued at the oracle price the liquidation itself read:
        the state after the previous block, or after this block's price round when that round came first (price
        rounds are the only transactions that move prices, at most one round batch per block)."""
        p = self.p
        feeds = {f.address for f in p.feeds.values()}
        decimals = {sym: self.cfg.collateral(sym).decimals for sym in p.tokens}
        round_index: dict[int, int | None] = {}
        seized: dict[str, dict[int, list]] = {}  # tx hash → vault id → its CollateralSeized events (a batch: many)
        prices: dict[tuple[str, int], int] = {}
        total = 0
        for ev in events:
            b, idx, tx = ev["blockNumber"], ev["transactionIndex"], ev["transactionHash"]
            if b not in round_index:
                txs = self.w3.eth.get_block(b, full_transactions=True)["transactions"]
                round_index[b] = next((t["transactionIndex"] for t in txs if t["to"] in feeds), None)
            first_round = round_index[b]
            at = b if first_round is not None and first_round < idx else b - 1
            if tx not in seized:  # one receipt per transaction, decoded once
                by_vault: dict[int, list] = defaultdict(list)
                receipt = self.w3.eth.get_transaction_receipt(tx)
                for s in p.engine.events.CollateralSeized().process_receipt(receipt, errors=DISCARD):
                    by_vault[s["args"]["vaultId"]].append(s)
                seized[tx] = by_vault
            value = 0
            for s in seized[tx].get(ev["args"]["vaultId"], []):
                sym = p.symbol_of(s["args"]["token"])
                if (sym, at) not in prices:
                    prices[sym, at] = p.oracles[sym].functions.price().call(block_identifier=at)
                value += s["args"]["amount"] * prices[sym, at] // 10 ** decimals[sym]
            total += value - ev["args"]["repaid"]
        return total
