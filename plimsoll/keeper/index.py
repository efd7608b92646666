"""The vault index: which vaults may have debt, kept from ``Borrow`` events, resumable and reorg-aware.

A vault enters when it borrows and leaves when the keeper reads it with no debt (a later Borrow brings it back).
The set is a superset of the indebted vaults, so a reorg never needs to remove anything: it only needs the forked
blocks scanned again. The index remembers the hashes of the blocks it scanned (the last ``window`` of them); at
each block it checks that the newest of them is still on the node's chain, and when it is not, walks back to the
newest one that is (the fork point) and scans on from there; a fork deeper than the window rebuilds the index from
the deployment block.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from .store import KeeperStore

#: Block hashes remembered, in blocks: a deeper reorg makes the index scan again from the deployment block.
REORG_WINDOW = 128


async def fork_point(hashes: dict[int, str], head: int, hash_at: Callable[[int], Awaitable[str | None]]) -> int | None:
    """The newest remembered block (≤ ``head``) that is still on the node's chain, or None if none is.

    Args:
        hashes: block number → hash of the blocks scanned, as remembered.
        head: the node's head block number.
        hash_at: the node's hash at a block number (None when it has no such block).
    Returns:
        the fork point: blocks after it must be scanned again (equal to the newest remembered block when there was
        no reorg).
    """
    for number in sorted((n for n in hashes if n <= head), reverse=True):
        if await hash_at(number) == hashes[number]:
            return number
    return None


class VaultIndex:
    """The vault set, its scan cursor and the remembered block hashes, persisted in a KeeperStore.

    Args:
        store: where the index lives.
        scan: scans a block range (inclusive) once: returns the vault ids of its ``Borrow`` events (the keeper also
            sends its margin-call notices from it).
        hash_at: the node's hash at a block number (None when it has no such block).
        log_range: most blocks per event query.
        window: block hashes remembered (REORG_WINDOW).
    """

    def __init__(self, store: KeeperStore, scan: Callable[[int, int], Awaitable[set[int]]],
                 hash_at: Callable[[int], Awaitable[str | None]], log_range: int, window: int = REORG_WINDOW):
        self.store, self._scan, self._hash_at = store, scan, hash_at
        self.log_range, self.window = log_range, window
        snap = store.load()
        self.scanned_to = snap.scanned_to
        self.vault_ids: set[int] = set(snap.vault_ids)
        self.hashes = dict(snap.hashes)

    async def sync(self, head: int, head_hash: str) -> dict[str, int]:
        """Bring the index to block ``head`` (hash ``head_hash``): detect a reorg, scan the Borrow events since the
        cursor in ranges of ``log_range`` blocks, and persist it all.

        Returns:
            what happened: ``{"reorg_from": first block scanned again}`` when a reorg was found (else absent), and
            ``"new"``, the number of vaults added.
        """
        out: dict[str, int] = {}
        if self.hashes:
            newest = max(self.hashes)
            if newest > head or await self._hash_at(newest) != self.hashes[newest]:
                point = await fork_point(self.hashes, head, self._hash_at)
                restart = point if point is not None else self.store.origin  # deeper than the window: rebuild
                self.scanned_to = min(self.scanned_to, restart)
                self.hashes = {n: h for n, h in self.hashes.items() if n <= restart}
                self.store.rewind(self.scanned_to)
                out["reorg_from"] = self.scanned_to + 1
        new: set[int] = set()
        while self.scanned_to < head:
            to = min(head, self.scanned_to + self.log_range)
            new |= await self._scan(self.scanned_to + 1, to)
            self.scanned_to = to
        new -= self.vault_ids
        self.vault_ids |= new
        self.hashes[head] = head_hash
        keep_from = head - self.window
        self.hashes = {n: h for n, h in self.hashes.items() if n >= keep_from}
        self.store.save_scan(self.scanned_to, new, set(), {head: head_hash}, keep_from)
        out["new"] = len(new)
        return out

    def drop(self, ids: set[int]) -> None:
        """Vaults read with no debt leave the index (persisted)."""
        ids &= self.vault_ids
        if ids:
            self.vault_ids -= ids
            self.store.save_scan(self.scanned_to, set(), ids, {}, min(self.hashes, default=0))
