"""The keeper's transaction dispatcher: one serial sender with a local nonce.

Each call is simulated at the head before it is sent (``Dispatcher.simulate``: two executions, which also give its
gas and a gas limit it is known to succeed with), a block's calls concurrently; each is signed and sent, in order,
as soon as its own simulation and those before it are back, as far as the next block's gas has room for them. Each
transaction is recorded in the state database before it is sent and until it is mined or dropped, so that after a
restart (or a crash at any point) its vaults stay busy and are not sent twice. A transaction still pending
``stuck_blocks`` blocks after its broadcast is replaced: the same call and nonce, fees bumped by 12.5 % or more,
never beyond the fee cap nor beyond what the liquidation earns (strategy.replacement_fees).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception, Web3RPCError
from web3.types import RPCEndpoint

from ..sdk.contracts import calldata
from ..sdk.errors import describe
from .metrics import KeeperMetrics
from .store import KeeperStore, PendingTx
from .strategy import GAS_FIRST_VAULT, replacement_fees


#: Simulations in flight at once when a block's calls are simulated together. The calls go out in order, so the first
#: must not wait behind the whole block's: on a 2-core machine shared with Anvil, the first of 20 batches went out
#: 350-470 ms after the decision with 2 in flight, 470-540 ms with 4, 660 ms with 8, all 20 in about the same time.
SIMULATION_CONCURRENCY = 2
#: JSON-RPC error codes: a call that reverted (with its revert data), and a method the node does not serve.
REVERTED, METHOD_NOT_FOUND = 3, -32601
#: Gas an account or slot costs more when first touched without an access list: cold access (EIP-2929: 2,600 for
#: an account, 2,100 for a slot) less the warm access after it (100) less its access-list price (EIP-2930: 2,400 and
#: 1,900).
COLD_PREMIUM = 100


@dataclass(frozen=True)
class Call:
    """One contract call to send: the bound function, the vaults it carries, the most pUSD (WAD) it may burn (0 for
    a margin call) and the bonus it should earn (pUSD WAD, as planned)."""

    fn: Any
    vault_ids: tuple[int, ...]
    cost: int = 0
    bonus: int = 0


class Dispatcher:
    """Sends the keeper's transactions and follows them until mined.

    Args:
        w3: the connected node.
        account: the signing account.
        chain_id: chain id for EIP-155.
        store: where pending transactions are recorded.
        emit: the keeper's JSON logger, ``emit(event, **fields)``.
        metrics: where sends and receipts are counted.
        gas_margin: gas limit = simulated gas × this.
        priority_fee_wei: EIP-1559 tip, wei.
        dry_run: log what would be sent, send nothing.
        stuck_blocks: a transaction pending this many blocks after its broadcast is replaced with higher fees.
        fee_cap_wei: the highest maxFeePerGas ever paid, wei.
    """

    def __init__(self, w3: AsyncWeb3, account: LocalAccount, chain_id: int, store: KeeperStore,
                 emit: Callable[..., None], metrics: KeeperMetrics, gas_margin: float, priority_fee_wei: int,
                 dry_run: bool, stuck_blocks: int = 2, fee_cap_wei: int = 500 * 10**9):
        self.w3, self.account, self.chain_id, self.store, self.emit = w3, account, chain_id, store, emit
        self.metrics, self.stuck_blocks, self.fee_cap_wei = metrics, stuck_blocks, fee_cap_wei
        self.gas_margin, self.priority_fee_wei, self.dry_run = gas_margin, priority_fee_wei, dry_run
        self.pending: dict[str, PendingTx] = {}
        self._capped: set[str] = set()  # stuck transactions whose replacement the caps forbid (logged once)
        self._unseen: dict[str, int] = {}  # pending transaction → the block at which the node first knew it not
        self.nonce = 0
        #: the newest head heard (the keeper's, updated while it works); None: the decision's block stands in
        self.head: Callable[[], int | None] = lambda: None
        #: gas of each further vault in the largest liquidation batch last simulated ((gas − GAS_FIRST_VAULT)
        #: / (vaults − 1), rounded up), for planning the next block's room; None until a batch of two or more was
        #: simulated.
        self.vault_gas: int | None = None
        self._access_lists = True  # the node serves eth_createAccessList (until it says it does not)
        self.stats = {"sent": 0, "replaced": 0, "liquidated_vaults": 0, "margin_calls": 0, "reverted": 0}

    def restore(self) -> None:
        """Take the pending transactions from the state database (left by a previous run or the last leader)."""
        self.pending = {tx.tx_hash: tx for tx in self.store.load().pending}

    async def start(self) -> None:
        """Take the nonce from the node (pending transactions included) and report transactions left from a
        previous run."""
        self.nonce = await self.w3.eth.get_transaction_count(self.account.address, "pending")
        if self.pending:
            self.emit("pending_restored", txs=sorted(self.pending), vaults=sorted(self.busy))

    @property
    def busy(self) -> set[int]:
        """Vaults carried by a pending transaction."""
        return {v for tx in self.pending.values() for v in tx.vault_ids}

    @property
    def committed(self) -> int:
        """pUSD (WAD) that pending transactions may burn."""
        return sum(tx.cost for tx in self.pending.values())

    @property
    def pending_gas(self) -> int:
        """Gas limits of the pending transactions: what they may still take of the next block."""
        return sum(tx.gas for tx in self.pending.values())

    async def simulate(self, to: str, data: str, block: int | str = "latest") -> tuple[int, int]:
        """Execute a call of this keeper's account at ``block`` without sending it; returns the gas the transaction
        will use and the gas limit to send it with.

        Two executions, where ``eth_estimateGas`` searches with many (a 100-vault liquidation batch at 2,000
        vaults: about 40 ms against 280 ms on Anvil):

        * ``eth_createAccessList`` gives the gas used, with the access list it found; the transaction is sent
          without one, so each account and slot in that list costs ``COLD_PREMIUM`` more (EIP-2929's cold access
          against EIP-2930's prepaid one).
        * The gas limit is that × gas_margin, and an ``eth_call`` with exactly that limit must succeed. Gas used is
          not gas needed: the engine requires each oracle call's allowance to be left (ORACLE_GAS, 200,000), a
          call keeps 1/64 back (EIP-150), and refunds come at the end (EIP-3529). Where that limit is too low
          (a small batch), the limit is eth_estimateGas's answer × gas_margin instead.

        A node without eth_createAccessList is simulated with eth_estimateGas (gas = its answer), for good.

        Raises:
            ContractLogicError (web3's; sdk.errors.describe names it): the call reverts (the revert read again with
                an eth_call, which web3 decodes).
            Web3RPCError: the node failed otherwise.
        """
        tx = {"from": self.account.address, "to": to, "data": data}
        if self._access_lists:
            try:
                # Through web3's request manager, which raises an error response here (a raw provider request's
                # would be raised in its listener), without the result formatting of web3.eth.create_access_list.
                result = await self.w3.manager.socket_request(
                    RPCEndpoint("eth_createAccessList"), [tx, block if isinstance(block, str) else hex(block)])
            except Web3RPCError as e:
                code = (e.rpc_response or {}).get("error", {}).get("code")
                if code == METHOD_NOT_FOUND:
                    self._access_lists = False
                    return await self.simulate(to, data, block)
                if code != REVERTED:
                    raise
                result = {"error": e.message}
            if result.get("error"):  # reverted: Anvil reports it as an error, geth in the result; an eth_call names it
                await self.w3.eth.call(tx, block)
                raise ContractLogicError(f"simulation reverted: {result['error']}")
            touched = sum(1 + len(a["storageKeys"]) for a in result["accessList"])
            gas = int(result["gasUsed"], 16) + COLD_PREMIUM * touched
            limit = int(gas * self.gas_margin)
            try:
                await self.w3.eth.call({**tx, "gas": limit}, block)
                return gas, limit
            except (ContractLogicError, Web3RPCError):  # needs more than that left somewhere: search for it
                return gas, int(await self.w3.eth.estimate_gas(tx, block) * self.gas_margin)
        gas = await self.w3.eth.estimate_gas(tx, block)
        return gas, int(gas * self.gas_margin)

    async def send_all(self, block: int, base_fee: int, calls: list["Call"], heard_at: float | None = None,
                       room: int | None = None) -> list[str | None]:
        """Simulate every call (``simulate``, ``SIMULATION_CONCURRENCY`` in flight) and sign and send each, in
        order and with the next nonce, as soon as its simulation and those of the calls before it are back.

        Args:
            block: the block the decisions were made at.
            base_fee: that block's base fee, wei (max fee = 2 × base fee + tip).
            calls: what to send, most urgent first.
            heard_at: monotonic time the block's head was heard (for the head→broadcast latency).
            room: gas the next block has left for them. A call is sent only while the gas of those sent before
                it plus its own gas limit fit (a block takes a transaction whose gas limit fits what is left after
                the gas used before it); the rest are logged as ``block_full`` and decided again at the next block.
                None: no bound.
        Returns:
            per call, the transaction hash, or None when it was not sent (dry run, simulation reverted, block full,
            node refused; each logged).
        """
        if self.dry_run:
            for c in calls:
                self.emit("dry_run", block=block, vaults=list(c.vault_ids))
            return [None] * len(calls)
        data = [calldata(c.fn) for c in calls]  # encoded once, for the simulation and the transaction
        slots = asyncio.Semaphore(SIMULATION_CONCURRENCY)

        async def simulate(c: Call, d: str) -> tuple[int, int]:
            async with slots:
                return await self.simulate(c.fn.address, d)

        simulations = [asyncio.ensure_future(simulate(c, d)) for c, d in zip(calls, data)]
        sent: list[str | None] = []
        full: list[int] = []
        sized: list[tuple[int, int]] = []
        try:
            for c, d, simulation in zip(calls, data, simulations):
                try:
                    gas, limit = await simulation
                except (ContractLogicError, Web3Exception) as e:
                    self.emit("simulation_failed", block=block, vaults=list(c.vault_ids), error=describe(e))
                    sent.append(None)
                    continue
                if c.cost and len(c.vault_ids) > 1:
                    sized.append((len(c.vault_ids), gas))
                if room is not None and limit > room:
                    full += c.vault_ids
                    sent.append(None)
                    continue
                sent.append(await self._send_one(block, base_fee, c, d, limit, heard_at))
                if room is not None and sent[-1] is not None:
                    room -= gas
        finally:
            for simulation in simulations:  # a send that raised leaves the rest unawaited: not left running
                simulation.cancel()
        # From the largest batch: a vault costs less the more share a batch (warm slots), so a small batch's
        # figure would undersize the big ones; a small last batch that no longer fits is left below.
        if sized:
            n, gas = max(sized)
            self.vault_gas = max(1, -(-(gas - GAS_FIRST_VAULT) // (n - 1)))
        if full:
            self.emit("block_full", block=block, vaults=full)
        return sent

    async def _send_one(self, block: int, base_fee: int, c: "Call", data: str, gas: int,
                        heard_at: float | None) -> str | None:
        # Stuck is counted from the head at the broadcast, not from the decision's block: a keeper that took longer
        # than a block to decide must not take its own fresh transaction for a stuck one.
        record = PendingTx("", c.vault_ids, block, c.cost, self.nonce, c.bonus, c.fn.address, data, gas,
                           2 * base_fee + self.priority_fee_wei, self.priority_fee_wei, max(block, self.head() or 0))
        record = await self._broadcast(record)
        if record is None:
            # Most likely a nonce gap after an outside transaction: resynchronise and let the next block retry.
            self.nonce = await self.w3.eth.get_transaction_count(self.account.address, "pending")
            return None
        latency = None if heard_at is None else time.monotonic() - heard_at
        if latency is not None:
            self.metrics.latency.observe(latency)
        self.nonce += 1
        self.stats["sent"] += 1
        self.emit("sent", block=block, tx=record.tx_hash, vaults=list(c.vault_ids), gas_limit=record.gas,
                  nonce=record.nonce, latency_ms=None if latency is None else round(1000 * latency, 1))
        return record.tx_hash

    async def _broadcast(self, record: PendingTx) -> PendingTx | None:
        """Sign ``record``'s call with its nonce and fees, record it, send it; None (logged, unrecorded) when the
        node refuses it."""
        signed = self.account.sign_transaction({
            "to": record.to, "data": record.data, "gas": record.gas, "nonce": record.nonce, "chainId": self.chain_id,
            "maxFeePerGas": record.max_fee, "maxPriorityFeePerGas": record.tip, "value": 0, "type": 2,
        })
        record = replace(record, tx_hash=signed.hash.to_0x_hex())
        # Recorded before it is sent: a keeper killed in between restarts with the vaults busy, never sending twice.
        self.store.add_pending(record)
        try:
            await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except (Web3Exception, ValueError) as e:
            self.store.remove_pending(record.tx_hash)
            self.emit("send_failed", block=record.broadcast_block, vaults=list(record.vault_ids), nonce=record.nonce,
                      error=describe(e))
            return None
        self.pending[record.tx_hash] = record
        return record

    async def _replace_if_stuck(self, tx: PendingTx, block: int, base_fee: int, block_gas: int,
                                gas_token_price: int | None) -> None:
        """Re-send a transaction pending for ``stuck_blocks`` blocks with the same nonce and higher fees
        (strategy.replacement_fees), simulated again at the head first: not when it would now revert (someone
        else liquidated the vault), nor when the fees it would need are capped. Its gas limit is the new simulation's,
        at most ``block_gas`` (the block gas limit: a node refuses a transaction that no block can
        hold)."""
        if block - tx.broadcast_block < self.stuck_blocks:
            return
        try:
            _, limit = await self.simulate(tx.to, tx.data, block)
        except (ContractLogicError, Web3Exception) as e:
            self.emit("replacement_skipped", block=block, tx=tx.tx_hash, vaults=list(tx.vault_ids), error=describe(e))
            return
        gas = min(limit, block_gas)
        fees = replacement_fees(tx.max_fee, tx.tip, base_fee, self.priority_fee_wei, tx.gas, tx.bonus,
                                gas_token_price, self.fee_cap_wei)
        if fees is None:
            if tx.tx_hash not in self._capped:  # once per transaction, not every block it stays stuck
                self._capped.add(tx.tx_hash)
                self.emit("replacement_capped", block=block, tx=tx.tx_hash, vaults=list(tx.vault_ids),
                          max_fee=tx.max_fee, base_fee=base_fee)
            return
        new = await self._broadcast(replace(tx, gas=gas, max_fee=fees[0], tip=fees[1], broadcast_block=block))
        if new is None:
            return  # refused (e.g. the old one was mined meanwhile): the next block looks again
        self._forget(tx.tx_hash)
        self.stats["replaced"] += 1
        self.emit("replaced", block=block, old=tx.tx_hash, tx=new.tx_hash, nonce=new.nonce, vaults=list(new.vault_ids),
                  max_fee=new.max_fee, tip=new.tip, gas_limit=new.gas, old_max_fee=tx.max_fee, old_tip=tx.tip,
                  old_gas_limit=tx.gas)

    async def check(self, block: int, base_fee: int, block_gas: int, gas_token_price: int | None = None) -> None:
        """Follow the pending transactions at ``block`` (base fee ``base_fee``, wei; gas limit ``block_gas``): log
        the mined ones, free the vaults of dropped ones (unknown to the node at two blocks), replace stuck ones (``gas_token_price``: pUSD WAD per gas
        token, for the profit cap; None: only the fee cap)."""
        pending = list(self.pending.items())
        receipts = await asyncio.gather(*(self._receipt(tx_hash) for tx_hash, _ in pending))
        for (tx_hash, tx), receipt in zip(pending, receipts):
            if receipt is None:
                try:
                    await self.w3.eth.get_transaction(tx_hash)
                    self._unseen.pop(tx_hash, None)
                    await self._replace_if_stuck(tx, block, base_fee, block_gas, gas_token_price)
                    continue  # still pending
                except TransactionNotFound:
                    # Neither pending nor mined. While a node mines a block, a transaction can be out of its pool
                    # and not yet in a block (Anvil at 10,000 vaults: six batches declared lost were mined, and
                    # their vaults sent again failed 'nonce too low'): lost only when still unseen a block later.
                    # Then dropped by the node: free its vaults for the next decision and resynchronise the nonce.
                    if self._unseen.setdefault(tx_hash, block) == block:
                        continue
                    self._forget(tx_hash)
                    self.nonce = await self.w3.eth.get_transaction_count(self.account.address, "pending")
                    self.emit("tx_lost", block=block, tx=tx_hash, vaults=list(tx.vault_ids))
                    continue
            self._forget(tx_hash)
            ok = receipt["status"] == 1
            self.metrics.gas_wei.inc(receipt["gasUsed"] * receipt["effectiveGasPrice"])
            if not ok:
                self.stats["reverted"] += 1
                self.metrics.reverted.inc()
            elif tx.cost:
                self.stats["liquidated_vaults"] += len(tx.vault_ids)
                self.metrics.liquidated.inc(len(tx.vault_ids))
                self.metrics.pnl_pusd.inc(tx.bonus / 10**18)
            else:
                self.stats["margin_calls"] += len(tx.vault_ids)
                self.metrics.margin_calls.inc(len(tx.vault_ids))
            self.emit("mined", block=receipt["blockNumber"], tx=tx_hash, ok=ok, vaults=list(tx.vault_ids),
                      gas_used=receipt["gasUsed"], blocks_after_decision=receipt["blockNumber"] - tx.sent_block)

    async def _receipt(self, tx_hash: str) -> Any:
        """The transaction's receipt, or None while it is not mined."""
        try:
            return await self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    def _forget(self, tx_hash: str) -> None:
        self._unseen.pop(tx_hash, None)
        del self.pending[tx_hash]
        self.store.remove_pending(tx_hash)

