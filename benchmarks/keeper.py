"""Keeper benchmark at scale: index rebuild from events and one block's work, for N indebted vaults.

    .venv/bin/python benchmarks/keeper.py --vaults 10000   →  benchmarks/results/keeper.json and keeper.md

On a fresh Anvil (automine) with the local deployment, N vaults each deposit WETH and borrow (2·N transactions,
sent in waves). Then a keeper with an empty state (SQLite file):

* rebuilds its vault index from the Borrow events (``VaultIndex.sync`` to the head): goal < 30 s at 10,000;
* works one block, nothing unsafe (``Keeper.on_block``: index check, VaultLens reads in chunks, prices,
  parameters, decisions), and a second block with every vault unsafe (dry run: decided, not sent).

Times are wall clock on this machine (2 cores, Anvil on the same machine); they are measured here, never asserted
in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from web3 import AsyncWeb3, Web3, WebSocketProvider

from plimsoll.demo.run import DEFAULT_CONFIG, deploy_with_ape
from plimsoll.keeper.bot import MAX_MESSAGE, Keeper, KeeperConfig
from plimsoll.sdk.anvil import Anvil, dev_private_key
from plimsoll.sdk.contracts import Manifest, Protocol
from plimsoll.sdk.math import WAD

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
ACCOUNTS = 20
WAVE = 200


def _send_all(w3: Web3, calls: list[tuple[str, object]]) -> None:
    """Send (sender, bound call) in waves of WAVE with local nonces; wait for each wave's receipts."""
    nonces: dict[str, int] = {}
    for i in range(0, len(calls), WAVE):
        hashes = []
        for sender, fn in calls[i : i + WAVE]:
            if sender not in nonces:
                nonces[sender] = w3.eth.get_transaction_count(sender, "pending")
            hashes.append(fn.transact({"from": sender, "nonce": nonces[sender], "gas": 800_000}))
            nonces[sender] += 1
        for h in hashes:
            if w3.eth.wait_for_transaction_receipt(h, timeout=120)["status"] != 1:
                sys.exit(f"set-up transaction {h.hex()} reverted")
        print(f"  {min(i + WAVE, len(calls))}/{len(calls)} transactions", end="\r", flush=True)
    print()


def _open_vaults(w3: Web3, p: Protocol, n: int) -> None:
    """n vaults: 1 WETH each (worth $2,000 at the deployment's price) and 1,000 pUSD of debt, over ACCOUNTS."""
    weth = p.tokens["WETH"]
    owners = w3.eth.accounts[:ACCOUNTS]
    _send_all(w3, [(o, weth.functions.mint(o, n * WAD)) for o in owners]
              + [(o, weth.functions.approve(p.engine.address, 2**256 - 1)) for o in owners])
    _send_all(w3, [(owners[i % ACCOUNTS], p.engine.functions.open(weth.address, WAD)) for i in range(n)])
    first = p.engine.functions.vaultCount().call() - n + 1
    _send_all(w3, [(owners[i % ACCOUNTS], p.engine.functions.borrow(first + i, 1_000 * WAD, owners[i % ACCOUNTS]))
                   for i in range(n)])


async def _keeper_work(ws_url: str, manifest: Manifest, state: Path) -> dict[str, float]:
    cfg = KeeperConfig(ws_url=ws_url, manifest=manifest, private_key=dev_private_key(1), dry_run=True,
                       state_url=f"sqlite:///{state}", quiet=True)
    keeper = Keeper(cfg)
    provider = WebSocketProvider(ws_url, websocket_kwargs={"max_size": MAX_MESSAGE})
    await provider.connect()
    keeper.w3 = AsyncWeb3(provider)
    try:
        await keeper._setup()
        head = await keeper.w3.eth.block_number
        block = await keeper.w3.eth.get_block(head)
        t = time.perf_counter()
        synced = await keeper.index.sync(head, block["hash"].to_0x_hex())
        rebuild = time.perf_counter() - t
        t = time.perf_counter()
        await keeper.on_block(head)
        safe_block = time.perf_counter() - t
        return {"rebuild_s": rebuild, "indexed": len(keeper.index.vault_ids), "discovered": synced["new"],
                "block_all_safe_s": safe_block, "head": head}
    finally:
        keeper.store.close()
        await provider.disconnect()


