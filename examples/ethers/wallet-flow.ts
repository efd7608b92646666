// The wallet flow of examples/viem/wallet-flow.ts with ethers v6 and the same shipped files: open a vault with WETH,
// add WBTC, borrow the exact maximum the PositionLens names, repay half, withdraw the exact maximum of WETH, repay
// all (with pUSD borrowed from a second vault for the accrued stability fee) and withdraw everything with the
// engine's own maximum (2^256 - 1). Then an EIP-2612 permit signed as typed data instead of an approval, and one
// multicall that permits, opens and borrows; the new vault read back through PositionLens.positionsOf and the vault
// NFT's tokenURI. Every write is sent with its estimateGas result as the gas limit, unpadded; one wei over each
// maximum is refused with a decoded error.
//
//   node .build/ts/examples/ethers/wallet-flow.js --rpc http://127.0.0.1:8545 --manifest deployments/local.json \
//        --account 0x...   (an account the node holds unlocked: ethers' JsonRpcSigner, as with a browser wallet)
import {
  Contract,
  JsonRpcProvider,
  MaxUint256,
  Signature,
  TypedDataEncoder,
  isCallException,
  parseUnits,
  type ContractTransactionReceipt,
  type LogDescription,
} from "ethers";

import { mockERC20Abi, positionLensAbi, vaultEngineAbi, vaultNFTAbi } from "../../interfaces/ts/index.js";
import {
  arg, decodeVaultURI, loadManifest, permitTypes, printReport, symbolOf, type Refusal, type Write,
} from "../common.js";

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
  const nft = new Contract(book.contracts.VaultNFT, vaultNFTAbi, provider);
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

  /** The first `name` event of a receipt: its logs routed by address (the same receipt holds the tokens' ERC-20 and
   * the vault NFT's ERC-721 Transfer, which share topic0), then parsed with the engine's ABI. */
  function engineEvent(receipt: ContractTransactionReceipt, name: string): LogDescription {
    for (const l of receipt.logs.filter((l) => l.address === book.contracts.VaultEngine)) {
      const parsed = engine.interface.parseLog(l);
      if (parsed?.name === name) return parsed;
    }
    throw new Error(`no ${name} event in ${receipt.hash}`);
  }
  /** The id of the vault a receipt opened. */
  const openedVault = (receipt: ContractTransactionReceipt): bigint => engineEvent(receipt, "VaultOpened").args.vaultId;

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
  const dust: bigint = await engine.dust();
  await send("borrow dust from it", engine, "borrow", second, dust, me);
  await send("repay all", engine, "repay", vaultId, MaxUint256);
  // Withdraw everything with the engine's own maximum (2^256 - 1: all the margin allows when the transaction runs,
  // here the whole balance, there is no debt left). The amount is in the receipt's Withdraw event.
  const free = await position(vaultId);
  const withdrawnAll: Record<string, bigint> = {};
  for (const c of free.collateral.filter((c: { amount: bigint }) => c.amount > 0n)) {
    const symbol = symbolOf(book, c.token);
    const out = await send(`withdraw all ${symbol}`, engine, "withdraw", vaultId, c.token, MaxUint256, me);
    const amount: bigint = engineEvent(out, "Withdraw").args.amount;
    if (amount !== c.amount) throw new Error(`withdraw all ${symbol}: ${amount} withdrawn, the vault held ${c.amount}`);
    withdrawnAll[symbol] = amount;
  }
  await refusal("withdraw the maximum from an empty vault", engine, "withdraw", vaultId, weth.token, MaxUint256, me);
  const after = await position(vaultId);

  // Open with a permit, deposit and borrow in one transaction. The permit must be what lets the engine take the WETH:
  // no allowance may be left (the two opens above used all of the approval; revoke any rest).
  const wethToken = token(weth.token);
  const allowance = (): Promise<bigint> => wethToken.allowance(me, book.contracts.VaultEngine);
  const allowanceFound = await allowance();
  if (allowanceFound !== 0n) await send("revoke WETH allowance", wethToken, "approve", book.contracts.VaultEngine, 0n);
  if ((await allowance()) !== 0n) throw new Error("WETH allowance not revoked");
  // The token's EIP-712 domain as it reports it (ERC-5267), checked against its DOMAIN_SEPARATOR before signing.
  const [, name, version, chainId, verifyingContract] = await wethToken.eip712Domain();
  const domain = { name, version, chainId, verifyingContract };
  if (TypedDataEncoder.hashDomain(domain) !== await wethToken.DOMAIN_SEPARATOR()) {
    throw new Error("WETH: eip712Domain() does not hash to DOMAIN_SEPARATOR()");
  }
  const nonce: bigint = await wethToken.nonces(me);
  const deadline = BigInt((await provider.getBlock("pending"))!.timestamp) + 3600n;
  // eth_signTypedData_v4 on the node (or the browser wallet): the account signs, nothing is sent
  const signature = await signer.signTypedData(domain, { Permit: [...permitTypes.Permit] },
    { owner: me, spender: book.contracts.VaultEngine, value: oneWeth, nonce, deadline });
  const { v, r, s } = Signature.from(signature);
  // The id the open will get, unless someone opens a vault first: then that id is theirs, and they may have
  // approved us for it, so requireOwner(id) guards the borrow: the whole batch reverts, nothing lost but gas.
  const id: bigint = (await engine.vaultCount()) + 1n;
  const batch = await send("multicall: permit WETH, open, borrow dust", engine, "multicall", [
    engine.interface.encodeFunctionData("permitCollateral", [weth.token, oneWeth, deadline, v, r, s]),
    engine.interface.encodeFunctionData("open", [weth.token, oneWeth]),
    engine.interface.encodeFunctionData("requireOwner", [id]),
    engine.interface.encodeFunctionData("borrow", [id, dust, me]),
  ]);
  const opening = engineEvent(batch, "VaultOpened").args;
  const deposited: bigint = engineEvent(batch, "Deposit").args.amount;
  const loan = engineEvent(batch, "Borrow").args;
  if (opening.vaultId !== id || opening.owner !== me) {
    throw new Error(`multicall opened vault ${opening.vaultId} for ${opening.owner}`);
  }
  if (loan.vaultId !== id || loan.amount !== dust || loan.caller !== me || loan.to !== me) {
    throw new Error(`multicall borrowed ${loan.amount} from vault ${loan.vaultId}, caller ${loan.caller}`);
  }
  const allowanceAfter = await allowance();
  if (allowanceAfter !== 0n) throw new Error(`multicall left a WETH allowance of ${allowanceAfter}`);

  // The new vault as a wallet lists it: the account's positions in one call, and the NFT's own metadata.
  const positions = await lens.positionsOf(me);
  const card = positions.find((p: { vaultId: bigint }) => p.vaultId === id);
  const held = card?.collateral.find((c: { token: string }) => c.token === weth.token)?.amount;
  if (!card || held !== oneWeth || card.debt < dust) {
    throw new Error(`positionsOf: vault ${id} holds ${held} WETH units, owes ${card?.debt}`);
  }
  const owner: string = await nft.ownerOf(id);
  if (owner !== me) throw new Error(`vault ${id} is owned by ${owner}`);

  printReport({
    vaultId, before, maxWithdrawWeth: eth.maxWithdraw, withdrawnAll, after,
    permit: { vaultId: id, allowanceFound, allowanceAfter, deposited, borrowed: loan.amount },
    positions, nft: decodeVaultURI(await nft.tokenURI(id)), writes, refusals,
  });
}

main().catch((e) => {
  const error = customError(e);
  console.error(error ? `${error.name}(${error.args.join(", ")})` : e);
  process.exit(1);
});
