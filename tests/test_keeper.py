"""The keeper process on its own: a real Anvil, the real deploy script, one unsafe vault.

Anvil automines here and the test mines empty blocks itself, so what the keeper sees block by block is exact:
in --dry-run it decides (the same plan as LiquidationEngine.previewLiquidation) and sends nothing; live, its
liquidation is mined in the block after the one where it saw the vault unsafe.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import BLOCK_SECONDS
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from plimsoll.demo.run import DEFAULT_CONFIG
from plimsoll.sdk.deploy import deploy_to
from plimsoll.sdk.anvil import Anvil, dev_private_key, free_port, send_in_blocks
from plimsoll.sdk.contracts import PROJECT_ROOT, Manifest, Protocol, load_abi
from plimsoll.sdk.math import WAD

pytestmark = pytest.mark.integration
KEEPER, ALICE = 1, 2


def events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")] if log.exists() else []


def wait_for(log: Path, pred, timeout=180.0) -> dict:
    """The first keeper log event matching ``pred``. ``timeout`` is only a bound for a hung keeper: on a busy
    machine the process may take long to start, and nothing here measures speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(log):
            if pred(e):
                return e
        time.sleep(0.05)
    raise AssertionError(f"no matching keeper event within {timeout} s:\n{log.read_text() if log.exists() else ''}")


def _deployed(work: Path, config: Path, **anvil_options):
    """Anvil (automine) with the protocol deployed from `config`, alice's vault at HF ≈ 0.963 and the keeper's
    inventory."""
    with Anvil(accounts=4, **anvil_options) as anvil:
        manifest_path = work / "manifest.json"
        deploy_to(anvil.http_url, config, "keeper-test", out=manifest_path, verbose=False)
        w3 = Web3(Web3.HTTPProvider(anvil.http_url))
        p = Protocol(w3, Manifest.load(manifest_path))
        acct = w3.eth.accounts
        weth = p.tokens["WETH"]
        for who, amount in ((ALICE, 10), (KEEPER, 100)):
            weth.functions.mint(acct[who], amount * WAD).transact({"from": acct[who]})
            weth.functions.approve(p.engine.address, 2**256 - 1).transact({"from": acct[who]})
            p.engine.functions.open(weth.address, amount * WAD).transact({"from": acct[who]})
        p.engine.functions.borrow(1, 15_000 * WAD, acct[ALICE]).transact({"from": acct[ALICE]})
        p.engine.functions.borrow(2, 50_000 * WAD, acct[KEEPER]).transact({"from": acct[KEEPER]})
        p.feeds["WETH"].functions.updateAnswer(1_700 * 10**8).transact({"from": acct[0]})
        yield anvil, w3, p, manifest_path, work


def _without_margin_calls(work: Path) -> Path:
    """The local configuration without margin calls (an unsafe vault is liquidated at once), written in `work`."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for c in raw["collaterals"]:
        c.pop("margin_call", None)
    config = work / "no-margin-calls.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The local configuration without margin calls: the vault is liquidated at once."""
    work = tmp_path_factory.mktemp("keeper")
    yield from _deployed(work, _without_margin_calls(work))


@pytest.fixture
def fresh(tmp_path_factory):
    """A chain of one's own (the local configuration without margin calls): for tests that change it."""
    work = tmp_path_factory.mktemp("keeper")
    yield from _deployed(work, _without_margin_calls(work))


@pytest.fixture(scope="module")
def called_chain(tmp_path_factory):
    """The local configuration as it is: WETH offers margin calls."""
    yield from _deployed(tmp_path_factory.mktemp("keeper-calls"), DEFAULT_CONFIG)


def start_keeper(anvil, manifest_path: Path, log: Path, *extra: str, account: int = KEEPER) -> subprocess.Popen:
    env = dict(os.environ, PLIMSOLL_KEEPER_KEY=dev_private_key(account))
    cmd = [sys.executable, "-m", "plimsoll.cli", "keeper", "run", "--ws", anvil.ws_url,
           "--manifest", str(manifest_path), "--log-file", str(log), *extra]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready(e: dict) -> bool:
        if proc.poll() is not None:  # exited before it was ready: fail now, with its reason
            raise AssertionError(f"keeper exited with code {proc.returncode}: {proc.stderr.read().decode()}")
        return e["event"] == "ready"

    wait_for(log, ready)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0, proc.stderr.read().decode()


def liquidated_in_next_block(anvil, w3, manifest_path: Path, log: Path, *extra: str, account: int = KEEPER):
    """Start a keeper, mine one block and require its liquidation of vault 1 mined in the block after the one it
    decided on; stop it and return the receipt."""
    proc = start_keeper(anvil, manifest_path, log, *extra, account=account)
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
    finally:
        stop(proc)
    assert receipt["status"] == 1 and receipt["blockNumber"] == sent["block"] + 1
    return receipt


def test_dry_run_decides_like_the_contract_and_sends_nothing(chain):
    anvil, w3, p, manifest_path, work = chain
    normalized = p.engine.functions.normalizedDebt(1).call()
    log = work / "dry.log"
    proc = start_keeper(anvil, manifest_path, log, "--dry-run")
    try:
        w3.provider.make_request("evm_mine", [])
        decided = wait_for(log, lambda e: e["event"] == "decide" and e["vault"] == 1)
        wait_for(log, lambda e: e["event"] == "dry_run" and e["vaults"] == [1])
    finally:
        stop(proc)
    preview = p.liquidation.functions.previewLiquidation(1).call(block_identifier=decided["block"])
    assert (decided["hf"], decided["repay"], decided["fee"], decided["fraction"], decided["seized"],
            decided["full"]) == tuple(preview)
    assert not [e for e in events(log) if e["event"] == "sent"]
    assert p.engine.functions.normalizedDebt(1).call() == normalized
    assert [e["total"] for e in events(log) if e["event"] == "vaults_discovered"] == [2]


