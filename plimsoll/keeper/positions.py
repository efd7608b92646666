"""The position cache: every indexed vault's raw state, kept from events so that a block re-reads only what changed.

A vault's raw state (VaultLens.VaultState: owner, normalized debt, collateral amounts, margin mode, margin-call
flag) and its margin-call state (LiquidationEngine.marginCallOf) change only in a transaction that touches the vault,
and every such transaction emits an event naming it: VaultEngine's and LiquidationEngine's events carry
``uint256 indexed vaultId`` as their first topic, and the VaultNFT's ERC-721 ``Transfer`` carries it as its
third. What moves with time alone (the rate, the prices, the premium) is computed from the block's own reads.
So at each block the keeper reads again only the vaults named in the new blocks' events and the ones it has never
read; after a reorg, a takeover or a restart it reads them all (``invalidate``).

Pure bookkeeping, no I/O: the keeper (plimsoll.keeper.bot) does the reads.
"""

from __future__ import annotations

from typing import Any, Iterable

from web3 import Web3

#: The vault NFT's ERC-721 Transfer: the vault id is its third topic.
TRANSFER = "Transfer(address,address,uint256)"


def vault_topics(abi: Iterable[dict[str, Any]]) -> dict[str, int]:
    """topic0 (0x…, lower case) → the topic that holds the vault id, for every event of ``abi`` that names a vault.

    Args:
        abi: a contract ABI (list of JSON entries).
    Returns:
        events whose first indexed input is ``vaultId`` → 1; ERC-721 ``Transfer(from, to, tokenId)`` → 3.
    """
    out = {}
    for entry in abi:
        if entry.get("type") != "event":
            continue
        inputs = entry["inputs"]
        signature = f"{entry['name']}({','.join(i['type'] for i in inputs)})"
        topic = Web3.keccak(text=signature).to_0x_hex()
        indexed = [i["name"] for i in inputs if i.get("indexed")]
        if indexed[:1] == ["vaultId"]:
            out[topic] = 1
        elif signature == TRANSFER and len(indexed) == 3:
            out[topic] = 3
    return out


def named_vaults(logs: Iterable[Any], topics: dict[str, int]) -> set[int]:
    """Vault ids named by ``logs`` (web3 log entries) through ``topics`` (``vault_topics``); other logs are ignored."""
    ids = set()
    for entry in logs:
        t = entry["topics"]
        where = topics.get(t[0].to_0x_hex()) if t else None
        if where is not None and len(t) > where:
            ids.add(int.from_bytes(t[where], "big"))
    return ids


class PositionCache:
    """Vault states and margin-call states as of the last block read, and the vaults to read again.

    Attributes:
        states: vault id → VaultLens.VaultState tuple (id, owner, normalized debt WAD, tokens, amounts, portfolio,
            in margin call), for indexed vaults that had debt when read.
        calls: vault id → LiquidationEngine.MarginCallState tuple, for the cached vaults in a margin call.
        warm: False until a full read (and again after ``invalidate``): then every indexed vault is stale.
        touched: vaults named by events since the last read.
    """

    def __init__(self) -> None:
        self.states: dict[int, tuple] = {}
        self.calls: dict[int, tuple] = {}
        self.warm = False
        self.touched: set[int] = set()

    def touch(self, ids: set[int]) -> None:
        """Events named ``ids``: read them again at the next block."""
        self.touched |= ids

    def invalidate(self) -> None:
        """Forget everything (a reorg, a takeover, a restart): the next block reads every indexed vault."""
        self.states.clear()
        self.calls.clear()
        self.touched.clear()
        self.warm = False

    def stale(self, indexed: set[int]) -> list[int]:
        """Indexed vaults to read at this block, ascending: all of them when cold; else those touched since the last
        read and those never read."""
        if not self.warm:
            return sorted(indexed)
        return sorted((self.touched & indexed) | (indexed - self.states.keys()))

    def update(self, indexed: set[int], states: list[tuple], calls: dict[int, tuple]) -> set[int]:
        """Store the states read at this block (``states`` for the ``stale`` vaults, ``calls`` their margin-call
        states where in a call) and forget vaults no longer indexed.

        Returns:
            the vaults read with no debt: the caller drops them from the index (a later Borrow brings them back).
        """
        empty = set()
        for s in states:
            vault_id = s[0]
            self.calls.pop(vault_id, None)
            if s[2] == 0:
                empty.add(vault_id)
                self.states.pop(vault_id, None)
            else:
                self.states[vault_id] = tuple(s)
        self.calls.update(calls)
        for gone in self.states.keys() - (indexed - empty):
            del self.states[gone]
            self.calls.pop(gone, None)
        # Forget what was read, and events about vaults outside the index (a Borrow brings one in, unread); a vault
        # named since the read began stays stale.
        self.touched = (self.touched - {s[0] for s in states}) & indexed
        self.warm = True
        return empty
