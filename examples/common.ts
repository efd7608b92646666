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
  contracts: Record<"VaultEngine" | "PUSD" | "LiquidationEngine" | "PositionLens" | "VaultLens", Address>;
  collaterals: Record<string, Collateral>;
  addresses: Record<Address, { contract: string; label: string; abi: string; tx: string; block: number }>;
}

/** Reads a manifest file. Throws if the file is missing or is not JSON. */
export function loadManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, "utf8")) as Manifest;
}

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

interface Position {
  maxBorrow: bigint;
  healthFactor: bigint;
  debt: bigint;
  collateral: readonly { amount: bigint }[];
}

/** Prints the flow's report as one JSON object (amounts as decimal strings, token units and WAD). */
export function printReport(vaultId: bigint, before: Position, maxWithdrawWeth: bigint, after: Position,
                            writes: Write[], refusals: Refusal[]): void {
  console.log(JSON.stringify({
    vaultId: vaultId.toString(),
    maxBorrow: before.maxBorrow.toString(),
    healthBefore: before.healthFactor.toString(),
    maxWithdrawWeth: maxWithdrawWeth.toString(),
    writes,
    refusals,
    final: { debt: after.debt.toString(), collateral: after.collateral.map((c) => c.amount.toString()),
             healthFactor: after.healthFactor.toString() },
  }));
}