def test_a_vault_whose_bonus_does_not_cover_the_least_profit_is_left_and_quiet_logs_no_reads(chain):
    """The vault's liquidation earns about $285 of bonus; asking for $1,000,000 after gas leaves it (logged), and
    --quiet leaves out the per-block read events."""
    anvil, w3, _, manifest_path, work = chain
    log = work / "unprofitable.log"
    proc = start_keeper(anvil, manifest_path, log, "--dry-run", "--quiet", "--min-profit", "1000000")
    try:
        w3.provider.make_request("evm_mine", [])
        skipped = wait_for(log, lambda e: e["event"] == "skip" and e["vault"] == 1)
    finally:
        stop(proc)
    assert skipped["reason"] == "unprofitable"
    assert not [e for e in events(log) if e["event"] in ("read", "decide", "dry_run")]


def _scrape(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def test_live_keeper_liquidates_in_the_next_block_and_reports_it_in_its_metrics_and_reconciliation(chain):
    anvil, w3, p, manifest_path, work = chain
    log = work / "live.log"
    port = free_port()
    proc = start_keeper(anvil, manifest_path, log, "--metrics-port", str(port), "--reconcile-every", "1")
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        decided = next(e for e in events(log) if e["event"] == "decide" and e["vault"] == 1)
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        w3.provider.make_request("evm_mine", [])
        head = receipt["blockNumber"] + 1
        deadline = time.monotonic() + 60  # a bound for a hung keeper only
        while json.loads(_scrape(port, "/health")[1])["processed"] != head and time.monotonic() < deadline:
            time.sleep(0.05)  # the keeper is still working on that block
        # A reconciliation runs in the background every block (--reconcile-every 1) unless one is still running:
        # mine until one covers the liquidation's block.
        for _ in range(30):
            done = [e for e in events(log) if e["event"] == "reconcile" and e["block"] >= receipt["blockNumber"]]
            if done:
                break
            w3.provider.make_request("evm_mine", [])
            mined_to = w3.eth.block_number
            wait_for(log, lambda e: e["event"] == "read" and e["block"] == mined_to)
        reconciled = done[0]
        head = w3.eth.block_number
        while json.loads(_scrape(port, "/health")[1])["processed"] != head and time.monotonic() < deadline:
            time.sleep(0.05)
        status, metrics = _scrape(port, "/metrics")
        health_status, health = _scrape(port, "/health")
        missing_status, _ = _scrape(port, "/nothing")
    finally:
        stop(proc)
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == sent["block"] + 1
    liq = p.liquidation.events.Liquidate().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["vaultId"] for e in liq] == [1]
    assert p.engine.functions.healthFactor(1).call() >= WAD
    assert (status, health_status, missing_status) == (200, 200, 404)
    assert _metric(metrics, "plimsoll_keeper_liquidated_vaults_total") == 1
    assert _metric(metrics, "plimsoll_keeper_gas_spent_wei_total") == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert _metric(metrics, "plimsoll_keeper_pnl_pusd") == (decided["seized"] - decided["repay"] - decided["fee"]) / WAD
    assert _metric(metrics, "plimsoll_keeper_head_to_broadcast_seconds_count") == 1
    assert _metric(metrics, "plimsoll_keeper_head_block") == _metric(metrics, "plimsoll_keeper_processed_block") == head
    assert _metric(metrics, "plimsoll_keeper_vaults_tracked") == 2
    assert _metric(metrics, "plimsoll_keeper_leader") == 1
    # The reconciliation of the liquidation's block (every block's, with --reconcile-every 1): all holds.
    assert (reconciled["ok"], reconciled["mismatches"], reconciled["vaults"]) == (True, [], 2)
    assert _metric(metrics, "plimsoll_keeper_reconcile_mismatches") == 0
    assert _metric(metrics, "plimsoll_keeper_reconcile_block") >= receipt["blockNumber"]
    details = json.loads(health)
    assert (details["status"], details["head"], details["processed"], details["leader"]) == ("ok", head, head, True)


def test_the_watchdog_ends_a_keeper_that_hears_no_new_head(chain):
    """Automine and no transactions: no block comes. With --watchdog 2 the keeper logs the alarm and exits 1."""
    anvil, _, _, manifest_path, work = chain
    log = work / "watchdog.log"
    proc = start_keeper(anvil, manifest_path, log, "--dry-run", "--watchdog", "2")
    _, err = proc.communicate(timeout=120)  # a bound for a hung keeper only
    assert proc.returncode == 1, err.decode()
    assert [e["seconds"] for e in events(log) if e["event"] == "watchdog"] == [2.0]


class _Webhook(http.server.BaseHTTPRequestHandler):
    """Records the JSON bodies POSTed to it (a margin-call notice receiver)."""

    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_live_keeper_margin_calls_in_the_next_block_waits_and_notifies_the_owner(called_chain):
    """With margin calls offered, the keeper calls the unsafe vault in the next block, then leaves it alone in its
    grace window (MarginCallRequired would refuse a liquidation before the call; MarginCallGracePeriod after). The
    owner gets a notice: a log line and a POST to the --notify-url webhook, with the call's terms."""
    anvil, w3, p, manifest_path, work = called_chain
    server = http.server.HTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = work / "calls.log"
    proc = start_keeper(anvil, manifest_path, log, "--notify-url", f"http://127.0.0.1:{server.server_port}/calls")
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        w3.provider.make_request("evm_mine", [])
        wait_for(log, lambda e: e["event"] == "skip" and e["vault"] == 1 and e["reason"] == "margin call grace")
        notice = wait_for(log, lambda e: e["event"] == "margin_call_notice")
        deadline = time.monotonic() + 30
        while not _Webhook.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(proc)
        server.shutdown()
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == sent["block"] + 1
    calls = p.liquidation.events.MarginCall().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["vaultId"] for e in calls] == [1]
    assert p.engine.functions.inMarginCall(1).call()
    assert not [e for e in events(log) if e["event"] == "mined" and not e["ok"]]
    call = calls[0]["args"]
    expected = {"vault": 1, "owner": w3.eth.accounts[ALICE], "deadline": call["deadline"],
                "hard_floor": call["hardFloor"], "premium": call["premium"], "health_factor": call["healthFactor"],
                "block": receipt["blockNumber"], "tx": sent["tx"]}
    assert {k: notice[k] for k in expected} == expected
    assert _Webhook.received == [{"event": "margin_call", **expected}]


# ---------------------------------------------------------------- issue 7 (e): a node that is not there


