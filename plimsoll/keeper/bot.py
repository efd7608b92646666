"""The keeper's lifecycle: the off-chain liquidation bot.

One asyncio process on a WebSocket JSON-RPC connection, in three phases (pymaker's Lifecycle):

* start: connect (bounded by ``connect_timeout``), check the chain, open the state database (plimsoll.keeper.store)
  and restore the vault index and pending transactions from it;
* per block: it learns of blocks from a ``newHeads`` subscription and always works on the newest one (a block that
  arrives while it is busy replaces any waiting block: no queue of stale blocks). For block N it
  - brings the vault index to N (plimsoll.keeper.index: Borrow events since the last scanned block, so a restart
    replays every block it missed; a reorg is detected by block hash and the forked blocks scanned again);
  - follows its pending transactions (plimsoll.keeper.dispatcher);
  - reads everything at N (prices, rate, parameters, and through VaultLens in bounded chunks the vaults that
    events named since the last block: plimsoll.keeper.positions keeps the others), so that no decision mixes two
    blocks;
  - decides (plimsoll.keeper.strategy, pure: the exact mirror of the contracts) and sends margin calls and
    ``liquidateBatch`` transactions, lowest health first, within its pUSD inventory (or, in flash mode, through
    its FlashLiquidator, as far as selling the seized collateral on Uniswap v2 pays for them);
* stop: on ``stop()`` (SIGINT/SIGTERM in the CLI) after the current block; a lost node ends it with KeeperError.

Every decision is logged as one JSON line; ``dry_run`` decides and logs but sends nothing.
The bar (../shared/DESIGN.md): a vault liquidatable in block N is liquidated in block N+1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from eth_account import Account
from web3 import AsyncWeb3, LegacyWebSocketProvider, Web3
from web3.exceptions import BlockNotFound, ContractLogicError, ProviderConnectionError

from ..sdk.contracts import Manifest, PinnedRead, Protocol, load_abi
from ..sdk.math import MAX_UINT256, LiquidationParams, MarginCallTerms, accrue
from ..sdk.reconcile import collateral_params, reconcile
from .dispatcher import Call, Dispatcher
from .errors import KeeperError
from .index import REORG_WINDOW, VaultIndex
from .metrics import KeeperMetrics, serve
from .positions import PositionCache, named_vaults, vault_topics
from .store import KeeperStore
from ..sdk.uniswap import artifact
from ..sdk.websocket import WaitingWebSocketProvider, async_web3
from .strategy import DRIP_GAS, GAS_NEXT_VAULT, BlockState, GasTerms, Sales, call_batches, choose, decide, seized_amounts

log = logging.getLogger("plimsoll.keeper")

#: Largest JSON-RPC message accepted from the node, bytes (websockets' default is 1 MiB).
MAX_MESSAGE = 64 * 2**20
#: Most per-vault calls in flight at once.
READ_CONCURRENCY = 50
#: Flash mode: the executor must keep at least 1/FLASH_PROFIT_KEPT of the sale's expected profit, or revert.
FLASH_PROFIT_KEPT = 2
#: Seconds a margin-call webhook may take before the notice is logged as failed.
NOTIFY_TIMEOUT = 5.0
#: Most blocks' worth of gas sent in one look (a keeper slower than the chain fills the blocks until its next).
MAX_BLOCKS_AHEAD = 4

__all__ = ["Keeper", "KeeperConfig", "KeeperError"]


@dataclass
class KeeperConfig:
    """Keeper settings.

    Attributes:
        ws_url: WebSocket JSON-RPC endpoint.
        manifest: the deployment to watch.
        private_key: hex key of the liquidator account (holds the pUSD inventory).
        state_url: SQLAlchemy URL of the state database (default: in memory, lost at exit; the CLI defaults to an
            SQLite file beside the manifest).
        dry_run: decide and log, send nothing.
        batch_size: most vaults per liquidateBatch or marginCallBatch transaction.
        gas_margin: gas limit = simulated gas × this.
        priority_fee_wei: EIP-1559 tip.
        connect_timeout: seconds to reach the node at start (retrying with backoff); then KeeperError.
        read_chunk: most vaults per VaultLens call (bounds each eth_call's gas and response size).
        log_range: most blocks per event-log query.
        reorg_window: block hashes remembered to find a reorg's fork point, in blocks.
        watchdog: seconds without a new head after which the keeper raises the alarm and exits (KeeperError).
        metrics_host, metrics_port: where to serve /metrics and /health (None: not served).
        stuck_blocks: a transaction still pending this many blocks after its broadcast is replaced (same nonce,
            fees bumped, within fee_cap_wei and the liquidation's bonus valued at gas_token's price).
        fee_cap_wei: the highest maxFeePerGas ever paid, wei.
        gas_token: the collateral symbol whose oracle prices the chain's gas token (WETH on Ethereum).
        min_profit: the least profit (pUSD WAD) a vault must bring after its gas to be liquidated; None:
            liquidate regardless of profit.
        quiet: leave out the per-block ``read`` events.
        reconcile_every: run the margin reconciliation (plimsoll.sdk.reconcile) every this many blocks, on the
            block before the head, in a thread (0: never).
        flash_liquidator: address of a FlashLiquidator owned by the keeper's account: flash mode, no pUSD inventory
            (the seized collateral is sold on its Uniswap v2 pairs); None: liquidate from the pUSD inventory.
        flash_mint: in flash mode, fund the liquidation with pUSD's ERC-3156 flash mint (paying its fee) instead of
            the LiquidationEngine's flash-liquidation callback.
        notify_url: margin-call notices are POSTed here as JSON (None: only the ``margin_call_notice`` log line).
    """

    ws_url: str
    manifest: Manifest
    private_key: str
    state_url: str = "sqlite://"
    dry_run: bool = False
    batch_size: int = 100
    gas_margin: float = 1.3
    priority_fee_wei: int = 10**9
    connect_timeout: float = 30.0
    read_chunk: int = 400
    log_range: int = 10_000
    reorg_window: int = REORG_WINDOW
    watchdog: float = 300.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    reconcile_every: int = 0
    stuck_blocks: int = 2
    fee_cap_wei: int = 500 * 10**9
    gas_token: str = "WETH"
    min_profit: int | None = 0
    quiet: bool = False
    flash_liquidator: str | None = None
    flash_mint: bool = False
    notify_url: str | None = None


class Keeper:
    """The bot. Create, then ``await run()``; ``stop()`` ends it after the current block."""

    def __init__(self, config: KeeperConfig):
        self.cfg = config
        self.account = Account.from_key(config.private_key)
        self._latest_head: int | None = None
        self._last_worked = 0  # the last block decided on
        self._wake = asyncio.Event()
        self._stopping = False
        #: True once the bot works block by block (before that, a stop request cancels the start instead).
        self.started = False
        #: None until the first block; then whether this keeper leads (see KeeperStore.try_lead).
        self.leading: bool | None = None
        self.store: KeeperStore | None = None
        self.dispatcher: Dispatcher | None = None
        self.metrics = KeeperMetrics()
        self._heard_at: float | None = None  # monotonic time the newest head was heard
        self._reconciling: asyncio.Task | None = None
        self._gas_token_price: int | None = None  # pUSD WAD per gas token, from the last block read
        self._sync_protocol: Protocol | None = None  # blocking web3, for the reconciliation's thread
        self._notices: set[asyncio.Task] = set()  # webhook posts in flight
        self.positions = PositionCache()
        self._skips: dict[int, str] = {}  # vault id → reason it was left alone at the last block (logged once)
        self.stats = {"blocks": 0, "skipped_blocks": 0}

    # ------------------------------------------------------------------ lifecycle
    def emit(self, event: str, **fields: Any) -> None:
        """Log one decision as a JSON line."""
        log.info(json.dumps({"event": event, "t": round(time.time(), 3), **fields}, default=str))

    def stop(self) -> None:
        """Ask the bot to stop after the block it is working on."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Connect, subscribe to new heads and work until ``stop()``.

        Raises:
            KeeperError: wrong chain, the node cannot be reached within ``connect_timeout`` seconds, or the
                connection to it is lost.
            StateError: the state database cannot be opened or belongs to another deployment.
        """
        url = self.cfg.ws_url
        self.emit("connecting", url=url, timeout_s=self.cfg.connect_timeout)
        # Retries with web3's backoff, bounded in time by the timeout (not by a count of attempts). Messages up to
        # MAX_MESSAGE: a burst of events in one block range can exceed the websockets default of 1 MiB.
        provider = WaitingWebSocketProvider(url, websocket_kwargs={"max_size": MAX_MESSAGE},
                                            max_connection_retries=1_000)
        try:
            await asyncio.wait_for(provider.connect(), self.cfg.connect_timeout)
        except (asyncio.TimeoutError, ProviderConnectionError, OSError) as e:
            raise KeeperError(f"cannot reach the node at {url} within {self.cfg.connect_timeout:g} s: {e!r}") from e
        server = None
        try:
            if self.cfg.metrics_port is not None:
                try:
                    server = serve(self.metrics, self.cfg.metrics_host, self.cfg.metrics_port, self.cfg.watchdog)
                except OSError as e:
                    raise KeeperError(f"cannot serve metrics at {self.cfg.metrics_host}:{self.cfg.metrics_port}: "
                                      f"{e}") from e
            self.w3 = async_web3(provider)
            await self._setup()
            sub_id = await self.w3.eth.subscribe("newHeads")
            reader = asyncio.create_task(self._read_heads())
            reader.add_done_callback(lambda _: self._wake.set())  # a lost connection wakes the loop to report it
            # Ready once subscribed: every head from here on is heard (one mined before could be missed).
            self.emit("ready", keeper=self.account.address, network=self.cfg.manifest.network,
                      dry_run=self.cfg.dry_run, state=self.store.url, scanned_to=self.index.scanned_to,
                      vaults=len(self.index.vault_ids))
            try:
                await self._work(reader)
            finally:
                reader.cancel()
                try:
                    await self.w3.eth.unsubscribe(sub_id)
                except Exception:  # the node may already be gone at shutdown
                    pass
        finally:
            if self._reconciling is not None:
                self._reconciling.cancel()
            if server is not None:
                server.shutdown()
            if self.store is not None:
                self.store.close()
            try:
                await provider.disconnect()
            except Exception as e:  # a connection that already failed re-raises its error here: the cause is reported
                self.emit("disconnect_error", error=repr(e))
        self.emit("stopped", **self.stats, **(self.dispatcher.stats if self.dispatcher else {}))

    async def _setup(self) -> None:
        m = self.cfg.manifest
        chain_id = await self.w3.eth.chain_id
        if chain_id != m.chain_id:
            raise KeeperError(f"node is chain {chain_id}, manifest {m.network} is chain {m.chain_id}")
        c = lambda name, addr: self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(addr), abi=load_abi(name))
        self.engine = c("VaultEngine", m.contracts["VaultEngine"])
        self.nft = c("VaultNFT", m.contracts["VaultNFT"])
        self.liquidation = c("LiquidationEngine", m.contracts["LiquidationEngine"])
        self.lens = c("VaultLens", m.contracts["VaultLens"])
        self.portfolio = c("PortfolioMargin", m.contracts["PortfolioMargin"])
        self.pusd = c("PUSD", m.contracts["PUSD"])
        self.oracles = {s: c("OracleAdapter", col.oracle) for s, col in m.collaterals.items()}
        self.token_symbol = {col.token.lower(): s for s, col in m.collaterals.items()}
        self.tokens = {s: col.token for s, col in m.collaterals.items()}
        self._topics = {**vault_topics(self.engine.abi), **vault_topics(self.liquidation.abi),
                        **vault_topics(self.nft.abi)}
        read = lambda fn: PinnedRead(self.w3, fn)
        ef, lf = self.engine.functions, self.liquidation.functions
        # Every block's reads, encoded once: rate, last drip, stability fee, the keeper's pUSD, the scenario grids;
        # per collateral its price, type, liquidation room and margin-call terms.
        self._block_reads = [read(ef.rate()), read(ef.lastDrip()), read(ef.stabilityFee()),
                             read(self.pusd.functions.balanceOf(self.account.address)),
                             read(self.portfolio.functions.scenarioGrids())]
        self._token_reads = {s: (read(self.oracles[s].functions.price()), read(ef.collateralType(t)),
                                 read(lf.liquidationRoom(t)), read(lf.marginCallTerms(t)))
                             for s, t in self.tokens.items()}
        self._borrow_topic = self.engine.events.Borrow().topic
        self._call_topic = self.liquidation.events.MarginCall().topic
        self.flash = None
        if self.cfg.flash_liquidator:
            await self._setup_flash(c)
        lf = self.liquidation.functions
        values = await asyncio.gather(
            lf.targetHealth().call(), lf.fullLiquidationHealth().call(), lf.protocolShare().call(),
            self.engine.functions.dust().call(), lf.bonusFloor().call(), lf.maxBonusHealth().call(),
            self.engine.functions.collateralTokens().call(),
            self._hash_at(m.block),
        )
        self.params = LiquidationParams(*values[:6])
        self.listed = [self.token_symbol.get(t.lower()) for t in values[6]]  # grid columns, in listing order
        if values[7] is None:
            raise KeeperError(f"the node has no block {m.block}, where manifest {m.network} says it was deployed")
        self.store = KeeperStore(self.cfg.state_url, chain_id, m.contracts["VaultEngine"], m.block, values[7])
        self.dispatcher = Dispatcher(self.w3, self.account, chain_id, self.store, self.emit, self.metrics,
                                     self.cfg.gas_margin, self.cfg.priority_fee_wei, self.cfg.dry_run,
                                     self.cfg.stuck_blocks, self.cfg.fee_cap_wei)
        self.dispatcher.head = lambda: self._latest_head
        self._load_state()
        await self.dispatcher.start()

    async def _setup_flash(self, c) -> None:
        """Flash mode: the FlashLiquidator (owned by this keeper's account) and its router's Uniswap v2 factory.

        Raises:
            KeeperError: the FlashLiquidator has another owner or does not serve this deployment."""
        self.flash = c("FlashLiquidator", self.cfg.flash_liquidator)
        f = self.flash.functions
        owner, engine, router = await asyncio.gather(f.owner().call(), f.liquidationEngine().call(), f.router().call())
        if owner.lower() != self.account.address.lower():
            raise KeeperError(f"FlashLiquidator {self.flash.address} belongs to {owner}, not this keeper "
                              f"({self.account.address})")
        if engine.lower() != self.liquidation.address.lower():
            raise KeeperError(f"FlashLiquidator {self.flash.address} serves LiquidationEngine {engine}, "
                              f"not {self.liquidation.address}")
        router = self.w3.eth.contract(address=router, abi=artifact("v2-periphery", "UniswapV2Router02")[0])
        self.factory = self.w3.eth.contract(address=await router.functions.factory().call(),
                                            abi=artifact("v2-core", "UniswapV2Factory")[0])
        self.pairs: dict[str, tuple[Any, bool]] = {}  # symbol → (pair, whether the collateral is token0)
        self._pair_abi = artifact("v2-core", "UniswapV2Pair")[0]  # read once, not per block
        self.emit("flash_mode", executor=self.flash.address, router=router.address,
                  funding="flash mint" if self.cfg.flash_mint else "callback")

    async def _reserves(self, number: int) -> dict[str, tuple[int, int]]:
        """Flash mode: (collateral reserve, pUSD reserve) of each collateral's pair at block ``number``; a pair
        created after start is found at the first block it exists."""
        for sym, token in self.tokens.items():
            if sym not in self.pairs:
                address = await self.factory.functions.getPair(token, self.pusd.address).call(block_identifier=number)
                if int(address, 16):
                    pair = self.w3.eth.contract(address=address, abi=self._pair_abi)
                    token0 = await pair.functions.token0().call()
                    self.pairs[sym] = (pair, token0.lower() == token.lower())
        syms = list(self.pairs)
        got = await asyncio.gather(*(self.pairs[s][0].functions.getReserves().call(block_identifier=number)
                                     for s in syms))
        return {s: (r[0], r[1]) if self.pairs[s][1] else (r[1], r[0]) for s, r in zip(syms, got)}

    def _load_state(self) -> None:
        """The vault index and the pending transactions, as the state database holds them; every vault is read
        again at the next block."""
        self.index = VaultIndex(self.store, self._scan, self._hash_at, self.cfg.log_range, self.cfg.reorg_window)
        self.positions.invalidate()
        self.dispatcher.restore()

    async def _hash_at(self, number: int) -> str | None:
        """The node's block hash at ``number`` (0x…), None when it has no such block."""
        try:
            return (await self.w3.eth.get_block(number))["hash"].to_0x_hex()
        except BlockNotFound:
            return None

    async def _scan(self, first: int, last: int) -> set[int]:
        """One event query for blocks first..last (inclusive): every event of the two engines that names a vault.
        The vaults named are read again at the next block (the position cache); the owner of every vault
        margin-called there, by anyone, gets a notice. The index scans each block once, and a restart scans the
        blocks it missed, so every call gets its notice (twice only if a reorg replays its block).

        Returns:
            the vault ids of the Borrow events (they enter the index).
        """
        logs = await self.w3.eth.get_logs({"fromBlock": first, "toBlock": last,
                                           "address": [self.engine.address, self.liquidation.address,
                                                       self.nft.address],
                                           "topics": [sorted(self._topics)]})
        self.positions.touch(named_vaults(logs, self._topics))
        borrowed = set()
        for entry in logs:
            topic = entry["topics"][0].to_0x_hex()
            if topic == self._borrow_topic:
                borrowed.add(int.from_bytes(entry["topics"][1], "big"))
            elif topic == self._call_topic:
                await self._notify(self.liquidation.events.MarginCall().process_log(entry))
        return borrowed

    async def _notify(self, ev: Any) -> None:
        """Tell a margin-called vault's owner: a ``margin_call_notice`` log line, and a JSON POST to
        ``notify_url`` when set (in the background, ``NOTIFY_TIMEOUT`` seconds at most; a failure is logged as
        ``notice_failed`` and never stops the keeper)."""
        a = ev["args"]
        owner = await self.nft.functions.ownerOf(a["vaultId"]).call(block_identifier=ev["blockNumber"])
        notice = {"vault": a["vaultId"], "owner": owner, "deadline": a["deadline"], "hard_floor": a["hardFloor"],
                  "premium": a["premium"], "health_factor": a["healthFactor"], "block": ev["blockNumber"],
                  "tx": ev["transactionHash"].to_0x_hex()}
        self.emit("margin_call_notice", **notice)
        if self.cfg.notify_url:
            task = asyncio.create_task(self._post_notice(notice))
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    async def _post_notice(self, notice: dict[str, Any]) -> None:
        try:
            r = await asyncio.to_thread(requests.post, self.cfg.notify_url,
                                        json={"event": "margin_call", **notice}, timeout=NOTIFY_TIMEOUT)
            r.raise_for_status()
        except requests.RequestException as e:
            self.emit("notice_failed", vault=notice["vault"], error=repr(e))

    async def _read_heads(self) -> None:
        async for msg in self.w3.socket.process_subscriptions():
            head = msg["result"]
            number = head["number"] if isinstance(head["number"], int) else int(head["number"], 16)
            if self._wake.is_set() and self._latest_head is not None:
                self.stats["skipped_blocks"] += 1
            self._latest_head = number
            self._heard_at = time.monotonic()
            self.metrics.heard_head(number)
            self._wake.set()

    async def _work(self, reader: asyncio.Task) -> None:
        self.started = True
        while not self._stopping:
            # The watchdog: a node that stops producing heads (or a subscription that silently died) must not leave
            # the keeper waiting forever: raise the alarm and exit, so that a supervisor restarts it or pages.
            last = self._heard_at if self._heard_at is not None else self.metrics.started_at
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, last + self.cfg.watchdog - time.monotonic()))
            except asyncio.TimeoutError:
                self.emit("watchdog", seconds=self.cfg.watchdog, head=self._latest_head)
                raise KeeperError(f"no new head from {self.cfg.ws_url} for {self.cfg.watchdog:g} s (watchdog)")
            self._wake.clear()
            if self._stopping:
                continue
            if reader.done():
                raise KeeperError(f"lost the node at {self.cfg.ws_url}: no more new heads "
                                  f"({reader.exception()!r})" if not reader.cancelled() else "head reader cancelled")
            if self._latest_head is None:
                continue
            number, heard_at = self._latest_head, self._heard_at
            started = time.monotonic()
            try:
                await self.on_block(number, heard_at)
            except (KeeperError, asyncio.CancelledError):
                raise
            except Exception as e:
                # One bad block (a revert, an RPC error, a malformed answer) must not halt the bot; the next head
                # retries from fresh state.
                self.emit("block_error", block=number, error=repr(e))
                self.metrics.block_errors.inc()
            self.metrics.worked(number, bool(self.leading), len(self.index.vault_ids))
            self._maybe_reconcile(number)
            self.stats["blocks"] += 1
            log.debug("block %s took %.1f ms", number, 1000 * (time.monotonic() - started))

    def _maybe_reconcile(self, number: int) -> None:
        """Start a reconciliation of block ``number − 1`` (one the node serves consistently) every
        ``reconcile_every`` blocks, on the leader, unless one is still running."""
        every = self.cfg.reconcile_every
        if not every or number % every or not self.leading:
            return
        if self._reconciling is not None and not self._reconciling.done():
            return
        self._reconciling = asyncio.create_task(self._reconcile(number - 1))

    async def _reconcile(self, block: int) -> None:
        started = time.monotonic()
        try:
            if self._sync_protocol is None:
                self._sync_protocol = Protocol(Web3(LegacyWebSocketProvider(self.cfg.ws_url)), self.cfg.manifest)
            rec = await asyncio.to_thread(reconcile, self._sync_protocol, block)
        except Exception as e:  # a failed check is reported, never fatal to the keeper
            self.emit("reconcile_error", block=block, error=repr(e))
            return
        self.metrics.reconciled_block.set(block)
        self.metrics.mismatches.set(len(rec.mismatches))
        self.emit("reconcile", block=block, ok=rec.ok, mismatches=rec.mismatches, vaults=rec.vaults,
                  unpriced_vaults=rec.unpriced_vaults, seconds=round(time.monotonic() - started, 3))

    # ------------------------------------------------------------------ one block
    async def on_block(self, number: int, heard_at: float | None = None) -> None:
        """Bring the index to block ``number``, read state at it, and margin-call or liquidate what is unsafe
        (``heard_at``: monotonic time its head was heard, for the latency metric).

        A standby (shared state, another keeper leads) does nothing; when it takes the lead it reloads the index and
        the pending transactions that the last leader left in the state."""
        leading = self.store.try_lead()
        if leading != self.leading:
            if leading and self.leading is not None:  # a takeover: pick up where the last leader stopped
                self._load_state()
                await self.dispatcher.start()
            self.leading = leading
            self.emit("role", block=number, role="leader" if leading else "standby")
        if not leading:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        block = await self.w3.eth.get_block(number)
        synced = await self.index.sync(number, block["hash"].to_0x_hex())
        if "reorg_from" in synced:
            self.positions.invalidate()  # states read in the forked blocks may be gone
            self.emit("reorg", block=number, scan_from=synced["reorg_from"])
        if synced["new"]:
            self.emit("vaults_discovered", block=number, new=synced["new"], total=len(self.index.vault_ids))
        check = self.dispatcher.check(number, block["baseFeePerGas"], block["gasLimit"], self._gas_token_price)
        if not self.index.vault_ids:
            await check
            return
        # Following the pending transactions and reading the block are independent: both at once, and both finished
        # (whatever fails) before anything is decided.
        checked, state = await asyncio.gather(check, self.read_state(block), return_exceptions=True)
        for outcome in (checked, state):
            if isinstance(outcome, BaseException):
                raise outcome
        self._gas_token_price = state.prices.get(self.cfg.gas_token)
        # What the blocks until the keeper's next look can still take: a block's gas limit for each block its last
        # one took (it works the newest head, so a keeper slower than the chain looks every few blocks), less what
        # its pending transactions may use, and a drip that the simulations at this block do not see (DRIP_GAS).
        # Only that much is decided and sent; the rest waits for the next look instead of queueing in the pool.
        ahead = min(MAX_BLOCKS_AHEAD, max(1, number - self._last_worked)) if self._last_worked else 1
        self._last_worked = number
        room = state.gas_limit * ahead - self.dispatcher.pending_gas - DRIP_GAS
        busy = self.dispatcher.busy
        vault_gas = self.dispatcher.vault_gas or GAS_NEXT_VAULT
        d = decide(state, self.token_symbol, self.params, limit=len(busy) + max(0, room) // vault_gas)
        groups, left, gas = call_batches([v for v in d.calls if v not in busy], self.cfg.batch_size, max(0, room),
                                         self.cfg.gas_margin)
        skips = d.skips + [(v, "block full") for v in left]
        calls = [Call(self.liquidation.functions.marginCall(ids[0]) if len(ids) == 1
                      else self.liquidation.functions.marginCallBatch(list(ids)), ids) for ids in groups]
        batches, more = self.liquidate(state, d.plans, room - gas) if d.plans else ([], [])
        await self.dispatcher.send_all(number, state.base_fee, calls + batches, heard_at, room)
        # Logged once sent: thousands of lines in a crash block must not delay the broadcast.
        for ids in groups:
            for vault_id in ids:
                self.emit("margin_call", block=number, vault=vault_id)
        chosen = {v for b in batches for v in b.vault_ids}
        for vault_id, plan in d.plans:
            if vault_id in chosen:
                self.emit("decide", block=number, vault=vault_id, hf=plan.health_factor, repay=plan.repay,
                          fee=plan.protocol_fee, fraction=plan.fraction, seized=plan.seized_value, full=plan.full)
        self._log_skips(number, skips + more)
        if not self.cfg.quiet:
            self.emit("worked", block=number, ms=round(1000 * (time.perf_counter() - wall), 1),
                      cpu_ms=round(1000 * (time.process_time() - cpu), 1))

    def _log_skips(self, number: int, skips: list[tuple[int, str]]) -> None:
        """Log each vault left alone when its reason is new: a vault that waits out a grace window for a hundred
        blocks is logged when it starts waiting, not at every block (10,000 lines a block at scale)."""
        now = dict(skips)
        for vault_id, reason in now.items():
            if self._skips.get(vault_id) != reason:
                self.emit("skip", block=number, vault=vault_id, reason=reason)
        self._skips = now

    async def _price(self, symbol: str, number: int) -> int | None:
        """The oracle's WAD price at block ``number``, or None when it reverts (the engine then counts that
        collateral as unpriced: worth zero, never seized)."""
        try:
            return await self._token_reads[symbol][0].at(number)
        except ContractLogicError:
            return None

    async def read_state(self, block: Any) -> BlockState:
        """Read, all at ``block`` (a web3 block): vault states, oracle prices (None where an oracle reverts),
        collateral parameters, the rate inputs and the keeper's pUSD balance."""
        number = block["number"]
        at = {"block_identifier": number}
        symbols = list(self.tokens)
        # First and alone: a read left running after another read failed would update the cache behind the next
        # block's back.
        await self._read_vaults(number)
        results = await asyncio.gather(
            *(r.at(number) for r in self._block_reads),
            *(self._price(s, number) for s in symbols),
            *(self._token_reads[s][k].at(number) for k in (1, 2, 3) for s in symbols),
        )
        rate, last_drip, fee, inventory, (initial, maintenance) = results[:5]
        n = len(symbols)
        prices = dict(zip(symbols, results[5 : 5 + n]))
        column = {sym: j for j, sym in enumerate(self.listed)}
        params = {s: collateral_params(ct, column.get(s), initial, maintenance)
                  for s, ct in zip(symbols, results[5 + n : 5 + 2 * n])}
        rooms = {s: None if room == MAX_UINT256 else room for s, room in zip(symbols, results[5 + 2 * n : 5 + 3 * n])}
        terms = {s: MarginCallTerms(*t) for s, t in zip(symbols, results[5 + 3 * n :])}
        vaults, calls = list(self.positions.states.values()), dict(self.positions.calls)
        current = accrue(rate, fee, block["timestamp"] - last_drip)
        reserves, fee_rate, max_loan = {}, 0, None
        if self.flash is not None:
            reserves = await self._reserves(number)
            if self.cfg.flash_mint:
                fee_rate, max_loan = await asyncio.gather(
                    self.pusd.functions.flashFeeRate().call(**at),
                    self.pusd.functions.maxFlashLoan(self.pusd.address).call(**at))
        return BlockState(number, block["timestamp"], block["baseFeePerGas"], current, vaults, prices, params,
                          inventory, rooms, terms, calls, block["gasLimit"], reserves, fee_rate,
                          max_loan)

    async def _read_vaults(self, number: int) -> None:
        """Bring the position cache to block ``number``: the VaultLens states of the stale vaults (named by events
        since the last read, or never read; all of them after a restart or a reorg), ``read_chunk`` per call, and
        the margin-call states of those in a call. Vaults found without debt leave the index (a Borrow event brings
        them back)."""
        indexed = self.index.vault_ids
        ids = self.positions.stale(indexed)
        size = self.cfg.read_chunk
        chunks = await asyncio.gather(*(self.lens.functions.vaults(ids[i : i + size]).call(block_identifier=number)
                                        for i in range(0, len(ids), size)))
        vaults = [v for chunk in chunks for v in chunk]
        called = [v[0] for v in vaults if v[2] and v[6]]
        calls = []
        for i in range(0, len(called), READ_CONCURRENCY):  # bounded: a crash can put hundreds of vaults in a call
            calls += await asyncio.gather(*(self.liquidation.functions.marginCallOf(v).call(block_identifier=number)
                                            for v in called[i : i + READ_CONCURRENCY]))
        self.index.drop(self.positions.update(indexed, vaults, dict(zip(called, calls))))
        if not self.cfg.quiet:
            self.emit("read", block=number, vaults=len(vaults), calls=len(chunks), cached=len(self.positions.states))

    def liquidate(self, state: BlockState, plans: list, room: int) -> tuple[list[Call], list[tuple[int, str]]]:
        """The liquidations to send for the unsafe vaults that are not pending: within the pUSD inventory (or in
        flash mode as far as the sales of the seized collateral pay for them) and within ``room``, the gas the next
        block has left. Returns the calls, and the vaults left alone with the reason (strategy.choose)."""
        budget = state.inventory - self.dispatcher.committed
        terms = GasTerms(gas_price=state.base_fee + self.cfg.priority_fee_wei,
                         gas_token_price=state.prices.get(self.cfg.gas_token), block_gas=state.gas_limit,
                         gas_margin=self.cfg.gas_margin, min_profit=self.cfg.min_profit, room=room,
                         vault_gas=self.dispatcher.vault_gas)
        sales = seized = None
        if self.flash is not None:
            sales = Sales(state.reserves, state.flash_fee_rate, state.max_loan)
            seized = seized_amounts(state, self.token_symbol, plans)
        batches, skips = choose(plans, self.dispatcher.busy, budget, self.cfg.batch_size, terms, sales, seized)
        by_id = dict(plans)
        calls = []
        for b in batches:
            ids = list(b.vault_ids)
            # Flash mode: the executor reverts if the sale leaves less than half of what it should (a sandwich then
            # costs the keeper its gas, not its bonus), or less than --min-profit.
            floor = max(self.cfg.min_profit or 0, b.earned // FLASH_PROFIT_KEPT)
            if self.flash is None:
                fn = (self.liquidation.functions.liquidate(ids[0]) if len(ids) == 1
                      else self.liquidation.functions.liquidateBatch(ids))
            elif self.cfg.flash_mint:
                fn = self.flash.functions.liquidateWithFlashMint(ids, b.cost, floor)
            else:
                fn = self.flash.functions.liquidate(ids, floor)
            bonus = (b.earned if self.flash is not None
                     else sum(by_id[v].seized_value - by_id[v].cost for v in b.vault_ids))
            calls.append(Call(fn, b.vault_ids, b.cost, bonus))
        return calls, skips
