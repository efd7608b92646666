"""The TypeScript an integrator takes: interfaces/ts type-checks with tsc, viem infers types from its `as const`
ABIs (a wrong function name or argument fails to compile), and the ethers and viem wallet flows in examples/ run
against a fresh deployment with only the shipped files: exact maxima, unpadded gas estimates, decoded errors, the
engine's own maximum withdrawal, an EIP-2612 permit in a multicall, positionsOf and the vault NFT's tokenURI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import rate_at_time
from plimsoll.sdk.math import RAY, WAD

ROOT = Path(__file__).resolve().parents[1]
TSC = ROOT / "node_modules" / ".bin" / "tsc"
OUT = ROOT / ".build" / "ts"
MAX_UINT = 2**256 - 1


def _two_decimals(wad: int) -> str:
    """A WAD amount as VaultRenderer writes it: rounded down to 2 decimals."""
    return f"{wad // WAD}.{wad % WAD // 10**16:02d}"


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
                                                          nft, weth, wbtc, position_lens, tmp_path, library,
                                                          account_index):
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
    # the engine's own maximum of an emptied vault: nothing may leave
    assert out["refusals"][3] == {"step": "withdraw the maximum from an empty vault", "error": "NothingToWithdraw",
                                  "args": [str(vault), weth.address]}
    assert len(out["refusals"]) == 4
    # every write went through with its own estimate as the gas limit, no padding (the script stops otherwise); the
    # WETH allowance was used up by the two opens, so no revoke was needed before the permit
    assert [w["step"] for w in out["writes"]] == [
        "faucet WETH", "faucet WBTC", "approve WETH", "approve WBTC", "open", "deposit WBTC", "borrow maxBorrow",
        "repay half", "withdraw WETH maxWithdraw", "open a second vault", "borrow dust from it", "repay all",
        "withdraw all WETH", "withdraw all WBTC", "multicall: permit WETH, open, borrow dust"]
    assert all(int(w["gasUsed"]) <= int(w["estimate"]) for w in out["writes"])
    # withdrawing 2^256 - 1 without debt took the whole balance, as the Withdraw events say
    assert out["withdrawnAll"] == {"WETH": str(10 * 10**18 - int(out["maxWithdrawWeth"])), "WBTC": str(5 * 10**7)}
    # the first vault is closed out on-chain: no debt, no collateral
    assert out["final"] == {"debt": "0", "collateral": [], "healthFactor": str(MAX_UINT)}
    assert engine.debt(vault) == 0 and list(engine.vaultCollateral(vault)[1]) == [] and nft.ownerOf(vault) == me.address

    # one multicall: the permit set the allowance the open then used up, and the borrow of the dust was booked at
    # the rate of its block
    dust, permitted = engine.dust(), vault + 2
    assert out["permit"] == {"vaultId": str(permitted), "allowanceFound": "0", "allowanceAfter": "0",
                             "deposited": str(WAD), "borrowed": str(dust)}
    assert weth.allowance(me, engine) == 0 and weth.nonces(me) == 1  # the permit's nonce was used
    tokens, amounts = engine.vaultCollateral(permitted)
    assert list(tokens) == [weth.address] and list(amounts) == [WAD]
    assert engine.normalizedDebt(permitted) == -(-dust * RAY // rate_at_time(engine, chain.blocks.head.timestamp))
    assert nft.ownerOf(permitted) == me.address and nft.tokenOfOwnerByIndex(me, 2) == permitted
    # the account's vaults in one call (PositionLens.positionsOf, read in the multicall's block, as here)
    assert out["positions"] == [
        {"vaultId": str(vault), "debt": "0", "collateral": []},
        {"vaultId": str(vault + 1), "debt": str(engine.debt(vault + 1)), "collateral": [str(WAD)]},
        {"vaultId": str(permitted), "debt": str(engine.debt(permitted)), "collateral": [str(WAD)]},
    ]
    assert [p.vaultId for p in position_lens.positionsOf(me)] == [vault, vault + 1, permitted]
    # the NFT's metadata: the dust as the renderer rounds it, and the health of 1 WETH at its opening price
    c = cfg.collaterals[0]
    maintenance = WAD * c.initial_answer * 10 ** (18 - c.feed_decimals) // WAD * c.liquidation_threshold // WAD
    assert _two_decimals(dust) == "100.00"
    assert out["nft"] == {"name": f"Plimsoll Vault #{permitted}", "debt": _two_decimals(dust),
                          "health": _two_decimals(maintenance * WAD // engine.debt(permitted))}
    # everything else is back in the wallet: 1 WETH stays in each of the second and the permit vault
    assert weth.balanceOf(me) == 9 * 10**18 and wbtc.balanceOf(me) == 5 * 10**7
