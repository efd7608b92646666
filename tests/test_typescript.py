"""The TypeScript an integrator takes: interfaces/ts type-checks with tsc, viem infers types from its `as const`
ABIs (a wrong function name or argument fails to compile), and the ethers and viem wallet flows in examples/ run
against a fresh deployment with only the shipped files: exact maxima, unpadded gas estimates, decoded errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from plimsoll.sdk.math import WAD

ROOT = Path(__file__).resolve().parents[1]
TSC = ROOT / "node_modules" / ".bin" / "tsc"
OUT = ROOT / ".build" / "ts"
MAX_UINT = 2**256 - 1


def _tsc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(TSC), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_modules_and_examples_type_check():
    done = _tsc("-p", "tsconfig.json", "--noEmit")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("wrong, message", [
    ('functionName: "borow", args: [1n, 1n, me]', "borow"),  # no such function
    ('functionName: "borrow", args: [1n, "ten", me]', "string"),  # an amount is a bigint
])
def test_viem_infers_the_abi_types(tmp_path, wrong, message):
    """A call that does not match the ABI fails to compile: the `as const` ABI types reach viem (not `any`)."""
    probe = ROOT / "examples" / f"probe-{tmp_path.name}.ts"
    probe.write_text(
        'import { createPublicClient, http } from "viem";\n'
        'import { vaultEngineAbi } from "../interfaces/ts/index.js";\n'
        'const me = "0x0000000000000000000000000000000000000001" as const;\n'
        "const client = createPublicClient({ transport: http() });\n"
        f"export const probe = client.simulateContract({{ address: me, abi: vaultEngineAbi, {wrong}, account: me }});\n")
    try:
        done = _tsc("-p", "tsconfig.json", "--noEmit")
    finally:
        probe.unlink()
    assert done.returncode != 0 and message in done.stdout and probe.name in done.stdout, done.stdout


@pytest.fixture(scope="module")
def built_examples():
    """The examples emitted to .build/ts as ES modules, for node to run."""
    done = _tsc("-p", "tsconfig.json")
    assert done.returncode == 0, done.stdout + done.stderr
    (OUT / "package.json").write_text('{"type": "module"}\n')
    return OUT / "examples"


@pytest.mark.parametrize("library, account_index", [("viem", 8), ("ethers", 9)])
def test_the_wallet_flow_runs_with_only_the_shipped_files(built_examples, deployment, cfg, chain, accounts, engine,
                                                          nft, weth, wbtc, tmp_path, library, account_index):
    me = accounts[account_index]
    manifest = deployment.save(tmp_path / "local.json")
    done = subprocess.run(
        ["node", str(built_examples / library / "wallet-flow.js"), "--rpc", chain.provider.uri,
         "--manifest", str(manifest), "--account", me.address],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    # borrowing power of 10 WETH and 0.5 WBTC at the configuration's opening prices (WAD)
    power = sum(amount * c.initial_answer * 10 ** (18 - c.feed_decimals) // 10**c.decimals * c.ltv // WAD
                for c, amount in ((cfg.collaterals[0], 10 * 10**18), (cfg.collaterals[1], 5 * 10**7)))
    vault, max_borrow = int(out["vaultId"]), int(out["maxBorrow"])
    assert out["healthBefore"] == str(MAX_UINT)  # no debt yet: the health of a debt-free vault
    # the exact maximum: borrowed in the next block as named, and one wei more is refused by the engine itself
    assert out["refusals"][0] == {"step": "borrow maxBorrow + 1 wei", "error": "InsufficientMargin",
                                  "args": [str(vault), str(power + 1), str(power)]}
    assert max_borrow == power - 1  # the debt rounds up: the last wei of power is out of reach
    assert out["refusals"][1]["error"] == "InsufficientMargin"
    assert out["refusals"][2]["error"] == "ERC20InsufficientBalance"  # repaying all needs the accrued fee too
    # every write went through with its own estimate as the gas limit, no padding (the script stops otherwise)
    steps = [w["step"] for w in out["writes"]]
    assert steps[:9] == ["faucet WETH", "faucet WBTC", "approve WETH", "approve WBTC", "open", "deposit WBTC",
                         "borrow maxBorrow", "repay half", "withdraw WETH maxWithdraw"]
    assert all(int(w["gasUsed"]) <= int(w["estimate"]) for w in out["writes"])
    # the vault is closed out on-chain: no debt, no collateral, everything back in the wallet
    assert out["final"] == {"debt": "0", "collateral": [], "healthFactor": str(MAX_UINT)}
    assert engine.debt(vault) == 0 and nft.ownerOf(vault) == me.address
    assert weth.balanceOf(me) == 10 * 10**18 and wbtc.balanceOf(me) == 5 * 10**7  # 1 WETH stays in the 2nd vault
