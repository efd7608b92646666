"""Keeper benchmark at scale: index rebuild from events and the work of each block, for N indebted vaults.

    .venv/bin/python benchmarks/keeper.py --vaults 10000   →  benchmarks/results/keeper.json and keeper.md

On a fresh Anvil with the local deployment, N vaults each deposit WETH and borrow (2·N transactions, mined in
blocks of many). Then an in-process keeper (dry run: it decides and logs, sends nothing) with an empty state:

* rebuilds its vault index from the engines' events (``VaultIndex.sync`` to the head): goal < 30 s at 10,000;
* works the first block with a cold position cache: every vault read through VaultLens;
* works BLOCKS blocks in which only the WETH price moves: nothing to read again, every vault valued and decided;
  head-to-decision time p50/p99 (goal p99 < 200 ms) and the keeper's CPU per block;
* works a block in which WETH falls far enough to make every vault unsafe: every one valued, and as many decided
  (margin calls) as the next block can hold.

Times are wall clock on this machine (2 cores, Anvil on the same machine); they are measured here, never asserted
in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from web3 import Web3

from plimsoll.demo.run import DEFAULT_CONFIG, percentile
from plimsoll.sdk.deploy import deploy_to
from plimsoll.keeper.bot import MAX_MESSAGE, Keeper, KeeperConfig
from plimsoll.sdk.anvil import Anvil, dev_private_key, send_in_blocks
from plimsoll.sdk.contracts import Manifest, Protocol
from plimsoll.sdk.math import WAD
from plimsoll.sdk.websocket import WaitingWebSocketProvider, async_web3

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
ACCOUNTS = 20
#: Gas limit of each set-up transaction (an open or a borrow uses less).
GAS = 300_000
#: Blocks in which only the price moves.
BLOCKS = 30


def _progress(done: int, total: int) -> None:
    print(f"  {done}/{total} transactions", end="\r" if done < total else "\n", flush=True)


def _open_vaults(w3: Web3, p: Protocol, n: int) -> None:
    """n vaults: 1 WETH each (worth $2,000 at the deployment's price) and 1,000 pUSD of debt, over ACCOUNTS."""
    weth = p.tokens["WETH"]
    owners = w3.eth.accounts[:ACCOUNTS]
    send_in_blocks(w3, [(o, weth.functions.mint(o, n * WAD)) for o in owners]
                   + [(o, weth.functions.approve(p.engine.address, 2**256 - 1)) for o in owners], "faucet", GAS)
    opened = send_in_blocks(w3, [(owners[i % ACCOUNTS], p.engine.functions.open(weth.address, WAD))
                                 for i in range(n)], "open vaults", GAS, progress=_progress)
    # A block orders its senders as the node likes: each vault's id is in its own receipt.
    topic = p.engine.events.VaultOpened().topic
    vaults = [(Web3.to_checksum_address(r["from"]), int(next(log["topics"][1] for log in r["logs"] if log["topics"][0] == topic), 16))
              for r in opened]
    borrows = [(owner, p.engine.functions.borrow(vault_id, 1_000 * WAD, owner)) for owner, vault_id in vaults]
    send_in_blocks(w3, borrows, "borrow", GAS, progress=_progress)


async def _keeper_work(ws_url: str, manifest: Manifest, state: Path, w3: Web3, p: Protocol) -> dict[str, float]:
    """One in-process keeper (dry run) through the rebuild, the cold block, BLOCKS price-only blocks and the
    crash block."""
    cfg = KeeperConfig(ws_url=ws_url, manifest=manifest, private_key=dev_private_key(1), dry_run=True,
                       state_url=f"sqlite:///{state}", quiet=True, batch_size=200)
    keeper = Keeper(cfg)
    decided = []  # vaults decided: margin-called (WETH offers margin calls) or liquidated
    keeper.emit = lambda event, **f: decided.append(f["vault"]) if event in ("decide", "margin_call") else None
    provider = WaitingWebSocketProvider(ws_url, websocket_kwargs={"max_size": MAX_MESSAGE})
    await provider.connect()
    keeper.w3 = async_web3(provider)
    feed, admin = p.feeds["WETH"].functions, w3.eth.accounts[0]

    def set_price(answer: int) -> int:
        """A new WETH round, mined in its own block; returns that block's number."""
        h = feed.updateAnswer(answer).transact({"from": admin})
        return w3.eth.wait_for_transaction_receipt(h)["blockNumber"]

    async def block(head: int) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        await keeper.on_block(head)
        return time.perf_counter() - wall, time.process_time() - cpu

    try:
        await keeper._setup()
        head = await keeper.w3.eth.block_number
        t = time.perf_counter()
        synced = await keeper.index.sync(head, (await keeper.w3.eth.get_block(head))["hash"].to_0x_hex())
        rebuild = time.perf_counter() - t
        cold, _ = await block(head)
        walls, cpus = [], []
        for k in range(BLOCKS):  # WETH moves ±0.1 % a block around $2,000: every vault revalued, none unsafe
            wall, cpu = await block(set_price((2_000 * 10**8) * (1_000 + (1 if k % 2 else -1)) // 1_000))
            walls.append(wall)
            cpus.append(cpu)
        safe_decided = len(decided)
        # WETH to $1,100 (within the adapter's 50 % breaker): every vault (1,000 pUSD against $935 of maintenance)
        # is unsafe.
        crash, crash_cpu = await block(set_price(1_100 * 10**8))
        return {"rebuild_s": rebuild, "indexed": len(keeper.index.vault_ids), "discovered": synced["new"],
                "cold_block_s": cold, "block_p50_s": percentile(walls, 0.5), "block_p99_s": percentile(walls, 0.99),
                "block_cpu_p50_s": percentile(cpus, 0.5), "block_cpu_max_s": max(cpus), "blocks": BLOCKS,
                "decided_while_safe": safe_decided, "crash_block_s": crash, "crash_block_cpu_s": crash_cpu,
                "decided_in_crash": len(decided) - safe_decided, "head": head}
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
        deploy_to(anvil.http_url, DEFAULT_CONFIG, "bench", out=work / "manifest.json", verbose=False)
        w3 = Web3(Web3.HTTPProvider(anvil.http_url, request_kwargs={"timeout": 120}))
        manifest = Manifest.load(work / "manifest.json")
        p = Protocol(w3, manifest)
        t = time.perf_counter()
        print(f"opening {args.vaults} indebted vaults …")
        _open_vaults(w3, p, args.vaults)
        setup = time.perf_counter() - t
        result = asyncio.run(_keeper_work(anvil.ws_url, manifest, work / "keeper.sqlite", w3, p))
    result = {"vaults": args.vaults, "setup_s": round(setup, 1), **{k: round(v, 3) if isinstance(v, float) else v
                                                                    for k, v in result.items()},
              "machine": f"{os.cpu_count()} cores", "goal_rebuild_s": 30, "goal_block_p99_s": 0.2}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "keeper.json").write_text(json.dumps(result, indent=2) + "\n")
    ms = lambda key: f"{1000 * result[key]:,.0f} ms"
    rows = [("indebted vaults", f"{result['vaults']:,}"),
            ("set-up: open and borrow, 2 transactions per vault", f"{result['setup_s']} s"),
            ("index rebuild from the engines' events (goal < 30 s)", f"{result['rebuild_s']} s"),
            ("first block, cold position cache: every vault read", ms("cold_block_s")),
            (f"head to decision, {BLOCKS} blocks where only the price moves: p50", ms("block_p50_s")),
            ("… p99 (goal < 200 ms)", ms("block_p99_s")),
            ("keeper CPU per such block: p50", ms("block_cpu_p50_s")),
            ("… max", ms("block_cpu_max_s")),
            ("vaults decided in those blocks (all safe)", f"{result['decided_while_safe']:,}"),
            ("the crash block: every vault unsafe, head to decision", ms("crash_block_s")),
            ("… keeper CPU", ms("crash_block_cpu_s")),
            ("vaults decided in the crash block: margin calls (WETH offers them), as many as the next block holds",
             f"{result['decided_in_crash']:,} of {result['vaults']:,} unsafe")]
    (OUT / "keeper.md").write_text(
        "# Keeper at scale\n\n`.venv/bin/python benchmarks/keeper.py --vaults N` on this machine "
        f"({result['machine']}, Anvil alongside): wall clock, and the keeper process's CPU time.\n\n| measure | value |\n| --- | ---: |\n"
        + "".join(f"| {a} | {b} |\n" for a, b in rows))
    print((OUT / "keeper.md").read_text())


if __name__ == "__main__":
    main()
