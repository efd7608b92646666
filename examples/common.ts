// What the wallet examples share: the deployment manifest (deployments/<network>.json) typed with the fields they
// read (its full shape is deployments/manifest.schema.json), their arguments, and their report.
import { readFileSync } from "node:fs";

export type Address = `0x${string}`;

export interface Collateral {
  symbol: string;
  token: Address;
  oracle: Address;
  feed: Address;
  decimals: number;
  mock: boolean;
}

export interface Manifest {
  network: string;
  chain_id: number;
  block: number;
  contracts: Record<"VaultEngine" | "PUSD" | "VaultNFT" | "LiquidationEngine" | "PositionLens" | "VaultLens", Address>;
  collaterals: Record<string, Collateral>;
  addresses: Record<Address, { contract: string; label: string; abi: string; tx: string; block: number }>;
}

/** Reads a manifest file. Throws if the file is missing or is not JSON. */
export function loadManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, "utf8")) as Manifest;
}

/** The manifest's symbol of a listed collateral token (addresses compared case-insensitively); throws if unlisted. */
export function symbolOf(book: Manifest, token: string): string {
  const listed = Object.values(book.collaterals).find((c) => c.token.toLowerCase() === token.toLowerCase());
  if (!listed) throw new Error(`${token} is not a collateral of the manifest`);
  return listed.symbol;
}

/** EIP-2612's Permit struct, signed as EIP-712 typed data (viem takes it as it is, ethers a mutable copy). */
export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** `process.argv` as `--name value` pairs; throws naming a missing one. */
export function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing --${name}`);
  return process.argv[i + 1];
}

/** A write: its step, eth_estimateGas's answer (sent as the gas limit) and the gas it used. */
export interface Write { step: string; estimate: string; gasUsed: string }
/** A call that was refused: its step and the custom error decoded from the called contract's ABI. */
export interface Refusal { step: string; error: string; args: string[] }

/** What a wallet shows from the vault NFT's metadata (VaultNFT.tokenURI): the name and two attributes, as rendered
 * (amounts rounded down to 2 decimals, health "no debt" without debt). */
export interface VaultCard { name: string; debt: string; health: string }

/** Decodes VaultNFT.tokenURI: a `data:application/json;base64,` URI whose JSON has `name`, `description`, an SVG
 * `image` (itself a base64 data URI) and `attributes` ({trait_type, value}). Throws if any of that is missing. */
export function decodeVaultURI(uri: string): VaultCard {
  const prefix = "data:application/json;base64,";
  if (!uri.startsWith(prefix)) throw new Error(`tokenURI is not a base64 JSON data URI: ${uri.slice(0, 40)}`);
  const json = JSON.parse(Buffer.from(uri.slice(prefix.length), "base64").toString("utf8")) as {
    name: string; description: string; image: string; attributes: { trait_type: string; value: string }[];
  };
  if (!json.image.startsWith("data:image/svg+xml;base64,")) throw new Error("tokenURI: the image is not a base64 SVG");
  const trait = (name: string) => {
    const found = json.attributes.find((a) => a.trait_type === name);
    if (!found) throw new Error(`tokenURI: no "${name}" attribute`);
    return found.value;
  };
  return { name: json.name, debt: trait("Debt (pUSD)"), health: trait("Health factor") };
}

interface Position {
  vaultId: bigint;
  maxBorrow: bigint;
  healthFactor: bigint;
  debt: bigint;
  collateral: readonly { amount: bigint }[];
}

/** The vault opened by the permit multicall: the allowance found before (the permit alone must make the deposit
 * possible) and after it, and what the batch deposited and borrowed (from its receipt's events). */
export interface PermitVault {
  vaultId: bigint;
  allowanceFound: bigint;
  allowanceAfter: bigint;
  deposited: bigint;
  borrowed: bigint;
}

/** The flow's results. `before` is the first vault before its borrow, `after` once closed out; `withdrawnAll` the
 * amounts (by symbol) of the closing withdrawals of the maximum, from their Withdraw events; `positions` the
 * account's vaults from PositionLens.positionsOf. */
export interface Report {
  vaultId: bigint;
  before: Position;
  maxWithdrawWeth: bigint;
  withdrawnAll: Record<string, bigint>;
  after: Position;
  permit: PermitVault;
  positions: readonly Position[];
  nft: VaultCard;
  writes: Write[];
  refusals: Refusal[];
}

const amounts = (p: Position) => p.collateral.map((c) => c.amount.toString());

/** Prints the flow's report as one JSON object (amounts as decimal strings, token units and WAD). */
export function printReport(r: Report): void {
  console.log(JSON.stringify({
    vaultId: r.vaultId.toString(),
    maxBorrow: r.before.maxBorrow.toString(),
    healthBefore: r.before.healthFactor.toString(),
    maxWithdrawWeth: r.maxWithdrawWeth.toString(),
    withdrawnAll: Object.fromEntries(Object.entries(r.withdrawnAll).map(([symbol, a]) => [symbol, a.toString()])),
    writes: r.writes,
    refusals: r.refusals,
    final: { debt: r.after.debt.toString(), collateral: amounts(r.after),
             healthFactor: r.after.healthFactor.toString() },
    permit: Object.fromEntries(Object.entries(r.permit).map(([k, v]) => [k, v.toString()])),
    positions: r.positions.map((p) => ({ vaultId: p.vaultId.toString(), debt: p.debt.toString(),
                                         collateral: amounts(p) })),
    nft: r.nft,
  }));
}