async def _unsafe_block(ws_url: str, manifest: Manifest, state: Path) -> dict[str, float]:
    """One block with every vault unsafe, on the state the first pass left (dry run: decided, not sent)."""
    cfg = KeeperConfig(ws_url=ws_url, manifest=manifest, private_key=dev_private_key(1), dry_run=True,
                       state_url=f"sqlite:///{state}", quiet=True, batch_size=200)
    keeper = Keeper(cfg)
    provider = WebSocketProvider(ws_url, websocket_kwargs={"max_size": MAX_MESSAGE})
    await provider.connect()
    keeper.w3 = AsyncWeb3(provider)
    decided = []  # vaults decided: margin-called (WETH offers margin calls) or liquidated
    keeper.emit = lambda event, **f: decided.append(f["vault"]) if event in ("decide", "margin_call") else None
    try:
        await keeper._setup()
        head = await keeper.w3.eth.block_number
        t = time.perf_counter()
        await keeper.on_block(head)
        return {"block_all_unsafe_s": time.perf_counter() - t, "decided": len(decided)}
    finally:
        keeper.store.close()
        await provider.disconnect()


def main() -> None:
    """Run the benchmark and write benchmarks/results/keeper.{json,md}."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vaults", type=int, default=10_000, help="indebted vaults to open (default 10,000)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plimsoll-bench-"))
    with Anvil(accounts=ACCOUNTS, log_path=work / "anvil.log") as anvil:
        deploy_with_ape(anvil.http_url, DEFAULT_CONFIG, work / "manifest.json", work / "deploy.log", name="bench")
        w3 = Web3(Web3.HTTPProvider(anvil.http_url, request_kwargs={"timeout": 120}))
        manifest = Manifest.load(work / "manifest.json")
        p = Protocol(w3, manifest)
        t = time.perf_counter()
        print(f"opening {args.vaults} indebted vaults …")
        _open_vaults(w3, p, args.vaults)
        setup = time.perf_counter() - t
        state = work / "keeper.sqlite"
        result = asyncio.run(_keeper_work(anvil.ws_url, manifest, state))
        # WETH from $2,000 to $1,100 (within the adapter's 50 % breaker): every vault (1,000 pUSD against $935 of
        # maintenance) is unsafe.
        p.feeds["WETH"].functions.updateAnswer(1_100 * 10**8).transact({"from": w3.eth.accounts[0]})
        result |= asyncio.run(_unsafe_block(anvil.ws_url, manifest, state))
    result = {"vaults": args.vaults, "setup_s": round(setup, 1), **{k: round(v, 3) if isinstance(v, float) else v
                                                                    for k, v in result.items()},
              "machine": f"{os.cpu_count()} cores", "goal_rebuild_s": 30}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "keeper.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("indebted vaults", f"{result['vaults']:,}"),
            ("index rebuild from Borrow events (goal < 30 s)", f"{result['rebuild_s']} s"),
            ("one block, every vault safe (read + decide)", f"{result['block_all_safe_s']} s"),
            ("one block, every vault unsafe (read + decide, dry run)", f"{result['block_all_unsafe_s']} s"),
            ("vaults decided in that block (margin calls: WETH offers them)", f"{result['decided']:,}")]
    (OUT / "keeper.md").write_text(
        "# Keeper at scale\n\n`.venv/bin/python benchmarks/keeper.py --vaults N` on this machine "
        f"({result['machine']}, Anvil alongside). Wall-clock seconds.\n\n| measure | value |\n| --- | ---: |\n"
        + "".join(f"| {a} | {b} |\n" for a, b in rows))
    print((OUT / "keeper.md").read_text())


if __name__ == "__main__":
    main()
