// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Enumerable.sol";

import {IVaultRenderer} from "./IVaultRenderer.sol";

/// @title IVaultNFT
/// @notice The vaults as ERC-721 tokens (enumerable): whoever holds vault `id`, or is approved for it, manages it in
///         the VaultEngine that created this contract. Ids are the engine's vault ids, from 1 up; vaults are never
///         burned, so `totalSupply()` is the engine's `vaultCount()`.
/// @dev Approving a vault (ERC-721 `approve`) or all of an owner's vaults (`setApprovalForAll`) hands over custody:
///      the approved address may withdraw the collateral and borrow against it. A wallet must present it that way.
interface IVaultNFT is IERC721Enumerable {
    /// @notice Only the VaultEngine that created this contract may mint.
    error OnlyVaultEngine(address caller);

    /// @notice The VaultEngine that created this contract; it mints every vault and asks `isAuthorized`.
    function engine() external view returns (address);

    /// @notice Renders `tokenURI`: on-chain JSON metadata with an SVG image of the vault.
    function renderer() external view returns (IVaultRenderer);

    /// @notice Mint vault `vaultId` to `owner`. VaultEngine only (`open`).
    /// @param owner the new vault's owner
    /// @param vaultId the engine's new vault id
    /// @dev Reverts OnlyVaultEngine.
    function mint(address owner, uint256 vaultId) external;

    /// @notice Whether `account` may manage the vault: its owner, approved for it, or an operator of its owner.
    ///         False for an id that does not exist.
    /// @param vaultId the vault
    /// @param account the address to check
    function isAuthorized(uint256 vaultId, address account) external view returns (bool);
}
