// The wallet flow of examples/viem/wallet-flow.ts with ethers v6 and the same shipped files: open a vault with WETH,
// add WBTC, borrow the exact maximum the PositionLens names, repay half, withdraw the exact maximum of WETH, repay
// all (with pUSD borrowed from a second vault for the accrued stability fee) and withdraw everything. Every write is
// sent with its estimateGas result as the gas limit, unpadded; one wei over each maximum is refused with a decoded
// error.
//
//   node .build/ts/examples/ethers/wallet-flow.js --rpc http://127.0.0.1:8545 --manifest deployments/local.json \
//        --account 0x...   (an account the node holds unlocked: ethers' JsonRpcSigner, as with a browser wallet)
import { Contract, JsonRpcProvider, MaxUint256, isCallException, parseUnits, type ContractTransactionReceipt } from "ethers";

import { mockERC20Abi, positionLensAbi, vaultEngineAbi } from "../../interfaces/ts/index.js";
import { arg, loadManifest, printReport, type Refusal, type Write } from "../common.js";

const book = loadManifest(arg("manifest"));
// cacheTimeout -1: ethers otherwise answers a repeated request (the pending block) from a 250 ms cache, stale by a block
const provider = new JsonRpcProvider(arg("rpc"), book.chain_id, { staticNetwork: true, cacheTimeout: -1 });
const weth = book.collaterals.WETH;
const wbtc = book.collaterals.WBTC;

const writes: Write[] = [];
const refusals: Refusal[] = [];

/** The custom error in an ethers error, decoded from the called contract's ABI alone; undefined if there is none. */
function customError(e: unknown) {
  return isCallException(e) && e.revert ? e.revert : undefined;
}

async function main() {
  const signer = await provider.getSigner(arg("account"));
  const me = await signer.getAddress();
  const engine = new Contract(book.contracts.VaultEngine, vaultEngineAbi, signer);
  const lens = new Contract(book.contracts.PositionLens, positionLensAbi, provider);
  const token = (address: string) => new Contract(address, mockERC20Abi, signer);

  /** Estimate, then send with exactly that gas limit; throws if the transaction reverts. */
  async function send(step: string, contract: Contract, method: string, ...args: unknown[]) {
    const estimate = await contract[method].estimateGas(...args);
    const tx = await contract[method](...args, { gasLimit: estimate });
    const receipt = (await tx.wait()) as ContractTransactionReceipt;
    writes.push({ step, estimate: estimate.toString(), gasUsed: receipt.gasUsed.toString() });
    return receipt;
  }

  /** Runs a call that must revert (simulated in the pending block, as the next transaction would run), and records
   * its decoded custom error. */
  async function refusal(step: string, contract: Contract, method: string, ...args: unknown[]) {
    try {
      await contract[method].staticCall(...args, { blockTag: "pending" });
    } catch (e) {
      const error = customError(e);
      if (!error) throw e;
      refusals.push({ step, error: error.name, args: error.args.map(String) });
      return;
    }
    throw new Error(`${step}: expected a revert`);
  }

  /** The id of the vault a receipt opened: its logs routed by address, then parsed with the engine's ABI. */
  function openedVault(receipt: ContractTransactionReceipt): bigint {
    const log = receipt.logs.find((l) => l.address === book.contracts.VaultEngine
                                         && engine.interface.parseLog(l)?.name === "VaultOpened")!;
    return engine.interface.parseLog(log)!.args.vaultId;
  }

  /** The vault as the next block will see it (the pending block's timestamp): exact maxima for that block. */
  async function position(vaultId: bigint) {
    const pending = await provider.getBlock("pending");
    return lens.positionAt(vaultId, pending!.timestamp);
  }

  const tenWeth = parseUnits("10", weth.decimals);
  const oneWeth = parseUnits("1", weth.decimals);
  const halfBtc = parseUnits("0.5", wbtc.decimals);
  await send("faucet WETH", token(weth.token), "mint", me, tenWeth + oneWeth);
  await send("faucet WBTC", token(wbtc.token), "mint", me, halfBtc);
  await send("approve WETH", token(weth.token), "approve", book.contracts.VaultEngine, tenWeth + oneWeth);
  await send("approve WBTC", token(wbtc.token), "approve", book.contracts.VaultEngine, halfBtc);
  const vaultId = openedVault(await send("open", engine, "open", weth.token, tenWeth));
  await send("deposit WBTC", engine, "deposit", vaultId, wbtc.token, halfBtc);

  const before = await position(vaultId);
  await refusal("borrow maxBorrow + 1 wei", engine, "borrow", vaultId, before.maxBorrow + 1n, me);
  await send("borrow maxBorrow", engine, "borrow", vaultId, before.maxBorrow, me);
  await send("repay half", engine, "repay", vaultId, before.maxBorrow / 2n);

  const mid = await position(vaultId);
  const eth = mid.collateral.find((c: { token: string }) => c.token === weth.token);
  await refusal("withdraw WETH maxWithdraw + 1 wei", engine, "withdraw", vaultId, weth.token, eth.maxWithdraw + 1n, me);
  await send("withdraw WETH maxWithdraw", engine, "withdraw", vaultId, weth.token, eth.maxWithdraw, me);

  await refusal("repay all with only the pUSD borrowed", engine, "repay", vaultId, MaxUint256);
  const second = openedVault(await send("open a second vault", engine, "open", weth.token, oneWeth));
  await send("borrow dust from it", engine, "borrow", second, await engine.dust(), me);
  await send("repay all", engine, "repay", vaultId, MaxUint256);
  const free = await position(vaultId);
  for (const c of free.collateral.filter((c: { amount: bigint }) => c.amount > 0n)) {
    await send(`withdraw all ${c.token}`, engine, "withdraw", vaultId, c.token, c.maxWithdraw, me);
  }
  const after = await position(vaultId);
  printReport(vaultId, before, eth.maxWithdraw, after, writes, refusals);
}

main().catch((e) => {
  const error = customError(e);
  console.error(error ? `${error.name}(${error.args.join(", ")})` : e);
  process.exit(1);
});
