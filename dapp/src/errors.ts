// Errors in words. Every exported ABI lists the errors of the contracts its functions call (docs/integrating.md,
// "Errors"), so viem decodes a revert by name from the called contract's ABI alone; this module turns the decoded
// error into a sentence with the page's units. An error it has no sentence for reads "Name(arg=value, …)".
import {
  BaseError, ContractFunctionRevertedError, isAddressEqual, zeroAddress, type Abi, type AbiParameter,
} from "viem";

import type { mockERC20Abi, positionLensAbi, pusdAbi, vaultEngineAbi } from "../../interfaces/ts/index.js";
import { formatPair, formatTime, formatUnits, formatUsd, PUSD, shortAddress, WAD_DECIMALS } from "./format.js";
import { collateralOf, symbolOfFeed, type Address, type Manifest } from "./manifest.js";

/** What a sentence needs besides the error: the deployment (token and feed names), the connected account ("your
 * account"; none before connecting), and the ERC-20 the call moves, which OpenZeppelin's ERC20Insufficient* errors
 * do not name. */
export interface ErrorContext {
  book: Manifest;
  account?: Address;
  unit?: { symbol: string; decimals: number };
}

/** EIP-1193's "user rejected the request". */
export const REJECTED = "You rejected the request in your wallet.";

/** A sentence for whatever a read, a simulation, an estimate or the wallet threw. A revert is decoded from the
 * called contract's ABI (viem has done that when the error reaches here); a wallet refusal (EIP-1193 code 4001)
 * is REJECTED; anything else is viem's short message. */
