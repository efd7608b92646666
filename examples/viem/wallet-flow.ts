// A wallet's full flow with viem and only the shipped files: the `as const` ABIs (interfaces/ts) and a deployment
// manifest. Open a vault with WETH, add WBTC, borrow the exact maximum the PositionLens names, repay half, withdraw
// the exact maximum, repay all and withdraw everything with the engine's own maximum (amount 2^256 - 1). Then open a
// second way: an EIP-2612 permit signed as typed data instead of an approval, and one multicall that permits, opens
// and borrows. Every write is sent with its eth_estimateGas result as the gas limit, unpadded. One wei over each
// maximum is refused with a decoded error. Repaying all takes a little more pUSD than was borrowed (the stability
// fee accrued since): the wallet borrows it from a second vault. The new vault is read back through
// PositionLens.positionsOf and the vault NFT's tokenURI.
//
//   node .build/ts/examples/viem/wallet-flow.js --rpc http://127.0.0.1:8545 --manifest deployments/local.json \
//        --account 0x...   (an account the node holds unlocked: a dev account, or any EIP-1193 wallet's)
//
// Prints one JSON object: every write with its estimate and gas used, the decoded refusals, the final position, the
// permit vault, the account's vaults and the NFT's name, debt and health.
// Local networks only for the faucet step (the manifest's collaterals are mocks).
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  domainSeparator,
  encodeFunctionData,
  http,
  isAddressEqual,
  maxUint256,
  parseEventLogs,
  parseSignature,
  parseUnits,
  type Abi,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type TransactionReceipt,
} from "viem";

import { mockERC20Abi, positionLensAbi, vaultEngineAbi, vaultNFTAbi } from "../../interfaces/ts/index.js";
import {
  arg, decodeVaultURI, loadManifest, permitTypes, printReport, symbolOf, type Address, type Refusal, type Write,
} from "../common.js";

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
const nft = book.contracts.VaultNFT;
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

/** A receipt's logs emitted by the engine: route by address first (the same receipt holds the tokens' ERC-20 and the
 * vault NFT's ERC-721 Transfer, which share topic0), then parse with the engine's ABI. */
