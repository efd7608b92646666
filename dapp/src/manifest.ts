// The deployment manifest (deployments/<network>.json, schema deployments/manifest.schema.json), typed with the
// fields the page reads. The page takes it from `?manifest=URL`, else `manifest.json` beside index.html (which
// `make dapp` copies from deployments/), else from a file the user picks.
import { getAddress, isAddress } from "viem";

export type Address = `0x${string}`;

/** One collateral type: its token, oracle and feeds; `decimals` are the token's. */
export interface Collateral {
  symbol: string;
  token: Address;
  oracle: Address;
  feed: Address;
  feeds: Address[];
  decimals: number;
  feed_decimals: number;
  mock: boolean;
}

/** The fields of a manifest the page reads. `block` is where the deployment starts: log scans begin there. */
export interface Manifest {
  network: string;
  chain_id: number;
  block: number;
  contracts: Record<"VaultEngine" | "PUSD" | "PositionLens", Address> & Record<string, Address>;
  collaterals: Record<string, Collateral>;
}

/** Checks that `data` has the fields the page needs (addresses checksummed); throws a sentence naming the first
 * missing or malformed one. The parameters' big integers (RAY, WAD) are not read: JSON.parse rounds them, and the
 * page reads every amount from the chain instead. */
export function checkManifest(data: unknown): Manifest {
  const m = data as Partial<Manifest>;
  const fail = (what: string): never => { throw new Error(`The manifest has no valid ${what}.`); };
  if (typeof m !== "object" || m === null) fail("object");
  if (typeof m.chain_id !== "number") fail("chain_id");
  if (typeof m.block !== "number") fail("block");
  for (const name of ["VaultEngine", "PUSD", "PositionLens"] as const) {
    if (!isAddress(m.contracts?.[name] ?? "")) fail(`contracts.${name}`);
  }
  if (typeof m.collaterals !== "object" || m.collaterals === null) fail("collaterals");
  for (const [symbol, c] of Object.entries(m.collaterals!)) {
    if (!isAddress(c.token ?? "") || typeof c.decimals !== "number") fail(`collaterals.${symbol}`);
    c.token = getAddress(c.token);
    c.feeds = (c.feeds ?? [c.feed]).map((f) => getAddress(f));
  }
  return m as Manifest;
}

/** Fetches and checks the manifest at `url`; throws if it cannot be fetched or is malformed. */
export async function fetchManifest(url: string): Promise<Manifest> {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`No deployment manifest at ${url} (HTTP ${response.status}).`);
  return checkManifest(await response.json());
}

/** Reads and checks a manifest the user picked; throws if it is not JSON or is malformed. */
export async function readManifestFile(file: File): Promise<Manifest> {
  return checkManifest(JSON.parse(await file.text()));
}

/** The collateral of `token` (any case), or undefined when the deployment does not list it. */
export function collateralOf(book: Manifest, token: string): Collateral | undefined {
  return Object.values(book.collaterals).find((c) => c.token.toLowerCase() === token.toLowerCase());
}

/** The symbol of the collateral whose oracle reads `feed` (or whose oracle is `feed`), or undefined. */
export function symbolOfFeed(book: Manifest, feed: string): string | undefined {
  const f = feed.toLowerCase();
  return Object.values(book.collaterals)
    .find((c) => c.feeds.some((x) => x.toLowerCase() === f) || c.oracle.toLowerCase() === f)?.symbol;
}
