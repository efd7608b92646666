// Which vaults an account holds. This module is the one place that changes when the vault NFT moves out of the
// engine into its own ERC721Enumerable contract (`VaultNFT`, manifest key VaultNFT) and PositionLens gains
// `positionsOf(owner)` (issue 8): the body of vaultsOf below becomes one call, and nothing else in the page
// reads vault ownership.
import { isAddressEqual, type ContractFunctionReturnType, type PublicClient } from "viem";

import { positionLensAbi, vaultEngineAbi } from "../../interfaces/ts/index.js";
import type { Address, Manifest } from "./manifest.js";

/** A vault as the PositionLens shows it: token decimals for collateral amounts, WAD for USD values, prices, pUSD
 * and the health factor (2^256 - 1 without debt), seconds for times. */
export type Position = ContractFunctionReturnType<typeof positionLensAbi, "view", "position">;

/** The vaults `owner` holds at block `blockNumber`, ascending by id, each as PositionLens.positions reads it at
 * that block (units: see Position).
 *
 * Today the VaultEngine is the vault NFT (plain ERC-721, not enumerable): the ids are the engine's ERC-721
 * Transfer logs to `owner` from the deployment's block, and a vault the owner has since passed on is dropped by
 * the lens's `owner` field. (A node that caps eth_getLogs ranges may refuse the scan on a long chain; positionsOf
 * needs none.) When VaultNFT and PositionLens.positionsOf land, the body becomes:
 *
 *   return client.readContract({ address: book.contracts.PositionLens, abi: positionLensAbi,
 *                                functionName: "positionsOf", args: [owner], blockNumber });
 */
export async function vaultsOf(client: PublicClient, book: Manifest, owner: Address,
                               blockNumber: bigint): Promise<readonly Position[]> {
  const transfers = await client.getContractEvents({
    address: book.contracts.VaultEngine, abi: vaultEngineAbi, eventName: "Transfer", args: { to: owner },
    fromBlock: BigInt(book.block), toBlock: blockNumber, strict: true,
  });
  const ids = [...new Set(transfers.map((log) => log.args.tokenId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!ids.length) return [];
  const positions = await client.readContract({
    address: book.contracts.PositionLens, abi: positionLensAbi, functionName: "positions", args: [ids], blockNumber,
  });
  return positions.filter((p) => isAddressEqual(p.owner, owner));
}
