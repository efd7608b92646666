// What the page reads from and sends to the chain. Every read of a card is pinned to one block, so that the
// numbers on screen belong together (and a test can read the same block); the "max" amounts are computed for the
// next block, the one a transaction sent now lands in. Every write is simulated on the pending block first, so
// that a refusal is named before the wallet asks the user to sign anything.
import {
  isAddressEqual,
  maxUint256,
  parseEventLogs,
  type Abi,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hash,
  type TransactionReceipt,
} from "viem";

import { mockERC20Abi, positionLensAbi, vaultEngineAbi } from "../../interfaces/ts/index.js";
import { formatToken, PUSD, WAD_DECIMALS } from "./format.js";
import type { Address, Collateral, Manifest } from "./manifest.js";
import { vaultsOf, type Position } from "./vaults.js";
import type { Clients } from "./wallet.js";

/** Everything the page shows for an account, read at one block: its vaults (Position units), and its wallet
 * balances of pUSD (WAD) and of each collateral (token decimals, by symbol). */
export interface Snapshot {
  blockNumber: bigint;
  timestamp: bigint;
  vaults: readonly Position[];
  pusd: bigint;
  balances: Record<string, bigint>;
}

/** Reads the account's snapshot at the latest block. */
export async function readSnapshot(c: Clients, book: Manifest): Promise<Snapshot> {
  const block = await c.public.getBlock({ blockTag: "latest" });
  const blockNumber = block.number;
  const balanceOf = (address: Address) => c.public.readContract({
    address, abi: mockERC20Abi, functionName: "balanceOf", args: [c.account], blockNumber,
  });
  const collaterals = Object.values(book.collaterals);
  const [vaults, pusd, ...held] = await Promise.all([
    vaultsOf(c.public, book, c.account, blockNumber),
    balanceOf(book.contracts.PUSD),
    ...collaterals.map((col) => balanceOf(col.token)),
  ]);
  const balances = Object.fromEntries(collaterals.map((col, i) => [col.symbol, held[i]]));
  return { blockNumber, timestamp: block.timestamp, vaults, pusd, balances };
}

/** The vault as the next block will see it: debt, maxBorrow (WAD) and every maxWithdraw (token decimals) exact
 * for a transaction mined in that block (the pending block's timestamp; PositionLens.positionAt). */
export async function nextBlockPosition(c: Clients, book: Manifest, vaultId: bigint): Promise<Position> {
  const pending = await c.public.getBlock({ blockTag: "pending" });
  return c.public.readContract({
    address: book.contracts.PositionLens, abi: positionLensAbi, functionName: "positionAt",
    args: [vaultId, pending.timestamp],
  });
}

/** One transaction the page asks the wallet to send: what it does in words, the call, and the ERC-20 it moves
 * (for the words of an ERC20Insufficient* refusal). */
export interface Write {
  label: string;
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  unit?: { symbol: string; decimals: number };
}

/** A Write whose function name and arguments are checked against the `as const` ABI at compile time. */
export function write<const abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">>(
  label: string, address: Address, abi: abi, functionName: name,
  args: ContractFunctionArgs<abi, "nonpayable" | "payable", name>, unit?: Write["unit"],
): Write {
  return { label, address, abi, functionName, args: args as readonly unknown[], unit };
}

/** Where a write stands, for the activity list. */
export type Progress =
  | { state: "checking" }
  | { state: "signing" }
  | { state: "pending"; hash: Hash }
  | { state: "confirmed"; hash: Hash; blockNumber: bigint }
  | { state: "reverted"; hash: Hash; blockNumber: bigint };

/** Simulates `w` on the pending block (a refusal throws there, nothing is signed), estimates its gas on the same
 * block (docs/integrating.md, "Gas": an estimate on the pending block covers the drip), asks the wallet to send it
 * with exactly that limit, and waits for the receipt. Throws the simulation's or the wallet's error, or an Error
 * when the transaction reverts on-chain. */
export async function send(c: Clients, w: Write, progress: (p: Progress) => void): Promise<TransactionReceipt> {
  progress({ state: "checking" });
  // viem types each call from the ABI; `write` has already checked this one, so the generics are relaxed here.
  const call = {
    address: w.address, abi: w.abi, functionName: w.functionName, args: w.args, account: c.account,
  } as const;
  await c.public.simulateContract({ ...call, blockTag: "pending" } as never);
  const gas = await c.public.estimateContractGas({ ...call, blockTag: "pending" } as never);
  progress({ state: "signing" });
  const hash = await c.wallet.writeContract({ ...call, gas } as never);
  progress({ state: "pending", hash });
  const receipt = await c.public.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") {
    progress({ state: "reverted", hash, blockNumber: receipt.blockNumber });
    throw new Error(`The transaction ${hash} reverted in block ${receipt.blockNumber}.`);
  }
  progress({ state: "confirmed", hash, blockNumber: receipt.blockNumber });
  return receipt;
}

