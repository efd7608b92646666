// Which vaults an account holds: the VaultNFT (ERC721Enumerable) knows, and PositionLens.positionsOf reads every one
// of them in one eth_call. The one place in the page that reads vault ownership.
import type { ContractFunctionReturnType, PublicClient } from "viem";

import { positionLensAbi } from "../../interfaces/ts/index.js";
import type { Address, Manifest } from "./manifest.js";

/** A vault as the PositionLens shows it: token decimals for collateral amounts, WAD for USD values, prices, pUSD
 * and the health factor (2^256 - 1 without debt), seconds for times. */
export type Position = ContractFunctionReturnType<typeof positionLensAbi, "view", "position">;

/** The vaults `owner` holds at block `blockNumber`, in the VaultNFT's enumeration order, each as
 * PositionLens.position reads it at that block (units: see Position). One call, whatever the chain's length: no log
 * scan. */
export async function vaultsOf(client: PublicClient, book: Manifest, owner: Address,
                               blockNumber: bigint): Promise<readonly Position[]> {
  return client.readContract({
    address: book.contracts.PositionLens, abi: positionLensAbi, functionName: "positionsOf", args: [owner],
    blockNumber,
  });
}
