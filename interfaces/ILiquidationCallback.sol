// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ILiquidationCallback
/// @notice Implemented by a flash liquidator: a contract that liquidates with no pUSD of its own. It calls
///         `LiquidationEngine.flashLiquidate` with non-empty `data`; the VaultEngine sends it the seized collateral,
///         calls `onLiquidation`, and then burns `owed` pUSD from it.
interface ILiquidationCallback {
    /// @notice Called by the VaultEngine between the collateral transfer and the pUSD burn. Hold `owed` pUSD when it
    ///         returns, or the liquidation reverts (ERC20InsufficientBalance).
    /// @param owed pUSD (WAD) the VaultEngine burns from the liquidator right after this call
    /// @param data the bytes given to `flashLiquidate`
    /// @dev Check that msg.sender is the VaultEngine: anyone can call this function.
    function onLiquidation(uint256 owed, bytes calldata data) external;
}
