// A wallet's full flow with viem and only the shipped files: the `as const` ABIs (interfaces/ts) and a deployment
// manifest. Open a vault with WETH, add WBTC, borrow the exact maximum the PositionLens names, repay half, withdraw
// the exact maximum, repay all and withdraw everything. Every write is sent with its eth_estimateGas result as the
// gas limit, unpadded. One wei over each maximum is refused with a decoded error. Repaying all takes a little more
// pUSD than was borrowed (the stability fee accrued since): the wallet borrows it from a second vault.
//
//   node .build/ts/examples/viem/wallet-flow.js --rpc http://127.0.0.1:8545 --manifest deployments/local.json \
//        --account 0x...   (an account the node holds unlocked: a dev account, or any EIP-1193 wallet's)
//
// Prints one JSON object: every write with its estimate and gas used, the decoded refusals, the final position.
// Local networks only for the faucet step (the manifest's collaterals are mocks).
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  isAddressEqual,
  maxUint256,
  parseEventLogs,
  parseUnits,
  type Abi,
  type ContractFunctionArgs,
  type ContractFunctionName,
} from "viem";

import { mockERC20Abi, positionLensAbi, vaultEngineAbi } from "../../interfaces/ts/index.js";
import { arg, loadManifest, printReport, type Address, type Refusal, type Write } from "../common.js";

const book = loadManifest(arg("manifest"));
const me = arg("account") as Address;
const chain = defineChain({
  id: book.chain_id,
  name: book.network,
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [arg("rpc")] } },
});
const client = createPublicClient({ chain, transport: http() });
const wallet = createWalletClient({ account: me, chain, transport: http() });
const engine = book.contracts.VaultEngine;
const lens = book.contracts.PositionLens;
const weth = book.collaterals.WETH;
const wbtc = book.collaterals.WBTC;

const writes: Write[] = [];
const refusals: Refusal[] = [];

/** Estimate, then send with exactly that gas limit; throws if the transaction reverts. */
async function send<const abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">>(
  step: string,
  address: Address,
  abi: abi,
  functionName: name,
  args: ContractFunctionArgs<abi, "nonpayable" | "payable", name>,
) {
  const request = { address, abi, functionName, args, account: me } as const;
  // viem infers exact request types per call; here the generic is already checked by the signature above
  const gas = await client.estimateContractGas(request as any);
  const hash = await wallet.writeContract({ ...(request as any), gas, chain });
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${step}: reverted with gas limit ${gas}`);
  writes.push({ step, estimate: gas.toString(), gasUsed: receipt.gasUsed.toString() });
  return receipt;
}

/** The custom error in a viem error, decoded from the called contract's ABI alone; undefined if there is none. */
function customError(e: unknown) {
  const revert = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null;
  return revert instanceof ContractFunctionRevertedError ? revert.data : undefined;
}

/** Runs a call that must revert (simulated in the pending block, as the next transaction would run), and records
 * its decoded custom error. */
async function refusal(step: string, run: () => Promise<unknown>) {
  try {
    await run();
  } catch (e) {
    const error = customError(e);
    if (!error) throw e;
    refusals.push({ step, error: error.errorName, args: (error.args ?? []).map(String) });
    return;
  }
  throw new Error(`${step}: expected a revert`);
}

/** The vault as the next block will see it (the pending block's timestamp): exact maxima for that block. */
async function position(vaultId: bigint) {
  const pending = await client.getBlock({ blockTag: "pending" });
  return client.readContract({ address: lens, abi: positionLensAbi, functionName: "positionAt",
                               args: [vaultId, pending.timestamp] });
}

async function main() {
  const tenWeth = parseUnits("10", weth.decimals);
  const oneWeth = parseUnits("1", weth.decimals);
  const halfBtc = parseUnits("0.5", wbtc.decimals);
  await send("faucet WETH", weth.token, mockERC20Abi, "mint", [me, tenWeth + oneWeth]);
  await send("faucet WBTC", wbtc.token, mockERC20Abi, "mint", [me, halfBtc]);
  await send("approve WETH", weth.token, mockERC20Abi, "approve", [engine, tenWeth + oneWeth]);
  await send("approve WBTC", wbtc.token, mockERC20Abi, "approve", [engine, halfBtc]);

  const opened = await send("open", engine, vaultEngineAbi, "open", [weth.token, tenWeth]);
  // Route by address: the same receipt holds the token's ERC-20 Transfer and the vault NFT's Transfer.
  const [{ args: { vaultId } }] = parseEventLogs({
    abi: vaultEngineAbi, eventName: "VaultOpened", logs: opened.logs.filter((l) => isAddressEqual(l.address, engine)),
  });
  await send("deposit WBTC", engine, vaultEngineAbi, "deposit", [vaultId, wbtc.token, halfBtc]);

  const before = await position(vaultId);
  await refusal("borrow maxBorrow + 1 wei", () =>
    client.simulateContract({ address: engine, abi: vaultEngineAbi, functionName: "borrow",
                              args: [vaultId, before.maxBorrow + 1n, me], account: me, blockTag: "pending" }));
  await send("borrow maxBorrow", engine, vaultEngineAbi, "borrow", [vaultId, before.maxBorrow, me]);
  await send("repay half", engine, vaultEngineAbi, "repay", [vaultId, before.maxBorrow / 2n]);

  const mid = await position(vaultId);
  const eth = mid.collateral.find((c) => isAddressEqual(c.token, weth.token))!;
  await refusal("withdraw WETH maxWithdraw + 1 wei", () =>
    client.simulateContract({ address: engine, abi: vaultEngineAbi, functionName: "withdraw",
                              args: [vaultId, weth.token, eth.maxWithdraw + 1n, me], account: me, blockTag: "pending" }));
  await send("withdraw WETH maxWithdraw", engine, vaultEngineAbi, "withdraw", [vaultId, weth.token, eth.maxWithdraw, me]);

  await refusal("repay all with only the pUSD borrowed", () =>
    client.simulateContract({ address: engine, abi: vaultEngineAbi, functionName: "repay",
                              args: [vaultId, maxUint256], account: me, blockTag: "pending" }));
  const other = await send("open a second vault", engine, vaultEngineAbi, "open", [weth.token, oneWeth]);
  const [{ args: { vaultId: second } }] = parseEventLogs({
    abi: vaultEngineAbi, eventName: "VaultOpened", logs: other.logs.filter((l) => isAddressEqual(l.address, engine)),
  });
  const dust = await client.readContract({ address: engine, abi: vaultEngineAbi, functionName: "dust" });
  await send("borrow dust from it", engine, vaultEngineAbi, "borrow", [second, dust, me]);
  await send("repay all", engine, vaultEngineAbi, "repay", [vaultId, maxUint256]);
  const free = await position(vaultId);
  for (const c of free.collateral.filter((c) => c.amount > 0n)) {
    await send(`withdraw all ${c.token}`, engine, vaultEngineAbi, "withdraw", [vaultId, c.token, c.maxWithdraw, me]);
  }
  const after = await position(vaultId);
  printReport(vaultId, before, eth.maxWithdraw, after, writes, refusals);
}

main().catch((e) => {
  const error = customError(e);
  console.error(error ? `${error.errorName}(${(error.args ?? []).join(", ")})` : e instanceof BaseError ? e.shortMessage : e);
  process.exit(1);
});