const unitOf = (col: Collateral) => ({ symbol: col.symbol, decimals: col.decimals });
const PUSD_UNIT = { symbol: PUSD, decimals: WAD_DECIMALS };
const tokens = (amount: bigint, col: Collateral) => formatToken(amount, col.decimals, col.symbol);
const pusd = (amount: bigint) => formatToken(amount, WAD_DECIMALS, PUSD);

/** The approval a deposit of `amount` (token decimals) needs first: none when the engine's allowance covers it.
 * Throws a sentence when the account holds less than `amount`, so that no approval is left behind for a deposit
 * that cannot happen. Approves exactly `amount`, never an unlimited allowance. */
export async function approvalFor(c: Clients, book: Manifest, col: Collateral, amount: bigint): Promise<Write[]> {
  const engine = book.contracts.VaultEngine;
  const [held, allowance] = await Promise.all([
    c.public.readContract({ address: col.token, abi: mockERC20Abi, functionName: "balanceOf", args: [c.account] }),
    c.public.readContract({
      address: col.token, abi: mockERC20Abi, functionName: "allowance", args: [c.account, engine],
    }),
  ]);
  if (held < amount) {
    throw new Error(`Your account holds ${tokens(held, col)}, less than the ${tokens(amount, col)} to deposit.`);
  }
  if (allowance >= amount) return [];
  return [write(`Approve ${tokens(amount, col)} for the VaultEngine`, col.token, mockERC20Abi, "approve",
                [engine, amount], unitOf(col))];
}

/** The write of each action; amounts exact, in token decimals (collateral) or WAD (pUSD). */
export const actions = {
  open: (book: Manifest, col: Collateral, amount: bigint) =>
    write(`Open a vault with ${tokens(amount, col)}`, book.contracts.VaultEngine, vaultEngineAbi, "open",
          [col.token, amount], unitOf(col)),
  deposit: (book: Manifest, vaultId: bigint, col: Collateral, amount: bigint) =>
    write(`Deposit ${tokens(amount, col)} into vault ${vaultId}`, book.contracts.VaultEngine, vaultEngineAbi,
          "deposit", [vaultId, col.token, amount], unitOf(col)),
  /** `amount` in token decimals, or "max": 2^256 - 1, which the engine reads as all that the margin allows in the
   * block the withdrawal lands in (so it cannot fail because a second passed). */
  withdraw: (book: Manifest, vaultId: bigint, col: Collateral, amount: bigint | "max", to: Address) =>
    write(amount === "max" ? `Withdraw all the margin allows of ${col.symbol} from vault ${vaultId}`
            : `Withdraw ${tokens(amount, col)} from vault ${vaultId}`, book.contracts.VaultEngine, vaultEngineAbi,
          "withdraw", [vaultId, col.token, amount === "max" ? maxUint256 : amount, to], unitOf(col)),
  borrow: (book: Manifest, vaultId: bigint, amount: bigint, to: Address) =>
    write(`Borrow ${pusd(amount)} from vault ${vaultId}`, book.contracts.VaultEngine, vaultEngineAbi, "borrow",
          [vaultId, amount, to], PUSD_UNIT),
  /** `amount` WAD pUSD, or "all": 2^256 - 1, which the engine reads as the whole debt. */
  repay: (book: Manifest, vaultId: bigint, amount: bigint | "all") =>
    write(amount === "all" ? `Repay all the debt of vault ${vaultId}` : `Repay ${pusd(amount)} to vault ${vaultId}`,
          book.contracts.VaultEngine, vaultEngineAbi, "repay", [vaultId, amount === "all" ? maxUint256 : amount],
          PUSD_UNIT),
  faucet: (col: Collateral, amount: bigint, to: Address) =>
    write(`Mint ${tokens(amount, col)} from the mock faucet`, col.token, mockERC20Abi, "mint", [to, amount],
          unitOf(col)),
};

/** The id of the vault an `open` receipt created: its VaultOpened log, routed by the engine's address (the same
 * receipt holds the token's ERC-20 Transfer and the vault's ERC-721 Transfer). */
export function openedVault(book: Manifest, receipt: TransactionReceipt): bigint {
  const logs = receipt.logs.filter((l) => isAddressEqual(l.address, book.contracts.VaultEngine));
  const [opened] = parseEventLogs({ abi: vaultEngineAbi, eventName: "VaultOpened", logs });
  return opened.args.vaultId;
}
