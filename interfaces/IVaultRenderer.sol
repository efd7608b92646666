// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVaultEngine} from "./IVaultEngine.sol";

/// @title IVaultRenderer
/// @notice The vault NFT's metadata: what `VaultNFT.tokenURI` returns, drawn from the engine's state at call time.
interface IVaultRenderer {
    /// @notice ERC-721 metadata of vault `vaultId` of `engine`, as a `data:application/json;base64,` URI: name,
    ///         description (with the warning that an approval hands over the vault), an SVG image (collateral, debt,
    ///         health factor) and the same figures as attributes.
    /// @param engine the VaultEngine whose vault it is
    /// @param vaultId the vault
    /// @dev Amounts are shown rounded down to at most 4 decimals (collateral) and 2 (pUSD, health factor). A
    ///      collateral whose oracle fails shows "unpriced"; a vault without debt shows health "no debt".
    /// @return uri the data URI
    function tokenURI(IVaultEngine engine, uint256 vaultId) external view returns (string memory uri);
}
