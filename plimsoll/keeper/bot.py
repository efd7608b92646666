"""Keeper v1: the off-chain liquidation bot.

One asyncio process on a WebSocket JSON-RPC connection:

* it learns of blocks from a ``newHeads`` subscription and always works on the newest one (a block that arrives
  while it is busy replaces any waiting block: no queue of stale blocks);
* its vault set is the vaults that may have debt: learned from ``Borrow`` events (scanned from the deployment block
  and then block by block, in bounded block ranges), and dropped when read with no debt until they borrow again.
  Empty and debt-free vaults, however many are opened, cost nothing per block;
* for block N it reads everything at N (vault states through VaultLens in bounded chunks, prices, rate,
  parameters), so that no decision mixes two blocks, and computes health with the exact mirror (plimsoll.sdk.math);
* liquidatable vaults not already in a pending transaction go, lowest health first and as far as its pUSD
  inventory covers them, into ``liquidateBatch`` transactions (``liquidate`` for a single vault), signed locally
  with a nonce it tracks itself; each is simulated (gas estimate) before it is sent;
* every decision is logged as one JSON line; ``dry_run`` decides and logs but sends nothing.

The bar (../shared/DESIGN.md): a vault liquidatable in block N is liquidated in block N+1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account import Account
from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import ContractLogicError, ProviderConnectionError, TransactionNotFound, Web3Exception

from ..sdk.contracts import Manifest, load_abi
from ..sdk.math import (
    MAX_UINT256,
    SHOCK_UNIT,
    CollateralParams,
    MarginCallTerms,
    LiquidationParams,
    LiquidationPlan,
    accrue,
    liquidation_plan,
    margin_call_action,
    pending_premium,
    valuation,
    vault_terms,
)

log = logging.getLogger("plimsoll.keeper")

#: Largest JSON-RPC message accepted from the node, bytes (websockets' default is 1 MiB).
MAX_MESSAGE = 64 * 2**20
#: Most per-vault calls in flight at once.
READ_CONCURRENCY = 50


class KeeperError(RuntimeError):
    """The keeper cannot start (bad key, unreachable node, manifest for another chain)."""


@dataclass
class KeeperConfig:
    """Keeper settings.

    Attributes:
        ws_url: WebSocket JSON-RPC endpoint.
        manifest: the deployment to watch.
        private_key: hex key of the liquidator account (holds the pUSD inventory).
        dry_run: decide and log, send nothing.
        batch_size: most vaults per liquidateBatch transaction.
        gas_margin: gas limit = estimate × this.
        priority_fee_wei: EIP-1559 tip.
        connect_timeout: seconds to reach the node at start (retrying with backoff); then KeeperError.
        read_chunk: most vaults per VaultLens call (bounds each eth_call's gas and response size).
        log_range: most blocks per event-log query.
    """

    ws_url: str
    manifest: Manifest
    private_key: str
    dry_run: bool = False
    batch_size: int = 25
    gas_margin: float = 1.3
    priority_fee_wei: int = 10**9
    connect_timeout: float = 30.0
    read_chunk: int = 400
    log_range: int = 10_000


@dataclass
class BlockState:
    """Everything read at one block. Amounts in contract units (see plimsoll.sdk.math)."""

    number: int
    timestamp: int
    base_fee: int
    rate: int
    vaults: list[Any]
    prices: dict[str, int | None]
    params: dict[str, CollateralParams]
    inventory: int
    rooms: dict[str, int | None] = field(default_factory=dict)
    terms: dict[str, MarginCallTerms] = field(default_factory=dict)
    calls: dict[int, Any] = field(default_factory=dict)  # vault id → MarginCallState, for vaults in a call


@dataclass
class Pending:
    """A sent transaction not yet mined: its hash, the vaults it liquidates, the block it was decided at and the
    pUSD (WAD) it may burn."""

    tx_hash: str
    vault_ids: list[int]
    sent_block: int
    cost: int


class Keeper:
    """The bot. Create, then ``await run()``; ``stop()`` ends it after the current block."""

    def __init__(self, config: KeeperConfig):
        self.cfg = config
        self.account = Account.from_key(config.private_key)
        self.vault_ids: set[int] = set()  # vaults that may have debt (see the module docstring)
        self._scanned_to = config.manifest.block - 1
        self.pending: dict[str, Pending] = {}
        self._nonce: int | None = None
        self._latest_head: int | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        #: True once the bot works block by block (before that, a stop request cancels the start instead).
        self.started = False
        self.stats = {"blocks": 0, "skipped_blocks": 0, "sent": 0, "liquidated_vaults": 0, "margin_calls": 0,
                      "reverted": 0}

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
        """
        url = self.cfg.ws_url
        self.emit("connecting", url=url, timeout_s=self.cfg.connect_timeout)
        # Retries with web3's backoff, bounded in time by the timeout (not by a count of attempts). Messages up to
        # MAX_MESSAGE: a burst of events in one block range can exceed the websockets default of 1 MiB.
        provider = WebSocketProvider(url, websocket_kwargs={"max_size": MAX_MESSAGE}, max_connection_retries=1_000)
        try:
            await asyncio.wait_for(provider.connect(), self.cfg.connect_timeout)
        except (asyncio.TimeoutError, ProviderConnectionError, OSError) as e:
            raise KeeperError(f"cannot reach the node at {url} within {self.cfg.connect_timeout:g} s: {e!r}") from e
        try:
            self.w3 = AsyncWeb3(provider)
            await self._setup()
            sub_id = await self.w3.eth.subscribe("newHeads")
            reader = asyncio.create_task(self._read_heads())
            reader.add_done_callback(lambda _: self._wake.set())  # a lost connection wakes the loop to report it
            try:
                await self._work(reader)
            finally:
                reader.cancel()
                try:
                    await self.w3.eth.unsubscribe(sub_id)
                except Exception:  # the node may already be gone at shutdown
                    pass
        finally:
            try:
                await provider.disconnect()
            except Exception as e:  # a connection that already failed re-raises its error here: the cause is reported
                self.emit("disconnect_error", error=repr(e))
        self.emit("stopped", **self.stats)

    async def _setup(self) -> None:
        m = self.cfg.manifest
        chain_id = await self.w3.eth.chain_id
        if chain_id != m.chain_id:
            raise KeeperError(f"node is chain {chain_id}, manifest {m.network} is chain {m.chain_id}")
        c = lambda name, addr: self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(addr), abi=load_abi(name))
        self.engine = c("VaultEngine", m.contracts["VaultEngine"])
        self.liquidation = c("LiquidationEngine", m.contracts["LiquidationEngine"])
        self.lens = c("VaultLens", m.contracts["VaultLens"])
        self.portfolio = c("PortfolioMargin", m.contracts["PortfolioMargin"])
        self.pusd = c("PUSD", m.contracts["PUSD"])
        self.oracles = {s: c("OracleAdapter", col.oracle) for s, col in m.collaterals.items()}
        self.token_symbol = {col.token.lower(): s for s, col in m.collaterals.items()}
        self.tokens = {s: col.token for s, col in m.collaterals.items()}
        lf = self.liquidation.functions
        values = await asyncio.gather(
            lf.targetHealth().call(), lf.fullLiquidationHealth().call(), lf.protocolShare().call(),
            self.engine.functions.dust().call(), lf.bonusFloor().call(), lf.maxBonusHealth().call(),
            self.engine.functions.collateralTokens().call(),
        )
        self.params = LiquidationParams(*values[:6])
        self.listed = [self.token_symbol.get(t.lower()) for t in values[6]]  # grid columns, in listing order
        self._nonce = await self.w3.eth.get_transaction_count(self.account.address, "pending")
        self.emit("ready", keeper=self.account.address, network=m.network, dry_run=self.cfg.dry_run)

    async def _read_heads(self) -> None:
        async for msg in self.w3.socket.process_subscriptions():
            head = msg["result"]
            number = head["number"] if isinstance(head["number"], int) else int(head["number"], 16)
            if self._wake.is_set() and self._latest_head is not None:
                self.stats["skipped_blocks"] += 1
            self._latest_head = number
            self._wake.set()

    async def _work(self, reader: asyncio.Task) -> None:
        self.started = True
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                continue
            if reader.done():
                raise KeeperError(f"lost the node at {self.cfg.ws_url}: no more new heads "
                                  f"({reader.exception()!r})" if not reader.cancelled() else "head reader cancelled")
            if self._latest_head is None:
                continue
            number = self._latest_head
            started = time.monotonic()
            try:
                await self.on_block(number)
            except (KeeperError, asyncio.CancelledError):
                raise
            except Exception as e:
                # One bad block (a revert, an RPC error, a malformed answer) must not halt the bot; the next head
                # retries from fresh state.
                self.emit("block_error", block=number, error=repr(e))
            self.stats["blocks"] += 1
            log.debug("block %s took %.1f ms", number, 1000 * (time.monotonic() - started))

    # ------------------------------------------------------------------ one block
    async def on_block(self, number: int) -> None:
        """Sync the vault set to block ``number``, read state at it, and liquidate what is unsafe."""
        await self._sync_vaults(number)
        await self._check_pending(number)
        if not self.vault_ids:
            return
        state = await self.read_state(number)
        calls, plans = self.decide(state)
        busy = {v for p in self.pending.values() for v in p.vault_ids}
        for vault_id in calls:
            if vault_id not in busy:
                self.emit("margin_call", block=state.number, vault=vault_id)
                await self._send(state, self.liquidation.functions.marginCall(vault_id), [vault_id], 0)
        if plans:
            await self.liquidate(state, plans)

    async def _sync_vaults(self, number: int) -> None:
        """Add the vaults that borrowed since the last scan, up to block ``number``, in ranges of ``log_range``."""
        new: set[int] = set()
        while self._scanned_to < number:
            to = min(number, self._scanned_to + self.cfg.log_range)
            logs = await self.engine.events.Borrow().get_logs(from_block=self._scanned_to + 1, to_block=to)
            new |= {ev["args"]["vaultId"] for ev in logs} - self.vault_ids
            self._scanned_to = to
        if new:
            self.vault_ids |= new
            self.emit("vaults_discovered", block=number, new=len(new), total=len(self.vault_ids))

    async def _price(self, symbol: str, number: int) -> int | None:
        """The oracle's WAD price at block ``number``, or None when it reverts (the engine then counts that
        collateral as unpriced: worth zero, never seized)."""
        try:
            return await self.oracles[symbol].functions.price().call(block_identifier=number)
        except ContractLogicError:
            return None

    async def read_state(self, number: int) -> BlockState:
        """Read, all at block ``number``: vault states, oracle prices (None where an oracle reverts), collateral
        parameters, the rate inputs and the keeper's pUSD balance."""
        at = {"block_identifier": number}
        symbols = list(self.tokens)
        results = await asyncio.gather(
            self.w3.eth.get_block(number),
            self.engine.functions.rate().call(**at),
            self.engine.functions.lastDrip().call(**at),
            self.engine.functions.stabilityFee().call(**at),
            self._read_vaults(number),
            self.pusd.functions.balanceOf(self.account.address).call(**at),
            self.portfolio.functions.scenarioGrids().call(**at),
            *(self._price(s, number) for s in symbols),
            *(self.engine.functions.collateralType(self.tokens[s]).call(**at) for s in symbols),
            *(self.liquidation.functions.liquidationRoom(self.tokens[s]).call(**at) for s in symbols),
            *(self.liquidation.functions.marginCallTerms(self.tokens[s]).call(**at) for s in symbols),
        )
        block, rate, last_drip, fee, vaults, inventory, (initial, maintenance) = results[:7]
        n = len(symbols)
        prices = dict(zip(symbols, results[7 : 7 + n]))
        column = {sym: j for j, sym in enumerate(self.listed)}
        params = {
            s: CollateralParams(
                decimals=ct[1], ltv=ct[3], liquidation_threshold=ct[6], liquidation_bonus=ct[7],
                initial_shocks=tuple(row[column[s]] // SHOCK_UNIT for row in initial) if s in column else (),
                maintenance_shocks=tuple(row[column[s]] // SHOCK_UNIT for row in maintenance) if s in column else (),
            )
            for s, ct in zip(symbols, results[7 + n : 7 + 2 * n])
        }
        rooms = {s: None if room == MAX_UINT256 else room for s, room in zip(symbols, results[7 + 2 * n : 7 + 3 * n])}
        terms = {s: MarginCallTerms(*t) for s, t in zip(symbols, results[7 + 3 * n :])}
        called = [v[0] for v in vaults if v[6]]
        states = []
        for i in range(0, len(called), READ_CONCURRENCY):  # bounded: a crash can put hundreds of vaults in a call
            states += await asyncio.gather(*(self.liquidation.functions.marginCallOf(v).call(**at)
                                             for v in called[i : i + READ_CONCURRENCY]))
        current = accrue(rate, fee, block["timestamp"] - last_drip)
        return BlockState(number, block["timestamp"], block["baseFeePerGas"], current, vaults, prices, params,
                          inventory, rooms, terms, dict(zip(called, states)))

    async def _read_vaults(self, number: int) -> list[Any]:
        """VaultLens states of the vaults that may have debt, at block ``number``, ``read_chunk`` per call; those
        found without debt leave the set (a Borrow event brings them back)."""
        ids = sorted(self.vault_ids)
        size = self.cfg.read_chunk
        chunks = await asyncio.gather(*(self.lens.functions.vaults(ids[i : i + size]).call(block_identifier=number)
                                        for i in range(0, len(ids), size)))
        vaults = [v for chunk in chunks for v in chunk]
        self.vault_ids -= {v[0] for v in vaults if v[2] == 0}
        self.emit("read", block=number, vaults=len(vaults), calls=len(chunks))
        return vaults

    def decide(self, state: BlockState) -> tuple[list[int], list[tuple[int, LiquidationPlan]]]:
        """Pure decision at the state's block: (vaults to margin-call, (vault id, plan) to liquidate, lowest health
        first). A vault below maintenance whose collaterals all offer margin calls and that is above its hard floor
        is called rather than liquidated; a called vault waits out its grace window above its floor; a vault whose
        volume cap has no room waits; a vault holding a collateral the manifest does not know is skipped (logged)."""
        calls, out = [], []
        for vault_id, owner, normalized, tokens, amounts, portfolio, in_call in state.vaults:
            if normalized == 0:
                continue
            symbols = [self.token_symbol.get(token.lower()) for token in tokens]
            if None in symbols:
                self.emit("skip", block=state.number, vault=vault_id, reason="unknown collateral")
                continue
            balances = [(a, state.prices[sym], state.params[sym]) for a, sym in zip(amounts, symbols)]
            v = valuation(normalized, state.rate, balances, portfolio)
            call = state.calls.get(vault_id) if in_call else None
            if call is not None:  # the premium that liquidate() books first
                premium = pending_premium(v.debt, call[3], call[1], call[0], state.timestamp)
                v = replace(v, debt=v.debt + premium)
            if not v.liquidatable:
                continue
            action = margin_call_action(
                v.health_factor, vault_terms([state.terms.get(sym, MarginCallTerms()) for sym in symbols]),
                call[0] if call else 0, call[2] if call else 0, state.timestamp,
            )
            if action == "call":
                calls.append(vault_id)
                continue
            if action == "wait":
                self.emit("skip", block=state.number, vault=vault_id, reason="margin call grace")
                continue
            plan = liquidation_plan(v, self.params, [state.rooms.get(sym) for sym in symbols])
            if plan.repay == 0 and not plan.full:
                self.emit("skip", block=state.number, vault=vault_id, reason="volume cap")
                continue
            out.append((vault_id, plan))
        out.sort(key=lambda x: x[1].health_factor)
        return calls, out

    async def liquidate(self, state: BlockState, plans: list[tuple[int, LiquidationPlan]]) -> None:
        """Send liquidations for the unsafe vaults that are not pending, within the pUSD inventory."""
        busy = {v for p in self.pending.values() for v in p.vault_ids}
        budget = state.inventory - sum(p.cost for p in self.pending.values())
        chosen: list[tuple[int, int]] = []
        cost = 0
        for vault_id, plan in plans:
            if vault_id in busy:
                self.emit("skip", block=state.number, vault=vault_id, reason="pending")
                continue
            # A small margin: the liquidation executes a block later, with a little more interest accrued.
            need = plan.cost + plan.cost // 1000 + 1
            if cost + need > budget:
                self.emit("skip", block=state.number, vault=vault_id, reason="inventory", need=need, budget=budget - cost)
                continue
            chosen.append((vault_id, need))
            cost += need
            self.emit("decide", block=state.number, vault=vault_id, hf=plan.health_factor, repay=plan.repay,
                      fee=plan.protocol_fee, fraction=plan.fraction, seized=plan.seized_value, full=plan.full)
        for i in range(0, len(chosen), self.cfg.batch_size):
            batch = chosen[i : i + self.cfg.batch_size]
            ids = sorted(v for v, _ in batch)  # liquidateBatch takes strictly ascending ids
            fn = (
                self.liquidation.functions.liquidate(ids[0])
                if len(ids) == 1
                else self.liquidation.functions.liquidateBatch(ids)
            )
            await self._send(state, fn, ids, sum(n for _, n in batch))

    async def _send(self, state: BlockState, fn: Any, batch: list[int], cost: int) -> None:
        """Simulate, sign and send one contract call for the vaults in ``batch`` (``cost``: pUSD it may burn)."""
        if self.cfg.dry_run:
            self.emit("dry_run", block=state.number, vaults=batch)
            return
        base_fee = state.base_fee
        tx = {
            "from": self.account.address,
            "nonce": self._nonce,
            "chainId": self.cfg.manifest.chain_id,
            "maxPriorityFeePerGas": self.cfg.priority_fee_wei,
            "maxFeePerGas": 2 * base_fee + self.cfg.priority_fee_wei,
        }
        try:
            gas = await fn.estimate_gas({"from": self.account.address})
        except (ContractLogicError, Web3Exception) as e:
            self.emit("simulation_failed", block=state.number, vaults=batch, error=repr(e))
            return
        tx["gas"] = int(gas * self.cfg.gas_margin)
        built = await fn.build_transaction(tx)
        signed = self.account.sign_transaction(built)
        try:
            tx_hash = (await self.w3.eth.send_raw_transaction(signed.raw_transaction)).to_0x_hex()
        except (Web3Exception, ValueError) as e:
            # Most likely a nonce gap after an outside transaction: resynchronise and let the next block retry.
            self._nonce = await self.w3.eth.get_transaction_count(self.account.address, "pending")
            self.emit("send_failed", block=state.number, vaults=batch, error=repr(e))
            return
        self._nonce += 1
        self.pending[tx_hash] = Pending(tx_hash, batch, state.number, cost)
        self.stats["sent"] += 1
        self.emit("sent", block=state.number, tx=tx_hash, vaults=batch, gas_limit=tx["gas"], nonce=tx["nonce"])

    async def _check_pending(self, number: int) -> None:
        for tx_hash, p in list(self.pending.items()):
            try:
                receipt = await self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                try:
                    await self.w3.eth.get_transaction(tx_hash)
                    continue  # still pending
                except TransactionNotFound:
                    # Dropped by the node: free its vaults for the next decision and resynchronise the nonce.
                    del self.pending[tx_hash]
                    self._nonce = await self.w3.eth.get_transaction_count(self.account.address, "pending")
                    self.emit("tx_lost", block=number, tx=tx_hash, vaults=p.vault_ids)
                    continue
            del self.pending[tx_hash]
            ok = receipt["status"] == 1
            if not ok:
                self.stats["reverted"] += 1
            elif p.cost:
                self.stats["liquidated_vaults"] += len(p.vault_ids)
            else:
                self.stats["margin_calls"] += 1
            self.emit("mined", block=receipt["blockNumber"], tx=tx_hash, ok=ok, vaults=p.vault_ids,
                      gas_used=receipt["gasUsed"], blocks_after_decision=receipt["blockNumber"] - p.sent_block)
