// Which vaults an account holds: the VaultNFT (ERC721Enumerable) knows, and PositionLens.positionsOfPage reads them
// a page at a time. The one place in the page that reads vault ownership.
import type { ContractFunctionReturnType, PublicClient } from "viem";

import { positionLensAbi } from "../../interfaces/ts/index.js";
import type { Address, Manifest } from "./manifest.js";

/** A vault as the PositionLens shows it: token decimals for collateral amounts, WAD for USD values, prices, pUSD
 * and the health factor (2^256 - 1 without debt), seconds for times. */
export type Position = ContractFunctionReturnType<typeof positionLensAbi, "view", "position">;

/** Vaults read per eth_call: well under a node's gas cap for a call (about 35,000 gas a vault). Anyone can send an
 * account empty vaults, so the list is read in pages rather than in one positionsOf call. */
export const PAGE = 100n;

/** The vaults `owner` holds at block `blockNumber`, in the VaultNFT's enumeration order, each as
 * PositionLens.position reads it at that block (units: see Position). One call per PAGE vaults, no log scan. */
export async function vaultsOf(client: PublicClient, book: Manifest, owner: Address,
                               blockNumber: bigint): Promise<readonly Position[]> {
  const vaults: Position[] = [];
  for (let start = 0n; ; start += PAGE) {
    const page = await client.readContract({
      address: book.contracts.PositionLens, abi: positionLensAbi, functionName: "positionsOfPage",
      args: [owner, start, PAGE], blockNumber,
    });
    vaults.push(...page);
    if (BigInt(page.length) < PAGE) return vaults; // a short page is the last
  }
}