const fromEngine = (receipt: TransactionReceipt) => receipt.logs.filter((l) => isAddressEqual(l.address, engine));


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
  const [{ args: { vaultId } }] = parseEventLogs({ abi: vaultEngineAbi, eventName: "VaultOpened",
                                                   logs: fromEngine(opened) });
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
  const [{ args: { vaultId: second } }] = parseEventLogs({ abi: vaultEngineAbi, eventName: "VaultOpened",
                                                           logs: fromEngine(other) });
  const dust = await client.readContract({ address: engine, abi: vaultEngineAbi, functionName: "dust" });
  await send("borrow dust from it", engine, vaultEngineAbi, "borrow", [second, dust, me]);
  await send("repay all", engine, vaultEngineAbi, "repay", [vaultId, maxUint256]);
  // Withdraw everything with the engine's own maximum (2^256 - 1: all the margin allows when the transaction runs,
  // here the whole balance, there is no debt left). The amount is in the receipt's Withdraw event.
  const free = await position(vaultId);
  const withdrawnAll: Record<string, bigint> = {};
  for (const c of free.collateral.filter((c) => c.amount > 0n)) {
    const symbol = symbolOf(book, c.token);
    const out = await send(`withdraw all ${symbol}`, engine, vaultEngineAbi, "withdraw",
                           [vaultId, c.token, maxUint256, me]);
    const [{ args: { amount } }] = parseEventLogs({ abi: vaultEngineAbi, eventName: "Withdraw",
                                                    logs: fromEngine(out) });
    if (amount !== c.amount) throw new Error(`withdraw all ${symbol}: ${amount} withdrawn, the vault held ${c.amount}`);
    withdrawnAll[symbol] = amount;
  }
  await refusal("withdraw the maximum from an empty vault", () =>
    client.simulateContract({ address: engine, abi: vaultEngineAbi, functionName: "withdraw",
                              args: [vaultId, weth.token, maxUint256, me], account: me, blockTag: "pending" }));
  const after = await position(vaultId);

  // Open with a permit, deposit and borrow in one transaction. The permit must be what lets the engine take the WETH:
  // no allowance may be left (the two opens above used all of the approval; revoke any rest).
  const allowance = () => client.readContract({ address: weth.token, abi: mockERC20Abi, functionName: "allowance",
                                                args: [me, engine] });
  const allowanceFound = await allowance();
  if (allowanceFound !== 0n) await send("revoke WETH allowance", weth.token, mockERC20Abi, "approve", [engine, 0n]);
  if ((await allowance()) !== 0n) throw new Error("WETH allowance not revoked");
  // The token's EIP-712 domain as it reports it (ERC-5267), checked against its DOMAIN_SEPARATOR before signing.
  const [, name, version, chainId, verifyingContract] = await client.readContract({
    address: weth.token, abi: mockERC20Abi, functionName: "eip712Domain" });
  const domain = { name, version, chainId, verifyingContract };
  const separator = await client.readContract({ address: weth.token, abi: mockERC20Abi,
                                                functionName: "DOMAIN_SEPARATOR" });
  if (domainSeparator({ domain }) !== separator) {
    throw new Error("WETH: eip712Domain() does not hash to DOMAIN_SEPARATOR()");
  }
  const nonce = await client.readContract({ address: weth.token, abi: mockERC20Abi, functionName: "nonces",
                                            args: [me] });
  const deadline = (await client.getBlock({ blockTag: "pending" })).timestamp + 3600n;
  // eth_signTypedData_v4 on the node (or the EIP-1193 wallet): the account signs, nothing is sent
  const signature = await wallet.signTypedData({
    account: me, domain, types: permitTypes, primaryType: "Permit",
    message: { owner: me, spender: engine, value: oneWeth, nonce, deadline },
  });
  const { r, s, yParity } = parseSignature(signature);
  // The id the open will get, unless someone opens a vault first: then that id is theirs, and they may have
  // approved us for it, so requireOwner(id) guards the borrow: the whole batch reverts, nothing lost but gas.
  const id = (await client.readContract({ address: engine, abi: vaultEngineAbi, functionName: "vaultCount" })) + 1n;
  const batch = await send("multicall: permit WETH, open, borrow dust", engine, vaultEngineAbi, "multicall", [[
    encodeFunctionData({ abi: vaultEngineAbi, functionName: "permitCollateral",
                         args: [weth.token, oneWeth, deadline, 27 + yParity, r, s] }),
    encodeFunctionData({ abi: vaultEngineAbi, functionName: "open", args: [weth.token, oneWeth] }),
    encodeFunctionData({ abi: vaultEngineAbi, functionName: "requireOwner", args: [id] }),
    encodeFunctionData({ abi: vaultEngineAbi, functionName: "borrow", args: [id, dust, me] }),
  ]]);
  const logs = fromEngine(batch);
  const [{ args: opening }] = parseEventLogs({ abi: vaultEngineAbi, eventName: "VaultOpened", logs });
  const [{ args: deposit }] = parseEventLogs({ abi: vaultEngineAbi, eventName: "Deposit", logs });
  const [{ args: loan }] = parseEventLogs({ abi: vaultEngineAbi, eventName: "Borrow", logs });
  if (opening.vaultId !== id || !isAddressEqual(opening.owner, me)) {
    throw new Error(`multicall opened vault ${opening.vaultId} for ${opening.owner}`);
  }
  if (loan.vaultId !== id || loan.amount !== dust || !isAddressEqual(loan.caller, me) || !isAddressEqual(loan.to, me)) {
    throw new Error(`multicall borrowed ${loan.amount} from vault ${loan.vaultId}, caller ${loan.caller}`);
  }
  const allowanceAfter = await allowance();
  if (allowanceAfter !== 0n) throw new Error(`multicall left a WETH allowance of ${allowanceAfter}`);

  // The new vault as a wallet lists it: the account's positions in one call, and the NFT's own metadata.
  const positions = await client.readContract({ address: lens, abi: positionLensAbi, functionName: "positionsOf",
                                                args: [me] });
  const card = positions.find((p) => p.vaultId === id);
  const held = card?.collateral.find((c) => isAddressEqual(c.token, weth.token))?.amount;
  if (!card || held !== oneWeth || card.debt < dust) {
    throw new Error(`positionsOf: vault ${id} holds ${held} WETH units, owes ${card?.debt}`);
  }
  const owner = await client.readContract({ address: nft, abi: vaultNFTAbi, functionName: "ownerOf", args: [id] });
  if (!isAddressEqual(owner, me)) throw new Error(`vault ${id} is owned by ${owner}`);
  const uri = await client.readContract({ address: nft, abi: vaultNFTAbi, functionName: "tokenURI", args: [id] });

  printReport({
    vaultId, before, maxWithdrawWeth: eth.maxWithdraw, withdrawnAll, after,
    permit: { vaultId: id, allowanceFound, allowanceAfter, deposited: deposit.amount, borrowed: loan.amount },
    positions, nft: decodeVaultURI(uri), writes, refusals,
  });
}

main().catch((e) => {
  const error = customError(e);
  console.error(error ? `${error.errorName}(${(error.args ?? []).join(", ")})` : e instanceof BaseError ? e.shortMessage : e);
  process.exit(1);
});
