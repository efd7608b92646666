"""The keeper's state in a database (SQLAlchemy Core): it survives restarts.

What is kept, and why:

* ``deployment``: the chain id, VaultEngine address and deployment block hash the state belongs to (a state file
  from another deployment, e.g. an earlier Anvil run at the same addresses, is refused, not silently mixed);
* ``cursor``: the last block whose Borrow events are in the index (a restart scans on from there: no gap);
* ``vaults``: the vault index, vaults that may have debt;
* ``blocks``: the hashes of recently scanned blocks, to find where a reorg forked;
* ``pending``: the keeper's sent, unmined transactions (after a crash their vaults stay busy: no double send).

Several keepers may share one state; one of them leads and the others stand by (``try_lead``). With PostgreSQL the
leader holds a session-level advisory lock on a connection of its own (keepers on several machines); with the
default SQLite file, an exclusive lock on a file beside it (keepers on one machine). A leader that dies loses its
lock, and a standby takes the lead at its next block.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from dataclasses import asdict, dataclass

from sqlalchemy import JSON, BigInteger, Column, Integer, MetaData, String, Table, Text, create_engine, delete, event
from sqlalchemy import insert
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from .errors import StateError

metadata = MetaData()
deployment = Table(
    "deployment", metadata,
    Column("id", Integer, primary_key=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("engine", String(42), nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("scanned_to", BigInteger, nullable=False),  # block number
)
vaults = Table("vaults", metadata, Column("vault_id", BigInteger, primary_key=True))
blocks = Table(
    "blocks", metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", String(66), nullable=False),
)
pending = Table(
    "pending", metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("vault_ids", JSON, nullable=False),
    Column("sent_block", BigInteger, nullable=False),
    Column("cost", String(78), nullable=False),  # pUSD WAD as a decimal string: it may exceed 64 bits
    Column("nonce", BigInteger, nullable=False),
    Column("bonus", String(78), nullable=False),  # pUSD WAD, as planned
    Column("to", String(42), nullable=False),  # the call, kept to re-sign it with higher fees (replacement)
    Column("data", Text, nullable=False),
    Column("gas", BigInteger, nullable=False),
    Column("max_fee", String(78), nullable=False),  # wei
    Column("tip", String(78), nullable=False),  # wei
    Column("broadcast_block", BigInteger, nullable=False),  # block at the last (re)broadcast
)


@dataclass(frozen=True)
class PendingTx:
    """A sent transaction not yet mined.

    Attributes:
        tx_hash: its hash (0x…).
        vault_ids: the vaults it carries.
        sent_block: the block it was decided at.
        cost: pUSD (WAD) it may burn.
        nonce: its nonce.
        bonus: what it should earn, collateral value seized − pUSD paid, pUSD WAD as planned (0 for a margin call).
        to, data, gas: the call and its gas limit, to re-sign it with higher fees.
        max_fee, tip: its maxFeePerGas and maxPriorityFeePerGas, wei.
        broadcast_block: the block at its last (re)broadcast.
    """

    tx_hash: str
    vault_ids: tuple[int, ...]
    sent_block: int
    cost: int
    nonce: int
    bonus: int
    to: str
    data: str
    gas: int
    max_fee: int
    tip: int
    broadcast_block: int


@dataclass(frozen=True)
class Snapshot:
    """The state as loaded at start."""

    scanned_to: int
    vault_ids: frozenset[int]
    hashes: dict[int, str]
    pending: tuple[PendingTx, ...]


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _sqlite_pragmas(connection, _record) -> None:
    # A commit per block: the write-ahead log makes it one append instead of two synced writes. A power cut may
    # lose the last commits, never corrupt the file; a lost cursor only means blocks scanned again.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class KeeperStore:
    """The keeper's tables in the database at ``url``, for one deployment.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///keeper.sqlite`` or ``postgresql+psycopg://…``.
        chain_id: the deployment's chain id.
        engine_address: the VaultEngine address (0x…, any case).
        deployment_block: block number of the deployment (the index starts after the block before it).
        deployment_hash: that block's hash (0x…).

    Raises:
        StateError: the database holds the state of another deployment (other chain, engine or deployment block
            hash), or cannot be opened.
    """

    def __init__(self, url: str, chain_id: int, engine_address: str, deployment_block: int, deployment_hash: str):
        #: The URL with any password masked: safe to log.
        self.url = _masked(url)
        try:
            self.db: Engine = create_engine(url)
            if self.db.dialect.name == "sqlite":
                event.listen(self.db, "connect", _sqlite_pragmas)
            metadata.create_all(self.db)
        except Exception as e:  # a bad URL, a missing driver, an unwritable file: all one message for the operator
            raise StateError(f"cannot open the keeper state at {self.url}: {e}") from e
        digest = hashlib.sha256(f"plimsoll-keeper:{chain_id}:{engine_address.lower()}".encode()).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)  # one leader per deployment
        self._lock: Connection | None = None  # PostgreSQL: the connection holding the advisory lock
        self._file_lock: int | None = None  # SQLite: the descriptor holding the flock
        #: The last block before the deployment: a full rebuild of the index scans from the block after it.
        self.origin = deployment_block - 1
        key = {"chain_id": chain_id, "engine": engine_address.lower(), "block_hash": deployment_hash.lower()}
        with self.db.begin() as c:
            row = c.execute(select(deployment)).mappings().first()
            if row is None:
                c.execute(insert(deployment).values(id=1, scanned_to=deployment_block - 1, **key))
            elif {k: row[k] for k in key} != key:
                raise StateError(
                    f"the keeper state at {self.url} belongs to another deployment (chain {row['chain_id']}, engine "
                    f"{row['engine']}, deployment block hash {row['block_hash']}); give another --state or delete it"
                )

    def load(self) -> Snapshot:
        """Read everything back (at start)."""
        with self.db.connect() as c:
            scanned_to = c.execute(select(deployment.c.scanned_to)).scalar_one()
            ids = frozenset(c.execute(select(vaults.c.vault_id)).scalars())
            hashes = {n: h for n, h in c.execute(select(blocks.c.number, blocks.c.hash))}
            txs = tuple(
                PendingTx(r.tx_hash, tuple(r.vault_ids), r.sent_block, int(r.cost), r.nonce, int(r.bonus), r.to,
                          r.data, r.gas, int(r.max_fee), int(r.tip), r.broadcast_block)
                for r in c.execute(select(pending)).all()
            )
        return Snapshot(scanned_to, ids, hashes, txs)

    def save_scan(self, scanned_to: int, added: set[int], removed: set[int], hashes: dict[int, str],
                  keep_from: int) -> None:
        """One block's index changes, atomically: the new cursor, vaults added and removed, block hashes recorded
        (those below ``keep_from`` are pruned)."""
        with self.db.begin() as c:
            c.execute(update(deployment).values(scanned_to=scanned_to))
            if removed:
                c.execute(delete(vaults).where(vaults.c.vault_id.in_(removed)))
            if added:
                c.execute(insert(vaults), [{"vault_id": v} for v in added])
            if hashes:
                c.execute(delete(blocks).where(blocks.c.number.in_(hashes)))
                c.execute(insert(blocks), [{"number": n, "hash": h} for n, h in hashes.items()])
            c.execute(delete(blocks).where(blocks.c.number < keep_from))

    def rewind(self, to_block: int) -> None:
        """A reorg forked after ``to_block``: scan again from the block after it; forget the hashes above it."""
        with self.db.begin() as c:
            c.execute(update(deployment).values(scanned_to=to_block))
            c.execute(delete(blocks).where(blocks.c.number > to_block))

    def add_pending(self, tx: PendingTx) -> None:
        """Record a transaction just sent."""
        with self.db.begin() as c:
            row = asdict(tx)
            row.update(vault_ids=list(tx.vault_ids), **{k: str(row[k]) for k in ("cost", "bonus", "max_fee", "tip")})
            c.execute(insert(pending).values(**row))

    def remove_pending(self, tx_hash: str) -> None:
        """Forget a transaction that was mined or dropped."""
        with self.db.begin() as c:
            c.execute(delete(pending).where(pending.c.tx_hash == tx_hash))

    def try_lead(self) -> bool:
        """Whether this keeper leads, taking the lead if it is free: only the leader of a state works.

        - PostgreSQL: ``pg_try_advisory_lock`` on a connection kept open (re-entrant, so asking again each block
          also checks that the connection, and so the lock, is still there); a lost connection loses the lead.
        - An SQLite file: an exclusive ``flock`` on ``FILE.lock``, which the system releases when the process dies
          (keepers on one machine).
        - Anything else (an in-memory SQLite): always the leader.
        """
        if self.db.dialect.name == "sqlite":
            return self._try_file_lock()
        if self.db.dialect.name != "postgresql":
            return True
        try:
            if self._lock is None:
                self._lock = self.db.connect()
            held = bool(self._lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key}).scalar())
            self._lock.commit()  # the lock is the session's: stay idle, not idle in a transaction
            return held
        except DBAPIError:
            self._drop_lock()
            return False

    def _try_file_lock(self) -> bool:
        path = self.db.url.database
        if not path or path == ":memory:":
            return True
        if self._file_lock is None:
            fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._file_lock = fd
        return True

    def _drop_lock(self) -> None:
        if self._lock is not None:
            try:
                self._lock.close()
            except DBAPIError:
                pass
            self._lock = None

    def close(self) -> None:
        """Release the connections and the lead."""
        self._drop_lock()
        if self._file_lock is not None:
            os.close(self._file_lock)  # releases the flock
            self._file_lock = None
        self.db.dispose()