def _nowhere(tmp_path) -> tuple[str, Path]:
    """A WebSocket URL where nothing listens, and a manifest for it (the keeper never gets past connecting)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nobody = "0x" + "00" * 20
    names = ("VaultEngine", "PUSD", "VaultNFT", "VaultRenderer", "LiquidationEngine", "VaultLens", "PositionLens",
             "PortfolioMargin", "Timelock", "RiskSteward")
    manifest = Manifest(network="nowhere", chain_id=31337, block=0, deployer=nobody, block_hash="0x" + "00" * 32,
                        version="0.1.0", contracts=dict.fromkeys(names, nobody),
                        parameters={"debt_ceiling": 0, "dust": 0, "stability_fee": 10**27})
    return f"ws://127.0.0.1:{port}", manifest.save(tmp_path / "nowhere.json")


def _keeper_without_node(tmp_path, *extra: str) -> tuple[subprocess.Popen, Path]:
    url, manifest = _nowhere(tmp_path)
    log = tmp_path / "keeper.log"
    env = dict(os.environ, PLIMSOLL_KEEPER_KEY=dev_private_key(KEEPER))
    cmd = [sys.executable, "-m", "plimsoll.cli", "keeper", "run", "--ws", url, "--manifest", str(manifest),
           "--log-file", str(log), *extra]
    return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT), log


def test_unreachable_node_is_a_clear_error_and_exit_1_after_the_connect_timeout(tmp_path):
    proc, _ = _keeper_without_node(tmp_path, "--connect-timeout", "2")
    out, _ = proc.communicate(timeout=180)  # a bound for a hung keeper only
    assert proc.returncode == 1, out.decode()
    assert "cannot reach the node" in out.decode()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_keeper_while_it_is_still_connecting(tmp_path, sig):
    # Ten minutes to connect: only the signal can end it within the bound below.
    proc, log = _keeper_without_node(tmp_path, "--connect-timeout", "600")
    wait_for(log, lambda e: e["event"] == "connecting")
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out.decode()
    assert "stopped before it was ready" in out.decode()


def test_losing_the_node_while_running_is_exit_1_not_a_stall(tmp_path_factory):
    gen = _deployed(tmp_path_factory.mktemp("keeper-lost"), DEFAULT_CONFIG)
    anvil, _, _, manifest_path, work = next(gen)
    log = work / "keeper.log"
    env = dict(os.environ, PLIMSOLL_KEEPER_KEY=dev_private_key(KEEPER))
    cmd = [sys.executable, "-m", "plimsoll.cli", "keeper", "run", "--ws", anvil.ws_url, "--manifest",
           str(manifest_path), "--log-file", str(log), "--dry-run"]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(log, lambda e: e["event"] == "ready")
    gen.close()  # stops Anvil
    out, _ = proc.communicate(timeout=180)  # a bound for a stalled keeper only
    assert proc.returncode == 1, out.decode()
    assert "lost the node" in out.decode()


# ---------------------------------------------------------------- issue 7 (a): one failing oracle


def test_a_failing_oracle_degrades_only_the_vaults_it_prices(fresh):
    """Every WBTC feed reverts: the WBTC oracle fails, and the keeper still liquidates the WETH-only vault in the
    next block instead of dropping the block."""
    anvil, w3, p, manifest_path, work = fresh
    for feed in p.manifest.collaterals["WBTC"].feeds:
        w3.eth.contract(address=feed, abi=p.feeds["WBTC"].abi).functions.setBroken(True).transact(
            {"from": w3.eth.accounts[0]})
    oracle = w3.eth.contract(address=p.manifest.collaterals["WBTC"].oracle, abi=load_abi("OracleAdapter"))
    with pytest.raises(ContractLogicError):
        oracle.functions.price().call()
    log = work / "oracle.log"
    liquidated_in_next_block(anvil, w3, manifest_path, log)
    assert not [e for e in events(log) if e["event"] == "block_error"]


# ---------------------------------------------------------------- issue 7 (b): a collateral listed after start


def _deploy_raw(w3, name: str, *args):
    """Deploy a compiled project contract (ape's build) from dev account 0 with plain web3."""
    t = json.loads((PROJECT_ROOT / ".build" / "__local__.json").read_text())["contractTypes"][name]
    factory = w3.eth.contract(abi=t["abi"], bytecode=t["deploymentBytecode"]["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": w3.eth.accounts[0]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=t["abi"])


def test_a_collateral_listed_after_the_manifest_does_not_stop_the_keeper(fresh):
    """A new collateral, listed through the timelock after the manifest was written and borrowed against: the
    keeper skips that vault (logged) and still liquidates the others in the next block."""
    anvil, w3, p, manifest_path, work = fresh
    admin, alice = w3.eth.accounts[0], w3.eth.accounts[ALICE]
    token = _deploy_raw(w3, "MockERC20", "New token", "NEW", 18)
    oracle = _deploy_raw(w3, "MockPriceOracle", 10 * WAD)
    timelock = w3.eth.contract(address=p.manifest.contracts["Timelock"], abi=load_abi("Timelock"))
    data = p.engine.encode_abi("addCollateral", [token.address, oracle.address, WAD // 2, WAD * 6 // 10,
                                                 WAD * 105 // 100, 10**9 * WAD])
    op = (p.engine.address, 0, data, b"\0" * 32, b"\0" * 32)
    timelock.functions.schedule(*op, timelock.functions.getMinDelay().call()).transact({"from": admin})
    w3.provider.make_request("evm_increaseTime", [3_600])
    w3.provider.make_request("evm_mine", [])
    for f in p.feeds.values():  # the hour passed: the feeds report again (WETH stays at $1,700)
        f.functions.updateAnswer(f.functions.latestRoundData().call()[1]).transact({"from": admin})
    timelock.functions.execute(*op).transact({"from": admin})
    token.functions.mint(alice, 1_000 * WAD).transact({"from": alice})
    token.functions.approve(p.engine.address, 2**256 - 1).transact({"from": alice})
    p.engine.functions.open(token.address, 1_000 * WAD).transact({"from": alice})  # vault 3: $10,000
    p.engine.functions.borrow(3, 1_000 * WAD, alice).transact({"from": alice})

    log = work / "new.log"
    proc = start_keeper(anvil, manifest_path, log)
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        wait_for(log, lambda e: e["event"] == "skip" and e["vault"] == 3 and e["reason"] == "unknown collateral")
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        assert proc.poll() is None  # still running
    finally:
        stop(proc)
    assert receipt["status"] == 1 and receipt["blockNumber"] == sent["block"] + 1


# ---------------------------------------------------------------- issue 7 (c), (d): spam vaults


def test_a_flood_of_20000_empty_vaults_costs_the_keeper_nothing_and_it_still_liquidates_at_once(fresh):
    """20,000 vaults opened with 1 wei each (permissionless and cheap) beside the two with debt: the keeper reads
    only the two, one per call with --read-chunk 1 (every vault ever opened in one eth_call is what a spammer could
    push past the node's gas cap), then keeps them cached and reads nothing more; the unsafe vault is liquidated
    in the block after the keeper saw it, once."""
    anvil, w3, p, manifest_path, work = fresh
    spammer = w3.eth.accounts[3]
    weth = p.tokens["WETH"]
    weth.functions.mint(spammer, 10**6).transact({"from": spammer})
    weth.functions.approve(p.engine.address, 2**256 - 1).transact({"from": spammer})
    send_in_blocks(w3, [(spammer, p.engine.functions.open(weth.address, 1))] * 20_000, "spam", 300_000)
    assert p.engine.functions.vaultCount().call() == 20_002
    log = work / "spam.log"
    receipt = liquidated_in_next_block(anvil, w3, manifest_path, log, "--read-chunk", "1")
    liquidations = p.liquidation.events.Liquidate().get_logs(from_block=0)
    assert [(e["args"]["vaultId"], e["transactionHash"]) for e in liquidations] == [(1, receipt["transactionHash"])]
    reads = [e for e in events(log) if e["event"] == "read"]
    # the first block reads the two, one per call; later blocks keep them cached and read only what events named
    assert reads[0]["vaults"] == 2 and reads[0]["calls"] == 2 and reads[0]["cached"] == 2
    assert sum(e["vaults"] for e in reads[1:]) <= 1  # vault 1 again, after its liquidation named it


def _vaults_of(w3, p, who: int, count: int, debt: int) -> list[int]:
    """``count`` vaults of account ``who``, 10 WETH and ``debt`` pUSD (WAD) each, mined in blocks of many; their
    ids (one sender: consecutive)."""
    acct = w3.eth.accounts[who]
    weth = p.tokens["WETH"]
    weth.functions.mint(acct, count * 10 * WAD).transact({"from": acct})
    weth.functions.approve(p.engine.address, 2**256 - 1).transact({"from": acct})
    first = p.engine.functions.vaultCount().call() + 1
    ids = list(range(first, first + count))
    send_in_blocks(w3, [(acct, p.engine.functions.open(weth.address, 10 * WAD))] * count, "open", 300_000)
    send_in_blocks(w3, [(acct, p.engine.functions.borrow(v, debt, acct)) for v in ids], "borrow", 300_000)
    assert p.engine.functions.vaultCount().call() == ids[-1]
    return ids


def test_a_crash_bigger_than_a_block_is_liquidated_over_the_next_blocks_each_sending_only_what_fits(fresh):
    """60 vaults and alice's fall below HF 1 at once, and a block holds 1,500,000 gas (about 20 liquidations).
    Automine off, one block at a time: at each block the keeper sends only what the next block can hold (the rest
    logged `block full`), lowest health first, so every transaction it sends is mined in the very next block, none
    waits in the pool, and every vault is liquidated once, over consecutive blocks."""
    anvil, w3, p, manifest_path, work = fresh
    admin, keeper = w3.eth.accounts[0], w3.eth.accounts[KEEPER]
    crowd = _vaults_of(w3, p, 3, 60, 13_000 * WAD)  # HF 1.11 at $1,700, 0.98 at $1,500
    weth = p.tokens["WETH"]
    weth.functions.mint(keeper, 1_000 * WAD).transact({"from": keeper})
    p.engine.functions.open(weth.address, 1_000 * WAD).transact({"from": keeper})  # the keeper's pUSD inventory
    p.engine.functions.borrow(p.engine.functions.vaultCount().call(), 900_000 * WAD, keeper).transact({"from": keeper})
    p.feeds["WETH"].functions.updateAnswer(1_500 * 10**8).transact({"from": admin})
    unsafe = {1, *crowd}
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("evm_setBlockGasLimit", [hex(1_500_000)])
    log = work / "crash.log"
    proc = start_keeper(anvil, manifest_path, log)
    try:
        for _ in range(12):
            w3.provider.make_request("evm_mine", [])
            at = w3.eth.block_number
            wait_for(log, lambda e: e["event"] == "worked" and e["block"] == at)
            if not [e for e in events(log) if e["event"] == "sent" and e["block"] == at]:
                break  # nothing more to send: the last block's transactions were mined in this one
    finally:
        stop(proc)
    liquidated = [e["args"]["vaultId"] for e in p.liquidation.events.Liquidate().get_logs(from_block=0)]
    assert sorted(liquidated) == sorted(unsafe)  # every one, once
    sent = [e for e in events(log) if e["event"] == "sent"]
    mined = [e for e in events(log) if e["event"] == "mined"]
    assert len(mined) == len(sent) and all(e["ok"] and e["blocks_after_decision"] == 1 for e in mined)
    blocks = sorted({e["block"] for e in sent})
    assert len(blocks) >= 3 and blocks == list(range(blocks[0], blocks[-1] + 1))
    full = [e for e in events(log) if e["event"] == "skip" and e["reason"] == "block full"]
    assert full and full[0]["block"] == blocks[0]
    for b in blocks:  # what the keeper sent at b fits block b + 1: its gas used is within the limit, nothing left
        block = w3.eth.get_block(b + 1)
        assert block["gasUsed"] <= block["gasLimit"] == 1_500_000
        assert {h.to_0x_hex() for h in block["transactions"]} == {e["tx"] for e in sent if e["block"] == b}
    order = {v: i for i, v in enumerate(liquidated)}  # lowest health first: alice's vault (HF 0.85) in the first
    assert order[1] < len(liquidated) // 3


def test_vaults_due_a_margin_call_are_called_in_one_batch(tmp_path_factory):
    """WETH offers margin calls: 30 vaults and alice's fall between the hard floor (0.92) and HF 1 at once. The
    keeper calls all 31 with one marginCallBatch in the next block."""
    work = tmp_path_factory.mktemp("keeper-call-batch")
    for anvil, w3, p, manifest_path, _ in _deployed(work, DEFAULT_CONFIG):
        crowd = _vaults_of(w3, p, 3, 30, 13_000 * WAD)  # HF 0.98 at $1,500
        p.feeds["WETH"].functions.updateAnswer(1_500 * 10**8).transact({"from": w3.eth.accounts[0]})
        # alice's vault: 10 WETH, 15,000 pUSD: HF 0.85 at $1,500, below the floor: liquidated, not called
        log = work / "calls.log"
        proc = start_keeper(anvil, manifest_path, log)
        try:
            w3.provider.make_request("evm_mine", [])
            sent = wait_for(log, lambda e: e["event"] == "sent" and len(e["vaults"]) > 1 and 1 not in e["vaults"])
            receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        finally:
            stop(proc)
        calls = p.liquidation.events.MarginCall().process_receipt(receipt, errors=DISCARD)
        assert sorted(e["args"]["vaultId"] for e in calls) == crowd == sorted(sent["vaults"])
        assert receipt["status"] == 1 and receipt["blockNumber"] == sent["block"] + 1
        assert all(p.engine.functions.inMarginCall(v).call() for v in crowd)


def test_the_position_cache_equals_the_chain_after_every_kind_of_vault_change(tmp_path_factory):
    """An in-process keeper (dry run) works every block while vaults change in every way an event reports: margin
    call, deposit, cure (premium booked), borrow, repay, withdraw, NFT transfer, portfolio margin, repay in full
    (the vault leaves), a new vault, a liquidation by someone else. After each block its cached states and
    margin-call states equal a fresh read of every indexed vault, and it read only the vaults the block named."""
    import asyncio

    from plimsoll.keeper.bot import MAX_MESSAGE, Keeper, KeeperConfig
    from plimsoll.sdk.websocket import WaitingWebSocketProvider, async_web3

    work = tmp_path_factory.mktemp("keeper-cache")
    for anvil, w3, p, manifest_path, _ in _deployed(work, DEFAULT_CONFIG):
        admin, keeper_acct, alice, carol = w3.eth.accounts
        e, weth, lq = p.engine.functions, p.tokens["WETH"], p.liquidation.functions

        def tx(fn, sender):
            h = fn.transact({"from": sender})
            assert w3.eth.wait_for_transaction_receipt(h)["status"] == 1

        weth.functions.mint(alice, 20 * WAD).transact({"from": alice})
        steps = [  # (what happens, vaults the keeper reads again at the next block)
            ("margin call", lambda: tx(lq.marginCall(1), carol), 1),
            ("deposit", lambda: tx(e.deposit(1, weth.address, 2 * WAD), alice), 1),
            ("cure", lambda: tx(lq.cure(1), alice), 1),
            ("borrow", lambda: tx(e.borrow(2, 1_000 * WAD, keeper_acct), keeper_acct), 1),
            ("repay", lambda: tx(e.repay(2, 500 * WAD), keeper_acct), 1),
            ("withdraw", lambda: tx(e.withdraw(2, weth.address, WAD, keeper_acct), keeper_acct), 1),
            ("transfer", lambda: tx(p.nft.functions.transferFrom(alice, carol, 1), alice), 1),
            ("portfolio margin", lambda: tx(e.setPortfolioMargin(1, True), carol), 1),
            ("pUSD to carol", lambda: tx(p.pusd.functions.transfer(carol, 20_000 * WAD), keeper_acct), 0),
            ("repay in full", lambda: tx(e.repay(1, 2**256 - 1), carol), 1),
            ("new vault", lambda: tx(e.open(weth.address, 10 * WAD), alice), 0),  # named, but without debt: not indexed
            ("its borrow", lambda: tx(e.borrow(3, 13_000 * WAD, alice), alice), 1),
            ("crash", lambda: tx(p.feeds["WETH"].functions.updateAnswer(1_200 * 10**8), admin), 0),
            ("liquidation", lambda: tx(lq.liquidate(3), keeper_acct), 1),
        ]

        async def run():
            cfg = KeeperConfig(ws_url=anvil.ws_url, manifest=Manifest.load(manifest_path),
                               private_key=dev_private_key(KEEPER), dry_run=True)
            keeper = Keeper(cfg)
            reads = []
            keeper.emit = lambda event, **f: reads.append(f["vaults"]) if event == "read" else None
            provider = WaitingWebSocketProvider(anvil.ws_url, websocket_kwargs={"max_size": MAX_MESSAGE})
            await provider.connect()
            keeper.w3 = async_web3(provider)
            try:
                await keeper._setup()
                await keeper.on_block(w3.eth.block_number)
                assert reads == [2] and set(keeper.positions.states) == {1, 2}
                for what, act, read in steps:
                    act()
                    head = w3.eth.block_number
                    await keeper.on_block(head)
                    indexed = sorted(keeper.index.vault_ids)
                    truth = {v[0]: tuple(v) for v in p.lens.functions.vaults(indexed).call(block_identifier=head)
                             if v[2]}
                    calls = {v: tuple(lq.marginCallOf(v).call(block_identifier=head)) for v, s in truth.items()
                             if s[6]}
                    assert keeper.positions.states == truth, what
                    assert {v: tuple(c) for v, c in keeper.positions.calls.items()} == calls, what
                    assert reads[-1] == read, what
            finally:
                keeper.store.close()
                await provider.disconnect()
            return keeper

        keeper = asyncio.run(run())
        assert set(keeper.positions.states) == {2}  # vault 1 repaid, vault 3 liquidated in full at $1,200


# ---------------------------------------------------------------- issue 7 (2): state that survives


def _unsafe_second_vault(w3, p) -> int:
    """Alice opens a second WETH vault and borrows 15,000 against it at $2,000, then WETH returns to $1,700: both
    her vaults are unsafe. Five transactions, each waited for: Anvil may answer a send before it has mined the
    block. Returns the new vault's id."""
    admin, alice = w3.eth.accounts[0], w3.eth.accounts[ALICE]

    def mined(fn, sender):
        assert w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))["status"] == 1

    mined(p.feeds["WETH"].functions.updateAnswer(2_000 * 10**8), admin)
    mined(p.tokens["WETH"].functions.mint(alice, 10 * WAD), alice)
    mined(p.engine.functions.open(p.tokens["WETH"].address, 10 * WAD), alice)
    vault_id = p.engine.functions.vaultCount().call()
    mined(p.engine.functions.borrow(vault_id, 15_000 * WAD, alice), alice)
    mined(p.feeds["WETH"].functions.updateAnswer(1_700 * 10**8), admin)
    return vault_id


def test_a_restarted_keeper_scans_on_from_its_last_block_and_misses_nothing(fresh):
    """The keeper stops; while it is down a vault borrows and turns unsafe. Restarted on the same state it keeps
    its index, scans only the blocks it missed, finds the vault and liquidates both unsafe vaults in the next
    block."""
    anvil, w3, p, manifest_path, work = fresh
    first = work / "first.log"
    proc = start_keeper(anvil, manifest_path, first, "--dry-run")
    w3.provider.make_request("evm_mine", [])
    wait_for(first, lambda e: e["event"] == "dry_run")
    stop(proc)
    last_seen = max(e["block"] for e in events(first) if e["event"] == "read")
    new_vault = _unsafe_second_vault(w3, p)
    second = work / "second.log"
    proc = start_keeper(anvil, manifest_path, second)
    try:
        ready = next(e for e in events(second) if e["event"] == "ready")
        assert (ready["scanned_to"], ready["vaults"]) == (last_seen, 2)
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(second, lambda e: e["event"] == "sent")
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
    finally:
        stop(proc)
    found = [e for e in events(second) if e["event"] == "vaults_discovered"]
    assert [(e["new"], e["total"]) for e in found] == [(1, 3)]
    assert sent["vaults"] == [1, new_vault] and receipt["status"] == 1
    assert receipt["blockNumber"] == sent["block"] + 1


def test_a_keeper_killed_with_a_transaction_in_flight_follows_it_after_restart_and_never_sends_twice(fresh):
    """Automine off: the keeper's liquidation waits in the mempool when the keeper is killed with -9. Restarted,
    it restores the transaction, reports it mined in the next block, and sends nothing for that vault again."""
    anvil, w3, p, manifest_path, work = fresh
    w3.provider.make_request("evm_setAutomine", [False])
    first = work / "first.log"
    proc = start_keeper(anvil, manifest_path, first)
    w3.provider.make_request("evm_mine", [])
    sent = wait_for(first, lambda e: e["event"] == "sent" and e["vaults"] == [1])
    proc.kill()
    proc.wait(60)
    second = work / "second.log"
    proc = start_keeper(anvil, manifest_path, second)
    try:
        restored = wait_for(second, lambda e: e["event"] == "pending_restored")
        assert restored["txs"] == [sent["tx"]] and restored["vaults"] == [1]
        w3.provider.make_request("evm_mine", [])
        mined = wait_for(second, lambda e: e["event"] == "mined")
        w3.provider.make_request("evm_mine", [])
        wait_for(second, lambda e: e["event"] == "read" and e["block"] == mined["block"] + 1)
    finally:
        stop(proc)
    assert (mined["tx"], mined["ok"], mined["block"]) == (sent["tx"], True, sent["block"] + 1)
    assert not [e for e in events(second) if e["event"] == "sent"]
    logs = p.liquidation.events.Liquidate().get_logs(from_block=0)
    assert [e["args"]["vaultId"] for e in logs] == [1]


def test_a_reorg_is_detected_and_a_vault_that_borrowed_in_the_new_branch_is_found(fresh):
    """The keeper scans four blocks; the chain is reverted below them and a new branch, at the same heights,
    has a vault borrow. The keeper sees the fork by block hash, scans the new branch and decides that vault (an
    index that trusted its cursor would never look at those heights again)."""
    anvil, w3, p, manifest_path, work = fresh
    log = work / "reorg.log"
    proc = start_keeper(anvil, manifest_path, log, "--dry-run")
    try:
        w3.provider.make_request("evm_mine", [])
        fork = w3.eth.block_number  # the keeper has read this block: it remembers its hash
        wait_for(log, lambda e: e["event"] == "read" and e["block"] == fork)
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        for _ in range(4):
            w3.provider.make_request("evm_mine", [])
        wait_for(log, lambda e: e["event"] == "read" and e["block"] == fork + 4)
        assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
        new_vault = _unsafe_second_vault(w3, p)  # five blocks, fork+1 … fork+5: Borrow in fork+4
        assert w3.eth.block_number == fork + 5
        w3.provider.make_request("evm_mine", [])
        decided = wait_for(log, lambda e: e["event"] == "dry_run" and new_vault in e["vaults"])
    finally:
        stop(proc)
    reorgs = [e for e in events(log) if e["event"] == "reorg"]
    assert reorgs and reorgs[0]["scan_from"] == fork + 1
    assert decided["vaults"] == [1, new_vault]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A real PostgreSQL server (pgserver's embedded binaries), started here and stopped after the module."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


def test_two_keepers_on_postgresql_share_one_lead_and_the_standby_takes_over_when_the_leader_dies(fresh, postgres):
    """Two live keepers share a PostgreSQL state: one leads (it liquidates), the other stands by and sends nothing.
    The leader is killed with -9; once the server has ended its session, the standby takes the lead at the next
    block, picks up the index, finds the vault that turns unsafe afterwards and liquidates it in the next block. No
    vault is liquidated twice."""
    anvil, w3, p, manifest_path, work = fresh
    postgres.psql("CREATE DATABASE keeper_ha;")
    state = postgres.get_uri("keeper_ha")
    a_log, b_log = work / "a.log", work / "b.log"
    a = start_keeper(anvil, manifest_path, a_log, "--state", state)
    w3.provider.make_request("evm_mine", [])
    first = wait_for(a_log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
    wait_for(a_log, lambda e: e["event"] == "mined" and e["tx"] == first["tx"])
    b = start_keeper(anvil, manifest_path, b_log, "--state", state)
    try:
        w3.provider.make_request("evm_mine", [])
        wait_for(b_log, lambda e: e["event"] == "role" and e["role"] == "standby")
        a.kill()
        a.wait(60)
        # The server ends the dead leader's session and with it the lock; then the next block is the standby's.
        while "advisory" in postgres.psql("SELECT locktype FROM pg_locks WHERE locktype = 'advisory';"):
            time.sleep(0.05)
        w3.provider.make_request("evm_mine", [])
        took = wait_for(b_log, lambda e: e["event"] == "role" and e["role"] == "leader")
        assert took["block"] == w3.eth.block_number
        new_vault = _unsafe_second_vault(w3, p)
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(b_log, lambda e: e["event"] == "sent")
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
    finally:
        stop(b)
    assert [e["role"] for e in events(b_log) if e["event"] == "role"] == ["standby", "leader"]
    assert [e["role"] for e in events(a_log) if e["event"] == "role"] == ["leader"]
    assert sent["vaults"] == [new_vault] and receipt["status"] == 1
    assert receipt["blockNumber"] == sent["block"] + 1
    logs = p.liquidation.events.Liquidate().get_logs(from_block=0)
    assert sorted(e["args"]["vaultId"] for e in logs) == [1, new_vault]


# ---------------------------------------------------------------- issue 7 (3): stuck transactions


def test_a_stuck_liquidation_is_replaced_with_the_same_nonce_and_higher_fees_and_never_sent_twice(fresh):
    """Automine off. The keeper's liquidation is sent, then the block gas limit drops one below its gas limit, so
    it waits in the pool (Anvil drops a transaction priced under the base fee instead of keeping it). Two blocks
    later (--stuck-blocks 2) the keeper simulates it again and re-signs it with the same nonce, a gas limit that
    fits a block, and fees bumped enough for the node to accept the replacement; the replacement is mined in the
    next block, and no second nonce ever carries the vault.

    The block clock is pinned. The block's limit is set `short` gas under the first gas limit, so the new estimate
    × 1.3 still exceeds it and the replacement's gas limit is exactly the block's."""
    anvil, w3, p, manifest_path, work = fresh
    short = 1_000
    w3.provider.make_request("anvil_setBlockTimestampInterval", [BLOCK_SECONDS])
    w3.provider.make_request("evm_setAutomine", [False])
    log = work / "stuck.log"
    proc = start_keeper(anvil, manifest_path, log, "--stuck-blocks", "2")
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        w3.provider.make_request("evm_setBlockGasLimit", [hex(sent["gas_limit"] - short)])
        for _ in range(2):  # two blocks it cannot enter
            w3.provider.make_request("evm_mine", [])
            at = w3.eth.block_number
            wait_for(log, lambda e: e["event"] == "read" and e["block"] == at)
        replaced = wait_for(log, lambda e: e["event"] == "replaced")
        w3.provider.make_request("evm_mine", [])
        mined = wait_for(log, lambda e: e["event"] == "mined")
    finally:
        stop(proc)
    assert replaced["old"] == sent["tx"] and replaced["nonce"] == sent["nonce"]
    assert replaced["block"] == sent["block"] + 2
    assert replaced["max_fee"] >= replaced["old_max_fee"] * 1.125 and replaced["tip"] >= replaced["old_tip"] * 1.125
    assert replaced["gas_limit"] == sent["gas_limit"] - short  # the block's limit, under the estimate × 1.3
    assert mined["block"] == replaced["block"] + 1
    assert (mined["tx"], mined["ok"], mined["vaults"]) == (replaced["tx"], True, [1])
    assert len([e for e in events(log) if e["event"] == "sent"]) == 1
    skips = [e["block"] for e in events(log) if e["event"] == "skip" and e["reason"] == "pending"]
    assert skips == [sent["block"] + 1]  # seen unsafe again, left to the pending one: logged once, as it starts
    logs = p.liquidation.events.Liquidate().get_logs(from_block=0)
    assert [e["args"]["vaultId"] for e in logs] == [1]


# ---------------------------------------------------------------- issue 7 (5): faults


def test_a_nonce_taken_by_an_outside_transaction_costs_one_block_not_the_liquidation(fresh):
    """Someone else with the keeper's key sends a transaction: the nonce the keeper holds is taken. Its send is
    refused, it takes the nonce from the node again, and the next block's decision is liquidated once."""
    anvil, w3, p, manifest_path, work = fresh
    log = work / "nonce.log"
    proc = start_keeper(anvil, manifest_path, log)
    try:
        me = w3.eth.accounts[KEEPER]
        w3.eth.send_transaction({"from": me, "to": me, "value": 0})  # mined at once: the keeper's nonce is gone
        failed = wait_for(log, lambda e: e["event"] == "send_failed")
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent")
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
    finally:
        stop(proc)
    assert "nonce" in failed["error"].lower() and failed["vaults"] == [1]
    assert sent["nonce"] == failed["nonce"] + 1 and sent["block"] == failed["block"] + 1
    assert receipt["status"] == 1 and receipt["blockNumber"] == sent["block"] + 1
    logs = p.liquidation.events.Liquidate().get_logs(from_block=0)
    assert [e["args"]["vaultId"] for e in logs] == [1]


def test_two_keepers_racing_for_the_same_vault_liquidate_it_once(fresh):
    """Two independent keepers (own keys, own states) see the vault unsafe in the same block and both send. One
    liquidation is mined; the other finds the vault safe and reverts: the vault is liquidated once."""
    anvil, w3, p, manifest_path, work = fresh
    rival = 3  # a second liquidator with its own pUSD
    acct = w3.eth.accounts[rival]
    p.tokens["WETH"].functions.mint(acct, 100 * WAD).transact({"from": acct})
    p.tokens["WETH"].functions.approve(p.engine.address, 2**256 - 1).transact({"from": acct})
    p.engine.functions.open(p.tokens["WETH"].address, 100 * WAD).transact({"from": acct})
    p.engine.functions.borrow(p.engine.functions.vaultCount().call(), 50_000 * WAD, acct).transact({"from": acct})
    w3.provider.make_request("evm_setAutomine", [False])
    logs = [work / "a.log", work / "b.log"]
    procs = [start_keeper(anvil, manifest_path, logs[0], "--state", f"sqlite:///{work / 'a.sqlite'}"),
             start_keeper(anvil, manifest_path, logs[1], "--state", f"sqlite:///{work / 'b.sqlite'}",
                          account=rival)]
    try:
        w3.provider.make_request("evm_mine", [])
        sent = [wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1]) for log in logs]
        w3.provider.make_request("evm_mine", [])
        mined = [wait_for(log, lambda e: e["event"] == "mined") for log in logs]
    finally:
        for proc in procs:
            stop(proc)
    assert sent[0]["block"] == sent[1]["block"]  # both decided on the same block
    assert sorted(m["ok"] for m in mined) == [False, True] and mined[0]["block"] == mined[1]["block"]
    liquidated = p.liquidation.events.Liquidate().get_logs(from_block=0)
    assert [e["args"]["vaultId"] for e in liquidated] == [1]


def test_a_node_restarted_from_its_state_file_and_a_restarted_keeper_miss_nothing(tmp_path_factory):
    """The node stops (its state written to a file) under a running keeper, which exits 1. The node restarts from
    the file; meanwhile nothing is lost: the restarted keeper resumes its index, finds the vault that turned unsafe
    after the restart and liquidates it once, and the vault it liquidated before is not liquidated again."""
    work = tmp_path_factory.mktemp("keeper-node-restart")
    gen = _deployed(work, _without_margin_calls(work), state_path=work / "anvil-state.json")
    anvil, w3, p, manifest_path, _ = next(gen)
    try:
        first = work / "first.log"
        proc = start_keeper(anvil, manifest_path, first)
        w3.provider.make_request("evm_mine", [])
        wait_for(first, lambda e: e["event"] == "mined" and e["vaults"] == [1] and e["ok"])
        head = w3.eth.block_number
        anvil.stop()
        assert proc.wait(120) == 1 and "lost the node" in proc.stderr.read().decode() + first.read_text()
        anvil.start()
        assert w3.eth.block_number >= head
        new_vault = _unsafe_second_vault(w3, p)
        second = work / "second.log"
        proc = start_keeper(anvil, manifest_path, second)
        try:
            w3.provider.make_request("evm_mine", [])
            sent = wait_for(second, lambda e: e["event"] == "sent")
            receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        finally:
            stop(proc)
        assert sent["vaults"] == [new_vault] and receipt["status"] == 1
        logs = p.liquidation.events.Liquidate().get_logs(from_block=0)
        assert sorted(e["args"]["vaultId"] for e in logs) == [1, new_vault]
    finally:
        gen.close()


# ---------------------------------------------------------------- issue 7 (3): flash mode


def _through_timelock(w3, p, target: str, data: bytes) -> None:
    """Schedule a call through the Timelock (the deployment's admin), let its delay pass and execute it; the feeds
    report again after the wait (prices unchanged) so that no oracle goes stale."""
    admin = w3.eth.accounts[0]
    timelock = w3.eth.contract(address=p.manifest.contracts["Timelock"], abi=load_abi("Timelock"))
    op = (target, 0, data, b"\0" * 32, b"\0" * 32)
    delay = timelock.functions.getMinDelay().call()
    timelock.functions.schedule(*op, delay).transact({"from": admin})
    w3.provider.make_request("evm_increaseTime", [delay])
    w3.provider.make_request("evm_mine", [])
    for f in p.feeds.values():
        f.functions.updateAnswer(f.functions.latestRoundData().call()[1]).transact({"from": admin})
    timelock.functions.execute(*op).transact({"from": admin})


@pytest.mark.parametrize("funding", ["callback", "flash-mint"])
def test_flash_mode_liquidates_with_no_pusd_selling_the_collateral_on_uniswap(fresh, funding):
    """A keeper account with no pUSD at all, a FlashLiquidator it owns and a real Uniswap v2 WETH/pUSD pair
    (plimsoll.sdk.uniswap): the keeper liquidates alice's vault in the next block, the sale pays for it, and the
    profit lands in the keeper's account, as the strategy's slippage-aware estimate said it could."""
    from plimsoll.sdk import uniswap

    anvil, w3, p, manifest_path, work = fresh
    admin, flasher = w3.eth.accounts[0], w3.eth.accounts[3]
    weth = p.tokens["WETH"]
    # The market maker (admin) borrows pUSD against 200 WETH and seeds a pair at $2,000 (the oracle says $1,700).
    weth.functions.mint(admin, 300 * WAD).transact({"from": admin})
    weth.functions.approve(p.engine.address, 2**256 - 1).transact({"from": admin})
    p.engine.functions.open(weth.address, 200 * WAD).transact({"from": admin})
    mm_vault = p.engine.functions.vaultCount().call()
    p.engine.functions.borrow(mm_vault, 200_000 * WAD, admin).transact({"from": admin})
    uni = uniswap.deploy(w3, admin)
    uniswap.add_liquidity(uni, admin, weth, p.pusd, 100 * WAD, 200_000 * WAD)
    flash = _deploy_raw(w3, "FlashLiquidator", p.liquidation.address, uni.router.address, flasher)
    extra = ["--flash-liquidator", flash.address]
    if funding == "flash-mint":
        _through_timelock(w3, p, p.pusd.address, p.pusd.encode_abi("setFlashTerms", [WAD // 1000, 10**6 * WAD]))
        extra.append("--flash-mint")
    assert p.pusd.functions.balanceOf(flasher).call() == 0
    receipt = liquidated_in_next_block(anvil, w3, manifest_path, work / f"flash-{funding}.log", *extra, account=3)
    done = flash.events.FlashLiquidation().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert done["liquidated"] == 1 and done["flashMint"] == (funding == "flash-mint")
    assert p.pusd.functions.balanceOf(flasher).call() == done["profit"] > 0
    assert weth.functions.balanceOf(flash.address).call() == 0
    assert p.engine.functions.vaultCollateral(1).call()[1][0] < 10 * WAD  # collateral was seized
