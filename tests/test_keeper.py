"""The keeper process on its own: a real Anvil, the real deploy script, one unsafe vault.

Anvil automines here and the test mines empty blocks itself, so what the keeper sees block by block is exact:
in --dry-run it decides (the same plan as LiquidationEngine.previewLiquidation) and sends nothing; live, its
liquidation is mined in the block after the one where it saw the vault unsafe.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from plimsoll.demo.run import DEFAULT_CONFIG, deploy_with_ape
from plimsoll.sdk.anvil import Anvil, dev_private_key
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


def _deployed(work: Path, config: Path):
    """Anvil (automine) with the protocol deployed from `config`, alice's vault at HF ≈ 0.963 and the keeper's
    inventory."""
    with Anvil(accounts=4) as anvil:
        manifest_path = work / "manifest.json"
        deploy_with_ape(anvil.http_url, config, manifest_path, work / "deploy.log")
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


@pytest.fixture(scope="module")
def called_chain(tmp_path_factory):
    """The local configuration as it is: WETH offers margin calls."""
    yield from _deployed(tmp_path_factory.mktemp("keeper-calls"), DEFAULT_CONFIG)


def start_keeper(anvil, manifest_path: Path, log: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PLIMSOLL_KEEPER_KEY=dev_private_key(KEEPER))
    cmd = [sys.executable, "-m", "plimsoll.cli", "keeper", "run", "--ws", anvil.ws_url,
           "--manifest", str(manifest_path), "--log-file", str(log), *extra]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(log, lambda e: e["event"] == "ready")
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0, proc.stderr.read().decode()


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


def test_live_keeper_liquidates_in_the_next_block(chain):
    anvil, w3, p, manifest_path, work = chain
    log = work / "live.log"
    proc = start_keeper(anvil, manifest_path, log)
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
    finally:
        stop(proc)
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == sent["block"] + 1
    liq = p.liquidation.events.Liquidate().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["vaultId"] for e in liq] == [1]
    assert p.engine.functions.healthFactor(1).call() >= WAD


def test_live_keeper_margin_calls_in_the_next_block_and_waits(called_chain):
    """With margin calls offered, the keeper calls the unsafe vault in the next block, then leaves it alone in its
    grace window (MarginCallRequired would refuse a liquidation before the call; MarginCallGracePeriod after)."""
    anvil, w3, p, manifest_path, work = called_chain
    log = work / "calls.log"
    proc = start_keeper(anvil, manifest_path, log)
    try:
        w3.provider.make_request("evm_mine", [])
        sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
        receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        w3.provider.make_request("evm_mine", [])
        wait_for(log, lambda e: e["event"] == "skip" and e["vault"] == 1 and e["reason"] == "margin call grace")
    finally:
        stop(proc)
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == sent["block"] + 1
    calls = p.liquidation.events.MarginCall().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["vaultId"] for e in calls] == [1]
    assert p.engine.functions.inMarginCall(1).call()
    assert not [e for e in events(log) if e["event"] == "mined" and not e["ok"]]


# ---------------------------------------------------------------- issue 7 (e): a node that is not there


def _nowhere(tmp_path) -> tuple[str, Path]:
    """A WebSocket URL where nothing listens, and a manifest for it (the keeper never gets past connecting)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = Manifest(network="nowhere", chain_id=31337, block=0, deployer="0x" + "00" * 20, contracts={})
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


def test_a_failing_oracle_degrades_only_the_vaults_it_prices(tmp_path_factory):
    """Every WBTC feed reverts: the WBTC oracle fails, and the keeper still liquidates the WETH-only vault in the
    next block instead of dropping the block."""
    work = tmp_path_factory.mktemp("keeper-oracle")
    gen = _deployed(work, _without_margin_calls(work))
    anvil, w3, p, manifest_path, _ = next(gen)
    try:
        for feed in p.manifest.collaterals["WBTC"].feeds:
            w3.eth.contract(address=feed, abi=p.feeds["WBTC"].abi).functions.setBroken(True).transact(
                {"from": w3.eth.accounts[0]})
        oracle = w3.eth.contract(address=p.manifest.collaterals["WBTC"].oracle, abi=load_abi("OracleAdapter"))
        with pytest.raises(ContractLogicError):
            oracle.functions.price().call()
        log = work / "oracle.log"
        proc = start_keeper(anvil, manifest_path, log)
        try:
            w3.provider.make_request("evm_mine", [])
            sent = wait_for(log, lambda e: e["event"] == "sent" and e["vaults"] == [1])
            receipt = w3.eth.wait_for_transaction_receipt(sent["tx"], timeout=30)
        finally:
            stop(proc)
        assert receipt["status"] == 1 and receipt["blockNumber"] == sent["block"] + 1
        assert not [e for e in events(log) if e["event"] == "block_error"]
    finally:
        gen.close()


# ---------------------------------------------------------------- issue 7 (b): a collateral listed after start


def _deploy_raw(w3, name: str, *args):
    """Deploy a compiled project contract (ape's build) from dev account 0 with plain web3."""
    t = json.loads((PROJECT_ROOT / ".build" / "__local__.json").read_text())["contractTypes"][name]
    factory = w3.eth.contract(abi=t["abi"], bytecode=t["deploymentBytecode"]["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": w3.eth.accounts[0]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=t["abi"])


def test_a_collateral_listed_after_the_manifest_does_not_stop_the_keeper(tmp_path_factory):
    """A new collateral, listed through the timelock after the manifest was written and borrowed against: the
    keeper skips that vault (logged) and still liquidates the others in the next block."""
    work = tmp_path_factory.mktemp("keeper-new-collateral")
    gen = _deployed(work, _without_margin_calls(work))
    anvil, w3, p, manifest_path, _ = next(gen)
    try:
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
    finally:
        gen.close()


# ---------------------------------------------------------------- issue 7 (c), (d): spam vaults


def test_empty_and_debt_free_vaults_cost_the_keeper_nothing_per_block(tmp_path_factory):
    """300 vaults opened with 1 wei each (permissionless and cheap) beside the two with debt: the keeper reads only
    the two, one per call with --read-chunk 1 (every vault ever opened in one eth_call is what a spammer could push
    past the node's gas cap)."""
    work = tmp_path_factory.mktemp("keeper-spam")
    gen = _deployed(work, _without_margin_calls(work))
    anvil, w3, p, manifest_path, _ = next(gen)
    try:
        spammer = w3.eth.accounts[3]
        weth = p.tokens["WETH"]
        weth.functions.mint(spammer, 10**6).transact({"from": spammer})
        weth.functions.approve(p.engine.address, 2**256 - 1).transact({"from": spammer})
        for _ in range(300):
            p.engine.functions.open(weth.address, 1).transact({"from": spammer})
        assert p.engine.functions.vaultCount().call() == 302
        log = work / "spam.log"
        proc = start_keeper(anvil, manifest_path, log, "--dry-run", "--read-chunk", "1")
        try:
            w3.provider.make_request("evm_mine", [])
            wait_for(log, lambda e: e["event"] == "dry_run" and e["vaults"] == [1])
        finally:
            stop(proc)
        reads = [e for e in events(log) if e["event"] == "read"]
        assert reads and all(e["vaults"] == 2 and e["calls"] == 2 for e in reads)
    finally:
        gen.close()
