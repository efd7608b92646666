"""Start and stop a local Anvil node (always on 127.0.0.1), and its dev-only RPC methods."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from web3 import Web3

from .contracts import PROJECT_ROOT, calldata

#: Anvil's default mnemonic (also ape-config.yaml's test mnemonic): its keys are public, dev use only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
NPM_ANVIL = PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


class AnvilError(RuntimeError):
    """Anvil is not installed, or did not start."""


def anvil_binary() -> str:
    """Path of the anvil executable: ANVIL_BIN, then the npm package, then PATH.

    Raises:
        AnvilError: none found (run ``make setup``).
    """
    for candidate in (os.environ.get("ANVIL_BIN"), str(NPM_ANVIL), shutil.which("anvil")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise AnvilError("anvil not found: run `make setup` (installs @foundry-rs/anvil from npm)")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    """A child Anvil process on 127.0.0.1 (context manager: stopped on exit).

    Args:
        port: TCP port (default: a free one).
        accounts: number of dev accounts (from DEV_MNEMONIC), each funded with 10,000 ETH; 0: no dev keys.
        block_time: seconds between blocks (interval mining from genesis, fractions allowed); None: automine.
        log_path: where anvil's output goes (default: discarded).
        state_path: a state file: loaded at start when it exists, written every second and at exit (anvil
            ``--state``), so that a restarted node resumes the chain.
        chain_id: the EIP-155 chain id (a test network's, to rehearse a deployment to it).
    """

    def __init__(
        self,
        port: int | None = None,
        accounts: int = 30,
        block_time: float | None = None,
        log_path: Path | None = None,
        state_path: Path | None = None,
        chain_id: int = 31337,
    ):
        self.port = port or free_port()
        self.chain_id = chain_id
        self.accounts = accounts
        self.block_time = block_time
        self.log_path = log_path
        self.state_path = state_path
        self.proc: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        """JSON-RPC over HTTP."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """JSON-RPC over WebSocket (same port)."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "Anvil":
        """Start the node and wait until it answers.

        Raises:
            AnvilError: it exited or did not answer within ``timeout`` seconds.
        """
        out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        cmd = [
            anvil_binary(), "--host", "127.0.0.1", "--port", str(self.port),
            "--accounts", str(self.accounts), "--mnemonic", DEV_MNEMONIC, "--chain-id", str(self.chain_id),
        ]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_path:
            cmd += ["--state", str(self.state_path), "--state-interval", "1"]
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        w3 = Web3(Web3.HTTPProvider(self.http_url))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AnvilError(f"anvil exited with code {self.proc.returncode}: {' '.join(cmd)}")
            try:
                w3.eth.block_number
                return self
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.http_url} within {timeout} s")

    def stop(self) -> None:
        """Terminate the node (kill after 5 s)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def dev_private_key(index: int) -> str:
    """Private key (hex) of dev account ``index`` of DEV_MNEMONIC (Anvil's and ape's test accounts)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key.hex()


def set_next_block_timestamp(w3: Web3, timestamp: int) -> None:
    """Stamp the next mined block with ``timestamp`` (seconds); later blocks continue from it."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


class BulkError(RuntimeError):
    """A transaction sent by ``send_in_blocks`` reverted; the message names it and its decoded error."""


#: Block gas limit while ``send_in_blocks`` mines: a set-up block then holds a thousand transactions.
BULK_BLOCK_GAS = 2_000_000_000


def send_in_blocks(w3: Web3, calls: list[tuple[str, Any]], what: str, gas: int, wave: int = 2_000,
                   progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Send many contract calls fast, on an automining Anvil: automine paused, each wave of ``wave`` calls sent in
    one JSON-RPC batch (local nonces, fixed fees), then mined in blocks of up to BULK_BLOCK_GAS gas; receipts read
    in one batch per wave. Thousands of transactions a second, where one request each manages about a hundred.

    Args:
        w3: the node (unlocked dev accounts).
        calls: (sender address, bound contract function), sent in this order (a sender's calls keep it).
        what: names the step in an error.
        gas: each transaction's gas limit.
        wave: calls per batch.
        progress: called with (calls done, calls) after each wave.
    Returns:
        the receipts as the node sends them (JSON: quantities in hex), in the order of ``calls``.
    Raises:
        BulkError: the node refused a transaction, or one reverted (the first one, with its error decoded by
            plimsoll.sdk.errors). Automine and the block gas limit are restored in any case.
    """
    from .errors import revert_reason

    nonces: dict[str, int] = {}
    head = w3.eth.get_block("latest")
    fixed = {"gas": gas, "chainId": w3.eth.chain_id, "maxFeePerGas": 2 * head["baseFeePerGas"] + 10**9,
             "maxPriorityFeePerGas": 10**9}
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("evm_setBlockGasLimit", [hex(BULK_BLOCK_GAS)])
    receipts: list[dict] = []
    try:
        for i in range(0, len(calls), wave):
            sent = []
            for sender, fn in calls[i : i + wave]:
                if sender not in nonces:
                    nonces[sender] = w3.eth.get_transaction_count(sender, "pending")
                params = {"from": sender, "nonce": nonces[sender], **fixed}
                nonces[sender] += 1
                tx = {"to": fn.address, "data": calldata(fn), **params}
                sent.append((fn, params, {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}))
            answers = w3.provider.make_batch_request([("eth_sendTransaction", [tx]) for _, _, tx in sent])
            refused = [a["error"] for a in answers if "error" in a]
            if refused:
                raise BulkError(f"{what}: the node refused {len(refused)} transactions, the first: {refused[0]}")
            w3.provider.make_request("evm_mine", [])
            while w3.provider.make_request("txpool_status", [])["result"]["pending"] not in (0, "0x0"):
                w3.provider.make_request("evm_mine", [])
            got = w3.provider.make_batch_request([("eth_getTransactionReceipt", [a["result"]]) for a in answers])
            for (fn, params, _), answer in zip(sent, got):
                r = answer["result"]
                if int(r["status"], 16) != 1:
                    raise BulkError(f"{what}: transaction {r['transactionHash']} reverted: "
                                    f"{revert_reason(fn, params, int(r['blockNumber'], 16))}")
            receipts += [a["result"] for a in got]
            if progress is not None:
                progress(len(receipts), len(calls))
    finally:
        w3.provider.make_request("evm_setBlockGasLimit", [hex(head["gasLimit"])])
        w3.provider.make_request("evm_setAutomine", [True])
    return receipts