export function describeError(e: unknown, ctx: ErrorContext): string {
  if (walk(e, (x) => (x as { code?: unknown }).code === 4001)) return REJECTED;
  const revert = walk(e, (x) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
  if (revert) {
    const data = revert.data;
    if (data && data.errorName !== "Error" && data.errorName !== "Panic") {
      const item = data.abiItem as Extract<Abi[number], { type: "error" }> | undefined;
      const inputs: readonly AbiParameter[] = item?.inputs ?? [];
      const args = (data.args ?? []) as readonly unknown[];
      return describeRevert(data.errorName, inputs, args, ctx);
    }
    if (revert.reason) return `The contract refused: ${revert.reason}.`;
    if (revert.signature) return `The contract refused with an error this page does not know (${revert.signature}).`;
    return "The contract refused without saying why.";
  }
  if (e instanceof BaseError) return e.shortMessage;
  return e instanceof Error ? e.message : String(e);
}

/** Follows an error's `cause` chain (viem's and the wallet's own errors) to the first link `test` accepts. */
function walk(e: unknown, test: (x: object) => boolean): object | null {
  for (let x = e; x && typeof x === "object"; x = (x as { cause?: unknown }).cause) {
    if (test(x)) return x;
  }
  return null;
}

type Args = Record<string, unknown>;
type Sentence = (a: Args, ctx: ErrorContext) => string;
/** Every custom error the page's calls can meet: a sentence keyed by a misspelt name does not compile. */
type CalledAbi = typeof vaultEngineAbi | typeof positionLensAbi | typeof pusdAbi | typeof mockERC20Abi;
type ErrorName = Extract<CalledAbi[number], { type: "error" }>["name"];

const big = (v: unknown): bigint => v as bigint;
/** A count (seconds, gas) with thousands separators: "4,500". */
const count = (v: unknown): string => formatUnits(big(v), 0);
const addr = (v: unknown): Address => v as Address;

/** A token's symbol from the manifest (pUSD included), else its short address. */
function tokenName(ctx: ErrorContext, token: Address): string {
  if (isAddressEqual(token, ctx.book.contracts.PUSD)) return PUSD;
  return collateralOf(ctx.book, token)?.symbol ?? shortAddress(token);
}

/** "the WETH feed", or "the feed 0x12ab…cdef" when the manifest does not name it. */
function feedName(ctx: ErrorContext, feed: Address): string {
  const symbol = symbolOfFeed(ctx.book, feed);
  return symbol ? `the ${symbol} feed` : `the feed ${shortAddress(feed)}`;
}

/** A feed's answer in its own decimals (the manifest's feed_decimals), as dollars; raw when the feed is unknown. */
function feedAnswer(ctx: ErrorContext, feed: Address, answer: bigint): string {
  const symbol = symbolOfFeed(ctx.book, feed);
  const decimals = symbol ? ctx.book.collaterals[symbol].feed_decimals : undefined;
  if (decimals === undefined) return answer.toString();
  return answer < 0n ? `-$${formatUnits(-answer, decimals)}` : `$${formatUnits(answer, decimals)}`;
}

/** Two token amounts of `token` in words: every digit, so they never read as equal. */
function tokenAmounts(ctx: ErrorContext, token: Address, a: bigint, b: bigint): [string, string, string] {
  const symbol = tokenName(ctx, token);
  const c = collateralOf(ctx.book, token);
  const [x, y] = formatPair(a, b, c?.decimals ?? WAD_DECIMALS, 0);
  return [x, y, symbol];
}

/** Two amounts of the call's ERC-20 (ctx.unit, pUSD when unset): pUSD to cents, more places only to tell them
 * apart; a collateral to every digit. */
function unitAmounts(ctx: ErrorContext, a: bigint, b: bigint): [string, string, string] {
  const unit = ctx.unit ?? { symbol: PUSD, decimals: WAD_DECIMALS };
  const [x, y] = formatPair(a, b, unit.decimals, unit.symbol === PUSD ? 2 : 0);
  return [x, y, unit.symbol];
}

/** "Your account" for the connected account, else its short address. */
function who(ctx: ErrorContext, account: Address): string {
  return ctx.account && isAddressEqual(account, ctx.account) ? "Your account" : shortAddress(account);
}

/** A contract's name from the manifest ("the VaultEngine"), else its short address. */
function contractName(ctx: ErrorContext, address: Address): string {
  const name = Object.entries(ctx.book.contracts).find(([, a]) => isAddressEqual(a, address))?.[0];
  return name ? `the ${name}` : shortAddress(address);
}

const SENTENCES: Partial<Record<ErrorName, Sentence>> = {
  // VaultEngine: what a vault's owner meets
  InsufficientMargin: (a) => {
    const [debt, power] = formatPair(big(a.debt), big(a.borrowPower), WAD_DECIMALS);
    return `Vault ${a.vaultId} cannot take this: its debt would be ${debt} ${PUSD}, above its borrowing power of ` +
      `${power} ${PUSD}.`;
  },
  DebtBelowDust: (a) => {
    const [debt, dust] = formatPair(big(a.debt), big(a.dust), WAD_DECIMALS);
    return `Vault ${a.vaultId} would owe ${debt} ${PUSD}, less than the minimum debt of ${dust} ${PUSD}: ` +
      `borrow at least that much, or repay all.`;
  },
  DebtCeilingExceeded: (a) => {
    const [after, ceiling] = formatPair(big(a.totalDebtAfter), big(a.debtCeiling), WAD_DECIMALS);
    return `All vaults together would owe ${after} ${PUSD}, above the protocol's debt ceiling of ${ceiling} ${PUSD}.`;
  },
  SupplyCapExceeded: (a, ctx) => {
    const [would, cap, symbol] = tokenAmounts(ctx, addr(a.token), big(a.wouldHold), big(a.cap));
    return `The protocol would hold ${would} ${symbol}, above the ${symbol} supply cap of ${cap} ${symbol}.`;
  },
  InsufficientCollateral: (a, ctx) => {
    const [balance, requested, symbol] = tokenAmounts(ctx, addr(a.token), big(a.balance), big(a.requested));
    return `Vault ${a.vaultId} holds ${balance} ${symbol}, less than the ${requested} ${symbol} asked for.`;
  },
  NothingToWithdraw: (a, ctx) =>
    `Vault ${a.vaultId} can let no ${tokenName(ctx, addr(a.token))} go: it holds none, or its debt needs all of it.`,
  VaultInMarginCall: (a) =>
    `Vault ${a.vaultId} is in a margin call: until it is cured it takes deposits and repayments only, ` +
    `no borrowing or withdrawal.`,
  Paused: (a, ctx) => isAddressEqual(addr(a.token), zeroAddress)
    ? "The guardian has paused borrowing and withdrawing against debt for every vault."
    : "The guardian has paused borrowing and withdrawing against debt for vaults holding " +
      `${tokenName(ctx, addr(a.token))}.`,
  NotAuthorized: (a, ctx) =>
    `${who(ctx, addr(a.caller))} is neither the owner of vault ${a.vaultId} nor approved for it.`,
  VaultNotFound: (a) => `There is no vault ${a.vaultId}.`,
  ZeroAmount: () => "The amount must be more than zero.",
  ZeroAddress: () => "An address given is the zero address.",
  UnknownCollateral: (a) => `${a.token} is not a collateral of this deployment.`,
  TooManyCollaterals: (a) =>
    `Vault ${a.vaultId} already holds ${a.max} kinds of collateral, the most a vault may hold.`,
  NoDebt: (a) => `Vault ${a.vaultId} has no debt to repay.`,
  InsufficientGasForOracle: (a) =>
    `The gas limit is too low: the price oracle needs ${count(a.needed)} gas and only ${count(a.gasLeft)} was left. ` +
    `Send with the wallet's estimate.`,
  PortfolioMarginUnavailable: () => "Portfolio margin is not available yet: governance has not set its scenario grids.",
  // OracleAdapter: borrow and withdraw re-read a failing oracle so that its own error names the cause
  StalePrice: (a, ctx) => {
    const [updated, now] = [big(a.updatedAt), big(a.nowTimestamp)];
    const feed = feedName(ctx, addr(a.feed));
    if (updated > now) return `The price from ${feed} is stamped in the future (${formatTime(updated)}).`;
    return `The price from ${feed} is stale: it last reported at ${formatTime(updated)}, ${count(now - updated)} s ` +
      `before this block, and the oracle accepts at most ${count(a.maxAge)} s.`;
  },
  PriceOutOfBounds: (a, ctx) =>
    `${capital(feedName(ctx, addr(a.feed)))} reports ${formatUsd(big(a.price))}, outside the range the oracle ` +
    `accepts (${formatUsd(big(a.minPrice))} to ${formatUsd(big(a.maxPrice))}).`,
  NonPositivePrice: (a, ctx) =>
    `${capital(feedName(ctx, addr(a.feed)))} reports ${feedAnswer(ctx, addr(a.feed), big(a.answer))}, ` +
    "not a positive price.",
  FeedReverted: (a, ctx) => `${capital(feedName(ctx, addr(a.feed)))} failed: its call reverted.`,
  PriceAtAggregatorBound: (a, ctx) => {
    const f = addr(a.feed);
    return `${capital(feedName(ctx, f))} sits at its aggregator's bound (${feedAnswer(ctx, f, big(a.answer))}, ` +
      `bounds ${feedAnswer(ctx, f, big(a.minAnswer))} to ${feedAnswer(ctx, f, big(a.maxAnswer))}): ` +
      "the real price may be past it.";
  },
  PriceDeviationTooLarge: (a, ctx) => {
    const f = addr(a.feed);
    return `${capital(feedName(ctx, f))} moved from ${feedAnswer(ctx, f, big(a.previousAnswer))} to ` +
      `${feedAnswer(ctx, f, big(a.answer))} in one round, more than the ${percent(big(a.maxDeviation))} ` +
      "the oracle accepts.";
  },
  NotEnoughValidFeeds: (a) => `Only ${a.valid} price feeds gave a usable answer; the oracle needs ${a.required}.`,
  PriceSpreadTooWide: (a) =>
    `The price feeds disagree: from ${formatUsd(big(a.low))} to ${formatUsd(big(a.high))}, more than the ` +
    `${percent(big(a.maxSpread))} spread the oracle accepts.`,
  SequencerDown: () => "The L2 sequencer is down: prices are not trusted until it is back.",
  SequencerGracePeriod: (a) =>
    `The L2 sequencer came back at ${formatTime(big(a.upSince))}; prices are trusted again ` +
    `${count(a.gracePeriod)} s after that.`,
  // OpenZeppelin's ERC-20s (pUSD, the collateral tokens) and SafeERC20
  ERC20InsufficientBalance: (a, ctx) => {
    const [balance, needed, symbol] = unitAmounts(ctx, big(a.balance), big(a.needed));
    return `${who(ctx, addr(a.sender))} holds ${balance} ${symbol}, less than the ${needed} ${symbol} needed.`;
  },
  ERC20InsufficientAllowance: (a, ctx) => {
    const [allowance, needed, symbol] = unitAmounts(ctx, big(a.allowance), big(a.needed));
    return `${capital(contractName(ctx, addr(a.spender)))} may spend only ${allowance} ${symbol} of yours, less than ` +
      `the ${needed} ${symbol} needed: approve it first.`;
  },
  SafeERC20FailedOperation: (a, ctx) => `The ${tokenName(ctx, addr(a.token))} token refused the transfer.`,
};

/** The sentence for a decoded custom error; `Name(arg=value, …)` when there is none. */
export function describeRevert(name: string, inputs: readonly AbiParameter[], args: readonly unknown[],
                               ctx: ErrorContext): string {
  const named: Args = Object.fromEntries(inputs.map((input, i) => [input.name ?? String(i), args[i]]));
  const sentence = SENTENCES[name as ErrorName];
  if (sentence) return sentence(named, ctx);
  const shown = inputs.map((input, i) => `${input.name || i}=${String(args[i])}`).join(", ");
  return `The contract refused: ${name}(${shown}).`;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A WAD fraction as a percentage: 1e17 → "10 %". */
function percent(wad: bigint): string {
  return `${formatUnits(wad * 100n, WAD_DECIMALS)} %`;
}
