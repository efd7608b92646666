"""The keeper's transaction dispatcher: one serial sender with a local nonce.

Every call is simulated (gas estimate) before it is signed and sent; each transaction is recorded in the state
database before it is sent and until it is mined or dropped, so that after a restart (or a crash at any point)
its vaults stay busy and are not sent twice. A transaction still pending ``stuck_blocks`` blocks after its
broadcast is replaced: the same call and nonce, fees bumped by 12.5 % or more, never beyond the fee cap nor beyond
what the liquidation earns (strategy.replacement_fees).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception

from ..sdk.contracts import calldata
from ..sdk.errors import describe
from .metrics import KeeperMetrics
from .store import KeeperStore, PendingTx
from .strategy import replacement_fees


class Dispatcher:
    """Sends the keeper's transactions and follows them until mined.

    Args:
        w3: the connected node.
        account: the signing account.
        chain_id: chain id for EIP-155.
        store: where pending transactions are recorded.
        emit: the keeper's JSON logger, ``emit(event, **fields)``.
        metrics: where sends and receipts are counted.
        gas_margin: gas limit = estimate × this.
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
        self.nonce = 0
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

    async def send(self, block: int, base_fee: int, fn: Any, vault_ids: tuple[int, ...], cost: int, bonus: int = 0,
                   heard_at: float | None = None) -> str | None:
        """Simulate, sign and send one contract call for ``vault_ids`` decided at ``block``.

        Args:
            block: the block the decision was made at.
            base_fee: that block's base fee, wei (max fee = 2 × base fee + tip).
            fn: the bound contract function.
            vault_ids: the vaults it carries.
            cost: pUSD (WAD) it may burn (0 for a margin call).
            bonus: the bonus it should earn, pUSD WAD, as planned.
            heard_at: monotonic time the block's head was heard (for the head→broadcast latency).
        Returns:
            the transaction hash, or None when it was not sent (dry run, simulation reverted, node refused; each
            logged).
        """
        if self.dry_run:
            self.emit("dry_run", block=block, vaults=list(vault_ids))
            return None
        data = calldata(fn)  # encoded once, for the simulation and the transaction
        try:
            gas = await self.w3.eth.estimate_gas({"from": self.account.address, "to": fn.address, "data": data})
        except (ContractLogicError, Web3Exception) as e:
            self.emit("simulation_failed", block=block, vaults=list(vault_ids), error=describe(e))
            return None
        record = PendingTx("", tuple(vault_ids), block, cost, self.nonce, bonus, fn.address, data,
                           int(gas * self.gas_margin), 2 * base_fee + self.priority_fee_wei, self.priority_fee_wei,
                           block)
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
        self.emit("sent", block=block, tx=record.tx_hash, vaults=list(vault_ids), gas_limit=record.gas,
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
        else liquidated the vault), nor when the fees it would need are capped. Its gas limit is the new estimate
        × gas_margin, at most ``block_gas`` (the block gas limit: a node refuses a transaction that no block can
        hold)."""
        if block - tx.broadcast_block < self.stuck_blocks:
            return
        try:
            estimate = await self.w3.eth.estimate_gas({"from": self.account.address, "to": tx.to, "data": tx.data},
                                                      block_identifier=block)
        except (ContractLogicError, Web3Exception) as e:
            self.emit("replacement_skipped", block=block, tx=tx.tx_hash, vaults=list(tx.vault_ids), error=describe(e))
            return
        gas = min(int(estimate * self.gas_margin), block_gas)
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
        the mined ones, free the vaults of dropped ones, replace stuck ones (``gas_token_price``: pUSD WAD per gas
        token, for the profit cap; None: only the fee cap)."""
        for tx_hash, tx in list(self.pending.items()):
            try:
                receipt = await self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                try:
                    await self.w3.eth.get_transaction(tx_hash)
                    await self._replace_if_stuck(tx, block, base_fee, block_gas, gas_token_price)
                    continue  # still pending
                except TransactionNotFound:
                    # Dropped by the node: free its vaults for the next decision and resynchronise the nonce.
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
                self.stats["margin_calls"] += 1
                self.metrics.margin_calls.inc()
            self.emit("mined", block=receipt["blockNumber"], tx=tx_hash, ok=ok, vaults=list(tx.vault_ids),
                      gas_used=receipt["gasUsed"], blocks_after_decision=receipt["blockNumber"] - tx.sent_block)

    def _forget(self, tx_hash: str) -> None:
        del self.pending[tx_hash]
        self.store.remove_pending(tx_hash)
